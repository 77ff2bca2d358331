"""Telegram HTML rendering of signal events: every kind, escaping, entry forms, length."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.telegram_format import (
    MAX_MESSAGE_UTF16,
    format_number,
    render_event,
    render_notice,
    utf16_len,
)
from tests.fakes.telegram_api import html_to_text

KINDS = ["PUBLISHED", "ACTIVATED", "TARGET_HIT", "STOP_HIT", "CLOSED", "CANCELLED", "EXPIRED"]


def signal(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": 7, "providerSlug": "alpha", "providerName": "Alpha Desk", "seq": 12,
        "symbol": "BTC/USDT", "side": "BUY", "entryLow": "64000.000000000000",
        "entryHigh": "64000.000000000000", "stopLoss": "62000.500000000000",
        "targets": ["65000.000000000000", "66000.000000000000", "67500.250000000000"],
        "leverage": None, "note": "", "status": "PENDING", "outcome": None, "targetsHit": 0,
        "contentHash": "ab" * 32, "createdAt": "2024-05-01T12:00:00+00:00",
    }
    return base | overrides


def event(kind: str, *, price: str | None = None, target_index: int = 0, note: str = "",
          signal_note: str = "", **signal_overrides: Any) -> dict[str, Any]:
    return {"eventId": 3, "kind": kind, "targetIndex": target_index, "price": price,
            "note": note, "createdAt": "2024-05-01T12:05:00+00:00",
            "signal": signal(note=signal_note, **signal_overrides)}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_valid_telegram_html_naming_the_signal(kind: str) -> None:
    text = render_event(event(kind, price="64100.5", target_index=1))

    plain = html_to_text(text)  # raises like Telegram on bad HTML
    assert "Alpha Desk" in plain and "#12" in plain
    assert "<code>BTC/USDT</code>" in text
    assert "http" not in text and "<a" not in text


def test_published_buy_card_lists_entry_targets_stop_and_leverage() -> None:
    text = render_event(event("PUBLISHED", leverage=10, signal_note="Scale in slowly"))

    assert text.splitlines() == [
        "📣 <b>Alpha Desk</b> · new signal #12",
        "🟢 <b>BUY</b> <code>BTC/USDT</code>",
        "Entry: <code>64000</code>",
        "TP1: <code>65000</code>",
        "TP2: <code>66000</code>",
        "TP3: <code>67500.25</code>",
        "Stop-loss: <code>62000.5</code>",
        "Leverage: <code>10x</code>",
        "",
        "📝 Scale in slowly",
    ]


def test_published_sell_with_zone_and_no_leverage() -> None:
    text = render_event(event("PUBLISHED", side="SELL", entryLow="3100.5", entryHigh="3150"))

    assert "🔴 <b>SELL</b>" in text
    assert "Entry zone: <code>3100.5</code> – <code>3150</code>" in text
    assert "Leverage" not in text and "📝" not in text


@pytest.mark.parametrize(("kind", "headline"), [
    ("ACTIVATED", "✅ <b>Entry filled</b> at <code>64100.5</code>"),
    ("TARGET_HIT", "🎯 <b>Target 2 of 3 hit</b> at <code>64100.5</code>"),
    ("STOP_HIT", "🛑 <b>Stop-loss hit</b> at <code>64100.5</code>"),
    ("CLOSED", "🔒 <b>Closed by provider</b> at <code>64100.5</code>"),
    ("CANCELLED", "🚫 <b>Signal cancelled</b>"),
    ("EXPIRED", "⌛ <b>Signal expired</b>"),
])
def test_lifecycle_events_lead_with_what_happened(kind: str, headline: str) -> None:
    lines = render_event(event(kind, price="64100.500000", target_index=2)).splitlines()

    assert lines[0] == headline
    assert lines[1] == "<b>Alpha Desk</b> · #12 · 🟢 <b>BUY</b> <code>BTC/USDT</code>"


def test_event_without_price_omits_it() -> None:
    assert render_event(event("CLOSED")).splitlines()[0] == "🔒 <b>Closed by provider</b>"


def test_closed_shows_the_event_note_not_the_signal_note() -> None:
    text = render_event(event("CLOSED", note="Taking profit early", signal_note="x"))

    assert text.endswith("\n\n📝 Taking profit early")


def test_markup_characters_in_notes_names_and_symbols_are_escaped() -> None:
    text = render_event(event("PUBLISHED", signal_note="buy <b>now</b> & hold > 2 days",
                              providerName="A&B <Pro>", symbol="X<Y>/USDT"))

    assert "📝 buy &lt;b&gt;now&lt;/b&gt; &amp; hold &gt; 2 days" in text
    assert "<b>A&amp;B &lt;Pro&gt;</b>" in text
    assert "<code>X&lt;Y&gt;/USDT</code>" in text
    assert "buy <b>now</b> & hold > 2 days" in html_to_text(text)


def test_event_note_is_escaped() -> None:
    text = render_event(event("CANCELLED", note="<script> & co"))

    assert text.endswith("📝 &lt;script&gt; &amp; co")


@pytest.mark.parametrize("note", ["<&>" * 3000, "🚀" * 5000, "a" * 10_000])
def test_long_note_is_cut_to_fit_telegram_limit(note: str) -> None:
    text = render_event(event("PUBLISHED", signal_note=note))

    assert utf16_len(text) <= MAX_MESSAGE_UTF16
    assert text.endswith("…")
    assert "TP3: <code>67500.25</code>" in text
    html_to_text(text)  # no escape cut in half


def test_note_that_fits_is_not_cut() -> None:
    text = render_event(event("STOP_HIT", note="n" * 3000))

    assert text.endswith("n" * 3000)


def test_render_notice_escapes_plain_text_and_limits_length() -> None:
    assert render_notice(" Order <filled> & done ") == "Order &lt;filled&gt; &amp; done"
    assert utf16_len(render_notice("&" * 5000)) <= MAX_MESSAGE_UTF16


@pytest.mark.parametrize(("raw", "shown"), [
    ("64000.000000000000", "64000"), ("0.000012340000", "0.00001234"), ("1E+3", "1000"),
    ("-0.0", "0"), ("12.5", "12.5"), ("abc", "abc"),
])
def test_format_number_prints_plain_digits(raw: str, shown: str) -> None:
    assert format_number(raw) == shown

"""Pure texts and keyboards of linking, publishing and settings (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bots.telegram.chat_callbacks import DraftAction, DraftStep
from bots.telegram.chat_commands import (
    AddChannelRequest,
    QuietRequest,
    addchannel_arguments,
    movesl_arguments,
    quiet_arguments,
    signal_id_and_note,
)
from bots.telegram.chat_keyboards import draft_keyboard, settings_keyboard
from bots.telegram.chat_texts import deep_link, draft_preview
from bots.telegram.commands import UsageError
from domain.chat_publishing import DraftPreview, preview_message
from domain.linking_models import NotificationPreferences, PendingPost
from domain.models import Provider
from domain.signals import make_draft
from integrations.telegram_format import MAX_MESSAGE_UTF16, render_event, utf16_len

# BTC_USDT 2025-01-17 00:00 C 100120.58, H 100434.96; 2025-01-16 22:00 L 99377
DRAFT = make_draft(symbol="BTC/USDT", side="BUY", entry_low="100120.58", entry_high=None,
                   stop_loss="99377", targets=["100434.96"], leverage=3)


def test_stop_moved_renders_the_new_stop() -> None:
    message = preview_message(DRAFT, Provider(slug="desk", name="Desk"), 4)
    message.update(kind="STOP_MOVED", price="99950.77",
                   note="Stop-loss moved from 99377 to 99950.77")

    html = render_event(message)

    assert html.startswith("🛡 <b>Stop-loss moved</b> to <code>99950.77</code>\n"
                           "<b>Desk</b> · #4 · 🟢 <b>BUY</b> <code>BTC/USDT</code>")


def test_preview_is_the_subscribers_card_plus_a_footer_within_limits() -> None:
    provider = Provider(slug="desk", name="Desk <&>")
    long_note = make_draft(symbol="BTC/USDT", side="BUY", entry_low="100120.58",
                           entry_high=None, stop_loss="99377", targets=["100434.96"],
                           note="n" * 1000)
    for draft in (DRAFT, long_note):
        message = preview_message(draft, provider, 7)
        preview = DraftPreview(PendingPost(id=1), provider, None, draft, "", message)
        text = draft_preview(preview)
        assert text.startswith(render_event(message))
        assert utf16_len(text) <= MAX_MESSAGE_UTF16
    assert "Desk &lt;&amp;&gt;" in text


def test_draft_keyboard_offers_publish_only_when_ready() -> None:
    ready = [b.callback_data for row in draft_keyboard(5, True).inline_keyboard for b in row]
    not_ready = [b.text for row in draft_keyboard(5, False).inline_keyboard for b in row]

    assert ready == [DraftAction(step=s, post_id=5).pack() for s in DraftStep]
    assert not_ready == ["✏️ Edit", "✖️ Cancel"]
    assert all(len(data or "") <= 64 for data in ready)


def test_settings_keyboard_marks_switched_off_kinds() -> None:
    prefs = NotificationPreferences(muted_kinds=["TARGET_HIT"], quiet_start=1320,
                                    quiet_end=420, time_zone="UTC")
    texts = [b.text for row in settings_keyboard(prefs).inline_keyboard for b in row]

    assert "🔕 Targets hit" in texts and "🔔 New signals" in texts
    assert texts[-1] == "🌙 Quiet hours off"


def test_deep_link() -> None:
    assert deep_link("signalhub_bot", "btc-desk") == "https://t.me/signalhub_bot?start=btc-desk"


@pytest.mark.parametrize(("parse", "args", "expected"), [
    (lambda a: signal_id_and_note("close", a), "12 done", (12, "done")),
    (lambda a: signal_id_and_note("close", a), "#12", (12, "")),
    (movesl_arguments, "12 99,950.77", (12, "99950.77")),
    (movesl_arguments, "12 entry", (12, "entry")),
    (quiet_arguments, "off", QuietRequest(off=True)),
    (quiet_arguments, "22-7 Asia/Tokyo", QuietRequest(False, "22", "7", "Asia/Tokyo")),
    (addchannel_arguments, "-1001234567890 Desk auto",
     AddChannelRequest(-1001234567890, "desk", "auto")),
    (addchannel_arguments, "@desk_signals", AddChannelRequest("@desk_signals", None,
                                                              "confirm")),
])
def test_command_arguments(parse, args: str, expected) -> None:  # noqa: ANN001
    assert parse(args) == expected


@pytest.mark.parametrize(("parse", "args"), [
    (lambda a: signal_id_and_note("cancel", a), ""),
    (movesl_arguments, "12"),
    (movesl_arguments, "x 100"),
    (quiet_arguments, "22:00"),
    (addchannel_arguments, "channel"),
    (addchannel_arguments, "@a one two"),
])
def test_bad_command_arguments_say_what_to_type(parse, args: str) -> None:  # noqa: ANN001
    with pytest.raises(UsageError) as raised:
        parse(args)
    assert "e.g." in raised.value.text


def test_percent_stop_prices_keep_the_entry_decimals() -> None:
    from domain.models import Side
    from domain.parsing import stop_from_percent

    assert stop_from_percent(Side.BUY, (Decimal("100120.58"),), Decimal("1")) == \
        Decimal("99119.37")

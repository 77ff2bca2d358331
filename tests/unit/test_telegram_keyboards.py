"""The bot's pure parts: argument parsing, paging, keyboards, texts and error replies."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram.types import Chat
from aiogram.types import User as TelegramUser

from bots.telegram import texts
from bots.telegram.callbacks import ProvidersPage, SubscribeCallback
from bots.telegram.commands import (
    COPY_USAGE,
    OPTION_EXAMPLES,
    CopyRequest,
    UsageError,
    parse_copy,
    slug_argument,
)
from bots.telegram.errors import alert_for, reply_for
from bots.telegram.keyboards import paginate, provider_card_keyboard, providers_keyboard
from bots.telegram.middlewares import private_chat_id
from domain.errors import InvalidInput, NotAllowed, NotFound, RetryableError
from domain.models import PositionStatus, Provider, Side
from domain.portfolio import Mark, Portfolio
from integrations.telegram_format import utf16_len
from tests.fakes.telegram_api import html_to_text


def provider(slug: str = "rsi-demo", name: str = "RSI Demo", description: str = "",
             price: str = "3.00") -> Provider:
    return Provider(slug=slug, name=name, description=description,
                    monthly_price=Decimal(price))


def position(n: int, status: PositionStatus = PositionStatus.OPEN,
             symbol: str = "BTC/USDT", mode: str = "paper") -> Any:
    """A stand-in with the attributes the texts read (a saved Position needs a database)."""
    signal = SimpleNamespace(seq=n, provider=SimpleNamespace(slug="rsi-demo"))
    return SimpleNamespace(
        id=n, signal=signal, symbol=symbol, side=Side.BUY, status=status, mode=mode,
        entry_price=Decimal("60414.390000000000"), amount=Decimal("0.01655000"),
        remaining_amount=Decimal("0.01655000"), stop_loss=Decimal("59000"),
        targets=["62000", "63000"], targets_hit=1, realized_pnl=Decimal("-1.23456"),
        close_reason="closed by provider" if status is PositionStatus.CLOSED else "")


# -- commands ------------------------------------------------------------------------------


def test_slug_argument_takes_exactly_one_slug() -> None:
    assert slug_argument("subscribe", "  RSI-Demo ") == "rsi-demo"
    with pytest.raises(UsageError, match=r"^/subscribe needs a provider slug, e\.g\. "
                                         r"/subscribe rsi-demo$"):
        slug_argument("subscribe", None)
    with pytest.raises(UsageError, match="^/unsubscribe takes one provider slug"):
        slug_argument("unsubscribe", "a b")


@pytest.mark.parametrize(("args", "expected"), [
    ("on rsi-demo", CopyRequest(True, "rsi-demo")),
    ("OFF rsi-demo", CopyRequest(False, "rsi-demo")),
    ("rsi-demo on", CopyRequest(True, "rsi-demo")),
    ("on rsi-demo scale=0.5 max_pct=5 max_open=3",
     CopyRequest(True, "rsi-demo", "0.5", "5", 3)),
    ("on rsi-demo max_loss=3 on_slippage=limit deny=DOGE/USDT ladder=50/50",
     CopyRequest(True, "rsi-demo", limits=(
         ("max_daily_loss_pct", "3"), ("slippage_action", "limit"),
         ("denied_symbols", "DOGE/USDT"), ("exit_ladder", "50/50")))),
])
def test_parse_copy(args: str, expected: CopyRequest) -> None:
    assert parse_copy(args) == expected


@pytest.mark.parametrize(("args", "message"), [
    (None, COPY_USAGE),
    ("on", COPY_USAGE),
    ("rsi-demo", COPY_USAGE),
    ("on off rsi-demo", COPY_USAGE),
    ("on a b", COPY_USAGE),
    ("on rsi-demo size=2", f"unknown option 'size=2'; use {OPTION_EXAMPLES} "
                           "after /copy on <slug>"),
    ("on rsi-demo scale=", f"unknown option 'scale='; use {OPTION_EXAMPLES} "
                           "after /copy on <slug>"),
    ("on rsi-demo max_open=2.5", "max_open needs a whole number, e.g. max_open=5"),
])
def test_parse_copy_says_what_to_type(args: str | None, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_copy(args)
    assert caught.value.text == message


# -- paging and keyboards ------------------------------------------------------------------


def test_paginate_clamps_to_existing_pages() -> None:
    items = list(range(17))
    assert paginate(items, 0, 8).items == list(range(8))
    assert (paginate(items, 2, 8).items, paginate(items, 2, 8).count) == ([16], 3)
    assert paginate(items, 9, 8).number == 2
    assert paginate(items, -1, 8).number == 0
    assert (paginate([], 0, 8).items, paginate([], 0, 8).count) == ([], 1)


def test_providers_keyboard_has_one_button_per_provider_and_page_buttons() -> None:
    providers = [provider(f"desk-{n}", f"Desk {n}") for n in range(10)]

    first = providers_keyboard(paginate(providers, 0, 4))
    middle = providers_keyboard(paginate(providers, 1, 4))

    assert first is not None and middle is not None
    rows = first.inline_keyboard
    assert [len(row) for row in rows] == [1, 1, 1, 1, 1]
    assert rows[0][0].callback_data == SubscribeCallback(slug="desk-0").pack()
    assert rows[-1][0].callback_data == ProvidersPage(page=1).pack()
    assert [b.text for b in middle.inline_keyboard[-1]] == ["◀ Previous", "Next ▶"]
    assert providers_keyboard(paginate([], 0)) is None


def test_button_data_fits_telegrams_64_bytes_for_the_longest_slug() -> None:
    slug = "a" * 48
    [[button]] = provider_card_keyboard(provider(slug, "N" * 80)).inline_keyboard
    assert button.callback_data is not None and len(button.callback_data.encode()) <= 64
    assert SubscribeCallback.unpack(button.callback_data).slug == slug
    assert button.text.endswith("…") and len(button.text) < 60


# -- texts ---------------------------------------------------------------------------------


def test_outside_text_is_escaped_and_accepted_as_telegram_html() -> None:
    desk = provider(name="A&B <desk>", description="buy <low> & sell high\n" * 50)

    for html in (texts.providers_text([desk], 0, 1), texts.provider_card(desk),
                 texts.subscribed(desk, private=True), texts.greeting("<b>Eve</b>"),
                 texts.error("no provider with slug '<x>'"), texts.usage("/copy on <slug>")):
        assert "<desk>" not in html
        html_to_text(html)  # raises like Telegram would on bad HTML

    assert "A&B <desk> · rsi-demo · $3.00/month" in html_to_text(texts.providers_text(
        [desk], 0, 1))
    assert html_to_text(texts.providers_text([desk], 0, 1)).count("\n") == 5  # one-line blurb


def test_free_provider_and_empty_list() -> None:
    assert "free" in texts.provider_card(provider(price="0"))
    assert texts.providers_text([], 0, 1).startswith("No providers")


def test_positions_text_shows_open_and_closed_positions() -> None:
    account = SimpleNamespace(balance=Decimal("10012.3456"), starting_balance=Decimal("10000"),
                              currency="USDT")
    portfolio = Portfolio(account, [position(2)], [position(1, PositionStatus.CLOSED)], 1, 3,
                          {2: Mark(Decimal("61000.5"), Decimal("9.69"))})  # type: ignore[arg-type]

    text = html_to_text(texts.positions_text(portfolio))

    assert text.splitlines()[0] == "💼 Paper account: 10,012.35 USDT (started with 10,000.00)"
    assert ("🟢 BUY BTC/USDT · rsi-demo #2\nEntry 60414.39 · remaining 0.01655 of 0.01655\n"
            "Stop 59000 · targets hit 1 of 2\nNow 61000.5 · unrealized +9.69 USDT") in text
    assert ("Closed positions (3)\n\n🟢 BUY BTC/USDT · rsi-demo #1 · closed by provider\n"
            "Realized PnL -1.23 USDT\n\n… and 2 more") in text


def test_positions_text_marks_live_positions() -> None:
    account = SimpleNamespace(balance=Decimal("10000"), starting_balance=Decimal("10000"),
                              currency="USDT")
    portfolio = Portfolio(account, [position(3, mode="live"), position(2)], [], 2, 0)  # type: ignore[arg-type]

    lines = html_to_text(texts.positions_text(portfolio)).splitlines()

    assert "🟢 BUY BTC/USDT · rsi-demo #3 · live (exchange account)" in lines
    assert "🟢 BUY BTC/USDT · rsi-demo #2" in lines


def test_positions_text_stays_within_telegrams_limit() -> None:
    account = SimpleNamespace(balance=Decimal("1"), starting_balance=Decimal("1"),
                              currency="USDT")
    long_symbol = "A" * 20 + "/" + "B" * 20 + ":" + "C" * 7
    many = [position(n, symbol=long_symbol) for n in range(40)]
    closed = [position(n, PositionStatus.CLOSED, long_symbol) for n in range(40)]
    portfolio = Portfolio(account, many, closed, 40, 40)  # type: ignore[arg-type]

    html = texts.positions_text(portfolio)

    assert utf16_len(html) <= 4096
    assert "more" in html_to_text(html)


# -- errors and users ----------------------------------------------------------------------


@pytest.mark.parametrize(("exc", "reply"), [
    (UsageError("/subscribe needs a provider slug"), "✍️ /subscribe needs a provider slug"),
    (NotFound("no provider with slug '<x>'"), "⚠️ no provider with slug '&lt;x&gt;'"),
    (NotAllowed("you are not subscribed"), "⚠️ you are not subscribed"),
    (InvalidInput("scaleFactor", "must be between 0.1 and 2.0"),
     "⚠️ scaleFactor: must be between 0.1 and 2.0"),
    (RetryableError("redis down"), texts.FAILURE),
    (RuntimeError("boom"), texts.FAILURE),
])
def test_error_replies(exc: Exception, reply: str) -> None:
    assert reply_for(exc) == reply


def test_alerts_are_plain_and_short() -> None:
    assert alert_for(NotFound("no provider with slug '<x>'")) == "no provider with slug '<x>'"
    assert len(alert_for(NotFound("x" * 500))) == 200
    assert "went wrong" in alert_for(KeyError("secret detail"))


def test_personal_messages_go_to_the_private_chat_even_from_a_group() -> None:
    sender = TelegramUser(id=42, is_bot=False, first_name="Ada")
    assert private_chat_id(sender, Chat(id=42, type="private")) == 42
    assert private_chat_id(sender, Chat(id=-100123, type="supergroup")) == 42
    assert private_chat_id(sender, None) == 42

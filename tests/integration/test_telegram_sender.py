"""TelegramSender through unmodified aiogram against the local fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram.client.session.aiohttp import AiohttpSession

from domain.errors import PermanentError, RetryableError
from integrations.telegram import TelegramSender, make_bot
from integrations.telegram_format import render_event
from tests.fakes.telegram_api import FakeTelegramApi

TOKEN = "123456:TEST-TOKEN"
CHAT = 4242
HTML = "🟢 <b>BUY</b> <code>BTC/USDT</code> &amp; more"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as server:
        yield server


@pytest.fixture
async def sender(api: FakeTelegramApi) -> AsyncIterator[TelegramSender]:
    telegram = TelegramSender(make_bot(TOKEN, api.base_url))
    yield telegram
    await telegram.aclose()


async def test_send_html_posts_the_exact_text_as_html_without_preview(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    await sender.send_html(CHAT, HTML)

    [sent] = api.sent_messages(CHAT)
    assert sent.text == HTML
    assert sent.parse_mode == "HTML"
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert sent.message["text"] == "🟢 BUY BTC/USDT & more"
    [call] = api.calls
    assert (call.method, call.token, call.status) == ("sendMessage", TOKEN, 200)


async def test_aiogram_runs_unmodified_over_real_http(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    assert type(sender.bot.session) is AiohttpSession
    assert sender.bot.session.api.api_url(TOKEN, "getMe") == f"{api.base_url}/bot{TOKEN}/getMe"

    me = await sender.bot.get_me()

    assert (me.id, me.is_bot) == (123456, True)


async def test_rendered_event_is_accepted_by_telegram_html_rules(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    message = {"kind": "PUBLISHED", "targetIndex": 0, "price": None, "note": "",
               "signal": {"providerName": "A&B <desk>", "seq": 3, "symbol": "ETH/USDT",
                          "side": "SELL", "entryLow": "3000", "entryHigh": "3050",
                          "stopLoss": "3200", "targets": ["2900", "2800"], "leverage": 5,
                          "note": "tight <stop> & small size"}}

    await sender.send_html(CHAT, render_event(message))

    assert "tight <stop> & small size" in api.sent_messages(CHAT)[0].message["text"]


async def test_429_becomes_retryable_with_telegrams_retry_after(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    api.fail_next(CHAT, status=429, retry_after=1)

    with pytest.raises(RetryableError) as caught:
        await sender.send_html(CHAT, HTML)

    assert caught.value.retry_after == 1.0
    assert api.calls[-1].status == 429
    await sender.send_html(CHAT, HTML)
    assert len(api.sent_messages(CHAT)) == 1


async def test_blocked_user_403_is_permanent(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    api.fail_next(CHAT, status=403)

    with pytest.raises(PermanentError, match="bot was blocked by the user"):
        await sender.send_html(CHAT, HTML)


async def test_blocked_chat_stays_permanent_until_unblocked(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    api.block(CHAT)
    for _ in range(2):
        with pytest.raises(PermanentError):
            await sender.send_html(CHAT, HTML)
    await sender.send_html(CHAT + 1, HTML)

    api.unblock(CHAT)
    await sender.send_html(CHAT, HTML)

    assert [m.chat_id for m in api.sent_messages()] == [CHAT + 1, CHAT]


async def test_chat_not_found_is_permanent(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    api.fail_next(CHAT, status=400)

    with pytest.raises(PermanentError, match="chat not found"):
        await sender.send_html(CHAT, HTML)


async def test_malformed_html_is_permanent_with_telegrams_description(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    with pytest.raises(PermanentError, match="can't parse entities") as caught:
        await sender.send_html(CHAT, "<b>unclosed & raw")

    assert isinstance(caught.value.__cause__, Exception)
    assert api.sent_messages() == []


async def test_server_error_is_retryable_without_retry_after(
        api: FakeTelegramApi, sender: TelegramSender) -> None:
    api.fail_next(None, status=502)

    with pytest.raises(RetryableError) as caught:
        await sender.send_html(CHAT, HTML)

    assert caught.value.retry_after is None


async def test_unreachable_api_is_retryable() -> None:
    async with FakeTelegramApi() as gone:
        base_url = gone.base_url
    telegram = TelegramSender(make_bot(TOKEN, base_url))
    try:
        with pytest.raises(RetryableError, match="unreachable"):
            await telegram.send_html(CHAT, HTML)
    finally:
        await telegram.aclose()


def test_make_bot_defaults_to_html_and_telegram_servers() -> None:
    bot = make_bot(TOKEN)

    assert bot.default.parse_mode == "HTML"
    assert bot.session.api.api_url(TOKEN, "getMe").startswith("https://api.telegram.org/")

"""/connect: the bot, unmodified, long-polling the fake Bot API; the key is checked by
ccxt against the fake Binance; PostgreSQL and Redis for real.

The wizard must delete every message holding a key part (deleteMessage) right after
reading it, refuse groups, store nothing on a rejected key, and never echo a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bots.telegram.app import run_polling
from domain.exchange_accounts import LIVE_CONFIRMATION
from domain.exchange_models import AccountStatus, ExchangeAccount, TradingMode
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.exchange_accounts import close_exchange_services
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.binance_api import FakeBinance
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage
from tests.support import exchange as exchange_support
from tests.support.exchange import API_KEY, SECRET

fake_binance = exchange_support.fake_binance

TOKEN = "123456:TEST-token-abcdefghijklmnop"
USER = 6001
GROUP = -1009876543210


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as server:
        yield server


@pytest.fixture
async def bot(api: FakeTelegramApi, settings: Settings, clean_db: str) -> AsyncIterator[Services]:
    settings = settings.model_copy(update={"telegram_bot_token": TOKEN,
                                           "telegram_api_base": api.base_url})
    services = await bootstrap(settings, prices=ReplayPriceSource(PACKAGE_DATA, speed=None),
                               init_database=False)
    task = asyncio.create_task(run_polling(settings, services))
    await api.wait_for(lambda: api.calls_to("getMe") or task.done())
    assert not task.done(), task.exception()
    yield services
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await close_exchange_services(services)
    await shutdown(services, close_database=False)


async def say(api: FakeTelegramApi, text: str, chat_id: int | None = None
              ) -> tuple[int, SentMessage]:
    """Send ``text`` as USER; (its message id, the bot's reply)."""
    chat = USER if chat_id is None else chat_id
    before = len(api.sent_messages(chat))
    update = api.push_update(api.message_update(USER, text, chat_id))
    replies = await api.wait_for(lambda: api.sent_messages(chat)[before:], timeout=15)
    return update["message"]["message_id"], replies[-1]


async def walk_to_the_key(api: FakeTelegramApi, fake: FakeBinance) -> None:
    for text in ("/connect", "binance", "spot", "no"):
        await say(api, text)
    _, reply = await say(api, fake.base_url)
    assert "API key" in reply.message["text"]


async def test_the_wizard_connects_and_deletes_the_key_and_secret_messages(
        api: FakeTelegramApi, bot: Services, fake_binance: FakeBinance) -> None:
    await walk_to_the_key(api, fake_binance)

    key_message, ask_secret = await say(api, API_KEY)
    secret_message, done = await say(api, SECRET)

    assert (USER, key_message) in api.deleted and (USER, secret_message) in api.deleted
    assert "secret" in ask_secret.message["text"]
    text = done.message["text"]
    assert text.startswith("✅ Connected binance spot") and f"…{API_KEY[-4:]}" in text
    assert "10000 USDT" in text and "paper" in text
    account = await ExchangeAccount.get(exchange_id="binance")
    assert account.mode == TradingMode.PAPER and account.api_key_hint == API_KEY[-4:]
    for sent in api.sent_messages():
        assert API_KEY not in sent.text and SECRET not in sent.text


async def test_a_rejected_key_stores_nothing_and_says_why(
        api: FakeTelegramApi, bot: Services, fake_binance: FakeBinance) -> None:
    await walk_to_the_key(api, fake_binance)
    await say(api, API_KEY)

    secret_message, reply = await say(api, "W" * 64)

    assert (USER, secret_message) in api.deleted
    assert reply.message["text"].startswith("⚠️ Not connected: apiKey: the exchange rejected")
    assert "W" * 64 not in reply.text
    assert await ExchangeAccount.all().count() == 0


async def test_connect_is_refused_in_groups(api: FakeTelegramApi, bot: Services) -> None:
    _, reply = await say(api, "/connect", chat_id=GROUP)

    assert reply.message["text"].startswith("🔒 /connect and /exchange work only in a "
                                            "private chat")
    _, exchange = await say(api, "/exchange", chat_id=GROUP)
    assert exchange.message["text"] == reply.message["text"]
    assert await ExchangeAccount.all().count() == 0


async def test_bad_answers_are_asked_again_and_cancel_stops(
        api: FakeTelegramApi, bot: Services, fake_binance: FakeBinance) -> None:
    await say(api, "/connect")
    _, unknown = await say(api, "binanse")
    assert "'binanse' is not a ccxt exchange id" in unknown.message["text"]
    await say(api, "binance")
    _, market = await say(api, "margin")
    assert market.message["text"].startswith("⚠️ Market type")

    _, stopped = await say(api, "cancel")

    assert stopped.message["text"] == "Stopped: nothing was stored."
    _, after = await say(api, "spot")
    assert "Market type" not in after.message["text"]
    assert await ExchangeAccount.all().count() == 0 and api.deleted == []


async def test_exchange_shows_the_account_goes_live_by_phrase_and_disconnects(
        api: FakeTelegramApi, bot: Services, fake_binance: FakeBinance) -> None:
    _, none = await say(api, "/exchange")
    assert none.message["text"].startswith("You have no exchange account connected")
    await walk_to_the_key(api, fake_binance)
    await say(api, API_KEY)
    await say(api, SECRET)

    _, shown = await say(api, "/exchange")
    _, wrong = await say(api, "/exchange live yes please")
    _, live = await say(api, f"/exchange live {LIVE_CONFIRMATION}")
    account = await ExchangeAccount.get(exchange_id="binance")
    _, paper = await say(api, "/exchange paper")
    _, gone = await say(api, "/exchange disconnect")

    assert "Mode: paper" in shown.message["text"] and LIVE_CONFIRMATION in shown.message["text"]
    assert wrong.message["text"] == f"⚠️ confirm: type exactly: {LIVE_CONFIRMATION}"
    assert "Mode: LIVE" in live.message["text"] and account.mode == TradingMode.LIVE
    assert account.live_confirmed_at is not None
    assert "Mode: paper" in paper.message["text"]
    assert gone.message["text"].startswith("🔌 Disconnected binance account")
    row = await ExchangeAccount.get(id=account.id)
    assert row.status == AccountStatus.DISABLED and row.credentials_ciphertext == b""

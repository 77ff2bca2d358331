"""The Telegram bot, unmodified, long-polling the local fake Bot API on loopback.

Each test starts ``bots.telegram.app.run_polling`` in a task against ``FakeTelegramApi``
with real PostgreSQL and Redis, pushes updates into the fake, waits for the bot's
calls and checks the database through the domain. Prices: the bundled real candles
(``signalhub/data``) on a manual replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from bots.telegram.app import run_polling
from bots.telegram.callbacks import ProvidersPage, SubscribeCallback
from bots.telegram.commands import COMMANDS
from domain.copying import execute_copy_orders
from domain.fanout import fan_out
from domain.models import (
    ApiToken,
    CopySettings,
    EventKind,
    OrderStatus,
    PaperAccount,
    Position,
    PositionStatus,
    Provider,
    Signal,
    SignalEvent,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.monitor import close_positions_for_event
from domain.providers import create_provider
from domain.publishing import close_signal, publish_signal
from domain.signals import make_draft
from domain.subscriptions import set_copy_trading, subscribe
from domain.users import authenticate, create_user
from integrations.prices import ReplayPriceSource
from integrations.telegram_format import format_number
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage

TOKEN = "123456:TEST-token-abcdefghijklmnop"
USER = 5001
GROUP = -1001234567890
SLUG = "rsi-demo"


class RecordingQueue:
    """A ``JobQueue`` that records what would be enqueued (no worker runs here)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str]] = []

    async def enqueue(self, function: str, *args: Any, job_id: str) -> bool:
        self.jobs.append((function, args, job_id))
        return True


class RecordingBus:
    """An ``EventBus`` that records what would be broadcast."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as server:
        yield server


@pytest.fixture
def prices() -> ReplayPriceSource:
    return ReplayPriceSource(PACKAGE_DATA, speed=None)


@pytest.fixture
async def bot(api: FakeTelegramApi, settings: Settings, clean_db: str,
              prices: ReplayPriceSource) -> AsyncIterator[Services]:
    """The bot polling the fake; yields its services; stops it by cancelling its task."""
    settings = settings.model_copy(update={"telegram_bot_token": TOKEN,
                                           "telegram_api_base": api.base_url})
    services = await bootstrap(settings, prices=prices, init_database=False)
    task = asyncio.create_task(run_polling(settings, services))
    await api.wait_for(lambda: api.calls_to("getMe") or task.done())
    assert not task.done(), task.exception()
    yield services
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    await shutdown(services, close_database=False)


async def ask(api: FakeTelegramApi, text: str, user_id: int = USER,
              chat_id: int | None = None, **user: Any) -> SentMessage:
    """Send ``text`` as ``user_id`` (in ``chat_id``, default the private chat); the reply."""
    chat = user_id if chat_id is None else chat_id
    before = len(api.sent_messages(chat))
    api.push_update(api.message_update(user_id, text, chat_id, **user))
    replies = await api.wait_for(lambda: api.sent_messages(chat)[before:])
    return replies[-1]


def plain(sent: SentMessage) -> str:
    """The reply as the user reads it (HTML accepted by the fake and stripped)."""
    return str(sent.message["text"])


def buttons(sent: SentMessage) -> list[dict[str, Any]]:
    markup = sent.reply_markup or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def make_provider(slug: str = SLUG, name: str = "RSI Demo",
                        owner: User | None = None, price: str = "0") -> tuple[User, Provider]:
    owner = owner or await create_user("Desk", role="provider")
    provider = await create_provider(owner, slug, name,
                                     description="RSI(14) crosses on 1h candles.",
                                     monthly_price=price)
    return owner, provider


async def press(api: FakeTelegramApi, data: str, user_id: int = USER) -> dict[str, Any]:
    """Press a button with ``data`` under the bot's last message; the callback answer."""
    before = len(api.calls_to("answerCallbackQuery"))
    api.push_update(api.callback_update(user_id, data))
    answers = await api.wait_for(lambda: api.calls_to("answerCallbackQuery")[before:])
    return answers[-1].params


# -- /start, /help, unknown input -------------------------------------------------------


async def test_start_creates_the_user_with_telegram_ids_and_greets(
        api: FakeTelegramApi, bot: Services) -> None:
    reply = plain(await ask(api, "/start", first_name="Ada"))

    user = await User.get(telegram_user_id=USER)
    assert (user.name, user.telegram_chat_id, user.telegram_reachable) == ("Ada", USER, True)
    assert await PaperAccount.exists(user=user)
    assert "Hi Ada!" in reply and "SignalHub" in reply
    for command in ("/providers", "/subscribe <slug>", "/copy on|off <slug>", "/positions",
                    "/token"):
        assert command in reply

    await ask(api, "/start")
    assert await User.filter(telegram_user_id=USER).count() == 1


async def test_startup_deletes_the_webhook_and_publishes_the_command_menu(
        api: FakeTelegramApi, bot: Services) -> None:
    await api.wait_for(lambda: len(api.my_commands) == 2)

    assert api.calls_to("deleteWebhook")[0].params.get("drop_pending_updates") in (None, False)
    default = [c["command"] for c in api.my_commands['{"type": "default"}']]
    groups = [c["command"] for c in api.my_commands['{"type": "all_group_chats"}']]
    assert default[:5] == ["start", "help", "providers", "subscribe", "unsubscribe"]
    assert default == [c.name for c in COMMANDS]  # every feature's commands, in order
    assert groups == [c.name for c in COMMANDS if not c.private_only]
    assert "token" not in groups and "link" not in groups


async def test_start_deep_link_shows_the_provider_card(
        api: FakeTelegramApi, bot: Services) -> None:
    await make_provider(price="3.00")

    sent = await ask(api, f"/start {SLUG}")

    assert "RSI Demo" in plain(sent) and "$3.00/month" in plain(sent)
    assert [b["callback_data"] for b in buttons(sent)] == [SubscribeCallback(slug=SLUG).pack()]


async def test_start_deep_link_to_an_unknown_provider_says_so(
        api: FakeTelegramApi, bot: Services) -> None:
    assert plain(await ask(api, "/start nobody")) == "⚠️ no provider with slug 'nobody'"


async def test_unknown_command_and_any_private_text_get_the_help(
        api: FakeTelegramApi, bot: Services) -> None:
    unknown = plain(await ask(api, "/frobnicate now"))
    text = plain(await ask(api, "hello there"))
    help_ = plain(await ask(api, "/help"))

    assert unknown.startswith("🤷 I don't know /frobnicate.")
    assert "/providers" in unknown and "/subscribe <slug>" in unknown
    assert text == help_ and "/positions" in text


async def test_in_groups_only_commands_are_answered(api: FakeTelegramApi, bot: Services) -> None:
    api.push_update(api.message_update(USER, "just chatting", GROUP))
    reply = plain(await ask(api, "/help@signalhub_test_bot", chat_id=GROUP))
    await asyncio.sleep(0.2)

    assert "/providers" in reply
    assert len(api.sent_messages(GROUP)) == 1
    user = await User.get(telegram_user_id=USER)
    assert user.telegram_chat_id == USER  # personal messages still go to the private chat


# -- providers and subscriptions -------------------------------------------------------


async def test_providers_lists_providers_and_the_button_subscribes(
        api: FakeTelegramApi, bot: Services) -> None:
    owner, _ = await make_provider(name="RSI <Demo> & Co")
    await make_provider("trend-follow", "Trend Follow", owner, price="3.00")

    listing = await ask(api, "/providers")

    assert "RSI <Demo> & Co · rsi-demo · free" in plain(listing)
    assert "Trend Follow · trend-follow · $3.00/month" in plain(listing)
    data = [b["callback_data"] for b in buttons(listing)]
    assert data == [SubscribeCallback(slug=SLUG).pack(),
                    SubscribeCallback(slug="trend-follow").pack()]

    answer = await press(api, data[0])

    assert answer["text"] == "Subscribed to RSI <Demo> & Co"
    user = await User.get(telegram_user_id=USER)
    sub = await Subscription.get(user=user, provider__slug=SLUG)
    assert sub.status is SubscriptionStatus.ACTIVE
    assert not (await CopySettings.get(subscription=sub)).enabled
    confirmation = await api.wait_for(lambda: [m for m in api.sent_messages(USER)
                                               if "Subscribed to" in plain(m)])
    assert "/copy on rsi-demo" in plain(confirmation[0])


async def test_subscribe_button_of_a_vanished_provider_alerts(
        api: FakeTelegramApi, bot: Services) -> None:
    await ask(api, "/start")

    answer = await press(api, SubscribeCallback(slug="gone-away").pack())

    assert answer["text"] == "no provider with slug 'gone-away'"
    assert answer["show_alert"] is True


async def test_providers_are_paged_with_next_and_previous_buttons(
        api: FakeTelegramApi, bot: Services) -> None:
    owner = await create_user("Desk", role="provider")
    for n in range(9):
        await make_provider(f"desk-{n:02d}", f"Desk {n:02d}", owner)

    listing = await ask(api, "/providers")
    assert "(page 1 of 2)" in plain(listing) and "Desk 07" in plain(listing)
    assert "Desk 08" not in plain(listing)
    assert buttons(listing)[-1] == {"text": "Next ▶",
                                    "callback_data": ProvidersPage(page=1).pack()}

    await press(api, ProvidersPage(page=1).pack())

    [edit] = api.calls_to("editMessageText")
    assert "(page 2 of 2)" in edit.params["text"] and "Desk 08" in edit.params["text"]


async def test_subscribe_and_unsubscribe_by_command(api: FakeTelegramApi, bot: Services) -> None:
    await make_provider()

    subscribed = plain(await ask(api, f"/subscribe {SLUG.upper()}"))
    listed = plain(await ask(api, "/subscriptions"))
    user = await User.get(telegram_user_id=USER)
    active = (await Subscription.get(user=user)).status
    unsubscribed = plain(await ask(api, f"/unsubscribe {SLUG}"))

    assert subscribed.startswith("✅ Subscribed to RSI Demo")
    assert "RSI Demo · rsi-demo · copy off" in listed
    assert active is SubscriptionStatus.ACTIVE
    assert unsubscribed.startswith("👋 Unsubscribed from RSI Demo")
    assert (await Subscription.get(user=user)).status is SubscriptionStatus.CANCELLED


async def test_subscribe_to_an_unknown_provider_replies_not_found(
        api: FakeTelegramApi, bot: Services) -> None:
    reply = plain(await ask(api, "/subscribe no-such-desk"))

    assert reply == "⚠️ no provider with slug 'no-such-desk'"
    assert not await Subscription.exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("/subscribe", "/subscribe needs a provider slug, e.g. /subscribe rsi-demo"),
    ("/subscribe a b", "/subscribe takes one provider slug, e.g. /subscribe rsi-demo"),
    ("/unsubscribe", "/unsubscribe needs a provider slug, e.g. /unsubscribe rsi-demo"),
    ("/copy rsi-demo", "/copy needs on or off and a provider slug, e.g. /copy on rsi-demo "
                       "(optional: scale=0.5 max_pct=10 max_open=5)"),
    ("/copy on rsi-demo max_open=lots", "max_open needs a whole number, e.g. max_open=5"),
])
async def test_bad_input_says_exactly_what_to_type(
        api: FakeTelegramApi, bot: Services, text: str, expected: str) -> None:
    assert plain(await ask(api, text)) == f"✍️ {expected}"


# -- copy trading ------------------------------------------------------------------------


async def test_copy_on_without_a_subscription_is_not_allowed(
        api: FakeTelegramApi, bot: Services) -> None:
    await make_provider()

    reply = plain(await ask(api, f"/copy on {SLUG}"))

    assert reply == "⚠️ you are not subscribed to 'rsi-demo'; subscribe first"
    assert not await CopySettings.exists()


async def test_copy_on_after_subscribing_enables_copy_trading(
        api: FakeTelegramApi, bot: Services) -> None:
    await make_provider()
    await ask(api, f"/subscribe {SLUG}")

    reply = plain(await ask(api, f"/copy on {SLUG} scale=0.5 max_open=3"))

    settings = await CopySettings.get(subscription__provider__slug=SLUG)
    assert settings.enabled
    assert (settings.scale_factor, settings.max_open_positions) == (Decimal("0.5"), 3)
    assert reply.startswith("🤖 Copy trading for rsi-demo is on")
    assert "Scale 0.5" in reply and "at most 3 open positions" in reply

    out_of_range = plain(await ask(api, f"/copy on {SLUG} scale=5"))
    off = plain(await ask(api, f"/copy off {SLUG}"))

    assert out_of_range == "⚠️ scaleFactor: must be between 0.1 and 2.0"
    assert off.startswith("⏸ Copy trading for rsi-demo is off")
    settings = await CopySettings.get(subscription__provider__slug=SLUG)
    assert not settings.enabled and settings.scale_factor == Decimal("0.5")


# -- positions -----------------------------------------------------------------------------


async def copy_signal(owner: User, symbol: str, prices: ReplayPriceSource,
                      queue: RecordingQueue, bus: RecordingBus) -> Signal:
    """Publish a BUY at the last real close and paper-fill every follower's copy.

    Stop and target are the lowest low and highest high of the last 24 real candles.
    """
    window = prices.history(symbol, 24)
    close = window[-1].close
    stop, target = min(c.low for c in window), max(c.high for c in window)
    assert stop < close < target
    draft = make_draft(symbol=symbol, side="BUY", entry_low=close, entry_high=None,
                       stop_loss=stop, targets=[target])
    signal = await publish_signal(owner, SLUG, draft, queue, bus, market_ts=prices.now_ms())
    event = await SignalEvent.get(signal=signal, kind=EventKind.PUBLISHED)
    plan = await fan_out(event.id)
    [result] = await execute_copy_orders(plan.copy_order_ids, prices)
    assert result.status is OrderStatus.FILLED, result.reason
    return signal


async def test_positions_without_any_shows_the_balance_and_how_to_start(
        api: FakeTelegramApi, bot: Services) -> None:
    reply = plain(await ask(api, "/positions"))

    assert reply.startswith("💼 Paper account: 10,000.00 USDT (started with 10,000.00)")
    assert "No paper positions yet" in reply


async def test_positions_lists_open_and_closed_positions_and_the_balance(
        api: FakeTelegramApi, bot: Services, prices: ReplayPriceSource) -> None:
    owner, _ = await make_provider()
    await ask(api, "/start")
    user = await User.get(telegram_user_id=USER)
    await subscribe(user, SLUG)
    await set_copy_trading(user, SLUG, True)
    queue, bus = RecordingQueue(), RecordingBus()
    btc = await copy_signal(owner, "BTC/USDT", prices, queue, bus)
    eth = await copy_signal(owner, "ETH/USDT", prices, queue, bus)
    prices.advance(1)
    exit_price = prices.last_price("BTC/USDT")
    event = await close_signal(owner, btc.id, "taking profit", queue, bus, price=exit_price)
    await close_positions_for_event(event.id, exit_price)

    reply = plain(await ask(api, "/positions"))

    closed = await Position.get(signal=btc)
    still_open = await Position.get(signal=eth)
    account = await PaperAccount.get(user=user)
    assert (closed.status, still_open.status) == (PositionStatus.CLOSED, PositionStatus.OPEN)
    assert f"Paper account: {account.balance:,.2f} USDT" in reply
    open_part, closed_part = reply.split("Closed positions (1)")
    assert "Open positions (1)" in open_part
    assert f"🟢 BUY ETH/USDT · rsi-demo #{eth.seq}" in open_part
    assert (f"Entry {format_number(still_open.entry_price)} · remaining "
            f"{format_number(still_open.remaining_amount)} of "
            f"{format_number(still_open.amount)}") in open_part
    assert f"Stop {format_number(still_open.stop_loss)} · targets hit 0 of 1" in open_part
    assert f"Now {format_number(prices.last_price('ETH/USDT'))} · unrealized" in open_part
    assert f"🟢 BUY BTC/USDT · rsi-demo #{btc.seq} · closed by provider" in closed_part
    assert f"Realized PnL {closed.realized_pnl:+,.2f} USDT" in closed_part


# -- API token -----------------------------------------------------------------------------


async def test_token_in_a_private_chat_authenticates_its_user(
        api: FakeTelegramApi, bot: Services) -> None:
    reply = plain(await ask(api, "/token"))

    [token] = re.findall(r"shk_[A-Za-z0-9_-]+", reply)
    owner = await authenticate(token)
    assert owner is not None and owner.telegram_user_id == USER


async def test_token_in_a_group_is_refused(api: FakeTelegramApi, bot: Services) -> None:
    reply = plain(await ask(api, "/token", chat_id=GROUP))

    assert reply.startswith("🔒 /token works only in a private chat with me")
    assert not await ApiToken.exists()

"""Publishing by chat, channels, linking, settings and forum topics through the real bot.

The bot (``bots.telegram.app.run_polling``, unmodified) long-polls
``FakeTelegramChannelsApi`` on loopback; every input is real Update JSON (messages,
edited messages, channel posts, edited channel posts, ``my_chat_member``, callback
queries). Real PostgreSQL and Redis. Signal prices are real candles of the bundled
``signalhub/data`` (Binance BTC/USDT and ETH/USDT 1h) on a manual replay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from bots.telegram.app import run_polling
from bots.telegram.chat_callbacks import (
    ChannelModeChoice,
    DraftAction,
    DraftStep,
    NotifyToggle,
)
from bots.telegram.chat_texts import deep_link, link_deep_link
from domain.linking import issue_code
from domain.linking_models import (
    ChannelSource,
    NotificationPreferences,
    PendingPost,
    Platform,
    PostStatus,
    SourceMode,
)
from domain.models import EventKind, Provider, Signal, SignalEvent, SignalState, SignalStatus, User
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.users import create_user
from integrations.prices import ReplayPriceSource
from integrations.telegram_format import format_number
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.telegram_api import SentMessage, html_to_text
from tests.fakes.telegram_channels import FakeTelegramChannelsApi

TOKEN = "123456:TEST-token-abcdefghijklmnop"
PROVIDER_TG = 6001
FAN_TG = 6002
CHANNEL = -1009876543210
FORUM = -1001112223334
SLUG = "btc-desk"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramChannelsApi]:
    async with FakeTelegramChannelsApi() as server:
        yield server


@pytest.fixture
def prices() -> ReplayPriceSource:
    return ReplayPriceSource(PACKAGE_DATA, speed=None)


@pytest.fixture
async def bot(api: FakeTelegramChannelsApi, settings: Settings, clean_db: str,
              prices: ReplayPriceSource) -> AsyncIterator[Services]:
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
    await shutdown(services, close_database=False)


def plain(sent: SentMessage) -> str:
    return str(sent.message["text"])


def buttons(sent: SentMessage) -> list[dict[str, Any]]:
    markup = sent.reply_markup or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def push(api: FakeTelegramChannelsApi, update: dict[str, Any], chat: int) -> SentMessage:
    """Queue ``update`` and return the bot's next message to ``chat``."""
    before = len(api.sent_messages(chat))
    api.push_update(update)
    replies = await api.wait_for(lambda: api.sent_messages(chat)[before:])
    return replies[-1]


async def ask(api: FakeTelegramChannelsApi, text: str, user_id: int = PROVIDER_TG
              ) -> SentMessage:
    return await push(api, api.message_update(user_id, text), user_id)


async def press(api: FakeTelegramChannelsApi, data: str, user_id: int = PROVIDER_TG,
                message_id: int | None = None) -> dict[str, Any]:
    before = len(api.calls_to("answerCallbackQuery"))
    api.push_update(api.callback_update(user_id, data, message_id))
    answers = await api.wait_for(lambda: api.calls_to("answerCallbackQuery")[before:])
    return answers[-1].params


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll the database through ``check`` until it holds (readiness, not timing)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def make_desk(telegram_id: int = PROVIDER_TG) -> tuple[User, Provider]:
    owner = await create_user("Desk", role="provider", telegram_user_id=telegram_id)
    provider = await create_provider(owner, SLUG, "BTC Desk", monthly_price="0")
    return owner, provider


def btc_levels(prices: ReplayPriceSource) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(entry, tp1, tp2, stop) from real candles: the last close, two highs above it and
    the lowest low of the last 48 1h candles."""
    window = prices.history("BTC/USDT", 48)
    close = window[-1].close
    highs = sorted({c.high for c in window if c.high > close})
    stop = min(c.low for c in window)
    assert len(highs) >= 2 and stop < close
    return close, highs[0], highs[-1], stop


def signal_text(prices: ReplayPriceSource, stop: bool = True) -> str:
    entry, tp1, tp2, low = btc_levels(prices)
    text = f"#BTC/USDT LONG\nEntry: {entry}\nTP1: {tp1}\nTP2: {tp2}\n"
    return text + (f"SL: {low}\nLeverage: 5x" if stop else "Leverage: 5x")


# -- /publish ---------------------------------------------------------------------------


async def test_publish_preview_then_publish_creates_exactly_one_signal(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    entry, tp1, tp2, stop = btc_levels(prices)

    preview = await ask(api, f"/publish {signal_text(prices)}")

    text = plain(preview)
    assert text.startswith("📣 BTC Desk · new signal #1\n🟢 BUY BTC/USDT\n")
    assert f"Entry: {format_number(entry)}\nTP1: {format_number(tp1)}\nTP2: " \
           f"{format_number(tp2)}\nStop-loss: {format_number(stop)}\nLeverage: 5x" in text
    assert "exactly what your subscribers will get" in text
    post = await PendingPost.get(author__telegram_user_id=PROVIDER_TG)
    data = [b["callback_data"] for b in buttons(preview)]
    assert data == [DraftAction(step=step, post_id=post.id).pack()
                    for step in (DraftStep.PUBLISH, DraftStep.EDIT, DraftStep.CANCEL)]
    assert not await Signal.exists()

    answer = await press(api, data[0], message_id=preview.message_id)
    again = await press(api, data[0], message_id=preview.message_id)

    assert (answer["text"], again["text"]) == ("Published", "Already published")
    [signal] = await Signal.all()
    assert (signal.symbol, signal.side.value, signal.entry_low, signal.stop_loss) == (
        "BTC/USDT", "BUY", entry, stop)
    assert [Decimal(t) for t in signal.targets] == [tp1, tp2] and signal.leverage == 5
    confirmation = await api.wait_for(lambda: [m for m in api.sent_messages(PROVIDER_TG)
                                               if plain(m).startswith("✅ Published")])
    assert f"/movesl {signal.id} <price>" in plain(confirmation[0])
    assert (await PendingPost.get(id=post.id)).status is PostStatus.PUBLISHED


async def test_edit_button_then_corrected_text_re_parses_the_draft(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()

    preview = await ask(api, f"/publish {signal_text(prices, stop=False)}")

    assert plain(preview).startswith("⚠️ Not ready to publish — Missing the stop-loss")
    post = await PendingPost.get(author__telegram_user_id=PROVIDER_TG)
    assert [b["text"] for b in buttons(preview)] == ["✏️ Edit", "✖️ Cancel"]

    await press(api, DraftAction(step=DraftStep.EDIT, post_id=post.id).pack())
    await api.wait_for(lambda: "Send me the corrected signal" in plain(
        api.sent_messages(PROVIDER_TG)[-1]))
    corrected = await ask(api, signal_text(prices))

    assert plain(corrected).startswith("📣 BTC Desk · new signal #1")
    assert buttons(corrected)[0]["text"] == "✅ Publish"
    reparsed = await PendingPost.get(id=post.id)
    assert reparsed.status is PostStatus.PENDING and reparsed.problem == ""
    assert not await Signal.exists()


async def test_editing_the_publish_message_updates_the_preview_in_place(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    _, _, _, stop = btc_levels(prices)
    update = api.message_update(PROVIDER_TG, f"/publish {signal_text(prices, stop=False)}")
    preview = await push(api, update, PROVIDER_TG)
    assert plain(preview).startswith("⚠️ Not ready")

    api.push_update(api.edited_message_update(PROVIDER_TG, update["message"]["message_id"],
                                              f"/publish {signal_text(prices)}"))
    [edit] = await api.wait_for(lambda: api.calls_to("editMessageText"))

    assert edit.params["message_id"] == preview.message_id
    assert f"Stop-loss: {format_number(stop)}" in html_to_text(edit.params["text"])
    assert edit.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Publish"


async def test_cancel_button_publishes_nothing(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    await ask(api, f"/publish {signal_text(prices)}")
    post = await PendingPost.get(author__telegram_user_id=PROVIDER_TG)

    answer = await press(api, DraftAction(step=DraftStep.CANCEL, post_id=post.id).pack())
    late = await press(api, DraftAction(step=DraftStep.PUBLISH, post_id=post.id).pack())

    assert answer["text"] == "Cancelled"
    assert late["show_alert"] is True and "cancelled" in late["text"]
    assert not await Signal.exists()


async def test_publish_alone_gives_the_form_and_the_next_message_is_read(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()

    form = await ask(api, "/publish")
    preview = await ask(api, signal_text(prices))

    assert plain(form).startswith("📝 Let's write the signal together")
    assert plain(form).endswith("1/6 Which pair? e.g. BTC/USDT (add “perp” for the perpetual: "
                                "BTC/USDT perp)")
    assert plain(preview).startswith("📣 BTC Desk · new signal #1")


async def test_the_guided_form_asks_step_by_step_and_previews(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    entry, tp1, tp2, _ = btc_levels(prices)

    await ask(api, "/publish")
    side = await ask(api, "btcusdt perp")
    assert plain(side) == "2/6 Long or short?"
    assert [b["text"] for b in buttons(side)] == ["LONG", "SHORT"]
    before = len(api.sent_messages(PROVIDER_TG))
    await press(api, buttons(side)[0]["callback_data"], message_id=side.message_id)
    [entry_question] = await api.wait_for(lambda: api.sent_messages(PROVIDER_TG)[before:])
    assert plain(entry_question).startswith("3/6 Entry price")
    await ask(api, str(entry))
    await ask(api, f"{tp1} {tp2}")
    wrong = plain(await ask(api, "below the low"))
    leverage = await ask(api, "1.5%")
    preview = await ask(api, "10x")

    assert wrong == "⚠️ answer: type the stop-loss price, e.g. 63500, or a percentage like 2%"
    assert plain(leverage).startswith("6/6 Leverage")
    text = plain(preview)
    assert text.startswith("📣 BTC Desk · new signal #1\n🟢 BUY BTC/USDT:USDT\n")
    stop = (entry * Decimal("0.985")).quantize(Decimal(1).scaleb(entry.as_tuple().exponent))
    assert f"Stop-loss: {format_number(stop)}\nLeverage: 10x" in text
    post = await PendingPost.get(author__telegram_user_id=PROVIDER_TG)
    assert post.text == (f"#BTC/USDT perp\nLONG\nEntry: {entry}\nTargets: {tp1} {tp2}\n"
                         "SL: 1.5%\nLeverage: 10x")


async def test_publish_by_someone_without_a_provider_is_refused(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    reply = plain(await ask(api, f"/publish {signal_text(prices)}", user_id=FAN_TG))

    assert reply.startswith("⚠️ you do not run a provider yet")
    assert not await PendingPost.exists()


BAD_INPUT = [
    ("/close", "✍️ /close needs the signal id, e.g. /close 12 (the id is in the message you "
               "got when it was published)"),
    ("/cancel abc", "✍️ the signal id is a whole number, e.g. /cancel 12"),
    ("/movesl 12", "✍️ /movesl needs the signal id and the new stop-loss, e.g. /movesl 12 "
                   "99950.77 (or /movesl 12 entry for break-even)"),
    ("/movesl 12 lower", "✍️ /movesl needs the signal id and the new stop-loss, e.g. /movesl "
                         "12 99950.77 (or /movesl 12 entry for break-even)"),
    ("/quiet 22:00", "✍️ /quiet needs a start and an end time, and optionally your time zone, "
                     "e.g. /quiet 22:00 07:00 Europe/Berlin — or /quiet off"),
    ("/quiet 25:00 07:00", "⚠️ quietStart: use a 24-hour time like 22:00, got '25:00'"),
    ("/quiet 22:00 07:00 Mars/Base", "⚠️ timeZone: unknown time zone 'Mars/Base'; use an IANA "
                                     "name like Europe/Berlin, America/New_York or UTC"),
    ("/link ABC", "⚠️ code: a link code has 8 letters and digits, like K7QM-2XPA"),
    ("/link ABCD-EFGH", "⚠️ code: no such link code; check it, or run /link again for a new "
                        "one"),
    ("/close 999", "⚠️ no signal with id 999"),
    ("/addchannel my_channel", "✍️ /addchannel needs your channel's id or @username, then "
                               "optionally the provider slug and auto or confirm, e.g. "
                               "/addchannel @my_signals rsi-demo confirm. Easier: add me to "
                               "the channel as an admin and I will ask you."),
]


async def test_bad_input_says_what_to_type_and_changes_nothing(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()

    replies = [plain(await ask(api, text)) for text, _ in BAD_INPUT]

    assert replies == [expected for _, expected in BAD_INPUT]
    assert not await NotificationPreferences.exists()


async def test_a_text_that_is_no_signal_gets_the_format_to_use(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()

    reply = plain(await ask(api, "/publish BTC looks strong today"))

    assert reply.startswith("⚠️ text: I could not read a signal there. Write it like:")
    assert "SL: 85146.64" in reply
    assert not await PendingPost.exists()


# -- /movesl, /cancel, /close -------------------------------------------------------------


async def publish_btc(owner: User, services: Services, prices: ReplayPriceSource) -> Signal:
    entry, tp1, tp2, stop = btc_levels(prices)
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=entry, entry_high=None,
                       stop_loss=stop, targets=[tp1, tp2])
    return await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                market_ts=prices.now_ms())


async def test_movesl_cancel_and_close_create_signal_events(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    owner, _ = await make_desk()
    first = await publish_btc(owner, bot, prices)
    second = await publish_btc(owner, bot, prices)
    window = prices.history("BTC/USDT", 48)
    new_stop = sorted(c.low for c in window)[1]  # the second-lowest real low

    moved = plain(await ask(api, f"/movesl {first.id} {new_stop}"))
    too_high = plain(await ask(api, f"/movesl {first.id} {Decimal(first.targets[0])}"))
    cancelled = plain(await ask(api, f"/cancel {second.id}"))
    closed = plain(await ask(api, f"/close {first.id} taking profit"))

    assert moved.startswith(f"Signal #1 BTC/USDT (id {first.id}) 🛡 stop-loss moved: "
                            f"Stop-loss moved from "
                            f"{format_number(first.stop_loss)} to {format_number(new_stop)}")
    assert too_high.startswith("⚠️ stopLoss: before the entry fills, a BUY stop-loss must")
    assert cancelled.startswith(f"Signal #2 BTC/USDT (id {second.id}) 🚫 cancelled")
    assert closed.startswith(f"Signal #1 BTC/USDT (id {first.id}) 🔒 closed: taking profit")
    kinds = [e.kind for e in await SignalEvent.filter(signal=first).order_by("id")]
    assert kinds == [EventKind.PUBLISHED, EventKind.STOP_MOVED, EventKind.CLOSED]
    assert (await SignalState.get(signal=first)).stop_loss == new_stop
    assert (await SignalState.get(signal=second)).status is SignalStatus.CANCELLED
    closing = await SignalEvent.get(signal=first, kind=EventKind.CLOSED)
    assert closing.price == prices.last_price("BTC/USDT")


async def test_someone_else_cannot_manage_the_providers_signals(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    owner, _ = await make_desk()
    signal = await publish_btc(owner, bot, prices)

    reply = plain(await ask(api, f"/close {signal.id}", user_id=FAN_TG))

    assert reply == "⚠️ you do not publish for provider 'btc-desk'"
    assert (await SignalState.get(signal=signal)).status is SignalStatus.PENDING


# -- channels -----------------------------------------------------------------------------


async def register(api: FakeTelegramChannelsApi) -> SentMessage:
    api.add_channel(CHANNEL, "BTC Desk signals", "btc_desk_signals", {PROVIDER_TG})
    return await push(api, api.bot_promoted(CHANNEL, PROVIDER_TG), PROVIDER_TG)


async def test_bot_made_channel_admin_registers_the_channel_in_confirm_mode(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()

    told = await register(api)

    source = await ChannelSource.get(chat_id=CHANNEL)
    assert (source.platform, source.mode, source.title) == (
        Platform.TELEGRAM, SourceMode.CONFIRM, "BTC Desk signals")
    assert plain(told).startswith("📡 BTC Desk signals feeds BTC Desk: I send you each signal")
    assert buttons(told)[0]["callback_data"] == ChannelModeChoice(
        source_id=source.id, mode="auto").pack()

    api.push_update(api.bot_promoted(CHANNEL, PROVIDER_TG, removed=True))
    await eventually(lambda: _none(ChannelSource.exists()))


async def _none(exists: Awaitable[bool]) -> bool:
    return not await exists


async def test_confirm_mode_queues_a_channel_signal_for_one_tap(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    await register(api)

    queued = await push(api, api.channel_post(CHANNEL, signal_text(prices)), PROVIDER_TG)

    assert plain(queued).startswith("📥 New post in BTC Desk signals:\n\n📣 BTC Desk · new "
                                    "signal #1")
    assert not await Signal.exists()
    answer = await press(api, buttons(queued)[0]["callback_data"],
                         message_id=queued.message_id)
    assert answer["text"] == "Published"
    assert await Signal.filter(provider__slug=SLUG).count() == 1


async def test_edited_channel_post_before_publication_is_parsed_again(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    await register(api)
    post = api.channel_post(CHANNEL, signal_text(prices, stop=False))
    incomplete = await push(api, post, PROVIDER_TG)
    assert plain(incomplete).startswith("⚠️ A post in BTC Desk signals looks like a signal but "
                                        "cannot be published — Missing the stop-loss")

    message_id = post["channel_post"]["message_id"]
    api.push_update(api.channel_post(CHANNEL, signal_text(prices), message_id=message_id,
                                     edited=True))
    [edit] = await api.wait_for(lambda: api.calls_to("editMessageText"))

    assert edit.params["message_id"] == incomplete.message_id
    assert "📣 BTC Desk · new signal #1" in html_to_text(edit.params["text"])
    assert await PendingPost.filter(message_id=message_id).count() == 1


async def test_auto_mode_publishes_channel_signals_and_ignores_other_posts(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    await register(api)
    source = await ChannelSource.get(chat_id=CHANNEL)
    await press(api, ChannelModeChoice(source_id=source.id, mode="auto").pack())
    assert (await ChannelSource.get(id=source.id)).mode is SourceMode.AUTO

    api.push_update(api.channel_post(CHANNEL, "Good morning traders ☀️ Markets are quiet."))
    post = api.channel_post(CHANNEL, signal_text(prices))
    told = await push(api, post, PROVIDER_TG)
    api.push_update(api.channel_post(CHANNEL, signal_text(prices),
                                     message_id=post["channel_post"]["message_id"],
                                     edited=True))
    api.push_update(api.channel_post(CHANNEL, "Good evening, see you tomorrow 🌙"))
    await api.wait_for(lambda: not api._updates)  # noqa: SLF001 - every post was taken

    assert await Signal.all().count() == 1
    assert plain(told).startswith("📣 From BTC Desk signals: Published: BTC Desk signal #1")
    assert await PendingPost.filter(status=PostStatus.PUBLISHED).count() == 1


async def test_channel_update_posts_apply_to_the_matching_open_signal(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    owner, _ = await make_desk()
    await register(api)
    signal = await publish_btc(owner, bot, prices)
    await publish_btc(owner, bot, prices)  # a second open BTC signal: the latest is used

    new_stop = sorted(c.low for c in prices.history("BTC/USDT", 48))[1]  # a real low

    api.push_update(api.channel_post(CHANNEL, "#BTC/USDT TP1 ✅"))
    told = await push(api, api.channel_post(CHANNEL, f"Stop loss moved to {new_stop} on BTC"),
                      PROVIDER_TG)

    latest = await Signal.filter(provider__slug=SLUG).order_by("-seq").first()
    assert latest is not None and latest.id != signal.id
    assert plain(told).startswith(f"Signal #2 BTC/USDT (id {latest.id}) 🛡 stop-loss moved")
    moved = await SignalEvent.get(kind=EventKind.STOP_MOVED)
    assert moved.signal_id == latest.id and moved.price == new_stop  # type: ignore[attr-defined]
    assert not await SignalEvent.exists(kind=EventKind.TARGET_HIT)


async def test_addchannel_checks_that_the_sender_administers_the_channel(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()
    api.add_channel(CHANNEL, "BTC Desk signals", "btc_desk_signals", {FAN_TG})

    refused = plain(await ask(api, "/addchannel @btc_desk_signals"))
    api.channel_admins[CHANNEL].add(PROVIDER_TG)
    accepted = plain(await ask(api, f"/addchannel @btc_desk_signals {SLUG} auto"))

    assert refused == "⚠️ only an admin of that channel can make it a signal source"
    assert accepted.startswith("📡 BTC Desk signals feeds BTC Desk: every complete signal")
    source = await ChannelSource.get(chat_id=CHANNEL)
    assert source.mode is SourceMode.AUTO


# -- groups, forum topics, deep links ----------------------------------------------------


async def test_replies_in_a_forum_topic_go_to_that_topic(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    reply = await push(api, api.topic_message(FAN_TG, FORUM, 77, "/help@signalhub_test_bot"),
                       FORUM)

    assert reply.params["message_thread_id"] == 77
    assert "/providers" in plain(reply)


async def test_deep_link_opens_the_provider_card(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()
    link = deep_link(api.bot_username, SLUG)
    assert link == "https://t.me/signalhub_test_bot?start=btc-desk"

    card = await ask(api, f"/start {link.rsplit('=', 1)[1]}", user_id=FAN_TG)

    assert plain(card).startswith("📡 BTC Desk")
    assert buttons(card)[0]["text"].startswith("➕ Subscribe · BTC Desk")


# -- linking and settings ---------------------------------------------------------------


async def test_link_shows_a_code_that_links_discord(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    from domain.linking import redeem_code

    reply = plain(await ask(api, "/link", user_id=FAN_TG))

    code = reply.split("Your link code: ", 1)[1].split("\n", 1)[0]
    user = await User.get(telegram_user_id=FAN_TG)
    result = await redeem_code(code, "discord", platform_user_id=4242)
    assert result.account.id == user.id
    assert (await User.get(id=user.id)).discord_user_id == 4242


async def test_link_with_a_code_from_the_api_joins_that_account(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    api_account = await create_user("ada-api")
    code = await issue_code(api_account, "api")

    reply = plain(await ask(api, f"/link {code}", user_id=FAN_TG))

    assert reply.startswith("✅ Linked. Telegram now uses the account of ada-api")
    assert (await User.get(telegram_user_id=FAN_TG)).id == api_account.id


async def test_a_link_deep_link_links_in_one_tap(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    api_account = await create_user("ada-api")
    code = await issue_code(api_account, "api")
    link = link_deep_link(api.bot_username, code)
    assert link.startswith("https://t.me/signalhub_test_bot?start=link_")

    reply = plain(await ask(api, f"/start {link.rsplit('=', 1)[1]}", user_id=FAN_TG))

    assert reply.startswith("✅ Linked. Telegram now uses the account of ada-api")
    assert (await User.get(telegram_user_id=FAN_TG)).id == api_account.id


async def test_link_and_addchannel_in_a_group_are_refused(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    link = await push(api, api.message_update(FAN_TG, "/link", FORUM), FORUM)
    add = await push(api, api.message_update(FAN_TG, "/addchannel @x", FORUM), FORUM)

    assert plain(link).startswith("🔒 /link works only in a private chat")
    assert plain(add).startswith("🔒 /addchannel works only in a private chat")
    assert not await ChannelSource.exists()


async def test_settings_buttons_switch_event_kinds_and_quiet_hours(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    shown = await ask(api, "/settings", user_id=FAN_TG)
    assert "🔔 You get: New signals, Entry filled" in plain(shown)

    answer = await press(api, NotifyToggle(kind="TARGET_HIT").pack(), user_id=FAN_TG,
                         message_id=shown.message_id)
    quiet = plain(await ask(api, "/quiet 22:00-07:30 Europe/Berlin", user_id=FAN_TG))

    assert answer["text"] == "Off"
    prefs = await NotificationPreferences.get(user__telegram_user_id=FAN_TG)
    assert prefs.muted_kinds == ["TARGET_HIT"]
    assert (prefs.quiet_start, prefs.quiet_end, prefs.time_zone) == (1320, 450,
                                                                     "Europe/Berlin")
    assert "🔕 Switched off: Targets hit" in quiet
    assert "Quiet hours: 22:00–07:30 (Europe/Berlin)" in quiet

"""Channel ingestion and drafts in the domain (``domain.chat_publishing``) on PostgreSQL.

What the bot tests cannot see from outside: posts that are ignored and why, edits after
publication, ambiguous updates, refusals turned into ignored posts, a draft published
twice. Prices are real BTC/USDT and ETH/USDT 1h candles (``signalhub/data``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from domain.chat_publishing import (
    draft_from_text,
    ingest_post,
    publish_post,
    register_channel,
)
from domain.errors import InvalidInput, NotAllowed
from domain.linking_models import Platform, SourceMode
from domain.models import EventKind, Role, Signal, SignalEvent, SignalState, SignalStatus, User
from domain.parsing import ParsedSignal, parse_message, to_draft
from domain.providers import create_provider
from domain.users import create_user
from integrations.prices import ReplayPriceSource
from signalhub.settings import PACKAGE_DATA

pytestmark = pytest.mark.usefixtures("clean_db")
CHAT = -1005550001111
TG = Platform.TELEGRAM


class RecordingQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str]] = []

    async def enqueue(self, function: str, *args: Any, job_id: str) -> bool:
        self.jobs.append((function, args, job_id))
        return True


class RecordingBus:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))


@pytest.fixture
def prices() -> ReplayPriceSource:
    return ReplayPriceSource(PACKAGE_DATA, speed=None)


async def desk(mode: SourceMode = SourceMode.AUTO) -> User:
    owner = await create_user("Desk", role=Role.PROVIDER)
    await create_provider(owner, "desk", "Desk", monthly_price="0")
    await register_channel(owner, "desk", TG, CHAT, mode, "Desk channel")
    return owner


def post_text(prices: ReplayPriceSource, symbol: str = "BTC/USDT") -> str:
    """LONG at the last real close, targets the next real highs, stop the lowest low."""
    window = prices.history(symbol, 48)
    close = window[-1].close
    highs = sorted({c.high for c in window if c.high > close})
    return (f"#{symbol} LONG\nEntry: {close}\nTP1: {highs[0]}\nTP2: {highs[-1]}\n"
            f"SL: {min(c.low for c in window)}")


async def test_posts_of_unknown_chats_and_non_signals_are_ignored(
        prices: ReplayPriceSource) -> None:
    await desk()
    queue, bus = RecordingQueue(), RecordingBus()

    elsewhere = await ingest_post(TG, CHAT - 1, 1, post_text(prices), queue, bus)
    chatter = await ingest_post(TG, CHAT, 2, "Good morning traders ☀️", queue, bus)

    assert (elsewhere.action, elsewhere.reason) == ("ignored", "not a registered signal channel")
    assert (chatter.action, chatter.reason) == ("ignored", "not a signal")
    assert not await Signal.exists() and queue.jobs == []


async def test_a_post_publishes_once_and_an_edit_after_publication_is_ignored(
        prices: ReplayPriceSource) -> None:
    await desk()
    queue, bus = RecordingQueue(), RecordingBus()

    first = await ingest_post(TG, CHAT, 7, post_text(prices), queue, bus)
    again = await ingest_post(TG, CHAT, 7, post_text(prices), queue, bus)
    edited = await ingest_post(TG, CHAT, 7, post_text(prices, "ETH/USDT"), queue, bus,
                               edited=True)

    assert first.action == "published" and first.signal is not None
    assert again.action == "ignored" and "already published" in again.reason
    assert edited.action == "ignored"
    assert await Signal.all().count() == 1
    assert [job[0] for job in queue.jobs] == ["fan_out_signal"]


async def test_update_without_a_symbol_is_ignored_when_two_signals_are_open(
        prices: ReplayPriceSource) -> None:
    await desk()
    queue, bus = RecordingQueue(), RecordingBus()
    await ingest_post(TG, CHAT, 1, post_text(prices), queue, bus)
    await ingest_post(TG, CHAT, 2, post_text(prices, "ETH/USDT"), queue, bus)

    ambiguous = await ingest_post(TG, CHAT, 3, "Cancelled ❌", queue, bus)
    named = await ingest_post(TG, CHAT, 4, "#ETH/USDT Cancelled ❌", queue, bus)

    assert ambiguous.action == "ignored" and "no single open signal" in ambiguous.reason
    assert named.action == "applied" and named.signal is not None
    assert named.signal.symbol == "ETH/USDT"
    states = {s.signal.symbol: s.status  # type: ignore[union-attr]
              for s in await SignalState.all().select_related("signal")}
    assert states == {"BTC/USDT": SignalStatus.PENDING, "ETH/USDT": SignalStatus.CANCELLED}


async def test_a_reply_to_the_signal_post_picks_that_signal(prices: ReplayPriceSource) -> None:
    await desk()
    queue, bus = RecordingQueue(), RecordingBus()
    first = await ingest_post(TG, CHAT, 1, post_text(prices), queue, bus)
    await ingest_post(TG, CHAT, 2, post_text(prices), queue, bus)

    closed = await ingest_post(TG, CHAT, 3, "Closed at stoploss 😔", queue, bus,
                               reply_to_message_id=1)

    assert closed.action == "applied" and closed.signal is not None
    assert first.signal is not None and closed.signal.id == first.signal.id
    event = await SignalEvent.get(kind=EventKind.CLOSED)
    assert event.price == first.signal.stop_loss  # closed at the stop it reports


async def test_cancelling_an_active_signal_is_refused_and_ignored(
        prices: ReplayPriceSource) -> None:
    await desk()
    queue, bus = RecordingQueue(), RecordingBus()
    first = await ingest_post(TG, CHAT, 1, post_text(prices), queue, bus)
    assert first.signal is not None
    await SignalState.filter(signal_id=first.signal.id).update(status=SignalStatus.ACTIVE)

    result = await ingest_post(TG, CHAT, 2, "#BTC Cancelled", queue, bus)

    assert result.action == "ignored" and "close it instead" in result.reason
    assert not await SignalEvent.exists(kind=EventKind.CANCELLED)


async def test_market_entry_takes_the_last_price_and_percent_stop_is_computed(
        prices: ReplayPriceSource) -> None:
    owner = await desk(SourceMode.CONFIRM)
    last = prices.last_price("ETH/USDT")
    assert last is not None
    high = max(c.high for c in prices.history("ETH/USDT", 48))

    preview = await draft_from_text(owner, f"ETH/USDT LONG\nEntry: CMP\nTP1: {high}\nSL: 2%",
                                    platform=TG, chat_id=1, message_id=1, prices=prices)

    assert preview.ready and preview.draft is not None
    assert preview.draft.entry_low == last
    assert preview.draft.stop_loss == (last * Decimal("0.98")).quantize(
        Decimal(1).scaleb(last.as_tuple().exponent))


async def test_a_draft_publishes_once_even_when_pressed_twice(
        prices: ReplayPriceSource) -> None:
    owner = await desk(SourceMode.CONFIRM)
    queue, bus = RecordingQueue(), RecordingBus()
    queued = await ingest_post(TG, CHAT, 1, post_text(prices), queue, bus)
    assert queued.action == "queued" and queued.preview is not None

    first, fresh = await publish_post(owner, queued.preview.post.id, queue, bus)
    second, again = await publish_post(owner, queued.preview.post.id, queue, bus)

    assert (fresh, again) == (True, False) and first.id == second.id
    assert await Signal.all().count() == 1


async def test_someone_elses_draft_or_provider_is_refused(prices: ReplayPriceSource) -> None:
    owner = await desk(SourceMode.CONFIRM)
    stranger = await create_user("Mallory", role=Role.PROVIDER)
    queue, bus = RecordingQueue(), RecordingBus()
    queued = await ingest_post(TG, CHAT, 1, post_text(prices), queue, bus)
    assert queued.preview is not None

    with pytest.raises(Exception) as raised:
        await publish_post(stranger, queued.preview.post.id, queue, bus)
    with pytest.raises(NotAllowed):
        await draft_from_text(stranger, post_text(prices), platform=TG, chat_id=5,
                              message_id=5)
    with pytest.raises(NotAllowed):
        await register_channel(stranger, "desk", TG, CHAT)
    await create_provider(stranger, "other-desk", "Other", monthly_price="0")
    with pytest.raises(InvalidInput) as taken:
        await register_channel(stranger, "other-desk", TG, CHAT)
    assert "already feeds another provider" in taken.value.rule

    assert "no draft" in str(raised.value)
    assert not await Signal.exists() and owner.id != stranger.id


class CommittedQueue(RecordingQueue):
    """Checks over its own database connection that a fan-out's signal is committed."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        super().__init__()
        self.connection = connection
        self.seen_committed: list[bool] = []

    async def enqueue(self, function: str, *args: Any, job_id: str) -> bool:
        rows = await self.connection.fetchval("SELECT count(*) FROM signals WHERE id = $1",
                                              args[0])
        self.seen_committed.append(rows == 1)
        return await super().enqueue(function, *args, job_id=job_id)


async def test_the_fan_out_job_is_enqueued_after_the_signal_is_committed(
        prices: ReplayPriceSource, database_url: str) -> None:
    owner = await desk(SourceMode.CONFIRM)
    queued = await ingest_post(TG, CHAT, 1, post_text(prices), RecordingQueue(),
                               RecordingBus())
    assert queued.preview is not None
    connection = await asyncpg.connect(database_url)
    try:
        queue = CommittedQueue(connection)
        await publish_post(owner, queued.preview.post.id, queue, RecordingBus())
    finally:
        await connection.close()

    assert [job[0] for job in queue.jobs] == ["fan_out_signal"]
    assert queue.seen_committed == [True]


def test_perpetual_and_shares_reach_the_draft() -> None:
    # ETH_USDT 2025-09-24 00:00 C 4174.45, H 4194.37; 06:00 H 4183.71; 09-23 20:00 L 4139.53
    parsed = parse_message("ETH/USDT Perpetual LONG\nEntry: 4174.45\nTP1: 4183.71 (50%)\n"
                           "TP2: 4194.37 (50%)\nSL: 4139.53\nLeverage: 10x")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.target_percents == (Decimal("50"), Decimal("50"))
    draft = to_draft(parsed)
    assert (draft.symbol, draft.leverage) == ("ETH/USDT:USDT", 10)

"""Failure paths of the signal flow: rejected input, concurrent publishing, crashed workers,
a Redis that restarts and loses its queue, Telegram flood control.

Real PostgreSQL, real Redis (the shared one, or a redis-server of this test's own where
it is restarted), arq burst workers, aiogram against the local fake Bot API.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis

from domain import users
from domain.errors import InvalidSignal, NotAllowed, NotFound
from domain.models import (
    Delivery,
    DeliveryStatus,
    OutboxMessage,
    Role,
    Signal,
    SignalEvent,
    SignalState,
    User,
)
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import GENESIS_HASH, SignalDraft, canonical_content, make_draft, verify_chain
from domain.subscriptions import subscribe
from integrations.prices import ReplayPriceSource
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import Services, bootstrap, shutdown
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.delivery import deliver_messages
from workers.jobs import fan_out_signal, sweep_outbox
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)
SLUG = "fail-test"
CHATS = [2000, 2001, 2002]
WAIT_S = 20.0  # upper bound for anything awaited in a loop; never asserted on


def _replay() -> ReplayPriceSource:
    return ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """Services on the shared Redis and a manual replay at the setup's entry, a fake Bot API."""
    services = await bootstrap(settings, prices=_replay(), init_database=False)
    async with FakeTelegramApi() as api:
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        yield services, api, sender
        await sender.aclose()
    await shutdown(services, close_database=False)


class RedisServer:
    """A redis-server of this test's own on a free loopback port (no persistence)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the server and return once it answers PING."""
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        client = Redis.from_url(self.url)
        try:
            await _eventually(client.ping, "own redis-server did not answer PING")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """Kill the server (SIGKILL: nothing is saved, as in a crash)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.process = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


async def _eventually(probe: Any, failure: str) -> Any:
    """Await ``probe()`` until it returns without raising; its result. Fails after WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        try:
            return await probe()
        except Exception:  # noqa: BLE001 - the server is still starting
            if loop.time() > deadline:
                pytest.fail(failure)
        await asyncio.sleep(0.05)


@pytest.fixture
async def own_redis_world(clean_db, settings):  # noqa: ANN001
    """Like ``world`` but on a redis-server of the test's own, which the test may restart."""
    server = RedisServer()
    await server.start()
    try:
        services = await bootstrap(settings, prices=_replay(), init_database=False,
                                   redis_url=server.url)
        async with FakeTelegramApi() as api:
            sender = TelegramSender(make_bot(TOKEN, api.base_url))
            yield services, api, sender, server
            await sender.aclose()
        await shutdown(services, close_database=False)
    finally:
        await server.stop()


async def _people() -> tuple[User, list[User]]:
    """A provider owner and three Telegram subscribers (chats ``CHATS``), no copy trading."""
    owner = await users.create_user("fail-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Failure test", monthly_price="0")
    subs = [await users.telegram_user(chat, chat, f"sub{chat}") for chat in CHATS]
    for sub in subs:
        await subscribe(sub, SLUG)
    return owner, subs


def _draft(note: str = "") -> SignalDraft:
    return make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                      stop_loss=SETUP.stop, targets=[SETUP.target], note=note)


async def _publish(services: Services, owner: User, draft: SignalDraft | None = None) -> Signal:
    return await publish_signal(owner, SLUG, draft or _draft(), services.queue, services.bus,
                                market_ts=services.prices.now_ms() if services.prices else 0)


async def _run_worker(services: Services, sender: TelegramSender) -> None:
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()


def _sends_per_chat(api: FakeTelegramApi) -> Counter[int]:
    """sendMessage requests per chat id, failed ones included."""
    return Counter(int(c.params["chat_id"]) for c in api.calls_to("sendMessage"))


async def _stored_counts() -> dict[str, int]:
    return {"signals": await Signal.all().count(),
            "signal_states": await SignalState.all().count(),
            "signal_events": await SignalEvent.all().count(),
            "outbox": await OutboxMessage.all().count()}


NOTHING_STORED = {"signals": 0, "signal_states": 0, "signal_events": 0, "outbox": 0}


# --- rejected input ----------------------------------------------------------------


async def test_rejected_signals_store_and_enqueue_nothing(world, redis) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, _ = await _people()
    stranger = await users.create_user("other-owner", Role.PROVIDER)
    await create_provider(stranger, "other-desk", "Someone else's desk",
                          monthly_price="0")

    with pytest.raises(InvalidSignal) as invalid:
        await publish_signal(owner, SLUG, make_draft(  # raises before publish_signal runs
            symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
            stop_loss=SETUP.target, targets=[SETUP.target]), services.queue, services.bus)
    with pytest.raises(NotFound):
        await publish_signal(owner, "no-such-desk", _draft(), services.queue, services.bus)
    with pytest.raises(NotAllowed):
        await publish_signal(owner, "other-desk", _draft(), services.queue, services.bus)

    assert invalid.value.field == "stopLoss"
    assert await _stored_counts() == NOTHING_STORED
    assert await redis.zcard(services.queue.queue_name) == 0
    await _run_worker(services, sender)
    assert api.calls_to("sendMessage") == []
    # Nothing was consumed either: the next valid signal starts the provider's chain.
    first = await _publish(services, owner)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)


# --- concurrent publishing ---------------------------------------------------------


def _stored_draft(row: Signal) -> SignalDraft:
    return SignalDraft(symbol=row.symbol, side=row.side, entry_low=row.entry_low,
                       entry_high=row.entry_high, stop_loss=row.stop_loss,
                       targets=tuple(Decimal(str(t)) for t in row.targets),
                       leverage=row.leverage, note=row.note)


async def test_concurrent_publishes_get_consecutive_seqs_and_an_intact_chain(
        world, redis) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, _ = await _people()

    published = await asyncio.gather(*(_publish(services, owner, _draft(f"burst {i}"))
                                       for i in range(10)))

    rows = await Signal.filter(provider__slug=SLUG).order_by("seq")
    assert [r.seq for r in rows] == list(range(1, 11))
    assert sorted(s.seq for s in published) == list(range(1, 11))
    assert {r.note for r in rows} == {f"burst {i}" for i in range(10)}
    links = [(r.prev_hash, canonical_content(_stored_draft(r), provider_slug=SLUG, seq=r.seq,
                                             created_at=r.created_at), r.content_hash)
             for r in rows]
    assert verify_chain(links) is None
    assert await redis.zcard(services.queue.queue_name) == 10  # one fan-out job each


@pytest.mark.parametrize("entry", ["102422.4500000000001", "1E+20"])
async def test_prices_beyond_the_stored_precision_are_rejected_or_verifiable(
        world, entry: str) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, _ = await _people()
    try:
        draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=entry, entry_high=None,
                           stop_loss=SETUP.stop, targets=["1E+21"])
    except InvalidSignal as exc:
        assert exc.field == "entryLow"
        return
    signal = await _publish(services, owner, draft)

    row = await Signal.get(id=signal.id)
    content = canonical_content(_stored_draft(row), provider_slug=SLUG, seq=row.seq,
                                created_at=row.created_at)
    assert verify_chain([(row.prev_hash, content, row.content_hash)]) is None


async def test_longest_valid_symbol_is_rejected_or_stored(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, _ = await _people()
    symbol = f"{'A' * 20}/{'B' * 20}:{'C' * 20}"
    try:
        draft = make_draft(symbol=symbol, side="BUY", entry_low=SETUP.entry, entry_high=None,
                           stop_loss=SETUP.stop, targets=[SETUP.target])
    except InvalidSignal as exc:
        assert exc.field == "symbol"
        return
    signal = await _publish(services, owner, draft)

    assert (await Signal.get(id=signal.id)).symbol == symbol


# --- a worker that dies between enqueue and delivery -------------------------------


async def _drop_job(redis: Redis, services: Services, job_id: str) -> None:
    """Remove a queued job as arq does when it completes (queue entry and job key)."""
    arq_id = f"{services.queue.namespace}:{job_id}"
    await redis.zrem(services.queue.queue_name, arq_id)
    await redis.delete(f"arq:job:{arq_id}")


async def test_worker_killed_after_enqueue_delivers_once_on_restart(world, redis) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, _ = await _people()
    signal = await _publish(services, owner)
    ctx = {"deps": WorkerDeps(services, sender, None)}
    # A worker ran the fan-out job (which enqueued the delivery job), then died.
    assert await fan_out_signal(ctx, signal.id) == {"deliveries": 3, "copy_orders": 0}
    await _drop_job(redis, services, f"fan_out_signal:{signal.id}")
    assert api.calls_to("sendMessage") == []
    assert await redis.zcard(services.queue.queue_name) == 1  # the delivery job waits

    await _run_worker(services, sender)  # a fresh worker

    assert _sends_per_chat(api) == Counter({chat: 1 for chat in CHATS})
    ids = list(await Delivery.filter(status=DeliveryStatus.SENT).values_list("id", flat=True))
    assert len(ids) == 3
    # The delivery job run once more (arq retry, a second worker): nothing new goes out.
    assert await deliver_messages(ctx, ids) == {"skipped": 3}
    assert _sends_per_chat(api) == Counter({chat: 1 for chat in CHATS})


async def test_fan_out_rerun_after_partial_delivery_sends_nothing_twice(
        world, redis) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, _ = await _people()
    signal = await _publish(services, owner)
    ctx = {"deps": WorkerDeps(services, sender, None)}
    await fan_out_signal(ctx, signal.id)  # enqueues the delivery job of all three
    await _drop_job(redis, services, f"fan_out_signal:{signal.id}")
    first = await Delivery.filter(event__signal_id=signal.id).order_by("id").first()
    assert first is not None
    await deliver_messages(ctx, [first.id])  # the worker got one message out, then died
    await fan_out_signal(ctx, signal.id)  # arq retries the dead worker's fan-out job
    api.respond_delay_s = 0.2  # each send takes a while, as over a real network

    await _run_worker(services, sender)

    assert _sends_per_chat(api) == Counter({chat: 1 for chat in CHATS})


# --- Redis restarted mid-run -------------------------------------------------------


async def _receive(queue: asyncio.Queue[Any], publish: Any) -> tuple[str, str, dict[str, Any]]:
    """Call ``publish()`` until ``queue`` receives a message; fail after WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while loop.time() < deadline:
        with contextlib.suppress(Exception):  # Redis may still be coming back
            await publish()
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(queue.get(), 0.2)  # type: ignore[no-any-return]
    pytest.fail("the bus hub delivered nothing")


async def test_redis_restart_loses_the_queue_and_the_sweep_recovers(
        own_redis_world) -> None:  # noqa: ANN001
    services, api, sender, server = own_redis_world
    owner, _ = await _people()
    await services.hub.start()
    async with services.hub.listen([f"signals:{SLUG}"]) as published:
        signal = await _publish(services, owner)
        topic, _, message = await asyncio.wait_for(published.get(), WAIT_S)
    assert (topic, message["signal"]["id"]) == (f"signals:{SLUG}", signal.id)
    assert await services.redis.zcard(services.queue.queue_name) == 1

    await server.restart()  # no persistence: the queued fan-out job is gone

    queued = await _eventually(lambda: services.redis.zcard(services.queue.queue_name),
                               "Redis did not come back")
    assert queued == 0
    ctx = {"deps": WorkerDeps(services, sender, None), "sweep_after_s": 0}
    assert await sweep_outbox(ctx) == 1
    await _run_worker(services, sender)
    assert _sends_per_chat(api) == Counter({chat: 1 for chat in CHATS})
    assert await Delivery.filter(status=DeliveryStatus.SENT).count() == 3
    assert await sweep_outbox(ctx) == 0

    async with services.hub.listen(["after-restart"]) as queue:
        topic, _, message = await _receive(
            queue, lambda: services.bus.publish("after-restart", {"hello": "again"}))
    assert (topic, message) == ("after-restart", {"hello": "again"})


async def test_redis_restart_after_fan_out_still_delivers(own_redis_world) -> None:  # noqa: ANN001
    services, api, sender, server = own_redis_world
    owner, _ = await _people()
    signal = await _publish(services, owner)
    ctx = {"deps": WorkerDeps(services, sender, None), "sweep_after_s": 0}
    await fan_out_signal(ctx, signal.id)  # deliveries enqueued, outbox row processed

    await server.restart()  # ...and the delivery jobs are gone
    await _eventually(services.redis.ping, "Redis did not come back")
    await sweep_outbox(ctx)
    await _run_worker(services, sender)

    assert _sends_per_chat(api) == Counter({chat: 1 for chat in CHATS})
    assert await Delivery.filter(status=DeliveryStatus.PENDING).count() == 0


# --- Telegram flood control --------------------------------------------------------


async def _longest_hold(redis: Redis, key: str, done: asyncio.Event) -> float:
    """Largest lead (s) of the bucket's TAT over Redis's clock seen while ``done`` is unset."""
    longest = 0.0
    while not done.is_set():
        raw = await redis.get(key)
        seconds, micros = await redis.time()
        if raw is not None:
            longest = max(longest, float(raw) - (seconds + micros / 1e6))
        await asyncio.sleep(0.02)
    return longest


async def test_429_twice_then_success_delivers_once_and_holds_back_the_bot(
        world, redis, namespace) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, subs = await _people()
    api.fail_next(2001, status=429, retry_after=1)
    api.fail_next(2001, status=429, retry_after=1)
    await _publish(services, owner)
    done = asyncio.Event()
    watcher = asyncio.create_task(_longest_hold(
        redis, f"{namespace}:ratelimit:telegram:global", done))

    await _run_worker(services, sender)
    done.set()
    longest = await watcher

    to_2001 = [c.status for c in api.calls_to("sendMessage") if int(c.params["chat_id"]) == 2001]
    assert to_2001 == [429, 429, 200]
    assert len(api.sent_messages(2001)) == 1
    delivery = await Delivery.get(user_id=subs[1].id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
    assert _sends_per_chat(api) == Counter({2000: 1, 2001: 3, 2002: 1})
    # Without penalize the global bucket is never more than one slot (1/30 s) ahead;
    # penalize(retry_after=1) pushes it about 1 s ahead for every worker.
    assert longest > 0.5

"""The signal flow through the worker: fan-out, Telegram delivery, paper copy, monitor.

Real PostgreSQL, real Redis, arq burst workers, aiogram against the local fake Bot API,
replayed real BTC/USDT candles.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import users
from domain.models import (
    CopyOrder,
    Delivery,
    DeliveryStatus,
    OrderStatus,
    OutboxMessage,
    PaperAccount,
    Position,
    PositionStatus,
    Role,
    SignalState,
    SignalStatus,
    User,
)
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import set_copy_trading, subscribe
from integrations.prices import ReplayPriceSource
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.jobs import fan_out_signal, sweep_outbox
from workers.monitor import process_candle
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """Services on a manual replay positioned at the setup's entry candle, a fake Bot API."""
    start = CANDLES[SETUP.index].close_ts
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=start)
    services = await bootstrap(settings, prices=prices, init_database=False)
    async with FakeTelegramApi() as api:
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        yield services, api, sender
        await sender.aclose()
    await shutdown(services, close_database=False)


async def _people() -> tuple[User, list[User]]:
    owner = await users.create_user("rsi-owner", Role.PROVIDER)
    await create_provider(owner, "flow-test", "Flow test", monthly_price="0")
    subs = [await users.telegram_user(1000 + i, 1000 + i, f"sub{i}") for i in range(3)]
    for sub in subs:
        await subscribe(sub, "flow-test")
    await set_copy_trading(subs[0], "flow-test", True)
    return owner, subs


def _draft():  # noqa: ANN202
    return make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                      stop_loss=SETUP.stop, targets=[SETUP.target])


async def _run_worker(services, sender) -> None:  # noqa: ANN001
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()


async def test_publish_delivers_copies_and_closes_at_target(world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, subs = await _people()
    signal = await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await _run_worker(services, sender)

    sent = api.sent_messages()
    assert sorted(m.chat_id for m in sent if "BTC/USDT" in m.text and "#" in m.text) == [
        1000, 1000, 1001, 1002]  # three signal messages + the follower's fill notice
    assert await Delivery.filter(status=DeliveryStatus.SENT).count() == 4
    order = await CopyOrder.get(signal_id=signal.id)
    assert order.status is OrderStatus.FILLED and order.user_id == subs[0].id
    assert order.price == (SETUP.entry * Decimal("1.0005"))
    position = await Position.get(user_id=subs[0].id)
    assert position.status is PositionStatus.OPEN
    assert (await OutboxMessage.get(ref_id=signal.id)).processed_at is not None

    deps = WorkerDeps(services, sender, None)
    for _ in range(SETUP.target_index - SETUP.index):
        for candle in services.prices.advance():
            await process_candle(deps, candle)
    await position.refresh_from_db()
    assert position.status is PositionStatus.CLOSED
    assert position.close_reason == "target 1" and position.exit_price == SETUP.target
    cent = Decimal("1e-8")
    expected = ((SETUP.target - order.price) * order.amount).quantize(cent) - order.fee - (
        SETUP.target * order.amount * Decimal("0.001")).quantize(cent)
    assert position.realized_pnl == expected
    account = await PaperAccount.get(user_id=subs[0].id)
    assert account.balance == Decimal("10000") + expected
    state = await SignalState.get(signal_id=signal.id)
    assert state.status is SignalStatus.CLOSED and state.targets_hit == 1


async def test_fan_out_twice_sends_nothing_twice(world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, subs = await _people()
    signal = await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await _run_worker(services, sender)
    before = (len(api.sent_messages()), await Delivery.all().count(),
              await CopyOrder.all().count(), await Position.all().count())
    ctx = {"deps": WorkerDeps(services, sender, None)}
    await fan_out_signal(ctx, signal.id)  # a second run of the same job, e.g. after a crash
    await _run_worker(services, sender)
    after = (len(api.sent_messages()), await Delivery.all().count(),
             await CopyOrder.all().count(), await Position.all().count())
    assert after == before


async def test_crash_between_commit_and_enqueue_is_swept(world, redis) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, _ = await _people()
    signal = await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    # Lose the queue as a Redis crash would: the job is gone, the outbox row is not.
    await redis.delete(services.queue.queue_name, f"arq:job:{services.queue.namespace}:"
                       f"fan_out_signal:{signal.id}")
    await _run_worker(services, sender)
    assert api.sent_messages() == []
    ctx = {"deps": WorkerDeps(services, sender, None), "sweep_after_s": 0}
    assert await sweep_outbox(ctx) == 1
    await _run_worker(services, sender)
    assert len([m for m in api.sent_messages() if "#" in m.text]) == 4
    assert await sweep_outbox(ctx) == 0


async def test_blocked_user_is_marked_unreachable_and_429_is_waited_out(world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, subs = await _people()
    api.block(1001)
    api.fail_next(1002, status=429, retry_after=1)
    await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    await _run_worker(services, sender)
    assert not (await User.get(id=subs[1].id)).telegram_reachable
    statuses = {d.user_id: d.status for d in await Delivery.filter(event_id__not_isnull=True)}
    assert statuses == {subs[0].id: DeliveryStatus.SENT, subs[1].id: DeliveryStatus.UNREACHABLE,
                        subs[2].id: DeliveryStatus.SENT}
    to_1002 = [c for c in api.calls if c.method == "sendMessage"
               and str(c.params.get("chat_id")) == "1002"]
    assert [c.status for c in to_1002] == [429, 200]


async def test_follower_at_max_open_positions_is_skipped_and_told(world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, subs = await _people()
    await set_copy_trading(subs[0], "flow-test", True, max_open_positions=1)
    first = await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                                 market_ts=services.prices.now_ms())
    second = await publish_signal(owner, "flow-test", _draft(), services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await _run_worker(services, sender)
    # The two shards run concurrently; whichever comes second must be skipped.
    orders = {o.signal_id: o for o in await CopyOrder.filter(signal_id__in=[first.id,
                                                                             second.id])}
    statuses = sorted(o.status.value for o in orders.values())
    assert statuses == ["FILLED", "SKIPPED"]
    skipped = next(o for o in orders.values() if o.status is OrderStatus.SKIPPED)
    assert skipped.reason == "skipped: max open positions reached (1 of 1)"
    assert await Position.filter(user_id=subs[0].id).count() == 1
    told = [m.text for m in api.sent_messages(1000) if "was not copied" in m.text]
    assert told == [f"Signal #{skipped.signal_id} BTC/USDT was not copied: "
                    "max open positions reached (1 of 1)."]

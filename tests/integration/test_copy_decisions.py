"""What the copy engine decides and records: decision lines kept after the fill (resized,
limit at the entry), the daily loss limit latched until 00:00 UTC, the provider's moved
stop used for new decisions and positions.

Real PostgreSQL and Redis; prices are the shipped real Binance BTC/USDT 1h candles on a
manual replay (each candle named where it is used); nothing of our own is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.copy_reports import ENTRY
from domain.copying import CopyEngine
from domain.models import CopyOrder, CopySettings, Delivery, OrderStatus, Position, User
from domain.publishing import move_stop_loss
from domain.risk import next_midnight, number_text
from domain.sizing import reason_lines
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from tests.integration.test_copy_engine import (
    CANDLES,
    _followers,
    _intents,
    _moved_market,
    _publish,
    _settings,
    world,
)
from tests.support.setups import BTC_1H
from workers.context import WorkerDeps
from workers.copy_jobs import execute_copy_orders, fill_resting_paper_orders

__all__ = ["world"]  # the engine tests' fixture, used here too
LOWEST = min(c.low for c in CANDLES)  # a real low: a stop no replayed price reaches
HIGHEST = max(c.high for c in CANDLES)  # a real high: a target no replayed price reaches


async def _replay_at(settings: Any, index: int) -> Services:
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[index].close_ts)
    return await bootstrap(settings, prices=prices, init_database=False)


@pytest.fixture
async def at_loss_setup(clean_db, settings, redis  # noqa: ANN001
                        ) -> AsyncIterator[tuple[Services, tuple[int, int, int]]]:
    """Services on a replay at the close of the loss setup's entry candle."""
    setup = _loss_setup()
    services = await _replay_at(settings, setup[0])
    yield services, setup
    await shutdown(services, close_database=False)


async def _entry(signal_id: int, user: User) -> CopyOrder:
    return await CopyOrder.get(signal_id=signal_id, user_id=user.id, leg=ENTRY)


# --- decision lines survive the fill ---------------------------------------------------


async def test_a_capped_order_keeps_its_resize_reason_after_the_fill(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, [follower] = await _followers(1)
    await (await _settings(follower)).update(scale_factor=Decimal(2))
    signal = await _publish(services, owner)  # entry: the close of SETUP's candle

    [result] = (await CopyEngine(services.prices).run(await _intents(signal.id))).results

    order = await _entry(signal.id, follower)
    resized, placed, filled = reason_lines(order.reason)
    assert resized == ("resized: max position 10% of equity caps notional at 1,000.00 USDT "
                       "(asked 2,000.00 USDT)")
    assert placed.startswith("placed: market BUY ") and filled == "filled at market (paper)"
    assert (order.status, result.reason) == (OrderStatus.FILLED, order.reason)
    notice = await Delivery.get(id=result.notice_id)
    assert notice.text.startswith(f"Paper copy of signal #{signal.id} BTC/USDT BUY: filled ")
    assert notice.text.endswith(f".\n{resized}")


async def test_a_limit_at_the_entry_keeps_its_reason_after_a_candle_fills_it(
        clean_db, settings, redis) -> None:  # noqa: ANN001
    now, entry, stop, target, touch = _moved_market()
    services = await _replay_at(settings, now)
    try:
        owner, [follower] = await _followers(1)
        await (await _settings(follower)).update(slippage_action="limit")
        signal = await _publish(services, owner, entry=entry, stop=stop, targets=[target])
        deps = WorkerDeps(services, None, None)
        await execute_copy_orders({"deps": deps}, await _intents(signal.id))
        placed = reason_lines((await _entry(signal.id, follower)).reason)

        for _ in range(touch - now):  # up to the real candle whose low touches the entry
            for candle in services.prices.advance():
                await fill_resting_paper_orders(deps, candle)

        order = await _entry(signal.id, follower)
        lines = reason_lines(order.reason)
        assert order.status is OrderStatus.FILLED
        assert placed[-1] == "placed on paper (limit)" and lines[:-1] == placed[:-1]
        assert lines[0].startswith(f"resized: limit order at the entry {number_text(entry)}")
        assert lines[1].startswith("placed: limit BUY ")
        assert lines[-1] == f"filled at limit {order.limit_price} (paper)"
        notices = [d.text for d in await Delivery.filter(user_id=follower.id)]
        assert any(t.endswith(f"\n{lines[0]}") and ": filled " in t for t in notices)
    finally:
        await shutdown(services, close_database=False)


# --- the daily loss limit holds until 00:00 UTC ------------------------------------------


def _loss_setup() -> tuple[int, int, int]:
    """(entry candle, a later candle whose close is >= 2.5% under the entry close, a later
    one whose close is back above the entry): all real BTC/USDT 1h closes."""
    for i in range(2000, len(CANDLES) - 150):
        entry = CANDLES[i].close
        for j in range(i + 1, i + 48):
            if CANDLES[j].close <= entry * Decimal("0.975"):
                for k in range(j + 1, j + 96):
                    if CANDLES[k].close >= entry * Decimal("1.002"):
                        return i, j, k
                break
    raise LookupError("no setup")


async def _copy_now(services: Services, owner: User, engine: CopyEngine, now: datetime
                    ) -> int:
    """Publish a BUY at the replay's last close and run the engine at ``now``."""
    price = services.prices.last_price("BTC/USDT")
    assert price is not None
    signal = await _publish(services, owner, entry=price, stop=LOWEST, targets=[HIGHEST])
    await engine.run(await _intents(signal.id), now=now)
    return signal.id


async def test_daily_loss_limit_holds_after_a_recovery_until_midnight_utc(at_loss_setup) -> None:  # noqa: ANN001
    services, (entry, drop, recovery) = at_loss_setup
    owner, [follower] = await _followers(1)
    # 0.2% of 10,000 USDT = 20 USDT; the 1,000 USDT position loses >= 25 USDT at ``drop``.
    await (await _settings(follower)).update(max_daily_loss_pct=Decimal("0.2"))
    engine = CopyEngine(services.prices)
    today = datetime.now(UTC)
    tomorrow = next_midnight(today) + timedelta(minutes=1)

    first = await _copy_now(services, owner, engine, today)  # close of candle ``entry``
    services.prices.advance(drop - entry)
    at_loss = await _copy_now(services, owner, engine, today)  # close of candle ``drop``
    services.prices.advance(recovery - drop)
    recovered = await _copy_now(services, owner, engine, today)  # candle ``recovery``
    next_day = await _copy_now(services, owner, engine, tomorrow)

    orders = {sid: await _entry(sid, follower) for sid in (first, at_loss, recovered, next_day)}
    assert orders[first].status is OrderStatus.FILLED
    until = f"new signals resume at 00:00 UTC on {next_midnight(today):%Y-%m-%d}"
    assert orders[at_loss].status is OrderStatus.SKIPPED
    assert orders[at_loss].reason.startswith("skipped: daily loss limit 0.2% reached (−")
    assert orders[at_loss].reason.endswith(f"USDT today), {until}")
    position = await Position.get(copy_order_id=orders[first].id)
    assert services.prices.last_price("BTC/USDT") > position.entry_price  # recovered
    assert (orders[recovered].status, orders[recovered].reason) == (
        OrderStatus.SKIPPED, f"skipped: daily loss limit 0.2% was reached earlier today, {until}")
    assert orders[next_day].status is OrderStatus.FILLED
    row = await CopySettings.get(subscription__user_id=follower.id)
    assert row.daily_loss_hit_on == today.date()


async def test_each_follower_has_own_limit_on_the_positions_of_their_route(
        at_loss_setup) -> None:  # noqa: ANN001
    services, (entry, drop, _) = at_loss_setup
    owner, [loser, calm, was_live] = await _followers(3)
    for user, pct in ((loser, "0.2"), (calm, "5"), (was_live, "0.2")):
        await (await _settings(user)).update(max_daily_loss_pct=Decimal(pct))
    engine = CopyEngine(services.prices)
    today = datetime.now(UTC)

    await _copy_now(services, owner, engine, today)
    # As if this follower's first copy had gone to a live account: it does not count
    # towards the paper account they trade on now.
    await Position.filter(user_id=was_live.id).update(mode="live")
    services.prices.advance(drop - entry)
    signal_id = await _copy_now(services, owner, engine, today)

    statuses = {u.id: (await _entry(signal_id, u)).status for u in (loser, calm, was_live)}
    assert statuses == {loser.id: OrderStatus.SKIPPED, calm.id: OrderStatus.FILLED,
                        was_live.id: OrderStatus.FILLED}
    hit = {r["subscription__user_id"]: r["daily_loss_hit_on"] for r in
           await CopySettings.all().values("subscription__user_id", "daily_loss_hit_on")}
    assert hit == {loser.id: today.date(), calm.id: None, was_live.id: None}


# --- the provider's moved stop -----------------------------------------------------------


def _stop_setup() -> tuple[int, int, Decimal, Decimal]:
    """(entry candle i, later candle m, original stop, moved stop): the stop is the lowest
    real low of the 200 candles before i; the moved stop is candle m's real high, under
    the entry close; m's close is under the moved stop and above the original one."""
    for i in range(2000, len(CANDLES) - 100):
        entry = CANDLES[i].close
        stop = min(c.low for c in CANDLES[i - 200:i])
        for m in range(i + 1, i + 48):
            candle = CANDLES[m]
            if candle.close < entry * Decimal("0.99"):
                if stop * Decimal("1.01") < candle.close <= candle.high < entry:
                    return i, m, stop, candle.high
                break
    raise LookupError("no setup")


async def test_new_decisions_and_positions_use_the_moved_stop(clean_db, settings, redis) -> None:  # noqa: ANN001
    i, m, stop, moved = _stop_setup()
    services = await _replay_at(settings, i)
    try:
        owner, [early, late] = await _followers(2)
        signal = await _publish(services, owner, entry=CANDLES[i].close, stop=stop,
                                targets=[HIGHEST])
        ids = {o.user_id: o.id for o in await CopyOrder.filter(
            id__in=await _intents(signal.id))}  # type: ignore[attr-defined]
        await move_stop_loss(owner, signal.id, moved, "tighter", services.queue, services.bus)
        engine = CopyEngine(services.prices)

        await engine.run([ids[early.id]])  # at the close of candle i
        services.prices.advance(m - i)
        [late_result] = (await engine.run([ids[late.id]])).results  # close of candle m

        position = await Position.get(user_id=early.id)
        assert position.stop_loss == moved != signal.stop_loss
        price = CANDLES[m].close
        assert stop < price <= moved  # past the moved stop only: the old one would copy
        assert late_result.status is OrderStatus.SKIPPED
        assert late_result.reason == (f"skipped: market price {number_text(price)} is "
                                      f"already past the stop-loss {number_text(moved)}")
    finally:
        await shutdown(services, close_database=False)

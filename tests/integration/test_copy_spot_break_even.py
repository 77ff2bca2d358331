"""Break-even after target 1 on a live binance spot position, whose stop the monitor watches.

Spot takes no native stop: the position monitor watches ``position.stop_loss`` and sends
a market ``sl1`` leg when a candle trades through it. When the follower chose break-even,
a take-profit fill must move that column to the entry, as it does for a native stop.

Real Binance BTC/USDT 1h candles of ``signalhub/data``, found by ``_setup`` (the first
``winning_buy`` after candle -3000 that fits). In the shipped file: the entry is the
close of candle 9568 (opened 2025-10-17 16:00 UTC), 106372.34; the stop the real low
105542.09 before it; target 1 the high of candle 9570, 107089.99 (its low, 106453.26,
stays above the entry); target 2 the next real high above it seen before the entry,
108420.73. Candle 9571 (opened 2025-10-17 19:00 UTC) dips to 106233.65: below the
entry, above the original stop.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from domain import users
from domain.models import CopyOrder, OrderStatus, Position, PositionStatus, Role
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from integrations.prices import ReplayPriceSource
from tests.support.live_copy import job_ctx, live_follower, live_world, run_worker
from tests.support.setups import BTC_1H, Setup, btc_candles, winning_buy
from workers.copy_jobs import reconcile_copy_orders
from workers.monitor import process_candle

CANDLES = btc_candles()
SLUG = "spot-be-desk"


def _setup() -> tuple[Setup, Decimal, int]:
    """(setup, target 2, index ``k`` of the first candle after ``j`` whose low reaches the
    entry) such that candle ``j``'s low stays above the entry, candle ``k``'s low stays
    above the original stop, and no candle up to ``k`` reaches target 2."""
    start = len(CANDLES) - 3000
    while True:
        setup = winning_buy(CANDLES, start)
        j = setup.target_index
        above = sorted(c.high for c in CANDLES[setup.index - 300:setup.index]
                       if c.high > CANDLES[j].high)
        k = next((k for k in range(j + 1, j + 200) if CANDLES[k].low <= setup.entry), None)
        if above and k is not None and CANDLES[j].low > setup.entry \
                and CANDLES[k].low > setup.stop \
                and all(c.high < above[0] for c in CANDLES[j + 1:k + 1]):
            return setup, above[0], k
        start = setup.index + 1


SETUP, TARGET_2, DIP_INDEX = _setup()  # candle 9568 -> 9570 -> 9571 in the shipped file


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """``live_world`` on a replay held at candle ``i``; the fake fills at its close."""
    prices = ReplayPriceSource([BTC_1H], speed=None,
                               start_ms=CANDLES[SETUP.index].close_ts)
    async with live_world(settings, prices) as world:
        world[1].set_price_from_candle("BTCUSDT", SETUP.index)
        yield world


async def _publish(services: Any) -> Any:
    owner = await users.create_user("spot-be-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Spot break-even desk", monthly_price="0")
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target, TARGET_2])
    return owner, draft


async def _legs(signal_id: int, user_id: int) -> dict[str, CopyOrder]:
    return {o.leg: o for o in await CopyOrder.filter(signal_id=signal_id, user_id=user_id)}


async def test_spot_target_1_fill_moves_the_watched_stop_to_the_entry(world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner, draft = await _publish(services)
    user = await live_follower(1, box, fake, SLUG, move_stop_to_breakeven=True)
    signal = await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await run_worker(services, sender)
    ctx = job_ctx(services, sender)
    position = await Position.get(signal_id=signal.id, user_id=user.id, mode="live")
    assert not position.stop_on_exchange  # spot: the monitor watches the stop
    assert position.break_even_after_first_target
    assert (position.entry_price, position.stop_loss) == (SETUP.entry, SETUP.stop)
    legs = await _legs(signal.id, user.id)
    assert legs["entry"].status is OrderStatus.FILLED, legs["entry"].reason
    assert legs["tp1"].status is OrderStatus.PLACED, legs["tp1"].reason

    # Candle j reaches target 1: the resting tp1 limit fills on the exchange at its price;
    # the open-order sweep applies it, and the watched stop moves to the entry.
    fake.set_price_from_candle("BTCUSDT", SETUP.target_index)
    fake.fill_on_exchange(legs["tp1"].client_order_id)
    assert (await reconcile_copy_orders(ctx))["updated"] == 1
    await run_worker(services, sender)
    await position.refresh_from_db()
    assert (await CopyOrder.get(id=legs["tp1"].id)).status is OrderStatus.FILLED
    assert position.targets_hit == 1
    assert position.stop_loss == position.entry_price == SETUP.entry
    assert position.remaining_amount == Decimal(position.exit_amounts[1])
    # Candle j itself stays above the entry: the monitor sends nothing for it.
    await process_candle(ctx["deps"], CANDLES[SETUP.target_index])
    assert not await CopyOrder.filter(user_id=user.id, leg__startswith="sl").exists()

    # Candle k dips below the entry but not to the original stop: only the break-even
    # stop is reached (without it the position would stay open). The monitor makes one
    # market sl1 leg for what remains, even when it sees the candle twice.
    dip = CANDLES[DIP_INDEX]
    assert SETUP.stop < dip.low <= SETUP.entry
    price = fake.set_price_from_candle("BTCUSDT", DIP_INDEX)
    await process_candle(ctx["deps"], dip)
    await process_candle(ctx["deps"], dip)
    await run_worker(services, sender)
    legs = await _legs(signal.id, user.id)
    sl1 = legs["sl1"]
    assert (sl1.status, sl1.order_type) == (OrderStatus.FILLED, "market"), sl1.reason
    # What remains, rounded down to BTCUSDT's 0.00001 lot step (the dust stays on Binance).
    step = Decimal("0.00001")
    assert sl1.amount == (position.remaining_amount / step).to_integral_value(ROUND_DOWN) * step
    assert fake.orders_created(sl1.client_order_id) == 1
    sold = fake.order(sl1.client_order_id)
    assert sold is not None and (sold["type"], sold["side"]) == ("MARKET", "SELL")
    assert Decimal(sold["origQty"]) == sl1.amount
    assert legs["tp2"].status is OrderStatus.CANCELLED, legs["tp2"].reason
    await position.refresh_from_db()
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, "stop-loss")
    assert position.exit_price == price and position.targets_hit == 1

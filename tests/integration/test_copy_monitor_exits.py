"""Exits the position monitor enforces: a live spot stop, and the paper break-even stop.

One BUY BTC/USDT signal on real Binance 1h candles (``signalhub/data``), found by
``winning_buy`` as the first setup after candle -3000 that reaches target 1 and later
trades through its stop: entry = close of candle ``i`` (the replay's "now"), stop = a
real low before it, target 1 = the high of candle ``j``, target 2 = the next real high
above it seen before ``i``. A paper follower with break-even on and a live binance spot
follower copy it; the monitor then sees candle ``j`` (target 1, not the stop) and
candle ``k`` (its low trades through the stop).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import users
from domain.copy_settings import set_copy_trading
from domain.models import CopyOrder, OrderStatus, Position, PositionStatus, Role
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import subscribe
from integrations.prices import ReplayPriceSource
from tests.support.live_copy import job_ctx, live_follower, live_world, run_worker
from tests.support.setups import BTC_1H, Setup, btc_candles, winning_buy
from workers.monitor import process_candle

CANDLES = btc_candles()
SLUG = "monitor-desk"


def _setup() -> tuple[Setup, Decimal, int]:
    """(setup, target 2, index of the first candle after ``j`` whose low reaches the stop)."""
    start = len(CANDLES) - 3000
    while True:
        setup = winning_buy(CANDLES, start)
        high_j = CANDLES[setup.target_index].high
        above = sorted(c.high for c in CANDLES[setup.index - 300:setup.index] if c.high > high_j)
        k = next((k for k in range(setup.target_index + 1, setup.target_index + 200)
                  if CANDLES[k].low <= setup.stop), None)
        if above and k is not None:
            return setup, above[0], k
        start = setup.index + 1


SETUP, TARGET_2, STOP_INDEX = _setup()  # candle 9572 -> 9583 -> 9609 in the shipped file


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """``live_world`` on a replay held at candle ``i``; the fake fills at its close."""
    prices = ReplayPriceSource([BTC_1H], speed=None,
                               start_ms=CANDLES[SETUP.index].close_ts)
    async with live_world(settings, prices) as world:
        world[1].set_price_from_candle("BTCUSDT", SETUP.index)
        yield world


async def _publish(services: Any) -> Any:
    owner = await users.create_user("monitor-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Monitor desk", monthly_price="0")
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target, TARGET_2])
    return owner, draft


async def test_monitor_sends_the_live_spot_stop_and_moves_the_paper_stop_to_break_even(
        world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner, draft = await _publish(services)
    live = await live_follower(1, box, fake, SLUG)
    paper = await users.telegram_user(4100, 4100, "paper")
    await subscribe(paper, SLUG)
    await set_copy_trading(paper, SLUG, True, move_stop_to_breakeven=True)
    signal = await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await run_worker(services, sender)
    deps = job_ctx(services, sender)["deps"]
    live_position = await Position.get(user_id=live.id, mode="live")
    paper_position = await Position.get(user_id=paper.id, mode="paper")
    assert not live_position.stop_on_exchange  # spot: the monitor watches the stop
    assert paper_position.break_even_after_first_target

    # Candle j reaches target 1 but not the stop: the paper position takes its first
    # ladder step and its stop moves to the entry; the live one is left to the exchange.
    await process_candle(deps, CANDLES[SETUP.target_index])
    await paper_position.refresh_from_db()
    assert paper_position.targets_hit == 1
    assert paper_position.stop_loss == paper_position.entry_price
    assert paper_position.remaining_amount == Decimal(paper_position.exit_amounts[1])
    assert not await CopyOrder.filter(user_id=live.id, leg__startswith="sl").exists()

    # Candle k trades through the stop: a market sl1 leg sells what the live position
    # holds (its resting take-profits are cancelled first, they lock the coins); the
    # paper position is stopped out at its break-even stop.
    price = fake.set_price_from_candle("BTCUSDT", STOP_INDEX)
    await process_candle(deps, CANDLES[STOP_INDEX])
    await run_worker(services, sender)
    legs = {o.leg: o for o in await CopyOrder.filter(signal_id=signal.id, user_id=live.id)}
    sl1 = legs["sl1"]
    assert (sl1.status, sl1.order_type) == (OrderStatus.FILLED, "market"), sl1.reason
    assert fake.orders_created(sl1.client_order_id) == 1
    sold = fake.order(sl1.client_order_id)
    assert sold is not None and (sold["type"], sold["side"]) == ("MARKET", "SELL")
    assert Decimal(sold["origQty"]) == sl1.amount <= live_position.remaining_amount
    for leg in ("tp1", "tp2"):
        assert legs[leg].status is OrderStatus.CANCELLED, legs[leg].reason
    await live_position.refresh_from_db()
    assert (live_position.status, live_position.close_reason) == (PositionStatus.CLOSED,
                                                                  "stop-loss")
    assert live_position.exit_price == price
    await paper_position.refresh_from_db()
    assert (paper_position.status, paper_position.close_reason) == (PositionStatus.CLOSED,
                                                                    "stop-loss")
    # Candle k opened below the break-even stop: the stop fills at that open.
    stop_candle = CANDLES[STOP_INDEX]
    assert stop_candle.open < paper_position.stop_loss == paper_position.entry_price
    assert paper_position.exit_price == stop_candle.open

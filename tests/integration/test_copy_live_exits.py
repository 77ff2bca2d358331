"""Live exits on a binance USDⓈ-M perpetual through ccxt and the fake Binance.

A follower copies a BUY BTC/USDT:USDT signal asking 20x with a leverage cap of 5x and
break-even on: the leverage is set on the exchange before the entry; the stop rests as
a reduce-only STOP_MARKET (``sl1``); the provider's STOP_MOVED replaces it (``sl2``);
a take-profit fill replaces it again, for what remains, at the entry (``sl3``). A
follower whose exchange refuses the leverage gets a failed order with the exchange's
message. Prices are the real Binance BTCUSDT perpetual 1h candles in ``tests/data``:
the entry is the close of the last one (2026-02-19 17:00 UTC, 66336.1); stop, moved
stop and targets are real lows and highs of the 300 candles before it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import users
from domain.exchange_models import MarketType
from domain.models import CopyOrder, OrderStatus, Position, Role, User
from domain.providers import create_provider
from domain.publishing import move_stop_loss, publish_signal
from domain.signals import make_draft
from integrations.prices import ReplayPriceSource, load_candles
from tests.support.live_copy import (
    BTC_PERP_1H,
    job_ctx,
    live_follower,
    live_key,
    live_world,
    run_worker,
)
from workers.copy_jobs import reconcile_copy_orders

PERP = load_candles(BTC_PERP_1H)
NOW = PERP[-1]
BEFORE = PERP[-300:-1]
SLUG = "perp-desk"
STOP = max(c.low for c in BEFORE if c.low < NOW.close * Decimal("0.985"))
MOVED = max(c.low for c in BEFORE if STOP < c.low < NOW.close * Decimal("0.995"))
TARGETS = sorted({c.high for c in BEFORE if c.high > NOW.close * Decimal("1.01")})[:2]


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """``live_world`` on the perpetual's replay held at its last candle; the fake's
    BTCUSDT fills at that candle's close."""
    prices = ReplayPriceSource([BTC_PERP_1H], speed=None, start_ms=NOW.close_ts)
    async with live_world(settings, prices) as world:
        world[1].set_price("BTCUSDT", NOW.close)
        yield world


async def _publish(services: Any, owner: User) -> Any:
    draft = make_draft(symbol="BTC/USDT:USDT", side="BUY", entry_low=NOW.close,
                       entry_high=None, stop_loss=STOP, targets=TARGETS, leverage=20)
    return await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                market_ts=services.prices.now_ms())


async def _legs(signal_id: int, user_id: int) -> dict[str, CopyOrder]:
    return {o.leg: o for o in await CopyOrder.filter(signal_id=signal_id, user_id=user_id)}


async def test_live_perpetual_leverage_native_stop_moves_and_break_even(world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner = await users.create_user("perp-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Perp desk", monthly_price="0")
    user = await live_follower(1, box, fake, SLUG, market_type=MarketType.LINEAR,
                               leverage_cap=5, move_stop_to_breakeven=True)

    signal = await _publish(services, owner)
    await run_worker(services, sender)

    # The leverage was capped to 5x and set on the exchange before the entry.
    legs = await _legs(signal.id, user.id)
    entry = legs["entry"]
    assert entry.status is OrderStatus.FILLED, entry.reason
    assert entry.leverage == 5 and "leverage capped at 5x" in entry.reason
    assert fake.leverage_calls == [(live_key(1)[0], "BTCUSDT", 5)]
    assert fake.order_leverage[entry.client_order_id] == 5
    position = await Position.get(signal_id=signal.id, user_id=user.id)
    assert position.stop_on_exchange and position.entry_price == NOW.close

    # Exits: a reduce-only limit per target, and the stop as a reduce-only STOP_MARKET.
    assert set(legs) == {"entry", "tp1", "tp2", "sl1"}
    sl1 = fake.order(legs["sl1"].client_order_id)
    assert sl1 is not None and (sl1["orderType"], sl1["reduceOnly"]) == ("STOP_MARKET", True)
    assert (Decimal(sl1["triggerPrice"]), Decimal(sl1["quantity"])) == (STOP, position.amount)
    for leg, target in (("tp1", TARGETS[0]), ("tp2", TARGETS[1])):
        order = fake.order(legs[leg].client_order_id)
        assert order is not None and order["reduceOnly"] and Decimal(order["price"]) == target

    # The provider moves the stop: sl1 is cancelled, sl2 rests at the new price.
    await move_stop_loss(owner, signal.id, MOVED, "tighter", services.queue, services.bus)
    await run_worker(services, sender)
    legs = await _legs(signal.id, user.id)
    assert legs["sl1"].status is OrderStatus.CANCELLED
    assert fake.order(legs["sl1"].client_order_id)["algoStatus"] == "CANCELED"  # type: ignore[index]
    sl2 = fake.order(legs["sl2"].client_order_id)
    assert legs["sl2"].status is OrderStatus.PLACED, legs["sl2"].reason
    assert sl2 is not None and Decimal(sl2["triggerPrice"]) == MOVED

    # Target 1 fills on the exchange; reconciliation applies it and the stop is replaced
    # by one for what remains, at the entry (break-even).
    fake.fill_on_exchange(legs["tp1"].client_order_id)
    assert (await reconcile_copy_orders(job_ctx(services, sender)))["updated"] == 1
    await run_worker(services, sender)
    legs = await _legs(signal.id, user.id)
    await position.refresh_from_db()
    assert legs["tp1"].status is OrderStatus.FILLED and position.targets_hit == 1
    assert legs["sl2"].status is OrderStatus.CANCELLED
    assert position.stop_loss == position.entry_price == NOW.close
    assert position.remaining_amount == Decimal(position.exit_amounts[1])
    sl3 = fake.order(legs["sl3"].client_order_id)
    assert legs["sl3"].status is OrderStatus.PLACED, legs["sl3"].reason
    assert sl3 is not None and sl3["reduceOnly"] and sl3["orderType"] == "STOP_MARKET"
    assert (Decimal(sl3["triggerPrice"]), Decimal(sl3["quantity"])) == (
        NOW.close, position.remaining_amount)
    assert fake.leverage_calls == [(live_key(1)[0], "BTCUSDT", 5)]  # exits never set it


async def test_leverage_the_exchange_refuses_fails_the_entry_with_its_message(world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner = await users.create_user("perp-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Perp desk", monthly_price="0")
    fake.max_leverage["BTCUSDT"] = 3  # as Binance limits some accounts
    user = await live_follower(2, box, fake, SLUG, market_type=MarketType.LINEAR,
                               leverage_cap=5)

    signal = await _publish(services, owner)
    await run_worker(services, sender)

    entry = (await _legs(signal.id, user.id))["entry"]
    assert entry.status is OrderStatus.FAILED
    assert "Leverage 5 is not valid" in entry.reason
    assert fake.leverage_calls == [] and fake.orders_created(entry.client_order_id) == 0
    assert await Position.filter(user_id=user.id).count() == 0
    told = [m.text for m in api.sent_messages(user.telegram_chat_id)]
    assert any("failed" in t and "Leverage 5 is not valid" in t for t in told), told

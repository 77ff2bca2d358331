"""Live copy trading against the fake Binance, driven by ccxt through the gateway pool.

Followers have encrypted exchange accounts (live, confirmed) pointing at the fake on
loopback; the worker (arq, burst) decides, sends and records orders; faults are
injected on the fake (timeout after the order was accepted, insufficient balance);
exit legs rest on the fake; reconciliation applies an exchange-side cancel; the
provider's close cancels the exits and sells at market. Telegram notices go to the
fake Bot API. Prices are the last real BTC/USDT candle (the fake's default price).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import users
from domain.models import (
    CopyOrder,
    OrderStatus,
    Position,
    PositionStatus,
    Role,
    SignalEvent,
    User,
)
from domain.providers import create_provider
from domain.publishing import close_signal, publish_signal
from domain.signals import make_draft
from domain.subscriptions import set_copy_trading, subscribe
from integrations.prices import ReplayPriceSource
from integrations.secrets import ExchangeCredentials, SecretBox
from tests.fakes.binance_api import FakeBinance
from tests.support import live_copy
from tests.support.exchange import gateway_for
from tests.support.live_copy import job_ctx, live_key, live_world, run_worker
from tests.support.setups import BTC_1H, btc_candles
from workers.copy_jobs import apply_provider_event, reconcile_copy_orders

CANDLES = btc_candles()
NOW = CANDLES[-1]
SLUG = "live-copy"
# Real prices around the last candle: a low below it and a high above it.
STOP = max(c.low for c in CANDLES[-300:-1] if c.low < NOW.close * Decimal("0.98"))
TARGETS = sorted({c.high for c in CANDLES[-300:-1] if c.high > NOW.close * Decimal("1.01")})[:2]


async def live_follower(i: int, box: SecretBox, fake: FakeBinance, *, confirmed: bool = True,
                        usdt: str = "10000") -> User:
    """Follower ``i`` of ``SLUG`` with a live binance spot account on the fake."""
    return await live_copy.live_follower(i, box, fake, SLUG, confirmed=confirmed, usdt=usdt)


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """``live_world`` on a replay held at the last real BTC/USDT candle."""
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=NOW.close_ts)
    async with live_world(settings, prices) as world:
        yield world


async def _run_worker(services: Any, sender: Any) -> None:
    await run_worker(services, sender)


async def _publish(services: Any, owner: User) -> Any:
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=NOW.close, entry_high=None,
                       stop_loss=STOP, targets=TARGETS)
    return await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                market_ts=services.prices.now_ms())


async def test_live_orders_once_each_with_faults_exits_reconcile_and_close(world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner = await users.create_user("live-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Live copy", monthly_price="0")
    live = [await live_follower(i, box, fake) for i in range(4)]
    unconfirmed = await live_follower(9, box, fake, confirmed=False)
    paper = await users.telegram_user(4100, 4100, "paper")
    await subscribe(paper, SLUG)
    await set_copy_trading(paper, SLUG, True)
    # The first order request is accepted but never answered in time; the next is
    # rejected for lack of funds.
    fake.fail_next("timeout_after_accept")
    fake.fail_next("insufficient_balance")

    signal = await _publish(services, owner)
    await _run_worker(services, sender)

    entries = {o.user_id: o for o in await CopyOrder.filter(signal_id=signal.id, leg="entry")}
    failed = [o for o in entries.values() if o.status is OrderStatus.FAILED]
    assert len(failed) == 1 and "insufficient balance" in failed[0].reason
    filled = [entries[u.id] for u in live if entries[u.id].status is OrderStatus.FILLED]
    assert len(filled) == 3 and all(o.mode == "live" and o.exchange == "binance"
                                    for o in filled)
    assert max(o.attempts for o in filled) == 1  # the timed-out one was looked up, not resent
    for order in entries.values():
        assert fake.orders_created(order.client_order_id) <= 1
    for order in filled:
        assert fake.orders_created(order.client_order_id) == 1
        assert order.exchange_order_id == str(fake.order(order.client_order_id)["orderId"])
    assert entries[unconfirmed.id].status is OrderStatus.SKIPPED
    assert entries[unconfirmed.id].reason == ("skipped: live trading is not confirmed for "
                                              "this exchange account")
    assert fake.orders_created(entries[unconfirmed.id].client_order_id) == 0
    assert (entries[paper.id].status, entries[paper.id].mode) == (OrderStatus.FILLED, "paper")

    # Exits: two take-profit limits per live position rest on the exchange (spot: the
    # stop is enforced by the monitor, a native stop would lock the same coins).
    positions = await Position.filter(mode="live")
    assert len(positions) == 3
    for position in positions:
        legs = {o.leg: o for o in await CopyOrder.filter(signal_id=signal.id,
                                                          user_id=position.user_id)}
        assert set(legs) == {"entry", "tp1", "tp2"} and not position.stop_on_exchange
        assert sum(Decimal(a) for a in position.exit_amounts) == position.amount
        for leg in ("tp1", "tp2"):
            assert legs[leg].status is OrderStatus.PLACED, legs[leg].reason
            assert fake.order(legs[leg].client_order_id)["status"] == "NEW"

    # The follower cancels one take-profit on the exchange (another API client, as the
    # exchange's website would); reconciliation notices.
    victim = await CopyOrder.get(user_id=positions[0].user_id, leg="tp2")
    index = next(i for i, u in enumerate(live) if u.id == victim.user_id)
    outside = await gateway_for(fake, credentials=ExchangeCredentials(*live_key(index)))
    try:
        assert (await outside.cancel_order("BTC/USDT", victim.client_order_id)) is not None
    finally:
        await outside.close()
    ctx = job_ctx(services, sender)
    assert (await reconcile_copy_orders(ctx))["updated"] == 1
    await victim.refresh_from_db()
    assert victim.status is OrderStatus.CANCELLED

    # The provider closes the signal: resting exits are cancelled, what is held is sold.
    event = await close_signal(owner, signal.id, "done", services.queue, services.bus)
    assert (await apply_provider_event(ctx, event.id))["new_legs"] == 3
    await _run_worker(services, sender)
    for position in await Position.filter(mode="live"):
        close = await CopyOrder.get(user_id=position.user_id, leg="close")
        assert (position.status, position.close_reason) == (PositionStatus.CLOSED,
                                                            "closed by provider"), close.reason
        assert close.status is OrderStatus.FILLED
        assert fake.orders_created(close.client_order_id) == 1
        for leg in await CopyOrder.filter(user_id=position.user_id, leg__startswith="tp"):
            assert leg.status is OrderStatus.CANCELLED
    assert await SignalEvent.filter(signal_id=signal.id, kind="CLOSED").count() == 1

    # Telegram: a notice per fill and the failure with the exchange's reason.
    failed_chat = next(u for u in live if u.id == failed[0].user_id).telegram_chat_id
    texts = [m.text for m in api.sent_messages(failed_chat)]
    assert any("failed" in t and "insufficient balance" in t for t in texts)
    for order in filled:
        chat = next(u for u in live if u.id == order.user_id).telegram_chat_id
        assert any("Copy on binance" in t and "filled" in t
                   for t in (m.text for m in api.sent_messages(chat)))

"""A worker's start reconciles copy orders a dead worker left in SENDING.

The dead worker (copy-worker id ``deadwkr``, no heartbeat in Redis) had claimed two
live entries and marked them SENDING: one it sent and the fake Binance accepted, the
other it never sent. A new burst worker's startup run of ``reconcile_copy_orders``
(``run_at_startup=True``) recovers both: the first is looked up by its client order id
and recorded as filled without a second placement, the second is sent once. Prices:
the last real BTC/USDT 1h candle of ``signalhub/data`` (the fake's default price).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import users
from domain.exchange_models import ExchangeAccount
from domain.fanout import fan_out
from domain.models import CopyOrder, EventKind, OrderStatus, Position, Role, SignalEvent
from domain.ports import OrderRequest
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from integrations.exchange_pool import GatewayPool
from integrations.prices import ReplayPriceSource
from integrations.secrets import ExchangeCredentials
from tests.support.exchange import gateway_for
from tests.support.live_copy import live_follower, live_key, live_world, run_worker
from tests.support.setups import BTC_1H, btc_candles

CANDLES = btc_candles()
NOW = CANDLES[-1]
SLUG = "restart-desk"
STOP = max(c.low for c in CANDLES[-300:-1] if c.low < NOW.close * Decimal("0.98"))
TARGET = min(c.high for c in CANDLES[-300:-1] if c.high > NOW.close * Decimal("1.01"))
AMOUNT = Decimal("0.01")  # BTC: ~670 USDT at the last close, what the dead worker decided


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """``live_world`` on a replay held at the last real BTC/USDT candle."""
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=NOW.close_ts)
    async with live_world(settings, prices) as world:
        yield world


async def _left_sending(order: CopyOrder, user_id: int) -> None:
    """Mark ``order`` as the dead worker's engine did before sending it."""
    account = await ExchangeAccount.get(user_id=user_id)
    order.status, order.claimed_by = OrderStatus.SENDING, "deadwkr:1"
    order.mode, order.exchange, order.exchange_account_id = "live", "binance", account.id
    order.amount, order.price, order.order_type = AMOUNT, NOW.close, "market"
    order.reason, order.sent_at = "placed: market BUY", datetime.now(UTC)
    await order.save()


async def test_worker_start_reconciles_sending_orders_of_a_dead_worker_once(world) -> None:  # noqa: ANN001
    services, fake, api, sender, box = world
    owner = await users.create_user("restart-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Restart desk", monthly_price="0")
    sent, unsent = [await live_follower(i, box, fake, SLUG) for i in (1, 2)]
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=NOW.close, entry_high=None,
                       stop_loss=STOP, targets=[TARGET])
    signal = await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    event = await SignalEvent.get(signal_id=signal.id, kind=EventKind.PUBLISHED)
    await fan_out(event.id)  # the intents, as the dead worker's fan-out wrote them
    orders = {o.user_id: o for o in await CopyOrder.filter(signal_id=signal.id)}
    for user in (sent, unsent):
        await _left_sending(orders[user.id], user.id)
    # The dead worker's request reached the exchange, which accepted it; then it died.
    pool = GatewayPool(None, "dead-worker")
    try:
        gone = await gateway_for(fake, credentials=ExchangeCredentials(*live_key(1)), pool=pool)
        accepted = await gone.create_order(OrderRequest(
            "BTC/USDT", "buy", "market", AMOUNT, orders[sent.id].client_order_id))
    finally:
        await pool.close()

    await run_worker(services, sender)  # its startup reconcile finds both rows

    first, second = [await CopyOrder.get(id=orders[u.id].id) for u in (sent, unsent)]
    assert first.status is OrderStatus.FILLED, first.reason
    assert first.exchange_order_id == accepted.id and first.filled == AMOUNT
    assert fake.order_posts[first.client_order_id] == 1  # looked up, never sent again
    assert fake.orders_created(first.client_order_id) == 1
    assert second.status is OrderStatus.FILLED, second.reason
    assert fake.order_posts[second.client_order_id] == 1
    assert fake.orders_created(second.client_order_id) == 1
    for user in (sent, unsent):
        position = await Position.get(signal_id=signal.id, user_id=user.id)
        assert position.mode == "live" and position.amount == AMOUNT * Decimal("0.999")
        tp1 = await CopyOrder.get(signal_id=signal.id, user_id=user.id, leg="tp1")
        assert tp1.status is OrderStatus.PLACED, tp1.reason
        texts = [m.text for m in api.sent_messages(user.telegram_chat_id)]
        assert any("Copy on binance" in t and "filled" in t for t in texts), texts

"""The copy engine on the paper exchange: fills with fee and slippage, skip reasons,
limit-at-entry resting until a real candle crosses it, SENDING rows resolved by lookup,
claims of live and dead workers, per-order retries, Telegram notices.

Real PostgreSQL and Redis, replayed real BTC/USDT candles, arq burst workers, aiogram
against the local fake Bot API. Nothing of our own is mocked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import users
from domain.copy_context import busy_slots
from domain.copy_results import backoff_s
from domain.copy_routing import PaperGateways
from domain.copying import CopyEngine
from domain.fanout import fan_out
from domain.models import (
    CopyOrder,
    CopySettings,
    Delivery,
    OrderStatus,
    PaperAccount,
    Position,
    Role,
    SignalEvent,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.paper_exchange import MemoryPaperBook, PaperGateway, match_candle
from domain.ports import OrderRequest
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.sizing import FillModel
from domain.subscriptions import set_copy_trading, subscribe
from integrations.prices import ReplayPriceSource
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.copy_jobs import RedisPaperBook, execute_copy_orders, fill_resting_paper_orders
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)
SLUG = "copy-engine"
FEE, SLIP = Decimal("0.001"), Decimal("0.0005")


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    """Services on a manual replay at the setup's entry candle, a fake Bot API."""
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    async with FakeTelegramApi() as api:
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        yield services, api, sender
        await sender.aclose()
    await shutdown(services, close_database=False)


async def _followers(n: int) -> tuple[User, list[User]]:
    owner = await users.create_user("engine-owner", Role.PROVIDER)
    await create_provider(owner, SLUG, "Copy engine test", monthly_price="0")
    followers = [await users.telegram_user(3000 + i, 3000 + i, f"f{i}") for i in range(n)]
    for follower in followers:
        await subscribe(follower, SLUG)
        await set_copy_trading(follower, SLUG, True)
    return owner, followers


async def _settings(user: User) -> Any:
    sub = await Subscription.get(user_id=user.id)
    return CopySettings.filter(subscription_id=sub.id)


async def _publish(services: Any, owner: User, entry: Decimal = SETUP.entry,
                   stop: Decimal = SETUP.stop, targets: list[Decimal] | None = None) -> Any:
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=entry, entry_high=None,
                       stop_loss=stop, targets=targets or [SETUP.target])
    return await publish_signal(owner, SLUG, draft, services.queue, services.bus,
                                market_ts=services.prices.now_ms())


async def _intents(signal_id: int) -> list[int]:
    event = await SignalEvent.get(signal_id=signal_id, kind="PUBLISHED")
    return (await fan_out(event.id)).copy_order_ids


async def test_paper_fills_record_fee_slippage_position_and_ladder(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, followers = await _followers(2)
    signal = await _publish(services, owner, targets=[SETUP.target, SETUP.target * 2])
    engine = CopyEngine(services.prices)

    result = await engine.run(await _intents(signal.id))

    assert sorted(r.status for r in result.results) == [OrderStatus.FILLED] * 2
    assert result.retries == [] and len(result.events) == 2
    price = SETUP.entry * (1 + SLIP)
    for order in await CopyOrder.filter(signal_id=signal.id):
        assert (order.price, order.fee_rate, order.slippage_rate) == (price, FEE, SLIP)
        assert order.mode == "paper" and order.exchange == "paper"
        assert order.amount == (Decimal(1000) / price).quantize(Decimal("1e-8"),
                                                                 rounding="ROUND_DOWN")
        assert order.fee == (order.amount * price * FEE).quantize(Decimal("1e-8"))
        assert order.filled == order.amount and order.claimed_by == ""
        assert order.sent_at is not None and order.acked_at is not None
        position = await Position.get(copy_order_id=order.id)
        halves = [Decimal(a) for a in position.exit_amounts]
        assert sum(halves) == order.amount and halves[0] == (order.amount / 2).quantize(
            Decimal("1e-8"), rounding="ROUND_DOWN")
        account = await PaperAccount.get(user_id=order.user_id)
        assert account.balance == Decimal(10000) - order.fee
    # A second run of the same shard changes nothing.
    again = await engine.run(await CopyOrder.filter(signal_id=signal.id).values_list(
        "id", flat=True))
    assert again.results == [] and await Position.all().count() == 2
    assert {f.id for f in followers} == set(await Position.all().values_list("user_id",
                                                                               flat=True))


async def test_skip_reasons_are_recorded(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, followers = await _followers(4)
    signal = await _publish(services, owner)
    ids = await _intents(signal.id)
    # After the fan-out: one switches copy off, one's subscription lapses, one denies BTC.
    await (await _settings(followers[0])).update(enabled=False)
    await Subscription.filter(user_id=followers[1].id).update(
        status=SubscriptionStatus.CANCELLED)
    await (await _settings(followers[2])).update(
        denied_symbols=["BTC/USDT"])

    results = {r.user_id: r for r in (await CopyEngine(services.prices).run(ids)).results}

    # Every skip reason starts "skipped:", the engine's own checks like sizing's.
    assert results[followers[0].id].reason == "skipped: copy trading was switched off"
    assert results[followers[1].id].reason == "skipped: subscription is no longer active"
    assert "BTC/USDT" in results[followers[2].id].reason
    assert results[followers[2].id].reason.startswith("skipped:")
    assert results[followers[3].id].status is OrderStatus.FILLED
    assert [results[f.id].status for f in followers[:3]] == [OrderStatus.SKIPPED] * 3
    assert await Position.all().count() == 1


def _moved_market() -> tuple[int, Decimal, Decimal, Decimal, int]:
    """(now index, entry, stop, target, index of the candle that touches the entry): the
    market at ``now`` is > 0.5% above the entry, a later candle's low touches the entry
    before the stop. All prices are real candle prices."""
    for i in range(2000, len(CANDLES) - 60):
        now = CANDLES[i].close
        for j in range(i + 1, i + 24):
            entry = CANDLES[j].low
            if entry < now * Decimal("0.99") and all(c.low > entry for c in CANDLES[i + 1:j]):
                stop = min(c.low for c in CANDLES[i - 200:i])
                if stop < entry * Decimal("0.95") and all(c.low > stop for c in CANDLES[j:j + 3]):
                    target = max(c.high for c in CANDLES[i - 48:i])
                    if target > now:
                        return i, entry, stop, target, j
                break
    raise LookupError("no setup")


async def test_limit_at_entry_rests_until_a_real_candle_crosses_it(
        clean_db, settings, redis) -> None:  # noqa: ANN001
    now, entry, stop, target, touch = _moved_market()
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[now].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    try:
        owner, followers = await _followers(2)
        await (await _settings(followers[0])).update(
            slippage_action="limit")
        signal = await _publish(services, owner, entry=entry, stop=stop, targets=[target])
        ctx: dict[str, Any] = {"deps": WorkerDeps(services, None, None)}
        await execute_copy_orders(ctx, await _intents(signal.id))

        placed = await CopyOrder.get(user_id=followers[0].id)
        skipped = await CopyOrder.get(user_id=followers[1].id)
        assert skipped.status is OrderStatus.SKIPPED and "slippage" in skipped.reason
        assert (placed.status, placed.order_type, placed.limit_price) == (
            OrderStatus.PLACED, "limit", entry)
        assert await busy_slots([followers[0].id]) == {followers[0].id: 1}
        book = RedisPaperBook(services.redis, settings.signalhub_namespace)
        assert [o["clientOrderId"] for _, o in await book.resting("BTC/USDT")] == [
            placed.client_order_id]

        deps = ctx["deps"]
        for _ in range(touch - now):
            for candle in services.prices.advance():
                await fill_resting_paper_orders(deps, candle)
        await placed.refresh_from_db()
        assert (placed.status, placed.price) == (OrderStatus.FILLED, entry)
        assert placed.fee == (placed.amount * entry * FEE).quantize(Decimal("1e-8"))
        position = await Position.get(copy_order_id=placed.id)
        assert position.entry_price == entry and position.amount == placed.amount
        assert await book.resting("BTC/USDT") == []
    finally:
        await shutdown(services, close_database=False)


async def test_sending_row_is_looked_up_before_any_resend(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, followers = await _followers(2)
    signal = await _publish(services, owner)
    ids = await _intents(signal.id)
    book = MemoryPaperBook()
    engine = CopyEngine(services.prices, PaperGateways(services.prices, book))
    # Crash after the exchange accepted follower 0's order, before the result was written.
    first = await CopyOrder.get(user_id=followers[0].id)
    gateway = PaperGateway(followers[0].id, services.prices, book)
    accepted = await gateway.create_order(OrderRequest(
        "BTC/USDT", "buy", "market", Decimal("0.01"), first.client_order_id))
    await CopyOrder.filter(id=first.id).update(status=OrderStatus.SENDING,
                                               amount=Decimal("0.01"))
    # Follower 1's row was marked SENDING but the worker died before the call.
    await CopyOrder.filter(user_id=followers[1].id).update(status=OrderStatus.SENDING,
                                                           amount=Decimal("0.02"))

    result = await engine.run(ids)

    statuses = {r.user_id: r.status for r in result.results}
    assert statuses == {followers[0].id: OrderStatus.FILLED,
                        followers[1].id: OrderStatus.FILLED}
    await first.refresh_from_db()
    assert (first.amount, first.exchange_order_id) == (Decimal("0.01"), accepted.id)
    assert len(book.orders) == 2  # one order per client id, none twice
    second = await CopyOrder.get(user_id=followers[1].id)
    assert second.filled == Decimal("0.02")


async def test_claims_of_live_workers_are_respected_and_dead_ones_taken_over(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, _ = await _followers(2)
    signal = await _publish(services, owner)
    ids = await _intents(signal.id)
    await CopyOrder.filter(id=ids[0]).update(claimed_by="alivewkr:1")
    await CopyOrder.filter(id=ids[1]).update(claimed_by="deadwkr:4")

    async def alive(owners: set[str]) -> set[str]:
        return {"alivewkr", "me"} & (owners | {"me"})

    engine = CopyEngine(services.prices, claimer="me", alive=alive)
    result = await engine.run(ids)

    assert [r.order_id for r in result.results] == [ids[1]]
    held = await CopyOrder.get(id=ids[0])
    assert (held.status, held.claimed_by) == (OrderStatus.PENDING, "alivewkr:1")


class _Flaky(PaperGateways):
    """The paper exchange behind a network that times out ``n`` times after accepting."""

    def __init__(self, prices: Any, n: int) -> None:
        super().__init__(prices)
        self.n = n

    async def gateway(self, user_id: int, route: Any) -> Any:
        inner = await super().gateway(user_id, route)
        outer = self

        class Gateway:
            supports_stop_orders = True

            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            async def create_order(self, request: OrderRequest) -> Any:
                ack = await inner.create_order(request)
                if outer.n > 0:
                    outer.n -= 1
                    from domain.errors import RetryableError

                    raise RetryableError("binance RequestTimeout: no answer", retry_after=2)
                return ack

        return Gateway()


async def test_retryable_error_keeps_sending_and_schedules_the_order_alone(world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, _ = await _followers(3)
    signal = await _publish(services, owner)
    ids = await _intents(signal.id)
    gateways = _Flaky(services.prices, 1)
    engine = CopyEngine(services.prices, gateways)

    result = await engine.run(ids)

    assert len(result.results) == 2 and len(result.retries) == 1
    retry = result.retries[0]
    assert retry.attempt == 1 and retry.delay_s == backoff_s(1, 2) == 2
    row = await CopyOrder.get(id=retry.order_id)
    assert (row.status, row.attempts, row.claimed_by) == (OrderStatus.SENDING, 1, "")
    placed, retrying = row.reason.split("; ")  # the decision stays, the outcome follows
    assert placed.startswith("placed: market BUY") and retrying.startswith("retrying:")
    again = await engine.run([retry.order_id])  # looked up first: found, not re-sent
    assert [r.status for r in again.results] == [OrderStatus.FILLED]
    assert len(gateways.book.orders) == 3  # type: ignore[attr-defined]


async def test_worker_sends_fill_and_skip_notices(world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner, followers = await _followers(2)
    await set_copy_trading(followers[1], SLUG, True, max_open_positions=1)
    await _publish(services, owner)
    await _publish(services, owner)
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()

    fills = [m.text for m in api.sent_messages(3000) if "Paper copy" in m.text]
    assert len(fills) == 2 and all("filled" in t and "fee" in t for t in fills)
    told = [m.text for m in api.sent_messages(3001) if "was not copied" in m.text]
    assert len(told) == 1 and "max open positions reached (1 of 1)" in told[0]
    assert await Delivery.filter(key__startswith="copy:").count() == 4


def test_backoff_doubles_and_honours_retry_after() -> None:
    assert [backoff_s(a) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_s(20) == 60.0 and backoff_s(1, 7.5) == 7.5


async def test_paper_gateway_rejects_bad_orders_and_matches_stops(world) -> None:  # noqa: ANN001
    services, _, _ = world
    from domain.errors import PermanentError

    book = MemoryPaperBook()
    gateway = PaperGateway(1, services.prices, book, FillModel())
    with pytest.raises(PermanentError, match="positive"):
        await gateway.create_order(OrderRequest("BTC/USDT", "buy", "market", Decimal(0), "x1"))
    with pytest.raises(PermanentError, match="stop price"):
        await gateway.create_order(OrderRequest("BTC/USDT", "sell", "stop_market",
                                                Decimal(1), "x2"))
    stop = SETUP.stop
    ack = await gateway.create_order(OrderRequest("BTC/USDT", "sell", "stop_market",
                                                  Decimal("0.5"), "x3", stop_price=stop,
                                                  reduce_only=True))
    assert ack.status == "open" and book.orders
    crossing = next(c for c in CANDLES[SETUP.index:] if c.low <= stop)
    [(account, filled)] = await match_candle(book, crossing)
    assert account == 1 and filled.status == "closed"
    assert filled.average == min(stop, crossing.open)
    assert (await gateway.cancel_order("BTC/USDT", "x3")).status == "closed"  # type: ignore[union-attr]
    assert await gateway.cancel_order("BTC/USDT", "nope") is None

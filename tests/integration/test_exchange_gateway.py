"""CcxtGateway, unmodified ccxt, against the fake Binance (spot + USDⓈ-M) on loopback.

Prices are closes of the real candles in ``signalhub/data``; every exchange answer,
error included, has Binance's shape and code, and ccxt turns it into its exception
before the gateway maps it to the domain's error tree.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from domain.copy_exits import net_fill
from domain.errors import (
    CredentialsRejected,
    InvalidInput,
    OrderStatusUnknown,
    PermanentError,
    RetryableError,
)
from domain.ports import OrderRequest
from domain.sizing import money
from integrations.exchange_ccxt import check_exchange_id, save_snapshot
from integrations.exchange_markets import ExchangeSpec, load_snapshot, snapshot_path
from integrations.exchange_pool import GatewayPool
from integrations.prices import load_candles
from integrations.secrets import ExchangeCredentials
from tests.fakes.binance_api import DATA, FUTURES_TAKER, FakeBinance
from tests.support import exchange as exchange_support
from tests.support.exchange import API_KEY, SECRET, gateway_for, spec_for

fake_binance = exchange_support.fake_binance

BTC = "BTC/USDT"
BTC_PERP = "BTC/USDT:USDT"


def market_buy(symbol: str, amount: str, cid: str) -> OrderRequest:
    return OrderRequest(symbol, "buy", "market", Decimal(amount), cid)


async def test_spot_market_order_fills_at_the_real_candle_close_with_commission(
        fake_binance: FakeBinance) -> None:
    close = fake_binance.set_price_from_candle("BTCUSDT", -200)
    assert close == load_candles(DATA / "BTC_USDT-1h.csv")[-200].close
    gateway = await gateway_for(fake_binance)

    ack = await gateway.create_order(market_buy(BTC, "0.01", "sh-1-1-entry"))

    assert (ack.status, ack.filled, ack.average) == ("closed", Decimal("0.01"), close)
    assert (ack.fee, ack.fee_currency) == (Decimal("0.00001"), "BTC")
    assert ack.client_order_id == "sh-1-1-entry" and ack.symbol == BTC
    usdt = Decimal("10000") - Decimal("0.01") * close
    assert await gateway.fetch_equity("USDT") == usdt + Decimal("0.00999") * close
    assert await gateway.fetch_equity("BTC") == Decimal("0.00999")
    assert fake_binance.requests[("GET", "/api/v3/ticker/price")] == 1
    await gateway.close()


async def test_lookup_by_client_id_finds_the_order_and_none_for_an_unknown_id(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    placed = await gateway.create_order(market_buy(BTC, "0.002", "sh-2-1-entry"))

    found = await gateway.fetch_order_by_client_id(BTC, "sh-2-1-entry")

    assert found is not None and (found.id, found.filled) == (placed.id, Decimal("0.002"))
    assert await gateway.fetch_order_by_client_id(BTC, "sh-2-1-nothing") is None
    assert fake_binance.requests[("GET", "/api/v3/order")] == 2
    await gateway.close()


@pytest.mark.parametrize(("market_type", "symbol", "path"), [
    ("spot", BTC, "/api/v3/order"), ("linear", BTC_PERP, "/fapi/v1/order")])
async def test_a_duplicate_client_id_returns_the_existing_order_and_fills_once(
        fake_binance: FakeBinance, market_type: str, symbol: str, path: str) -> None:
    gateway = await gateway_for(fake_binance, market_type)
    first = await gateway.create_order(market_buy(symbol, "0.01", "sh-3-1-entry"))
    equity = await gateway.fetch_equity("USDT")

    again = await gateway.create_order(market_buy(symbol, "0.01", "sh-3-1-entry"))

    assert again.id == first.id and again.filled == first.filled
    assert fake_binance.order_posts["sh-3-1-entry"] == 2
    assert fake_binance.orders_created("sh-3-1-entry") == 1
    assert await gateway.fetch_equity("USDT") == equity
    await gateway.close()


async def test_futures_stop_loss_is_a_reduce_only_stop_market_algo_order(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance, "linear")
    await gateway.create_order(market_buy(BTC_PERP, "0.01", "sh-4-1-entry"))
    stop = load_candles(DATA / "BTC_USDT-1h.csv")[-30].low.quantize(Decimal("0.1"))
    assert gateway.supports_stop_orders and gateway.stop_order_type(BTC_PERP) == "STOP_MARKET"

    ack = await gateway.create_order(OrderRequest(BTC_PERP, "sell", "stop_market",
                                                  Decimal("0.01"), "sh-4-1-stop",
                                                  stop_price=stop, reduce_only=True))

    stored = fake_binance.order("sh-4-1-stop")
    assert stored is not None and stored["orderType"] == "STOP_MARKET"
    assert stored["reduceOnly"] is True and Decimal(stored["triggerPrice"]) == stop
    assert (ack.type, ack.status) == ("stop_market", "open")
    found = await gateway.fetch_order_by_client_id(BTC_PERP, "sh-4-1-stop")
    assert found is not None and found.id == ack.id
    cancelled = await gateway.cancel_order(BTC_PERP, "sh-4-1-stop")
    assert cancelled is not None and cancelled.status == "canceled"
    assert await gateway.cancel_order(BTC_PERP, "sh-4-1-never") is None
    await gateway.close()


async def test_linear_entry_sets_its_leverage_once_before_the_order(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance, "linear")
    # 0.2 BTC at the last real close (~67k) is ~13.4k USDT: more than the 10k wallet at
    # 1x, within it at 2x.
    with pytest.raises(PermanentError, match="Margin is insufficient"):
        await gateway.create_order(OrderRequest(BTC_PERP, "buy", "market", Decimal("0.2"),
                                                "sh20u1entry", leverage=1))
    assert fake_binance.leverage_calls == [(API_KEY, "BTCUSDT", 1)]
    await gateway.create_order(OrderRequest(BTC_PERP, "buy", "market", Decimal("0.2"),
                                            "sh21u1entry", leverage=2))
    assert fake_binance.order_leverage["sh21u1entry"] == 2
    await gateway.create_order(OrderRequest(BTC_PERP, "buy", "market", Decimal("0.01"),
                                            "sh22u1entry", leverage=2))
    await gateway.create_order(OrderRequest(BTC_PERP, "sell", "market", Decimal("0.01"),
                                            "sh22u1close", reduce_only=True, leverage=9))
    # Set once per (account, symbol, leverage); exits never change it.
    assert fake_binance.leverage_calls == [(API_KEY, "BTCUSDT", 1), (API_KEY, "BTCUSDT", 2)]
    [risk] = await gateway.exchange.fapiPrivateV3GetPositionRisk({"symbol": "BTCUSDT"})
    assert (risk["leverage"], risk["positionAmt"]) == ("2", "0.2")
    await gateway.close()


async def test_refused_leverage_fails_the_order_with_the_exchange_message(
        fake_binance: FakeBinance) -> None:
    fake_binance.max_leverage["BTCUSDT"] = 50  # as Binance caps some accounts
    gateway = await gateway_for(fake_binance, "linear")
    with pytest.raises(PermanentError, match="Leverage 75 is not valid"):
        await gateway.create_order(OrderRequest(BTC_PERP, "buy", "market", Decimal("0.01"),
                                                "sh23u1entry", leverage=75))
    with pytest.raises(InvalidInput, match="1-125x"):
        await gateway.create_order(OrderRequest(BTC_PERP, "buy", "market", Decimal("0.01"),
                                                "sh23u1entry", leverage=200))
    assert fake_binance.leverage_calls == [] and fake_binance.orders_created("sh23u1entry") == 0
    spot = await gateway_for(fake_binance)  # spot ignores leverage: nothing to set
    await spot.create_order(OrderRequest(BTC, "buy", "market", Decimal("0.001"),
                                         "sh24u1entry", leverage=5))
    assert fake_binance.leverage_calls == [] and fake_binance.orders_created("sh24u1entry") == 1
    await gateway.close()
    await spot.close()


async def test_spot_stop_loss_is_a_stop_loss_limit_order_below_the_trigger(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    await gateway.create_order(market_buy(BTC, "0.01", "sh-5-1-entry"))
    stop = load_candles(DATA / "BTC_USDT-1h.csv")[-30].low

    ack = await gateway.create_order(OrderRequest(BTC, "sell", "stop_market",
                                                  Decimal("0.009"), "sh-5-1-stop",
                                                  stop_price=stop))

    stored = fake_binance.order("sh-5-1-stop")
    assert stored is not None and stored["type"] == "STOP_LOSS_LIMIT"
    assert Decimal(stored["stopPrice"]) == stop
    assert Decimal(stored["price"]) == (stop * Decimal("0.995")).quantize(Decimal("0.01"))
    assert ack.status == "open" and ack.type == "stop_limit"
    await gateway.close()


async def test_reduce_only_without_a_position_is_rejected_permanently(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance, "linear")
    with pytest.raises(PermanentError, match="ReduceOnly Order is rejected"):
        await gateway.create_order(OrderRequest(BTC_PERP, "sell", "market", Decimal("0.01"),
                                                "sh-6-1-exit", reduce_only=True))
    await gateway.close()


async def test_check_account_reads_balances_and_the_withdrawal_permission(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    check = await gateway.check_account()
    assert check.balances == {"USDT": Decimal("10000")} and check.withdrawals_enabled is False

    fake_binance.accounts[API_KEY].enable_withdrawals = True
    assert (await gateway.check_account()).withdrawals_enabled is True
    assert fake_binance.requests[("GET", "/sapi/v1/account/apiRestrictions")] == 2
    await gateway.close()


@pytest.mark.parametrize(("credentials", "code"), [
    (ExchangeCredentials("x" * 64, SECRET), "-2015"),
    (ExchangeCredentials(API_KEY, "y" * 64), "-1022"),
    (ExchangeCredentials("short", SECRET), "-2014"),
])
async def test_a_bad_key_or_secret_is_credentials_rejected(
        fake_binance: FakeBinance, credentials: ExchangeCredentials, code: str) -> None:
    gateway = await gateway_for(fake_binance, credentials=credentials)
    with pytest.raises(CredentialsRejected, match=code) as caught:
        await gateway.check_account()
    assert credentials.secret not in caught.value.message
    assert API_KEY not in caught.value.message
    await gateway.close()


async def test_rate_limit_is_retryable_with_retry_after(fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    fake_binance.fail_next("rate_limit", retry_after=3)
    with pytest.raises(RetryableError) as caught:
        await gateway.create_order(market_buy(BTC, "0.001", "sh-7-1-entry"))
    assert not isinstance(caught.value, OrderStatusUnknown)
    assert caught.value.retry_after == 3.0
    assert fake_binance.orders_created("sh-7-1-entry") == 0
    await gateway.close()


async def test_maintenance_is_retryable_and_not_an_unknown_status(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    fake_binance.fail_next("maintenance")
    with pytest.raises(RetryableError, match="maintenance") as caught:
        await gateway.create_order(market_buy(BTC, "0.001", "sh-8-1-entry"))
    assert not isinstance(caught.value, OrderStatusUnknown)
    await gateway.close()


async def test_a_backend_timeout_leaves_the_order_status_unknown(
        fake_binance: FakeBinance) -> None:
    gateway = await gateway_for(fake_binance)
    fake_binance.fail_next("backend_timeout")
    with pytest.raises(OrderStatusUnknown):
        await gateway.create_order(market_buy(BTC, "0.001", "sh-9-1-entry"))
    assert await gateway.fetch_order_by_client_id(BTC, "sh-9-1-entry") is None
    await gateway.close()


async def test_insufficient_funds_and_filter_failures_are_permanent_with_the_message(
        fake_binance: FakeBinance) -> None:
    spot = await gateway_for(fake_binance)
    perp = await gateway_for(fake_binance, "linear", account_id=2)
    with pytest.raises(PermanentError, match="insufficient balance"):
        await spot.create_order(market_buy(BTC, "1", "sh-10-1-entry"))
    fake_binance.fail_next("insufficient_balance")
    with pytest.raises(PermanentError, match="insufficient balance"):
        await spot.create_order(market_buy(BTC, "0.001", "sh-10-2-entry"))
    with pytest.raises(PermanentError, match="NOTIONAL"):
        await spot.create_order(market_buy(BTC, "0.00001", "sh-10-3-entry"))
    with pytest.raises(PermanentError, match="-4164"):
        await perp.create_order(market_buy("ETH/USDT:USDT", "0.001", "sh-10-4-entry"))
    with pytest.raises(InvalidInput, match="symbol"):
        await spot.create_order(market_buy(BTC_PERP, "0.001", "sh-10-5-entry"))
    with pytest.raises(PermanentError, match="-1100"):
        await spot.create_order(market_buy(BTC, "0.001", "sh 10 6 entry"))
    with pytest.raises(PermanentError, match="-4015"):
        await perp.create_order(market_buy(BTC_PERP, "0.01", "x" * 37))
    assert sum(fake_binance.orders_created(f"sh-10-{i}-entry") for i in range(1, 6)) == 0
    await spot.close()
    await perp.close()


@pytest.mark.parametrize("fault", ["timeout_after_accept", "drop_after_accept"])
async def test_no_answer_after_the_order_was_accepted_then_lookup_finds_it(
        fake_binance: FakeBinance, fault: str) -> None:
    fake_binance.hang_s = 3.0
    gateway = await gateway_for(fake_binance, timeout_ms=300)
    fake_binance.fail_next(fault)

    with pytest.raises(OrderStatusUnknown):
        await gateway.create_order(market_buy(BTC, "0.001", "sh-11-1-entry"))

    found = await gateway.fetch_order_by_client_id(BTC, "sh-11-1-entry")
    assert found is not None and found.status == "closed"
    again = await gateway.create_order(market_buy(BTC, "0.001", "sh-11-1-entry"))
    assert again.id == found.id and fake_binance.orders_created("sh-11-1-entry") == 1
    await gateway.close()


async def test_market_rules_come_from_the_markets_with_real_tick_sizes(
        fake_binance: FakeBinance) -> None:
    spot = await gateway_for(fake_binance)
    perp = await gateway_for(fake_binance, "linear", account_id=2)

    btc, sol_perp = await spot.market(BTC), await perp.market("SOL/USDT:USDT")

    assert (btc.amount_step, btc.price_step, btc.min_amount, btc.min_notional) == (
        Decimal("0.00001"), Decimal("0.01"), Decimal("0.00001"), Decimal("5"))
    assert (sol_perp.amount_step, sol_perp.price_step, sol_perp.linear) == (
        Decimal("1"), Decimal("0.01"), True)
    with pytest.raises(InvalidInput, match="not a linear market"):
        await perp.market(BTC)
    await spot.close()
    await perp.close()


async def test_offline_pool_uses_the_shipped_snapshot_without_any_request(
        fake_binance: FakeBinance) -> None:
    pool = GatewayPool(None, "test", offline=True)
    gateway = await pool.gateway(1, spec_for(fake_binance), ExchangeCredentials(API_KEY, SECRET))

    other = await pool.gateway(2, spec_for(fake_binance), ExchangeCredentials("k" * 64, SECRET))

    rules = await gateway.market("ETH/USDT")
    assert (rules.amount_step, rules.min_notional) == (Decimal("0.0001"), Decimal("5"))
    assert other.exchange is not gateway.exchange
    assert other.exchange.markets is gateway.exchange.markets  # shared, not copied
    assert sum(fake_binance.requests.values()) == 0
    await pool.close()


async def test_the_shipped_snapshots_are_what_ccxt_makes_of_the_fakes_exchange_info(
        fake_binance: FakeBinance, tmp_path) -> None:  # noqa: ANN001
    for market_type in ("spot", "linear"):
        fresh = await save_snapshot(spec_for(fake_binance, market_type),
                                    tmp_path / f"{market_type}.json")
        assert json.loads(fresh.read_text()) == json.loads(
            snapshot_path("binance", market_type).read_text())
    symbols = {m["symbol"] for m in load_snapshot("binance", "spot") or []}
    symbols |= {m["symbol"] for m in load_snapshot("binance", "linear") or []}
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT",
            "SOL/USDT:USDT"} <= symbols


async def test_markets_are_cached_in_redis_for_every_process(
        fake_binance: FakeBinance, redis: Redis, namespace: str) -> None:
    first, second = GatewayPool(redis, namespace), GatewayPool(redis, namespace)
    spec = spec_for(fake_binance)

    await first.gateway(1, spec, ExchangeCredentials(API_KEY, SECRET))
    await second.gateway(2, spec, ExchangeCredentials(API_KEY, SECRET))

    assert fake_binance.requests[("GET", "/api/v3/exchangeInfo")] == 1
    assert await redis.ttl(f"{namespace}:markets:{spec.markets_key}") > 86_000
    await first.close()
    await second.close()


async def test_the_rate_limiter_is_shared_and_a_429_holds_the_account_back(
        fake_binance: FakeBinance, redis: Redis, namespace: str) -> None:
    pool = GatewayPool(redis, namespace, account_rate=5.0, account_burst=0)
    other_process = GatewayPool(redis, namespace, account_rate=5.0, account_burst=0)
    gateway = await pool.gateway(7, spec_for(fake_binance), ExchangeCredentials(API_KEY, SECRET))
    await gateway.create_order(market_buy(BTC, "0.001", "sh-12-1-entry"))

    limiter = other_process.limiter("binance")
    assert limiter is not None and await limiter.reserve(7) > 0

    fake_binance.fail_next("rate_limit", retry_after=30)
    with pytest.raises(RetryableError):
        await gateway.create_order(market_buy(BTC, "0.001", "sh-12-2-entry"))
    await gateway.close()
    waited = await redis.get(f"{namespace}:ratelimit:exchange:binance:chat:7")
    assert waited is not None and await limiter.reserve(7) > 20
    await pool.close()


def test_unknown_exchange_ids_are_refused() -> None:
    assert check_exchange_id("bybit") == "bybit"
    with pytest.raises(InvalidInput, match="'binanse' is not a ccxt exchange id"):
        check_exchange_id("binanse")
    with pytest.raises(InvalidInput):
        ExchangeSpec("nope").markets_key and check_exchange_id("nope")


async def test_the_exchange_limiter_lets_a_burst_through_then_spaces_requests(
        redis: Redis, namespace: str) -> None:
    pool = GatewayPool(redis, f"{namespace}:burst", account_rate=2.0, account_burst=3,
                       exchange_rate=1000.0)
    limiter = pool.limiter("binance")
    assert limiter is not None

    waits = [await limiter.reserve(11) for _ in range(5)]

    assert waits[:4] == [0.0, 0.0, 0.0, 0.0]  # one slot + a burst of 3
    assert waits[4] > 0.3  # then 1 / 2 s apart (0.5 s, less the time spent above)


async def test_fills_and_cancels_made_on_the_exchange_show_in_lookups(
        fake_binance: FakeBinance) -> None:
    spot = await gateway_for(fake_binance)
    perp = await gateway_for(fake_binance, "linear", account_id=2)
    candle = load_candles(DATA / "BTC_USDT-1h.csv")[-50]
    limit = await spot.create_order(OrderRequest(BTC, "buy", "limit", Decimal("0.002"),
                                                 "sh-13-1-entry", price=candle.low))
    await perp.create_order(market_buy(BTC_PERP, "0.01", "sh-13-2-entry"))
    stop = candle.low.quantize(Decimal("0.1"))
    await perp.create_order(OrderRequest(BTC_PERP, "sell", "stop_market", Decimal("0.01"),
                                         "sh-13-2-stop", stop_price=stop, reduce_only=True))
    assert limit.status == "open" and limit.filled == 0

    fake_binance.fill_on_exchange("sh-13-1-entry", Decimal("0.001"))
    half = await spot.fetch_order_by_client_id(BTC, "sh-13-1-entry")
    fake_binance.fill_on_exchange("sh-13-1-entry")
    full = await spot.fetch_order_by_client_id(BTC, "sh-13-1-entry")
    fake_binance.fill_on_exchange("sh-13-2-stop", price=stop)
    triggered = await perp.fetch_order_by_client_id(BTC_PERP, "sh-13-2-stop")

    assert half is not None and (half.status, half.filled) == ("open", Decimal("0.001"))
    assert full is not None and (full.status, full.filled, full.average) == (
        "closed", Decimal("0.002"), candle.low)
    assert triggered is not None and triggered.status == "closed"
    assert fake_binance.accounts[API_KEY].positions["BTCUSDT"] == 0
    await spot.close()
    await perp.close()


async def test_a_linear_fill_carries_its_commission_from_user_trades(
        fake_binance: FakeBinance) -> None:
    # Close of the BTC/USDT 1h candle of 2026-02-14 04:00 UTC (68,790).
    close = fake_binance.set_price_from_candle("BTCUSDT", -120)
    gateway = await gateway_for(fake_binance, "linear")

    ack = await gateway.create_order(market_buy(BTC_PERP, "0.01", "sh30u1entry"))

    # 0.04% taker of 0.01 x 68,790 = 0.27516 USDT, which the order answer does not carry.
    assert (ack.status, ack.filled, ack.average) == ("closed", Decimal("0.01"), close)
    assert (ack.fee, ack.fee_currency) == (Decimal("0.27516"), "USDT")
    assert ack.fee == Decimal("0.01") * close * FUTURES_TAKER
    assert fake_binance.requests[("GET", "/fapi/v1/userTrades")] == 1
    found = await gateway.fetch_order_by_client_id(BTC_PERP, "sh30u1entry")
    assert found is not None and (found.fee, found.fee_currency) == (ack.fee, "USDT")
    await gateway.close()


async def test_a_spot_order_found_by_lookup_carries_its_commission_from_my_trades(
        fake_binance: FakeBinance) -> None:
    # Close of the BTC/USDT 1h candle of 2026-02-17 12:00 UTC (67,919.49).
    close = fake_binance.set_price_from_candle("BTCUSDT", -40)
    fake_binance.hang_s = 3.0
    gateway = await gateway_for(fake_binance, timeout_ms=300)
    fake_binance.fail_next("timeout_after_accept")
    with pytest.raises(OrderStatusUnknown):
        await gateway.create_order(market_buy(BTC, "0.002", "sh31u1entry"))

    found = await gateway.fetch_order_by_client_id(BTC, "sh31u1entry")

    # Binance took 0.1% of the 0.002 BTC bought, in BTC: the position holds 0.001998.
    assert found is not None and (found.status, found.average) == ("closed", close)
    assert (found.fee, found.fee_currency) == (Decimal("0.000002"), "BTC")
    assert net_fill(found) == (Decimal("0.001998"), money(Decimal("0.000002") * close))
    assert fake_binance.requests[("GET", "/api/v3/myTrades")] == 1
    await gateway.close()


@pytest.mark.parametrize(("market_type", "fault", "path"), [
    ("linear", "server_error", "/fapi/v1/userTrades"),
    ("spot", "timeout_after_accept", "/api/v3/myTrades")])
async def test_a_failed_trades_call_keeps_the_ack_without_a_fee_and_does_not_raise(
        fake_binance: FakeBinance, caplog: pytest.LogCaptureFixture, market_type: str,
        fault: str, path: str) -> None:
    fake_binance.hang_s = 3.0
    gateway = await gateway_for(fake_binance, market_type, timeout_ms=300)
    symbol = BTC_PERP if market_type == "linear" else BTC
    if market_type == "spot":  # the spot order answer has its fills: no trades call
        await gateway.create_order(market_buy(symbol, "0.002", "sh32u1entry"))
    fake_binance.fail_next(fault, endpoint="trades")

    with caplog.at_level(logging.INFO, logger="integrations.exchange_ccxt"):
        if market_type == "linear":
            ack = await gateway.create_order(market_buy(symbol, "0.002", "sh32u1entry"))
        else:
            found = await gateway.fetch_order_by_client_id(symbol, "sh32u1entry")
            assert found is not None
            ack = found

    assert (ack.status, ack.filled, ack.fee, ack.fee_currency) == (
        "closed", Decimal("0.002"), None, None)
    assert fake_binance.requests[("GET", path)] == 1 and not fake_binance.faults
    assert fake_binance.order_posts["sh32u1entry"] == 1
    assert fake_binance.orders_created("sh32u1entry") == 1
    [record] = [r for r in caplog.records if "kept without its fee" in r.getMessage()]
    assert record.levelno == logging.INFO and "sh32u1entry" in record.getMessage()
    await gateway.close()

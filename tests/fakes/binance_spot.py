"""Spot endpoints of the fake Binance (``/api/v3``, ``/sapi/v1``), a mixin that
``tests.fakes.binance_api.FakeBinance`` composes: ``exchangeInfo``, ``order`` (POST, GET,
DELETE), ``openOrders``, ``account``, ``myTrades`` and ``account/apiRestrictions``.

MARKET orders fill at once at the symbol's price with the taker commission (0.1% in the
asset received, as Binance charges without BNB); LIMIT orders rest with their amount
locked. Errors are Binance's (see ``tests.fakes.binance_api``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from tests.fakes.binance_checks import (
    BinanceError,
    FakeAccount,
    OrderChecks,
    fmt,
    now_ms,
    trades_answer,
)
from tests.fakes.binance_markets import spot_exchange_info
from tests.fakes.binance_trades import spot_trade

SPOT_TAKER = Decimal("0.001")
SPOT_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")


class SpotEndpoints(OrderChecks):
    """Spot handlers ``(self, account, params) -> JSON``; the host supplies the state below."""

    prices: dict[str, Decimal]  # market id -> price MARKET orders fill at
    order_posts: Counter[str]
    _ids: Iterator[int]
    _trade_ids: Iterator[int]
    _spot: dict[str, dict[str, Any]]  # market id -> filters

    def _spot_info(self, account: None, params: dict[str, str]) -> Any:
        return spot_exchange_info(now_ms())

    def _spot_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._spot)
        client_id = params.get("newClientOrderId") or f"web_{next(self._ids)}"
        if not SPOT_CLIENT_ID.match(client_id):
            raise BinanceError(400, -1100, "Illegal characters found in parameter "
                                           "'newClientOrderId'; legal range is "
                                           "'^[a-zA-Z0-9-_]{1,36}$'.")
        self.order_posts[client_id] += 1
        if ("spot", client_id) in account.orders:
            raise BinanceError(400, -2010, "Duplicate order sent.")
        kind, side = params.get("type", ""), params.get("side", "")
        if kind not in ("MARKET", "LIMIT", "STOP_LOSS_LIMIT", "LIMIT_MAKER"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters)
        price = self._limit_price(params, filters, kind != "MARKET")
        last = self.prices[symbol]
        _check_notional(qty * (price or last), filters["NOTIONAL"])
        base = symbol.removesuffix("USDT")
        if kind == "MARKET":
            return self._spot_fill(account, symbol, base, side, qty, client_id, params)
        return self._spot_rest(account, symbol, base, side, kind, qty, price, client_id, params)

    def _spot_fill(self, account: FakeAccount, symbol: str, base: str, side: str, qty: Decimal,
                   client_id: str, params: dict[str, str]) -> Any:
        price = self.prices[symbol]
        quote_qty = qty * price
        pay, pay_amount, get, get_amount = (("USDT", quote_qty, base, qty) if side == "BUY"
                                            else (base, qty, "USDT", quote_qty))
        if account.spot_free.get(pay, Decimal(0)) < pay_amount:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested "
                                           "action.")
        commission = get_amount * SPOT_TAKER
        account.spot_free[pay] -= pay_amount
        account.spot_free[get] = account.spot_free.get(get, Decimal(0)) + get_amount - commission
        order = self._spot_order(symbol, client_id, side, "MARKET", qty, Decimal(0), "FILLED",
                                 qty, quote_qty)
        account.orders[("spot", client_id)] = order
        trade = spot_trade(next(self._trade_ids), order, qty, price, commission, get,
                           order["time"])
        account.trades["spot"].append(trade)
        fill = {"price": trade["price"], "qty": trade["qty"],
                "commission": trade["commission"], "commissionAsset": get,
                "tradeId": trade["id"]}
        return {**_spot_ack(order, params), "fills": [fill]}

    def _spot_rest(self, account: FakeAccount, symbol: str, base: str, side: str, kind: str,
                   qty: Decimal, price: Decimal | None, client_id: str,
                   params: dict[str, str]) -> Any:
        assert price is not None
        lock, amount = ("USDT", qty * price) if side == "BUY" else (base, qty)
        if account.spot_free.get(lock, Decimal(0)) < amount:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested "
                                           "action.")
        account.spot_free[lock] -= amount
        account.spot_locked[lock] = account.spot_locked.get(lock, Decimal(0)) + amount
        order = self._spot_order(symbol, client_id, side, kind, qty, price, "NEW",
                                 Decimal(0), Decimal(0))
        if "stopPrice" in params:
            order["stopPrice"] = params["stopPrice"]
        account.orders[("spot", client_id)] = order
        return {**_spot_ack(order, params), "fills": []}

    def _spot_order(self, symbol: str, client_id: str, side: str, kind: str, qty: Decimal,
                    price: Decimal, status: str, executed: Decimal, quote: Decimal
                    ) -> dict[str, Any]:
        now = now_ms()
        return {"symbol": symbol, "orderId": next(self._ids), "orderListId": -1,
                "clientOrderId": client_id, "price": fmt(price), "origQty": fmt(qty),
                "executedQty": fmt(executed), "cummulativeQuoteQty": fmt(quote),
                "status": status, "timeInForce": "GTC", "type": kind, "side": side,
                "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": now,
                "updateTime": now, "isWorking": True, "workingTime": now,
                "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER"}

    def _spot_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "spot", params)

    def _spot_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "spot", params)
        if order["status"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        base = order["symbol"].removesuffix("USDT")
        qty, price = Decimal(order["origQty"]), Decimal(order["price"])
        lock, amount = ("USDT", qty * price) if order["side"] == "BUY" else (base, qty)
        account.spot_locked[lock] -= amount
        account.spot_free[lock] = account.spot_free.get(lock, Decimal(0)) + amount
        order.update(status="CANCELED", updateTime=now_ms())
        return {**order, "origClientOrderId": order["clientOrderId"]}

    def _spot_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "spot"
                and o["status"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _spot_trades(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return trades_answer(account, "spot", params)

    def _spot_account(self, account: FakeAccount, params: dict[str, str]) -> Any:
        assets = sorted(set(account.spot_free) | set(account.spot_locked))
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": account.enable_withdrawals, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": now_ms(), "accountType": "SPOT",
            "balances": [{"asset": a, "free": fmt(account.spot_free.get(a, Decimal(0))),
                          "locked": fmt(account.spot_locked.get(a, Decimal(0)))}
                         for a in assets],
            "permissions": ["SPOT"], "uid": 354937868,
        }

    def _api_restrictions(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return {"ipRestrict": False, "createTime": 1698645219000, "enableReading": True,
                "enableWithdrawals": account.enable_withdrawals,
                "enableInternalTransfer": False, "enableMargin": False, "enableFutures": True,
                "permitsUniversalTransfer": False, "enableVanillaOptions": False,
                "enableFixApiTrade": False, "enableFixReadOnly": False,
                "enableSpotAndMarginTrading": True, "enablePortfolioMarginTrading": False}

    def _spot_settle(self, account: FakeAccount, order: dict[str, Any], qty: Decimal,
                     limit: Decimal, fill: Decimal) -> None:
        base = order["symbol"].removesuffix("USDT")
        if order["side"] == "BUY":
            account.spot_locked["USDT"] -= qty * limit
            account.spot_free["USDT"] = account.spot_free.get("USDT", Decimal(0)) + qty * (
                limit - fill)
            account.spot_free[base] = (account.spot_free.get(base, Decimal(0))
                                       + qty * (1 - SPOT_TAKER))
            commission, asset = qty * SPOT_TAKER, base
        else:
            account.spot_locked[base] -= qty
            account.spot_free["USDT"] = (account.spot_free.get("USDT", Decimal(0))
                                         + qty * fill * (1 - SPOT_TAKER))
            commission, asset = qty * fill * SPOT_TAKER, "USDT"
        account.trades["spot"].append(spot_trade(next(self._trade_ids), order, qty, fill,
                                                 commission, asset, now_ms()))


def _check_notional(notional: Decimal, rule: dict[str, Any]) -> None:
    if notional < Decimal(rule["minNotional"]):
        raise BinanceError(400, -1013, "Filter failure: NOTIONAL")


def _spot_ack(order: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    keys = ("symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty",
            "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce",
            "type", "side", "workingTime", "selfTradePreventionMode")
    ack = {k: order[k] for k in keys}
    ack["transactTime"] = order["time"]
    if "stopPrice" in params:
        ack["stopPrice"] = params["stopPrice"]
    return ack


SPOT_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", "/api/v3/exchangeInfo"): (SpotEndpoints._spot_info, False),
    ("POST", "/api/v3/order"): (SpotEndpoints._spot_new_order, True),
    ("GET", "/api/v3/order"): (SpotEndpoints._spot_get_order, True),
    ("DELETE", "/api/v3/order"): (SpotEndpoints._spot_cancel, True),
    ("GET", "/api/v3/openOrders"): (SpotEndpoints._spot_open_orders, True),
    ("GET", "/api/v3/account"): (SpotEndpoints._spot_account, True),
    ("GET", "/api/v3/myTrades"): (SpotEndpoints._spot_trades, True),
    ("GET", "/sapi/v1/account/apiRestrictions"): (SpotEndpoints._api_restrictions, True),
}

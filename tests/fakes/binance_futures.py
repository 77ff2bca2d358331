"""USDⓈ-M futures endpoints of the fake Binance (``/fapi``), a mixin that
``tests.fakes.binance_api.FakeBinance`` composes: ``v1/exchangeInfo``, ``v1/order`` (POST,
GET, DELETE), ``v1/openOrders``, ``v1/userTrades``, ``v1/leverage``, ``v1/algoOrder``
(conditional STOP_MARKET / TAKE_PROFIT_MARKET with ``triggerPrice``), ``v1/openAlgoOrders``,
``v2/balance``, ``v2/account``, ``v3/account``, ``v2/positionRisk``, ``v3/positionRisk``.

MARKET orders fill at once at the symbol's price with the taker commission (0.04% of the
quote notional, taken from the wallet and not reported in the order response, as on
Binance). Margin checks and positionRisk use the symbol's leverage (Binance's default
20x until ``POST v1/leverage`` sets it). Errors are Binance's (see
``tests.fakes.binance_api``).
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
    on_step,
    trades_answer,
)
from tests.fakes.binance_markets import futures_exchange_info
from tests.fakes.binance_trades import futures_trade

FUTURES_TAKER = Decimal("0.0004")
DEFAULT_LEVERAGE = 20  # Binance's initial leverage of a symbol never set
MAX_NOTIONAL = "1000000"  # maxNotionalValue of Binance's documented example answer
FUTURES_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


class FuturesEndpoints(OrderChecks):
    """USDⓈ-M handlers ``(self, account, params) -> JSON``; the host supplies the state
    below."""

    prices: dict[str, Decimal]  # market id -> price MARKET orders fill at
    order_posts: Counter[str]
    max_leverage: dict[str, int]
    leverage_calls: list[tuple[str, str, int]]  # (api key, symbol, leverage)
    order_leverage: dict[str, int]  # futures client id -> leverage checked at
    _ids: Iterator[int]
    _trade_ids: Iterator[int]
    _futures: dict[str, dict[str, Any]]  # market id -> filters

    def _futures_info(self, account: None, params: dict[str, str]) -> Any:
        return futures_exchange_info(now_ms())

    def _futures_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._futures)
        client_id = params.get("newClientOrderId") or f"web_{next(self._ids)}"
        if not FUTURES_CLIENT_ID.match(client_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        self.order_posts[client_id] += 1
        if ("futures", client_id) in account.orders:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        kind, side = params.get("type", ""), params.get("side", "")
        if kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT",
                    "TRAILING_STOP_MARKET"):
            raise BinanceError(400, -4120, "Order type not supported for this endpoint. "
                                           "Please use the Algo Order API endpoints instead.")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters, futures=True)
        price = self._limit_price(params, filters, kind == "LIMIT")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        self._check_futures(account, symbol, side, qty, price, filters, reduce_only)
        if not reduce_only:
            self.order_leverage[client_id] = account.leverage.get(symbol, DEFAULT_LEVERAGE)
        status, executed = ("FILLED", qty) if kind == "MARKET" else ("NEW", Decimal(0))
        fill_price = self.prices[symbol] if kind == "MARKET" else Decimal(0)
        order = self._futures_order(symbol, client_id, side, kind, qty, price or Decimal(0),
                                    status, executed, fill_price, reduce_only)
        if kind == "MARKET":
            self._apply_futures_fill(account, symbol, side, qty, fill_price, order["orderId"])
        account.orders[("futures", client_id)] = order
        return order

    def _check_futures(self, account: FakeAccount, symbol: str, side: str, qty: Decimal,
                       price: Decimal | None, filters: dict[str, Any], reduce_only: bool) -> None:
        position = account.positions.get(symbol, Decimal(0))
        signed = qty if side == "BUY" else -qty
        if reduce_only:
            if position == 0 or (position > 0) == (signed > 0) or abs(signed) > abs(position):
                raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")
            return
        notional = qty * (price or self.prices[symbol])
        minimum = Decimal(filters["MIN_NOTIONAL"]["notional"])
        if notional < minimum:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than "
                                           f"{minimum} (unless you choose reduce only).")
        if notional / account.leverage.get(symbol, DEFAULT_LEVERAGE) > self._available_margin(
                account):
            raise BinanceError(400, -2019, "Margin is insufficient.")

    def _available_margin(self, account: FakeAccount) -> Decimal:
        used = sum((abs(q) * self.prices[s] / account.leverage.get(s, DEFAULT_LEVERAGE)
                    for s, q in account.positions.items()), Decimal(0))
        return account.futures_wallet - used

    def _set_leverage(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, _ = self._symbol(params, self._futures)
        raw = params.get("leverage", "")
        if not re.fullmatch(r"[0-9]{1,20}", raw):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'leverage'; "
                                           "legal range is '^[0-9]{1,20}$'.")
        leverage = int(raw)
        if not 1 <= leverage <= self.max_leverage[symbol]:
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        account.leverage[symbol] = leverage
        self.leverage_calls.append((account.api_key, symbol, leverage))
        return {"leverage": leverage, "maxNotionalValue": MAX_NOTIONAL, "symbol": symbol}

    def _apply_futures_fill(self, account: FakeAccount, symbol: str, side: str, qty: Decimal,
                            price: Decimal, order_id: int) -> None:
        signed = qty if side == "BUY" else -qty
        commission = qty * price * FUTURES_TAKER
        account.positions[symbol] = account.positions.get(symbol, Decimal(0)) + signed
        account.futures_wallet -= commission
        account.trades["futures"].append(futures_trade(
            next(self._trade_ids), order_id, symbol, side, qty, price, commission, now_ms()))

    def _futures_order(self, symbol: str, client_id: str, side: str, kind: str, qty: Decimal,
                       price: Decimal, status: str, executed: Decimal, avg: Decimal,
                       reduce_only: bool) -> dict[str, Any]:
        return {"orderId": next(self._ids), "symbol": symbol, "status": status,
                "clientOrderId": client_id, "price": fmt(price), "avgPrice": fmt(avg),
                "origQty": fmt(qty), "executedQty": fmt(executed),
                "cumQty": fmt(executed), "cumQuote": fmt(executed * avg),
                "timeInForce": "GTC", "type": kind, "reduceOnly": reduce_only,
                "closePosition": False, "side": side, "positionSide": "BOTH",
                "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "origType": kind, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
                "goodTillDate": 0, "updateTime": now_ms()}

    def _futures_trades(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return trades_answer(account, "futures", params)

    def _futures_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "futures", params)

    def _futures_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "futures", params)
        if order["status"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.update(status="CANCELED", updateTime=now_ms())
        return order

    def _futures_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "futures"
                and o["status"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _algo_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._futures)
        client_id = params.get("clientAlgoId") or f"algo_{next(self._ids)}"
        if not FUTURES_CLIENT_ID.match(client_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        self.order_posts[client_id] += 1
        if ("algo", client_id) in account.orders:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        kind = params.get("type", "")
        if params.get("algoType") != "CONDITIONAL" or kind not in (
                "STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters, futures=True)
        trigger = Decimal(params.get("triggerPrice", "0"))
        if trigger <= 0 or not on_step(trigger, Decimal(filters["PRICE_FILTER"]["tickSize"])):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this "
                                           "asset.")
        now = now_ms()
        order = {"algoId": next(self._ids), "clientAlgoId": client_id, "algoType": "CONDITIONAL",
                 "orderType": kind, "symbol": symbol, "side": params.get("side"),
                 "positionSide": "BOTH", "timeInForce": "GTC", "quantity": fmt(qty),
                 "algoStatus": "NEW", "triggerPrice": fmt(trigger), "price": "0",
                 "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
                 "workingType": "CONTRACT_PRICE", "priceMatch": "NONE", "closePosition": False,
                 "priceProtect": False,
                 "reduceOnly": params.get("reduceOnly", "false").lower() == "true",
                 "createTime": now, "updateTime": now, "triggerTime": 0, "goodTillDate": 0}
        account.orders[("algo", client_id)] = order
        return order

    def _algo_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "algo", params)

    def _algo_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "algo", params)
        if order["algoStatus"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.update(algoStatus="CANCELED", updateTime=now_ms())
        return {"algoId": order["algoId"], "clientAlgoId": order["clientAlgoId"],
                "code": "200", "msg": "success"}

    def _algo_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "algo"
                and o["algoStatus"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _futures_assets(self, account: FakeAccount) -> list[dict[str, Any]]:
        unrealized = self._unrealized(account)
        wallet = account.futures_wallet
        available = self._available_margin(account) + unrealized
        return [{"asset": "USDT", "walletBalance": fmt(wallet),
                 "unrealizedProfit": fmt(unrealized), "marginBalance": fmt(wallet + unrealized),
                 "maintMargin": "0", "initialMargin": fmt(wallet - available + unrealized),
                 "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                 "crossWalletBalance": fmt(wallet), "crossUnPnl": fmt(unrealized),
                 "availableBalance": fmt(available), "maxWithdrawAmount": fmt(available),
                 "marginAvailable": True, "updateTime": now_ms()}]

    def _unrealized(self, account: FakeAccount) -> Decimal:
        # Positions are opened at the fill price; without entry tracking PnL stays 0 here.
        return Decimal(0)

    def _futures_account(self, account: FakeAccount, params: dict[str, str]) -> Any:
        assets = self._futures_assets(account)
        usdt = assets[0]
        return {"totalInitialMargin": usdt["initialMargin"], "totalMaintMargin": "0",
                "totalWalletBalance": usdt["walletBalance"],
                "totalUnrealizedProfit": usdt["unrealizedProfit"],
                "totalMarginBalance": usdt["marginBalance"],
                "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
                "totalCrossWalletBalance": usdt["crossWalletBalance"],
                "totalCrossUnPnl": usdt["crossUnPnl"],
                "availableBalance": usdt["availableBalance"],
                "maxWithdrawAmount": usdt["maxWithdrawAmount"], "canTrade": True,
                "canDeposit": True, "canWithdraw": account.enable_withdrawals,
                "assets": assets, "positions": self._positions(account)}

    def _futures_balance(self, account: FakeAccount, params: dict[str, str]) -> Any:
        usdt = self._futures_assets(account)[0]
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": usdt["walletBalance"],
                 "crossWalletBalance": usdt["crossWalletBalance"],
                 "crossUnPnl": usdt["crossUnPnl"], "availableBalance": usdt["availableBalance"],
                 "maxWithdrawAmount": usdt["maxWithdrawAmount"], "marginAvailable": True,
                 "updateTime": now_ms()}]

    def _positions(self, account: FakeAccount) -> list[dict[str, Any]]:
        return [{"symbol": s, "positionSide": "BOTH", "positionAmt": fmt(q),
                 "entryPrice": fmt(self.prices[s]), "markPrice": fmt(self.prices[s]),
                 "unRealizedProfit": "0", "notional": fmt(q * self.prices[s]),
                 "leverage": str(account.leverage.get(s, DEFAULT_LEVERAGE)),
                 "marginType": "cross", "isolatedMargin": "0",
                 "liquidationPrice": "0", "updateTime": now_ms()}
                for s, q in account.positions.items() if q != 0]

    def _position_risk(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [p for p in self._positions(account)
                if params.get("symbol", p["symbol"]) == p["symbol"]]


FUTURES_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", "/fapi/v1/exchangeInfo"): (FuturesEndpoints._futures_info, False),
    ("POST", "/fapi/v1/order"): (FuturesEndpoints._futures_new_order, True),
    ("GET", "/fapi/v1/order"): (FuturesEndpoints._futures_get_order, True),
    ("DELETE", "/fapi/v1/order"): (FuturesEndpoints._futures_cancel, True),
    ("GET", "/fapi/v1/openOrders"): (FuturesEndpoints._futures_open_orders, True),
    ("GET", "/fapi/v1/userTrades"): (FuturesEndpoints._futures_trades, True),
    ("POST", "/fapi/v1/leverage"): (FuturesEndpoints._set_leverage, True),
    ("POST", "/fapi/v1/algoOrder"): (FuturesEndpoints._algo_new_order, True),
    ("GET", "/fapi/v1/algoOrder"): (FuturesEndpoints._algo_get_order, True),
    ("DELETE", "/fapi/v1/algoOrder"): (FuturesEndpoints._algo_cancel, True),
    ("GET", "/fapi/v1/openAlgoOrders"): (FuturesEndpoints._algo_open_orders, True),
    ("GET", "/fapi/v2/balance"): (FuturesEndpoints._futures_balance, True),
    ("GET", "/fapi/v2/account"): (FuturesEndpoints._futures_account, True),
    ("GET", "/fapi/v3/account"): (FuturesEndpoints._futures_account, True),
    ("GET", "/fapi/v2/positionRisk"): (FuturesEndpoints._position_risk, True),
    ("GET", "/fapi/v3/positionRisk"): (FuturesEndpoints._position_risk, True),
}

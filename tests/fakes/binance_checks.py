"""What the fake Binance's spot and USDⓈ-M endpoints share (``tests.fakes.binance_api``
composes them): the error answer, one API key's account, Binance's number and time
formats, and the order checks (symbol, LOT_SIZE, PRICE_FILTER, lookup by id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.fakes.binance_trades import TradeQueryError, select_trades


class BinanceError(Exception):
    """An error answer: HTTP ``status`` with Binance's ``{"code", "msg"}`` body."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class FakeAccount:
    """One API key's account: spot balances (free, locked) and a futures USDT wallet."""

    api_key: str
    secret: str
    spot_free: dict[str, Decimal] = field(default_factory=dict)
    spot_locked: dict[str, Decimal] = field(default_factory=dict)
    futures_wallet: Decimal = Decimal(0)
    positions: dict[str, Decimal] = field(default_factory=dict)  # futures symbol -> qty
    leverage: dict[str, int] = field(default_factory=dict)  # futures symbol -> x
    enable_withdrawals: bool = False
    orders: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    trades: dict[str, list[dict[str, Any]]] = field(  # venue (spot|futures) -> trades
        default_factory=lambda: {"spot": [], "futures": []})


def fmt(value: Decimal) -> str:
    """``value`` as Binance writes a number: a plain decimal string, "0" for zero."""
    return format(value.normalize(), "f") if value else "0"


def on_step(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole multiple of ``step`` (a step of 0 allows anything)."""
    return step == 0 or (value / step) == (value / step).to_integral_value()


def now_ms() -> int:
    """Now as Binance's timestamps: Unix milliseconds."""
    return int(time.time() * 1000)


def trades_answer(account: FakeAccount, venue: str, params: dict[str, str]) -> Any:
    """The account's trades of ``venue`` (spot|futures) that ``params`` select; a malformed
    query raises ``BinanceError`` 400 with the trades module's code."""
    try:
        return select_trades(account.trades[venue], params)
    except TradeQueryError as exc:
        raise BinanceError(400, exc.code, exc.msg) from None


class OrderChecks:
    """The checks every order endpoint runs; each raises ``BinanceError`` as Binance does."""

    def _symbol(self, params: dict[str, str], table: dict[str, dict[str, Any]]
                ) -> tuple[str, dict[str, Any]]:
        symbol = params.get("symbol", "")
        if symbol not in table:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return symbol, table[symbol]

    def _quantity(self, params: dict[str, str], filters: dict[str, Any],
                  futures: bool = False) -> Decimal:
        try:
            qty = Decimal(params.get("quantity", ""))
        except ArithmeticError:
            raise BinanceError(400, -1102, "Mandatory parameter 'quantity' was not sent, "
                                           "was empty/null, or malformed.") from None
        lot = filters["LOT_SIZE"]
        step = Decimal(lot["stepSize"])
        if futures and not on_step(qty, step):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this "
                                           "asset.")
        if qty < Decimal(lot["minQty"]) or qty > Decimal(lot["maxQty"]) or not on_step(qty, step):
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        return qty

    def _limit_price(self, params: dict[str, str], filters: dict[str, Any],
                     required: bool) -> Decimal | None:
        if not required:
            return None
        if "price" not in params:
            raise BinanceError(400, -1102, "Mandatory parameter 'price' was not sent, was "
                                           "empty/null, or malformed.")
        price = Decimal(params["price"])
        rule = filters["PRICE_FILTER"]
        if (price < Decimal(rule["minPrice"]) or price > Decimal(rule["maxPrice"])
                or not on_step(price, Decimal(rule["tickSize"]))):
            raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        return price

    def _find(self, account: FakeAccount, venue: str, params: dict[str, str]) -> dict[str, Any]:
        client_id = (params.get("origClientOrderId") or params.get("clientAlgoId"))
        if client_id:
            order = account.orders.get((venue, client_id))
        else:
            wanted = params.get("orderId") or params.get("algoId")
            id_key = "algoId" if venue == "algo" else "orderId"
            order = next((o for (v, _), o in account.orders.items()
                          if v == venue and str(o[id_key]) == wanted), None)
        if order is None or order["symbol"] != params.get("symbol", order["symbol"]):
            raise BinanceError(400, -2013, "Order does not exist.")
        return order



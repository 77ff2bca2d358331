"""Trade records of the fake Binance: ``GET /api/v3/myTrades`` (spot) and
``GET /fapi/v1/userTrades`` (USDⓈ-M), in Binance's documented response shapes.

``tests.fakes.binance_api`` records one trade per fill (a MARKET order, or a fill made
with ``fill_on_exchange``) with the commission it charged, and answers both endpoints
with ``select_trades``. Amounts and prices are strings, as Binance sends them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DEFAULT_LIMIT = 500  # both endpoints: default 500, max 1000


class TradeQueryError(Exception):
    """A malformed trades query: HTTP 400 with Binance's ``code`` and ``msg``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def spot_trade(trade_id: int, order: dict[str, Any], qty: Decimal, price: Decimal,
               commission: Decimal, asset: str, time_ms: int) -> dict[str, Any]:
    """One spot trade of ``order`` (a taker fill), as ``/api/v3/myTrades`` lists it."""
    return {"symbol": order["symbol"], "id": trade_id, "orderId": order["orderId"],
            "orderListId": -1, "price": _fmt(price), "qty": _fmt(qty),
            "quoteQty": _fmt(qty * price), "commission": _fmt(commission),
            "commissionAsset": asset, "time": time_ms, "isBuyer": order["side"] == "BUY",
            "isMaker": False, "isBestMatch": True}


def futures_trade(trade_id: int, order_id: int, symbol: str, side: str, qty: Decimal,
                  price: Decimal, commission: Decimal, time_ms: int) -> dict[str, Any]:
    """One USDⓈ-M trade (a taker fill, commission in USDT), as ``/fapi/v1/userTrades``
    lists it. ``realizedPnl`` is "0": the fake does not track entry prices."""
    return {"buyer": side == "BUY", "commission": _fmt(commission), "commissionAsset": "USDT",
            "id": trade_id, "maker": False, "orderId": order_id, "price": _fmt(price),
            "qty": _fmt(qty), "quoteQty": _fmt(qty * price), "realizedPnl": "0",
            "side": side, "positionSide": "BOTH", "symbol": symbol, "time": time_ms,
            "marginAsset": "USDT"}


def select_trades(trades: list[dict[str, Any]], params: dict[str, str]) -> list[dict[str, Any]]:
    """The trades of ``params["symbol"]`` (mandatory, -1102 otherwise), of one
    ``orderId`` if given, from ``fromId``/``startTime`` to ``endTime``, oldest first, at
    most ``limit`` (default 500, 1..1000, -1130 outside)."""
    symbol = params.get("symbol")
    if not symbol:
        raise TradeQueryError(-1102, "Mandatory parameter 'symbol' was not sent, was "
                                     "empty/null, or malformed.")
    limit = int(params.get("limit", DEFAULT_LIMIT))
    if not 1 <= limit <= 1000:
        raise TradeQueryError(-1130, "Invalid data sent for a parameter.")
    chosen = [t for t in trades if t["symbol"] == symbol
              and str(t["orderId"]) == params.get("orderId", str(t["orderId"]))
              and t["id"] >= int(params.get("fromId", 0))
              and int(params.get("startTime", 0)) <= t["time"]
              <= int(params.get("endTime", t["time"]))]
    return sorted(chosen, key=lambda t: t["id"])[:limit]

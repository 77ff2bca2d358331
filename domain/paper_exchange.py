"""The paper exchange: an ``ExchangeGateway`` that fills from the price source.

Paper and live copy trading run the same engine (``domain.copying``); a follower
without a live exchange account trades against this gateway. Rules:

- market orders fill at once at the price source's last price moved against the
  follower by ``FillModel.slippage_rate`` (buy higher, sell lower) and pay
  ``FillModel.fee_rate`` of the notional (quote currency). Exit orders
  (``reduce_only``) fill without slippage, as the position monitor always did;
- limit orders fill at once when the last price is at or better than the limit (at
  the last price with slippage, capped at the limit), otherwise they rest in the book
  until a candle crosses the limit (fill at the limit, or at the candle's open when
  it gapped through);
- stop orders (``stop_market``) rest until a candle trades through ``stop_price`` and
  fill at the stop, or at the open when the candle gapped past it;
- an order is stored under its client order id: sending the same id again returns
  the stored order (no second fill), ``fetch_order_by_client_id`` finds it.

The book (``PaperBook``) is where resting orders live: ``MemoryPaperBook`` in a
single process, a Redis-backed book in workers (``workers.copy_jobs``) so that the
position monitor of any process can match them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Protocol

from domain.errors import InvalidInput, PermanentError
from domain.market import Candle
from domain.models import PaperAccount
from domain.ports import MarketRules, OrderAck, OrderRequest, PriceSource
from domain.sizing import AMOUNT_QUANTUM, FillModel, money

PAPER_EXCHANGE = "paper"
ORDER_TYPES = ("market", "limit", "stop_market")


class PaperBook(Protocol):
    """Storage of paper orders by (account, client order id); resting ones by symbol."""

    async def get(self, account: int, client_order_id: str) -> dict[str, Any] | None:
        """The stored order dict, or None."""
        ...

    async def put(self, account: int, order: dict[str, Any]) -> None:
        """Store (or replace) ``order``; indexed as resting while its status is open."""
        ...

    async def resting(self, symbol: str) -> list[tuple[int, dict[str, Any]]]:
        """(account, order) of every open order of ``symbol``."""
        ...


class MemoryPaperBook:
    """A ``PaperBook`` in this process's memory."""

    def __init__(self) -> None:
        self.orders: dict[tuple[int, str], dict[str, Any]] = {}

    async def get(self, account: int, client_order_id: str) -> dict[str, Any] | None:
        """The stored order dict, or None."""
        order = self.orders.get((account, client_order_id))
        return dict(order) if order else None

    async def put(self, account: int, order: dict[str, Any]) -> None:
        """Store (or replace) ``order``."""
        self.orders[(account, order["clientOrderId"])] = dict(order)

    async def resting(self, symbol: str) -> list[tuple[int, dict[str, Any]]]:
        """(account, order) of every open order of ``symbol``."""
        return [(acc, dict(o)) for (acc, _), o in self.orders.items()
                if o["symbol"] == symbol and o["status"] == "open"]


def order_to_ack(order: dict[str, Any]) -> OrderAck:
    """The ``OrderAck`` of a stored paper order dict (decimals stored as strings)."""
    def dec(key: str) -> Decimal | None:
        value = order.get(key)
        return None if value is None else Decimal(value)

    return OrderAck(
        id=order["id"], client_order_id=order["clientOrderId"], symbol=order["symbol"],
        side=order["side"], type=order["type"], status=order["status"],
        amount=Decimal(order["amount"]), filled=Decimal(order["filled"]),
        average=dec("average"), fee=dec("fee"), fee_currency=order.get("feeCurrency"),
        timestamp=int(order["timestamp"]),
    )


def _quote(symbol: str) -> str:
    return symbol.partition("/")[2].partition(":")[0] or "USDT"


MarketLookup = Callable[[str], MarketRules | None]
"""The real exchange's rules of a symbol (precision, minimums), or None if unknown."""


class PaperGateway:
    """``ExchangeGateway`` of one follower's paper account (``account`` = user id).

    ``fetch_equity`` is the paper account's realized balance. Markets: any symbol the
    price source knows. Its rules (amount and price steps, min amount, min notional) are
    the real exchange's where ``rules`` knows the symbol (the composition root passes
    the markets of the exchange the prices come from), so a paper order is rounded and
    refused as the live one would be; otherwise amount step 1e-8 and no minimums.
    """

    supports_stop_orders = True
    exchange_id = PAPER_EXCHANGE

    def __init__(self, account: int, prices: PriceSource, book: PaperBook,
                 fill_model: FillModel = FillModel(), rules: MarketLookup | None = None
                 ) -> None:
        self.account, self.prices, self.book, self.fill_model = account, prices, book, fill_model
        self.rules = rules

    async def market(self, symbol: str) -> MarketRules:
        """Rules of ``symbol`` (see the class doc); ``InvalidInput`` when the price source
        has no price for it."""
        if self.prices.last_price(symbol) is None:
            raise InvalidInput("symbol", f"no market price is known for {symbol}")
        known = self.rules(symbol) if self.rules is not None else None
        if known is not None:
            return known
        return MarketRules(symbol=symbol, amount_step=AMOUNT_QUANTUM, price_step=None,
                           min_amount=None, min_notional=None)

    async def create_order(self, request: OrderRequest) -> OrderAck:
        """Fill or rest ``request`` (rules in the module doc); a known client id returns
        the stored order. Raises ``PermanentError`` for an unknown type, a non-positive
        amount, a missing limit/stop price or a symbol without a price."""
        existing = await self.book.get(self.account, request.client_order_id)
        if existing is not None:
            return order_to_ack(existing)
        _validate(request)
        last = self.prices.last_price(request.symbol)
        if last is None:
            raise PermanentError(f"no market price for {request.symbol}")
        order: dict[str, Any] = {
            "id": f"paper-{self.account}-{request.client_order_id}",
            "clientOrderId": request.client_order_id, "symbol": request.symbol,
            "side": request.side, "type": request.type, "status": "open",
            "amount": str(request.amount), "filled": "0", "average": None, "fee": None,
            "feeCurrency": _quote(request.symbol), "timestamp": self.prices.now_ms(),
            "price": None if request.price is None else str(request.price),
            "stopPrice": None if request.stop_price is None else str(request.stop_price),
            "reduceOnly": request.reduce_only,
        }
        price = self._immediate_price(request, last)
        if price is not None:
            self._fill(order, price)
        await self.book.put(self.account, order)
        return order_to_ack(order)

    def _immediate_price(self, request: OrderRequest, last: Decimal) -> Decimal | None:
        buy = request.side == "buy"
        slip = Decimal(0) if request.reduce_only else self.fill_model.slippage_rate
        at_market = last * (1 + slip) if buy else last * (1 - slip)
        if request.type == "market":
            return at_market
        if request.type == "limit" and request.price is not None:
            if (last <= request.price) if buy else (last >= request.price):
                return min(at_market, request.price) if buy else max(at_market, request.price)
        return None

    def _fill(self, order: dict[str, Any], price: Decimal) -> None:
        amount = Decimal(order["amount"])
        order.update(status="closed", filled=str(amount), average=str(price),
                     fee=str(money(price * amount * self.fill_model.fee_rate)),
                     timestamp=self.prices.now_ms())

    async def fetch_order_by_client_id(self, symbol: str,
                                       client_order_id: str) -> OrderAck | None:
        """The paper order stored under ``client_order_id``, or None."""
        order = await self.book.get(self.account, client_order_id)
        return order_to_ack(order) if order else None

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck | None:
        """Cancel a resting order; a filled one is returned unchanged; None if unknown."""
        order = await self.book.get(self.account, client_order_id)
        if order is None:
            return None
        if order["status"] == "open":
            order["status"] = "canceled"
            await self.book.put(self.account, order)
        return order_to_ack(order)

    async def fetch_equity(self, currency: str) -> Decimal:
        """The paper account's balance (``currency`` is the account's, USDT by default)."""
        account = await PaperAccount.get_or_none(user_id=self.account)
        return Decimal(account.balance) if account else Decimal(0)

    async def close(self) -> None:
        """Nothing to release."""


def _validate(request: OrderRequest) -> None:
    if request.type not in ORDER_TYPES:
        raise PermanentError(f"order type {request.type!r} is not supported")
    if request.amount <= 0:
        raise PermanentError(f"order amount must be positive, got {request.amount}")
    if request.type == "limit" and request.price is None:
        raise PermanentError("a limit order needs a price")
    if request.type == "stop_market" and request.stop_price is None:
        raise PermanentError("a stop order needs a stop price")


def candle_fill_price(order: dict[str, Any], candle: Candle) -> Decimal | None:
    """Price at which ``candle`` fills a resting paper order, or None if it does not.

    Limit buy: ``low <= limit`` at ``min(limit, open)``; limit sell: ``high >= limit`` at
    ``max(limit, open)``. Stop sell: ``low <= stop`` at ``min(stop, open)``; stop buy:
    ``high >= stop`` at ``max(stop, open)``.
    """
    buy = order["side"] == "buy"
    if order["type"] == "limit":
        limit = Decimal(order["price"])
        if buy:
            return min(limit, candle.open) if candle.low <= limit else None
        return max(limit, candle.open) if candle.high >= limit else None
    if order["type"] == "stop_market":
        stop = Decimal(order["stopPrice"])
        if buy:
            return max(stop, candle.open) if candle.high >= stop else None
        return min(stop, candle.open) if candle.low <= stop else None
    return None


async def match_candle(book: PaperBook, candle: Candle,
                       fill_model: FillModel = FillModel()) -> list[tuple[int, OrderAck]]:
    """Fill the resting paper orders of ``candle.symbol`` that the candle crosses.

    Returns (account, ack) of each order filled, in book order; the book is updated.
    """
    filled: list[tuple[int, OrderAck]] = []
    for account, order in await book.resting(candle.symbol):
        price = candle_fill_price(order, candle)
        if price is None:
            continue
        amount = Decimal(order["amount"])
        order.update(status="closed", filled=str(amount), average=str(price),
                     fee=str(money(price * amount * fill_model.fee_rate)),
                     timestamp=candle.close_ts)
        await book.put(account, order)
        filled.append((account, order_to_ack(order)))
    return filled


def acks_by_client_id(acks: Iterable[tuple[int, OrderAck]]) -> dict[str, OrderAck]:
    """Index (account, ack) pairs by client order id."""
    return {ack.client_order_id: ack for _, ack in acks}

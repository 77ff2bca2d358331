"""Ports: what the domain needs from the outside, as Protocols adapters implement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from domain.market import Candle


class EventBus(Protocol):
    """Fire-and-forget broadcast to every process (Redis pub/sub in production)."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Broadcast ``message`` (JSON-serialisable) on ``topic``; never raises on no listeners."""
        ...


class JobQueue(Protocol):
    """Durable job queue (arq). Enqueueing an id that is queued or done is a no-op."""

    async def enqueue(self, function: str, *args: Any, job_id: str) -> bool:
        """Enqueue ``function(*args)`` under ``job_id``; True if newly enqueued."""
        ...


class MessageSender(Protocol):
    """Sends one formatted message to a chat.

    Raises ``RetryableError`` (with ``retry_after`` seconds when the platform gave it)
    or ``PermanentError`` (recipient blocked the bot / chat gone).
    """

    async def send_html(self, chat_id: int, html: str, silent: bool = False) -> None:
        """Send ``html``; ``silent`` delivers it without a notification sound."""
        ...


class RateLimiter(Protocol):
    """Waits until one more message may go to ``chat_id`` within the platform's limits."""

    async def acquire(self, chat_id: int) -> None: ...


class PriceSource(Protocol):
    """Market prices: the last known price per symbol and a stream of closed candles."""

    def last_price(self, symbol: str) -> Decimal | None:
        """Last traded/closed price of ``symbol`` in quote currency, None if unknown."""
        ...

    def now_ms(self) -> int:
        """The source's clock in Unix milliseconds (replay time for a replay)."""
        ...

    def stream(self) -> AsyncIterator[Candle]:
        """Closed candles in time order, forever (live) or until the replay ends."""
        ...


@dataclass(frozen=True)
class MarketRules:
    """Trading rules of one market, from ccxt's unified market structure.

    ``amount_step`` and ``price_step`` are tick sizes (ccxt ``precision`` in TICK_SIZE
    mode); ``min_amount`` is in base currency (contracts for derivatives),
    ``min_notional`` (ccxt ``limits.cost.min``) in quote currency; ``contract_size`` is
    base units per contract (1 for spot). None means the exchange sets no such limit.
    """

    symbol: str
    amount_step: Decimal | None
    price_step: Decimal | None
    min_amount: Decimal | None
    min_notional: Decimal | None
    contract_size: Decimal = Decimal(1)
    linear: bool = False


@dataclass(frozen=True)
class OrderRequest:
    """One order leg to send; ``client_order_id`` makes a re-send idempotent.

    ``side`` is ccxt's ``"buy"``/``"sell"``; ``type`` is ``"market"``, ``"limit"`` or
    ``"stop_market"`` (``stop_price`` set). Amount in base currency (contracts on
    derivatives); prices in quote currency. ``reduce_only`` for exits on derivatives.
    ``leverage`` (a whole multiple, e.g. 5 = 5x) is set on the symbol before an entry on
    a linear perpetual is sent; None leaves the account's leverage as it is (spot, exits).
    """

    symbol: str
    side: str
    type: str
    amount: Decimal
    client_order_id: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    leverage: int | None = None


@dataclass(frozen=True)
class OrderAck:
    """The exchange's view of an order (ccxt unified order fields).

    ``status`` is ccxt's ``open``/``closed``/``canceled``/``expired``/``rejected``;
    ``filled`` in base currency, ``average`` in quote currency per unit, ``fee`` in
    ``fee_currency``; ``timestamp`` in Unix milliseconds.
    """

    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    status: str
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    fee: Decimal | None
    fee_currency: str | None
    timestamp: int


class ExchangeGateway(Protocol):
    """One follower's exchange account (live through ccxt, or the paper exchange).

    Every method raises ``RetryableError`` for transient failures (ccxt
    ``NetworkError``: timeouts, 429, maintenance; ``retry_after`` seconds when known)
    and ``PermanentError`` with the exchange's message for the rest (insufficient funds,
    invalid order, authentication). After a ``RetryableError`` from ``create_order`` the
    order may or may not exist: look it up with ``fetch_order_by_client_id`` first.
    """

    async def market(self, symbol: str) -> MarketRules:
        """Rules of ``symbol`` (ccxt unified symbol); ``InvalidInput`` if not listed."""
        ...

    async def create_order(self, request: OrderRequest) -> OrderAck:
        """Send one order; a duplicate ``client_order_id`` returns the existing order."""
        ...

    async def fetch_order_by_client_id(self, symbol: str,
                                       client_order_id: str) -> OrderAck | None:
        """The order placed under ``client_order_id``, or None if the exchange has none."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck | None:
        """Cancel an open order; None if it does not exist (already gone)."""
        ...

    async def fetch_equity(self, currency: str) -> Decimal:
        """Account equity in ``currency`` (total balance, quote currency)."""
        ...

    async def close(self) -> None:
        """Release connections; the gateway is unusable afterwards."""
        ...

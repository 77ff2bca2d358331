"""Ports: what the domain needs from the outside, as Protocols adapters implement."""

from __future__ import annotations

from collections.abc import AsyncIterator
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

    async def send_html(self, chat_id: int, html: str) -> None: ...


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

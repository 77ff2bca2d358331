"""What a shard of copy orders produced: per-order results, retries to schedule (and
their back-off), trade events to announce, exit legs to execute and orders to cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.copy_reports import ENTRY
from domain.models import OrderStatus

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 60.0


@dataclass(frozen=True)
class OrderResult:
    """What happened to one copy order; ``notice_id`` is the follower's Delivery row."""

    order_id: int
    user_id: int
    status: OrderStatus
    reason: str
    notice_id: int | None
    signal_id: int = 0
    leg: str = ENTRY


@dataclass(frozen=True)
class Retry:
    """An order to send again on its own after ``delay_s`` seconds (attempt number)."""

    order_id: int
    attempt: int
    delay_s: float


@dataclass
class ShardResult:
    """Outcome of one shard: results, retries to schedule, trade events to announce and
    the positions whose exit orders (live) were created as new PENDING legs."""

    results: list[OrderResult] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_order_ids: list[int] = field(default_factory=list)
    cancel_order_ids: list[int] = field(default_factory=list)
    db_s: float = 0.0
    exchange_s: float = 0.0

    @property
    def notice_ids(self) -> list[int]:
        """Delivery ids of the follower notices written."""
        return [r.notice_id for r in self.results if r.notice_id is not None]


def backoff_s(attempt: int, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempt`` + 1: 0.5 s doubling per attempt, at most 60 s,
    never less than the exchange's ``retry_after``."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))
    return max(delay, retry_after or 0.0)

"""Today's PnL of a follower's account, the one rule behind the daily loss limit.

``day_pnl_of`` is the rule (pure); ``held_positions`` reads its input for many users
in one query. The copy engine (``domain.copying``) and the read model of /pnl
(``domain.portfolio.day_pnl``) both use them, so the limit the engine enforces is the
PnL the follower is shown.

The rule (quote currency, UTC days)::

    realized   = realized PnL (fees included) of positions CLOSED since 00:00 UTC
               + realized PnL of OPEN positions opened since 00:00 UTC (entry fee,
                 partial exits); a partial exit today of a position opened on an
                 earlier day counts on the day the position closes
    unrealized = OPEN positions marked at the last price (no price known: 0)
    start      = equity now − realized today

Only positions of one route count: a follower trading live is limited by the live
account's positions and equity, paper positions (an earlier paper period) do not count,
and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from tortoise.expressions import Q

from domain.models import Position, PositionStatus, Side
from domain.outcomes import realized_pnl
from domain.risk import DayPnl

LastPrice = Callable[[str], Decimal | None]


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """What the day-PnL rule reads of one position (money in quote currency)."""

    symbol: str
    side: Side
    entry_price: Decimal
    remaining_amount: Decimal
    realized_pnl: Decimal
    open: bool
    opened_at: datetime
    closed_at: datetime | None = None


def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s UTC day (``now`` timezone-aware)."""
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def day_pnl_of(positions: Iterable[HeldPosition], now: datetime, equity: Decimal,
               last_price: LastPrice) -> DayPnl:
    """Today's PnL of one account by the rule in the module doc. Pure."""
    start = day_start(now)
    realized = unrealized = Decimal(0)
    for p in positions:
        if (p.open and p.opened_at >= start) or (
                not p.open and p.closed_at is not None and p.closed_at >= start):
            realized += p.realized_pnl
        price = last_price(p.symbol) if p.open else None
        if price is not None:
            unrealized += realized_pnl(p.side, p.entry_price, price, p.remaining_amount)
    return DayPnl(start.date(), realized, unrealized, equity - realized)


async def held_positions(modes: dict[int, str], now: datetime
                         ) -> dict[int, list[HeldPosition]]:
    """Per user of ``modes`` (user id -> ``paper`` or ``live``): the positions the rule
    reads (OPEN ones and those closed today) of that route only. One query; writes
    nothing."""
    out: dict[int, list[HeldPosition]] = {user_id: [] for user_id in modes}
    if not modes:
        return out
    rows = await Position.filter(
        Q(status=PositionStatus.OPEN) | Q(closed_at__gte=day_start(now)),
        user_id__in=list(modes)).values(
        "user_id", "mode", "status", "symbol", "side", "entry_price", "remaining_amount",
        "realized_pnl", "opened_at", "closed_at")
    for row in rows:
        if row["mode"] != modes[row["user_id"]]:
            continue
        out[row["user_id"]].append(HeldPosition(
            row["symbol"], Side(row["side"]), Decimal(row["entry_price"]),
            Decimal(row["remaining_amount"]), Decimal(row["realized_pnl"]),
            row["status"] == PositionStatus.OPEN, row["opened_at"], row["closed_at"]))
    return out

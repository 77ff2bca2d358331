"""Read model of /positions: a user's paper account and positions, marked to market.

A query only (no writes), shared by the bot and any other channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.models import PaperAccount, Position, PositionStatus, User
from domain.outcomes import realized_pnl
from domain.ports import PriceSource

MAX_OPEN_SHOWN = 12
MAX_CLOSED_SHOWN = 8


@dataclass(frozen=True)
class Mark:
    """Last market price of an open position's symbol and the unrealized PnL (quote)."""

    price: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class Portfolio:
    """What /positions shows. ``open``/``closed`` are the newest first, cut to the limits."""

    account: PaperAccount
    open: list[Position]
    closed: list[Position]
    open_total: int
    closed_total: int
    marks: dict[int, Mark] = field(default_factory=dict)


async def load_portfolio(user: User, prices: PriceSource | None) -> Portfolio:
    """``user``'s paper account, newest open and closed positions (with signal and provider).

    Open positions are marked at ``prices.last_price`` when the source knows the symbol.
    """
    account = await PaperAccount.get(user=user)
    mine = Position.filter(user=user).select_related("signal__provider")
    open_ = await mine.filter(status=PositionStatus.OPEN).order_by("-id").limit(MAX_OPEN_SHOWN)
    closed = await mine.filter(status=PositionStatus.CLOSED).order_by("-id").limit(
        MAX_CLOSED_SHOWN)
    open_total = await Position.filter(user=user, status=PositionStatus.OPEN).count()
    closed_total = await Position.filter(user=user, status=PositionStatus.CLOSED).count()
    return Portfolio(account, open_, closed, open_total, closed_total, marks(open_, prices))


def marks(positions: list[Position], prices: PriceSource | None) -> dict[int, Mark]:
    """Mark per position id for the positions whose symbol has a known last price."""
    result = {}
    for position in positions:
        price = prices.last_price(position.symbol) if prices is not None else None
        if price is not None:
            pnl = realized_pnl(position.side, position.entry_price, price,
                               position.remaining_amount)
            result[position.id] = Mark(price, pnl)
    return result

"""Read models of /positions and /pnl: a user's paper account and positions, marked to
market, today's PnL (the daily loss limit's input) and closed-trade statistics.

Queries only (no writes), shared by the bot, GraphQL and the copy engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from domain.daily_loss import day_pnl_of, held_positions
from domain.errors import InvalidInput
from domain.models import PaperAccount, Position, PositionStatus, User
from domain.outcomes import realized_pnl
from domain.ports import PriceSource
from domain.risk import DayPnl

MAX_OPEN_SHOWN = 12
MAX_CLOSED_SHOWN = 8
MAX_PNL_DAYS = 3650


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


# --- daily loss inputs and the /pnl summary -----------------------------------------


def unrealized_total(positions: list[Position], prices: PriceSource | None) -> Decimal:
    """Sum of the marked-to-market PnL of ``positions`` (quote currency); positions
    without a known price count as 0."""
    return sum((m.unrealized_pnl for m in marks(positions, prices).values()), Decimal(0))


async def day_pnl(user_id: int, now: datetime, prices: PriceSource | None) -> DayPnl:
    """Today's (``now``'s UTC day) PnL of a paper account, the input of the daily loss limit.

    The rule is ``domain.daily_loss.day_pnl_of`` (the copy engine's too), over the
    user's paper positions, with the paper balance as equity. Reads positions and the
    paper account; writes nothing.
    """
    held = (await held_positions({user_id: "paper"}, now))[user_id]
    account = await PaperAccount.get(user_id=user_id)
    return day_pnl_of(held, now, Decimal(account.balance),
                      prices.last_price if prices is not None else _no_price)


def _no_price(symbol: str) -> Decimal | None:
    return None


@dataclass(frozen=True)
class PnlSummary:
    """Closed-trade statistics over a period; money in the account's quote currency.

    ``win_rate`` is a fraction (0.6 = 60%), None without trades; ``profit_factor`` =
    gross profit / gross loss, None when there is no losing trade.
    """

    days: int
    trades: int
    wins: int
    losses: int
    realized: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    win_rate: Decimal | None
    profit_factor: Decimal | None


def pnl_summary(realized: list[Decimal], days: int) -> PnlSummary:
    """Statistics of closed trades with realized PnLs ``realized`` (fees included).

    A win is a trade with realized PnL > 0, a loss one < 0 (break-even trades count in
    ``trades`` only). Win rate = wins / trades; profit factor = Σ wins / |Σ losses| —
    the usual definitions (e.g. freqtrade's /profit, Investopedia "profit factor").
    """
    profit = sum((r for r in realized if r > 0), Decimal(0))
    loss = -sum((r for r in realized if r < 0), Decimal(0))
    wins = sum(1 for r in realized if r > 0)
    losses = sum(1 for r in realized if r < 0)
    return PnlSummary(
        days, len(realized), wins, losses, profit - loss, profit, loss,
        Decimal(wins) / len(realized) if realized else None,
        profit / loss if loss > 0 else None)


async def load_pnl(user_id: int, days: int, now: datetime) -> PnlSummary:
    """``pnl_summary`` of the user's positions CLOSED in the ``days`` days up to ``now``.

    Raises ``InvalidInput`` (field ``days``) unless 1 <= days <= 3650.
    """
    if not 1 <= days <= MAX_PNL_DAYS:
        raise InvalidInput("days", f"must be between 1 and {MAX_PNL_DAYS}")
    rows = await Position.filter(user_id=user_id, status=PositionStatus.CLOSED,
                                 closed_at__gte=now - timedelta(days=days)
                                 ).values_list("realized_pnl", flat=True)
    return pnl_summary([Decimal(r) for r in rows], days)

"""Pure risk guards of a copy order: symbol lists, daily loss, slippage, leverage, exits.

Each guard takes plain values (``Decimal`` money in the account's quote currency,
percentages as percent, 5 = 5%) and returns a human-readable reason, or None when the
guard lets the order through. No I/O. ``domain.sizing.decide_copy`` composes them.

Reasons start with ``skipped:`` (the order is not sent) or ``resized:`` (the order is
sent, changed); the follower sees them verbatim ("why was this signal not copied?").
No reason contains "; ", the separator of ``CopyDecision.reason``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from domain.errors import InvalidInput
from domain.models import Side

MAX_LADDER_LEGS = 10  # a signal has at most 10 take-profit targets
MAX_SYMBOL_LIST = 50
MAX_LEVERAGE = 125


class SlippageAction(StrEnum):
    """What to do when the price moved past the entry by more than the slippage guard."""

    SKIP = "skip"
    LIMIT = "limit"


def canonical_symbol(symbol: str) -> str:
    """ccxt unified symbol in canonical form: trimmed, upper-case (``btc/usdt`` -> ``BTC/USDT``)."""
    return symbol.strip().upper()


def canonical_symbols(symbols: Iterable[str]) -> tuple[str, ...]:
    """Canonical, de-duplicated symbols in first-seen order."""
    return tuple(dict.fromkeys(canonical_symbol(s) for s in symbols if s.strip()))


def quote_currency(symbol: str) -> str:
    """Quote currency of a ccxt unified symbol (``BTC/USDT:USDT`` -> ``USDT``)."""
    rest = symbol.partition("/")[2]
    return rest.partition(":")[0] or "USDT"


def money_text(value: Decimal) -> str:
    """Money for a reason: two decimals, thousands separators, a real minus (−512.30)."""
    text = f"{abs(value):,.2f}"
    return f"−{text}" if value < 0 else text


def number_text(value: Decimal) -> str:
    """A price or amount for a reason: no trailing zeros, thousands separators."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return f"{normal:,.0f}"
    return f"{normal:,f}"


def pct_text(value: Decimal) -> str:
    """A percent value without trailing zeros (``5.000`` -> ``5``)."""
    return number_text(value)


# --- symbol lists ----------------------------------------------------------------------


def symbol_block(symbol: str, allowed: Sequence[str], denied: Sequence[str]) -> str | None:
    """Why ``symbol`` may not be copied under the follower's allow/deny lists, or None.

    Compared in canonical form (case-insensitive). The deny list wins; an empty allow
    list allows every symbol.
    """
    name = canonical_symbol(symbol)
    if name in canonical_symbols(denied):
        return f"skipped: {name} is on your deny list"
    allow = canonical_symbols(allowed)
    if allow and name not in allow:
        return f"skipped: {name} is not on your allow list ({', '.join(allow)})"
    return None


# --- daily loss ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayPnl:
    """A follower's profit and loss for one UTC day, quote currency.

    ``realized`` is the PnL of exits (fees included) booked on ``day``;
    ``unrealized`` the marked-to-market PnL of the positions open now;
    ``start_equity`` the account equity at 00:00 UTC of ``day`` (the base of the percent).
    """

    day: date
    realized: Decimal
    unrealized: Decimal
    start_equity: Decimal


def next_midnight(now: datetime) -> datetime:
    """The next 00:00 UTC after ``now`` (timezone-aware)."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=UTC)


def daily_loss_reached(pnl: DayPnl, max_daily_loss_pct: Decimal, now: datetime) -> bool:
    """True when today's loss is at or above the limit.

    Loss today = −(realized today + unrealized now), quote currency; the limit is
    ``max_daily_loss_pct`` percent of ``start_equity``. Realized PnL of another day than
    ``now``'s UTC day counts as 0. ``now`` must be timezone-aware.
    """
    today = now.astimezone(UTC).date()
    realized = pnl.realized if pnl.day == today else Decimal(0)
    limit = pnl.start_equity * max_daily_loss_pct / 100
    return limit > 0 and -(realized + pnl.unrealized) >= limit


def daily_loss_block(pnl: DayPnl, max_daily_loss_pct: Decimal, now: datetime,
                     currency: str = "USDT", hit_on: date | None = None) -> str | None:
    """Why new signals are skipped today, or None while the daily loss is under its limit.

    The limit is a latch: once reached on a UTC day (``daily_loss_reached``; the caller
    stores that day and passes it back as ``hit_on``), new signals stay skipped until
    the next 00:00 UTC, even after open positions recovered. ``currency`` is the
    account's quote currency, for the reason's text.
    """
    resume = next_midnight(now)
    until = f"new signals resume at 00:00 UTC on {resume:%Y-%m-%d}"
    if daily_loss_reached(pnl, max_daily_loss_pct, now):
        today = now.astimezone(UTC).date()
        total = (pnl.realized if pnl.day == today else Decimal(0)) + pnl.unrealized
        return (f"skipped: daily loss limit {pct_text(max_daily_loss_pct)}% reached "
                f"({money_text(total)} {currency} today), {until}")
    if hit_on is not None and hit_on == now.astimezone(UTC).date():
        return (f"skipped: daily loss limit {pct_text(max_daily_loss_pct)}% was reached "
                f"earlier today, {until}")
    return None


# --- slippage --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlippageCheck:
    """How far the market moved past the signal's entry, against the follower.

    ``entry`` is the edge of the entry zone the follower would cross (entry_high for
    BUY, entry_low for SELL), ``moved_pct`` the adverse move in percent (0 when the price
    is inside the zone or better), ``exceeded`` whether it is above the guard.
    """

    entry: Decimal
    moved_pct: Decimal
    exceeded: bool


def slippage_check(side: Side, entry_low: Decimal, entry_high: Decimal,
                   market_price: Decimal, guard_pct: Decimal) -> SlippageCheck:
    """Compare ``market_price`` with the signal's entry zone; percent units."""
    if side is Side.BUY:
        entry, moved = entry_high, market_price - entry_high
    else:
        entry, moved = entry_low, entry_low - market_price
    moved_pct = max(Decimal(0), moved / entry * 100)
    return SlippageCheck(entry, moved_pct, moved_pct > guard_pct)


def slippage_reason(check: SlippageCheck, market_price: Decimal, guard_pct: Decimal,
                    action: SlippageAction) -> str:
    """The reason of an exceeded guard: skipped, or a limit order at the entry."""
    moved = f"price {number_text(market_price)} is {check.moved_pct:.2f}% past the entry " \
            f"{number_text(check.entry)} (slippage guard {pct_text(guard_pct)}%)"
    if action is SlippageAction.SKIP:
        return f"skipped: {moved}"
    return f"resized: limit order at the entry {number_text(check.entry)}: {moved}"


# --- leverage --------------------------------------------------------------------------


def leverage_used(signal_leverage: int | None, cap: int | None,
                  derivative: bool) -> tuple[int, str | None]:
    """Leverage to apply and the reason when it differs from the signal's.

    Spot markets always trade at 1x; a derivative uses the signal's leverage (1x when
    the signal names none) lowered to ``cap`` (None: no cap of the follower's own).
    """
    asked = signal_leverage or 1
    if not derivative:
        note = (f"resized: spot market, signal leverage {asked}x not applied"
                if asked > 1 else None)
        return 1, note
    if cap is not None and asked > cap:
        return cap, f"resized: leverage capped at {cap}x (signal asks {asked}x)"
    return asked, None


def is_derivative(symbol: str) -> bool:
    """True for a ccxt unified derivative symbol (with a settle currency, ``BTC/USDT:USDT``)."""
    return ":" in symbol


# --- exit ladder -----------------------------------------------------------------------


def validate_exit_ladder(ladder: Sequence[object]) -> tuple[Decimal, ...]:
    """A follower's exit ladder as percents per target, validated.

    Empty means an even split over the signal's targets. Otherwise 1–10 positive
    percents summing to exactly 100. Raises ``InvalidInput`` (field ``exitLadder``).
    """
    try:
        legs = tuple(Decimal(str(p)) for p in ladder)
    except ArithmeticError:
        raise InvalidInput("exitLadder", f"must be numbers, got {list(ladder)!r}") from None
    if not legs:
        return ()
    if len(legs) > MAX_LADDER_LEGS:
        raise InvalidInput("exitLadder", f"has {len(legs)} steps; at most {MAX_LADDER_LEGS} "
                                         "(one per take-profit target)")
    if any(not p.is_finite() or p <= 0 for p in legs):
        raise InvalidInput("exitLadder", "every step must be a percent above 0")
    if sum(legs) != 100:
        raise InvalidInput("exitLadder", f"steps must sum to 100 (percent), got "
                                         f"{number_text(sum(legs, Decimal(0)))}")
    return legs


def ladder_percents(ladder: Sequence[Decimal], targets: int) -> list[Decimal]:
    """Percent of the position to close at each of ``targets`` targets (sums to 100).

    No ladder: an even split. A ladder with more steps than the signal has targets puts
    the extra steps on the last target; fewer steps leave the later targets at 0.
    """
    if targets < 1:
        raise ValueError("a signal has at least one target")
    if not ladder:
        even = Decimal(100) / targets
        return [even] * (targets - 1) + [Decimal(100) - even * (targets - 1)]
    legs = list(ladder[:targets]) + [Decimal(0)] * max(0, targets - len(ladder))
    legs[-1] += sum(ladder[targets:], Decimal(0))
    return legs


def exit_amounts(amount: Decimal, ladder: Sequence[Decimal], targets: int,
                 step: Decimal) -> list[Decimal]:
    """Amount to close at each target: each leg rounded down to ``step``, the last takes
    the rest, so the legs sum to ``amount`` exactly. Units of ``amount`` (base or contracts).
    """
    percents = ladder_percents(ladder, targets)
    legs = [(amount * p / 100 / step).to_integral_value(ROUND_DOWN) * step
            for p in percents[:-1]]
    return legs + [amount - sum(legs, Decimal(0))]

"""Pure sizing and guards of a paper copy order.

Position notional (quote currency) = equity × max_position_pct / 100 × scale_factor,
as the subscriber's copy settings state it. The paper fill assumes the taker fee and
slippage of ``FillModel`` (defaults: Binance spot's 0.1% taker fee; 0.05% slippage)
and records both on the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from domain.errors import InvalidInput
from domain.models import Side

AMOUNT_QUANTUM = Decimal("1e-8")
MONEY_QUANTUM = Decimal("1e-8")
MIN_SCALE, MAX_SCALE = Decimal("0.1"), Decimal("2.0")


@dataclass(frozen=True, slots=True)
class CopyLimits:
    """A follower's limits: scale 0.1–2.0, position % of equity (percent), max positions."""

    scale_factor: Decimal = Decimal("1")
    max_position_pct: Decimal = Decimal("10")
    max_open_positions: int = 5


@dataclass(frozen=True, slots=True)
class FillModel:
    """Costs a paper fill assumes; both are fractions (0.001 = 0.1%)."""

    fee_rate: Decimal = Decimal("0.001")
    slippage_rate: Decimal = Decimal("0.0005")


@dataclass(frozen=True, slots=True)
class CopyDecision:
    """Outcome of sizing: ``placed`` with amount/price/notional/fee, or skipped with reason."""

    placed: bool
    reason: str
    amount: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)


def money(value: Decimal) -> Decimal:
    """An amount of quote currency rounded half-even to 1e-8, as stored (NUMERIC(24, 8))."""
    return value.quantize(MONEY_QUANTUM)


def validate_limits(limits: CopyLimits) -> None:
    """Raise ``InvalidInput`` naming the field when a limit is out of range."""
    if not MIN_SCALE <= limits.scale_factor <= MAX_SCALE:
        raise InvalidInput("scaleFactor", "must be between 0.1 and 2.0")
    if not Decimal(0) < limits.max_position_pct <= Decimal(100):
        raise InvalidInput("maxPositionPct", "must be above 0 and at most 100 (percent)")
    if not 1 <= limits.max_open_positions <= 100:
        raise InvalidInput("maxOpenPositions", "must be between 1 and 100")


def decide_copy_order(
    *,
    side: Side,
    stop_loss: Decimal,
    first_target: Decimal,
    market_price: Decimal | None,
    equity: Decimal,
    open_positions: int,
    limits: CopyLimits,
    fill_model: FillModel = FillModel(),
) -> CopyDecision:
    """Size a market paper order for a follower or say why it is skipped.

    Skips when: no market price is known; the follower already holds
    ``max_open_positions``; equity is not positive; the market is already at or
    beyond the stop-loss or the first take-profit target; the amount rounds to zero.
    """
    skip = _skip_reason(side, stop_loss, first_target, market_price, equity, open_positions,
                        limits)
    if skip or market_price is None:
        return CopyDecision(False, skip or "no market price")
    notional = equity * limits.max_position_pct / 100 * limits.scale_factor
    slip = fill_model.slippage_rate if side is Side.BUY else -fill_model.slippage_rate
    price = market_price * (1 + slip)
    amount = (notional / price).quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN)
    if amount <= 0:
        return CopyDecision(False, f"position size {notional:.8f} is below the smallest "
                                   f"amount ({AMOUNT_QUANTUM}) at price {price:.8g}")
    notional = money(amount * price)
    fee = money(notional * fill_model.fee_rate)
    return CopyDecision(True, "filled at market (paper)", amount, price, notional, fee)


def _skip_reason(side: Side, stop_loss: Decimal, first_target: Decimal,
                 market_price: Decimal | None, equity: Decimal, open_positions: int,
                 limits: CopyLimits) -> str:
    if market_price is None:
        return "no market price is known for this symbol yet"
    if open_positions >= limits.max_open_positions:
        return (f"max open positions reached ({open_positions} of "
                f"{limits.max_open_positions})")
    if equity <= 0:
        return "paper account has no equity left"
    long = side is Side.BUY
    if (market_price <= stop_loss) if long else (market_price >= stop_loss):
        return f"market price {market_price} is already past the stop-loss {stop_loss}"
    if (market_price >= first_target) if long else (market_price <= first_target):
        return f"market price {market_price} already reached target 1 ({first_target})"
    return ""

"""Pure evaluation of signals and paper positions against closed candles.

Rules (one candle at a time, in time order):
- A PENDING BUY activates when the candle's low reaches the top of the entry zone
  (``low <= entry_high``), filling at ``min(entry_high, open)``; a SELL activates when
  ``high >= entry_low``, filling at ``max(entry_low, open)`` (limit-order semantics).
- In the activation candle only the stop-loss is checked: the order of prices inside a
  candle is unknown, so a target is not credited before the entry could have filled.
- An ACTIVE signal checks the stop-loss first, then the targets in order. When one
  candle touches both, the stop-loss wins: the pessimistic assumption backtesters such
  as freqtrade make for intra-candle ambiguity. A stop that the candle gapped through
  fills at the open (``min(open, stop)`` for BUY).
- The last target closes the signal with outcome TARGET; the stop closes it with
  STOP_LOSS, whatever targets were hit before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from domain.market import Candle
from domain.models import EventKind, Outcome, Side, SignalStatus

AMOUNT_QUANTUM = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class Levels:
    """The price levels of a signal or position, in quote currency."""

    side: Side
    entry_low: Decimal
    entry_high: Decimal
    stop_loss: Decimal
    targets: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a signal stands: status, outcome once closed, and targets hit so far."""

    status: SignalStatus
    targets_hit: int = 0
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """An event found in a candle; ``target_index`` is 1-based for TARGET_HIT, else 0."""

    kind: EventKind
    price: Decimal
    target_index: int = 0


def evaluate_signal(
    levels: Levels, progress: Progress, candle: Candle
) -> tuple[Progress, list[OutcomeEvent]]:
    """Advance a signal by one closed candle; returns the new progress and its events."""
    if progress.status is SignalStatus.PENDING:
        fill = _entry_fill(levels, candle)
        if fill is None:
            return progress, []
        active = replace(progress, status=SignalStatus.ACTIVE)
        events = [OutcomeEvent(EventKind.ACTIVATED, fill)]
        stop = _stop_fill(levels, levels.stop_loss, candle)
        if stop is None:
            return active, events
        closed = replace(active, status=SignalStatus.CLOSED, outcome=Outcome.STOP_LOSS)
        return closed, [*events, OutcomeEvent(EventKind.STOP_HIT, stop)]
    if progress.status is SignalStatus.ACTIVE:
        return _evaluate_active(levels, progress, candle)
    return progress, []


def _evaluate_active(
    levels: Levels, progress: Progress, candle: Candle
) -> tuple[Progress, list[OutcomeEvent]]:
    stop = _stop_fill(levels, levels.stop_loss, candle)
    if stop is not None:
        closed = replace(progress, status=SignalStatus.CLOSED, outcome=Outcome.STOP_LOSS)
        return closed, [OutcomeEvent(EventKind.STOP_HIT, stop)]
    hits = targets_reached(levels, progress.targets_hit, candle)
    if not hits:
        return progress, []
    events = [OutcomeEvent(EventKind.TARGET_HIT, levels.targets[i - 1], i) for i in hits]
    new = replace(progress, targets_hit=hits[-1])
    if new.targets_hit == len(levels.targets):
        new = replace(new, status=SignalStatus.CLOSED, outcome=Outcome.TARGET)
    return new, events


def _entry_fill(levels: Levels, candle: Candle) -> Decimal | None:
    if levels.side is Side.BUY:
        return min(levels.entry_high, candle.open) if candle.low <= levels.entry_high else None
    return max(levels.entry_low, candle.open) if candle.high >= levels.entry_low else None


def _stop_fill(levels: Levels, stop: Decimal, candle: Candle) -> Decimal | None:
    if levels.side is Side.BUY:
        return min(stop, candle.open) if candle.low <= stop else None
    return max(stop, candle.open) if candle.high >= stop else None


def targets_reached(levels: Levels, already_hit: int, candle: Candle) -> list[int]:
    """1-based indexes of targets after ``already_hit`` that ``candle`` touches, in order."""
    reached: list[int] = []
    for i in range(already_hit, len(levels.targets)):
        target = levels.targets[i]
        touched = candle.high >= target if levels.side is Side.BUY else candle.low <= target
        if not touched:
            break
        reached.append(i + 1)
    return reached


@dataclass(frozen=True, slots=True)
class PositionFill:
    """A (partial) close of a position: ``amount`` in base units at ``price``."""

    reason: str  # "target <n>" or "stop-loss"
    price: Decimal
    amount: Decimal
    target_index: int = 0


def evaluate_position(
    levels: Levels, amount: Decimal, remaining: Decimal, targets_hit: int, candle: Candle
) -> list[PositionFill]:
    """Closes of an open paper position in one candle (stop-loss first, then targets).

    The position is split evenly across targets: each target closes ``amount / n``
    (rounded down to 1e-12), the last one closes whatever remains. The stop closes all
    that remains. Returns an empty list when the candle touches nothing.
    """
    if remaining <= 0:
        return []
    stop = _stop_fill(levels, levels.stop_loss, candle)
    if stop is not None:
        return [PositionFill("stop-loss", stop, remaining)]
    fills: list[PositionFill] = []
    left = remaining
    portion = (amount / len(levels.targets)).quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN)
    for index in targets_reached(levels, targets_hit, candle):
        size = left if index == len(levels.targets) else min(portion, left)
        fills.append(PositionFill(f"target {index}", levels.targets[index - 1], size, index))
        left -= size
    return fills


def realized_pnl(side: Side, entry: Decimal, exit_price: Decimal, amount: Decimal) -> Decimal:
    """Gross PnL in quote currency of closing ``amount`` bought/sold at ``entry``."""
    move = exit_price - entry if side is Side.BUY else entry - exit_price
    return move * amount


def levels_of(side: Side, entry_low: Decimal, entry_high: Decimal, stop: Decimal,
              targets: Sequence[object]) -> Levels:
    """Build ``Levels`` from stored fields (targets stored as decimal strings)."""
    return Levels(side, entry_low, entry_high, stop, tuple(Decimal(str(t)) for t in targets))

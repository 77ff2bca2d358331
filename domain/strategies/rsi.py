"""The built-in RSI reversal strategy: a pure rule from closed candles to a signal draft.

Indicators come from TA-Lib: ``talib.RSI`` is Wilder's Relative Strength Index (J. Welles
Wilder, *New Concepts in Technical Trading Systems*, 1978: average gain / average loss
smoothed with Wilder's moving average, ``RSI = 100 - 100 / (1 + RS)``) and ``talib.ATR``
is Wilder's Average True Range over the same book's true range
``max(high - low, |high - prev close|, |low - prev close|)``. Indicators run on floats;
every price that leaves this module is a ``Decimal`` in quote currency.

Rule: BUY when RSI crosses up through ``oversold`` on the last closed candle
(``prev < oversold <= last``), SELL when it crosses down through ``overbought``
(``prev > overbought >= last``). Entry = last close; stop = entry -/+ ``stop_atr`` x ATR;
targets = entry +/- k x ATR for each k of ``target_atr``; prices rounded half-even to the
tick (the most decimals among the window's closes, at least 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import talib
from numpy.typing import NDArray

from domain.market import Candle
from domain.models import Side
from domain.signals import SignalDraft, make_draft

MIN_DECIMALS = 2


@dataclass(frozen=True, slots=True)
class RsiParams:
    """Parameters of the RSI strategy. Periods count candles; multipliers are of the ATR.

    ``min_history``: candles needed before any signal (Wilder smoothing forgets its seed
    by a factor (1 - 1/period) per candle: after 100 candles of period 14 the seed's
    weight is below 0.1 %). ``lookback``: the strategy looks at most at the last
    ``lookback`` candles, so a candle gives the same signal whatever history the caller
    holds. Raises ``ValueError`` for inconsistent values.
    """

    period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0
    atr_period: int = 14
    stop_atr: float = 1.5
    target_atr: tuple[float, ...] = (1.0, 2.0, 3.0)
    min_history: int = 100
    lookback: int = 250

    def __post_init__(self) -> None:
        if self.period < 2 or self.atr_period < 1:
            raise ValueError("period must be >= 2 and atr_period >= 1")
        if not 0 < self.oversold < self.overbought < 100:
            raise ValueError("need 0 < oversold < overbought < 100")
        if self.stop_atr <= 0 or not self.target_atr or min(self.target_atr) <= 0:
            raise ValueError("stop_atr and every target_atr must be > 0")
        if list(self.target_atr) != sorted(set(self.target_atr)):
            raise ValueError("target_atr must be strictly ascending")
        if self.min_history < max(self.period, self.atr_period) + 2:
            raise ValueError("min_history must be at least max(period, atr_period) + 2")
        if self.lookback < self.min_history:
            raise ValueError("lookback must be >= min_history")


def rsi_signal(candles: Sequence[Candle], params: RsiParams = RsiParams()) -> SignalDraft | None:
    """The signal of the last candle of ``candles`` (one symbol, oldest first), or None.

    None when there are fewer than ``params.min_history`` candles, RSI does not cross a
    level on the last candle, the ATR is not positive, or the rounded stop/targets would
    collapse onto each other. The draft is built with ``make_draft`` (so it is valid).
    """
    window = _window(candles, params.lookback)
    if len(window) < params.min_history:
        return None
    rsi = talib.RSI(_floats(c.close for c in window), timeperiod=params.period)
    side = crossing(float(rsi[-2]), float(rsi[-1]), params)
    if side is None:
        return None
    atr = average_true_range(window, params.atr_period)
    if not atr > 0:
        return None
    note = (
        f"RSI({params.period}) {float(rsi[-2]):.2f} -> {float(rsi[-1]):.2f}, "
        f"ATR({params.atr_period}) {atr:.6g}"
    )
    return _draft(window, side, Decimal(repr(atr)), params, note)


def crossing(prev: float, last: float, params: RsiParams) -> Side | None:
    """BUY if RSI crossed up through ``oversold``, SELL if down through ``overbought``."""
    if math.isnan(prev) or math.isnan(last):
        return None
    if prev < params.oversold <= last:
        return Side.BUY
    if prev > params.overbought >= last:
        return Side.SELL
    return None


def average_true_range(candles: Sequence[Candle], period: int) -> float:
    """Wilder's ATR (TA-Lib) of the last candle in quote currency; NaN if too few candles."""
    highs = _floats(c.high for c in candles)
    lows = _floats(c.low for c in candles)
    closes = _floats(c.close for c in candles)
    return float(talib.ATR(highs, lows, closes, timeperiod=period)[-1])


def tick_of(candles: Sequence[Candle]) -> Decimal:
    """Price tick: 10^-d for d = most decimals among the closes, at least 2."""
    decimals = max([MIN_DECIMALS, *(_decimals(c.close) for c in candles)])
    return Decimal(1).scaleb(-decimals)


def _draft(
    window: Sequence[Candle], side: Side, atr: Decimal, params: RsiParams, note: str
) -> SignalDraft | None:
    tick = tick_of(window)
    entry = window[-1].close.quantize(tick)
    sign = 1 if side is Side.BUY else -1
    stop = _round(entry - sign * Decimal(repr(params.stop_atr)) * atr, tick)
    targets = [_round(entry + sign * Decimal(repr(k)) * atr, tick) for k in params.target_atr]
    if len({stop, entry, *targets}) != len(targets) + 2:
        return None
    return make_draft(
        symbol=window[-1].symbol,
        side=side.value,
        entry_low=entry,
        entry_high=None,
        stop_loss=stop,
        targets=targets,
        note=note,
    )


def _window(candles: Sequence[Candle], lookback: int) -> list[Candle]:
    if isinstance(candles, list | tuple):
        return list(candles[-lookback:])
    return list(candles)[-lookback:]


def _floats(prices: Iterable[Decimal]) -> NDArray[np.float64]:
    return np.fromiter((float(p) for p in prices), dtype=np.float64)


def _decimals(price: Decimal) -> int:
    exponent = price.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _round(price: Decimal, tick: Decimal) -> Decimal:
    return price.quantize(tick, rounding=ROUND_HALF_EVEN)

"""Market data as the domain sees it: closed candles, prices in quote currency."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed OHLCV candle. ``ts`` is the open time in Unix milliseconds (UTC).

    ``timeframe_ms`` is the candle's length; the candle closes at ``ts + timeframe_ms``.
    A live ticker is a candle with open = high = low = close = last price.
    """

    symbol: str
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    timeframe_ms: int

    @property
    def close_ts(self) -> int:
        """Unix milliseconds at which this candle closed."""
        return self.ts + self.timeframe_ms

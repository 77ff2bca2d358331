"""Signal setups taken from real candles: every price here is a real open/high/low/close."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from domain.market import Candle
from integrations.prices import load_candles

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
BTC_1H = DATA / "BTC_USDT-1h.csv"


@dataclass(frozen=True)
class Setup:
    """A BUY signal whose entry is the close of candle ``index`` (the replay's 'now').

    ``target`` is the high of the later candle ``target_index``; ``stop`` is a real low
    from before ``index`` lying below every low up to ``target_index``, so the replay
    reaches the target before the stop; the entry is touched again (the signal
    activates) in a candle before the target's.
    """

    index: int
    entry: Decimal
    stop: Decimal
    target: Decimal
    target_index: int


def winning_buy(candles: list[Candle], start: int, min_gain: Decimal = Decimal("1.004")
                ) -> Setup:
    """The first BUY setup at or after ``start`` that reaches its target within 48 candles."""
    for i in range(max(start, 300), len(candles) - 50):
        entry = candles[i].close
        for j in range(i + 1, i + 48):
            if candles[j].high >= entry * min_gain:
                floor = min(c.low for c in candles[i + 1:j + 1])
                lows = sorted({c.low for c in candles[i - 300:i] if c.low < floor}, reverse=True)
                activated = any(c.low <= entry for c in candles[i + 1:j])
                if lows and activated:
                    return Setup(i, entry, lows[0], candles[j].high, j)
                break
    raise LookupError("no winning setup found")


def btc_candles() -> list[Candle]:
    """The shipped Binance BTC/USDT 1h candles."""
    return load_candles(BTC_1H)

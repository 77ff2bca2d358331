"""RSI strategy on real Binance BTC/USDT 1h candles (signalhub/data), checked against TA-Lib."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import talib

from domain.market import Candle
from domain.models import Side
from domain.signals import SignalDraft, validate_draft
from domain.strategies import RsiParams, rsi_signal
from domain.strategies.runner import run_strategy
from integrations.prices import load_candles

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
PARAMS = RsiParams()
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def btc() -> list[Candle]:
    return load_candles(DATA / "BTC_USDT-1h.csv")


def window_at(candles: list[Candle], i: int) -> list[Candle]:
    """The candles the strategy sees when candle ``i`` has just closed."""
    return candles[max(0, i - PARAMS.lookback + 1) : i + 1]


def talib_rsi(window: list[Candle]) -> np.ndarray:
    return talib.RSI(np.array([float(c.close) for c in window]), timeperiod=14)


def first_cross(candles: list[Candle], side: Side) -> int:
    """Index of the first candle where TA-Lib's RSI(14) crosses 30 up (BUY) / 70 down (SELL)."""
    for i in range(PARAMS.min_history - 1, len(candles)):
        prev, last = talib_rsi(window_at(candles, i))[-2:]
        if side is Side.BUY and prev < 30 <= last or side is Side.SELL and prev > 70 >= last:
            return i
    raise AssertionError(f"no {side} cross in the file")


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_signal_at_first_rsi_cross_matches_talib(btc: list[Candle], side: Side) -> None:
    i = first_cross(btc, side)
    window = window_at(btc, i)
    atr = float(
        talib.ATR(
            np.array([float(c.high) for c in window]),
            np.array([float(c.low) for c in window]),
            np.array([float(c.close) for c in window]),
            timeperiod=14,
        )[-1]
    )
    entry = btc[i].close
    sign = 1 if side is Side.BUY else -1

    draft = rsi_signal(window)

    assert draft is not None and draft.side is side and draft.symbol == "BTC/USDT"
    assert draft.entry_low == draft.entry_high == entry
    expected_stop = (entry - sign * Decimal("1.5") * Decimal(repr(atr))).quantize(CENT)
    assert draft.stop_loss == expected_stop
    assert abs(float(draft.stop_loss) - (float(entry) - sign * 1.5 * atr)) <= 0.005 + 1e-9
    for k, target in zip((1, 2, 3), draft.targets, strict=True):
        assert target == (entry + sign * k * Decimal(repr(atr))).quantize(CENT)
        assert abs(float(target) - (float(entry) + sign * k * atr)) <= 0.005 + 1e-9


def test_no_signal_without_a_cross(btc: list[Candle]) -> None:
    i = first_cross(btc, Side.BUY) + 1
    prev, last = talib_rsi(window_at(btc, i))[-2:]
    assert not (prev < 30 <= last) and not (prev > 70 >= last)
    assert rsi_signal(window_at(btc, i)) is None


def test_no_signal_before_min_history(btc: list[Candle]) -> None:
    i = first_cross(btc, Side.BUY)
    assert rsi_signal(window_at(btc, i)[-(PARAMS.min_history - 1) :]) is None


def test_signals_over_the_whole_file_are_valid(btc: list[Candle]) -> None:
    drafts = [(i, rsi_signal(window_at(btc, i))) for i in range(len(btc))]
    signals = [(i, d) for i, d in drafts if d is not None]

    assert len(signals) > 0
    assert {d.side for _, d in signals} == {Side.BUY, Side.SELL}
    for i, draft in signals:
        validate_draft(draft)
        assert draft.entry_low == btc[i].close
        assert draft.stop_loss.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"oversold": 70, "overbought": 30},
        {"stop_atr": 0},
        {"target_atr": (2.0, 1.0)},
        {"target_atr": ()},
        {"min_history": 10},
        {"lookback": 50},
    ],
)
def test_params_reject_inconsistent_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RsiParams(**kwargs)  # type: ignore[arg-type]


class FakeCandleSource:
    """Streams ``candles[start:]`` with ``candles[:start]`` as history (a PriceSource fake)."""

    def __init__(self, candles: list[Candle], start: int) -> None:
        self._candles, self._start = candles, start

    def last_price(self, symbol: str) -> Decimal | None:
        return self._candles[self._start - 1].close

    def now_ms(self) -> int:
        return self._candles[self._start - 1].close_ts

    def history(self, symbol: str, n: int) -> list[Candle]:
        return self._candles[: self._start][-n:]

    async def stream(self) -> AsyncIterator[Candle]:
        for candle in self._candles[self._start :]:
            await asyncio.sleep(0)
            yield candle


async def test_runner_publishes_the_same_signals_as_the_pure_rule(btc: list[Candle]) -> None:
    start, end = 300, 3000
    published: list[tuple[SignalDraft, Candle]] = []

    async def publish(draft: SignalDraft, candle: Candle) -> None:
        published.append((draft, candle))

    await run_strategy(FakeCandleSource(btc[:end], start), publish, PARAMS)

    expected = [(d, btc[i]) for i in range(start, end) if (d := rsi_signal(window_at(btc, i)))]
    assert len(expected) > 0
    assert published == expected

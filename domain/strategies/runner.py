"""Runs the RSI strategy over a price source's stream of closed candles."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

from domain.errors import DomainError
from domain.market import Candle
from domain.ports import PriceSource
from domain.signals import SignalDraft
from domain.strategies.rsi import RsiParams, rsi_signal

log = logging.getLogger(__name__)

Publish = Callable[[SignalDraft, Candle], Awaitable[None]]


class CandleHistorySource(PriceSource, Protocol):
    """A price source that also returns its recent closed candles (to warm up on)."""

    def history(self, symbol: str, n: int) -> list[Candle]:
        """The last ``n`` emitted candles of ``symbol``, oldest first."""
        ...


async def run_strategy(
    source: CandleHistorySource,
    publish: Publish,
    params: RsiParams = RsiParams(),
    symbols: Collection[str] | None = None,
) -> None:
    """Consume ``source.stream()`` and ``await publish(draft, candle)`` for every signal.

    Keeps the last ``params.lookback`` candles per symbol, seeded from
    ``source.history`` with the candles before a symbol's first streamed one. Only
    ``symbols`` are evaluated when given. A ``DomainError`` from ``publish`` is logged
    and the run goes on; any other exception ends it. Returns when the stream ends.
    """
    windows: dict[str, deque[Candle]] = {}
    async for candle in source.stream():
        if symbols is not None and candle.symbol not in symbols:
            continue
        window = windows.get(candle.symbol)
        if window is None:
            window = windows[candle.symbol] = _seed(source, candle, params.lookback)
        window.append(candle)
        draft = rsi_signal(window, params)
        if draft is not None:
            await _publish(publish, draft, candle)


def _seed(source: CandleHistorySource, first: Candle, lookback: int) -> deque[Candle]:
    """Candles of ``first.symbol`` older than ``first``: the source may already be ahead."""
    earlier = [c for c in source.history(first.symbol, lookback * 2) if c.ts < first.ts]
    return deque(earlier[-(lookback - 1) :], maxlen=lookback)


async def _publish(publish: Publish, draft: SignalDraft, candle: Candle) -> None:
    try:
        await publish(draft, candle)
    except DomainError as exc:
        log.warning(
            "strategy signal %s %s at %d not published: %s",
            draft.side.value,
            draft.symbol,
            candle.ts,
            exc.message,
        )

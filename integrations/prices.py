"""Price sources behind ``domain.ports.PriceSource``: a CSV replay and live ccxt tickers.

Candle files use the uniform CSV of ``signalhub/data`` (``timestamp,open,high,low,close,
volume``; timestamp = candle open time in Unix ms, UTC; prices in quote currency, read
with ``Decimal(str)``), named ``BASE_QUOTE-<tf>.csv`` or ``BASE_QUOTE_SETTLE-<tf>.csv``.

Errors: bad files and specs raise ``ValueError``; ``CcxtPriceSource`` turns ccxt's
``NetworkError`` into ``RetryableError`` and every other ccxt error into
``PermanentError``. This is the only module that imports ccxt for prices, and only
inside ``CcxtPriceSource`` (importing ``ccxt.async_support`` costs ~1.3 s).
"""

from __future__ import annotations

import asyncio
import csv
import logging
import re
import time
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from domain.errors import PermanentError, RetryableError
from domain.market import Candle
from domain.ports import PriceSource
from domain.signals import SYMBOL_RE

log = logging.getLogger(__name__)

CSV_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
FILE_NAME_RE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)(?:_([A-Z0-9]+))?-([1-9][0-9]*)([mhdw])\.csv$")
SPEC_HELP = "PRICE_SOURCE must be replay:<folder> or ccxt:<exchange id>[:SYM1,SYM2]"

PathLike = str | Path


# --- CSV files ---------------------------------------------------------------------


def market_of_file(path: PathLike) -> tuple[str, int]:
    """``(ccxt symbol, timeframe in ms)`` from a candle file name.

    ``BTC_USDT-1h.csv`` -> ``("BTC/USDT", 3_600_000)``; ``BTC_USDT_USDT-5m.csv`` ->
    ``("BTC/USDT:USDT", 300_000)``. Raises ``ValueError`` for any other name (monthly
    ``1M`` files too: a month has no fixed length).
    """
    name = Path(path).name
    match = FILE_NAME_RE.match(name)
    if match is None:
        raise ValueError(
            f"{name}: candle file names look like BTC_USDT-1h.csv or BTC_USDT_USDT-5m.csv "
            "(timeframe: <n>m, <n>h, <n>d or <n>w)"
        )
    base, quote, settle, count, unit = match.groups()
    symbol = f"{base}/{quote}:{settle}" if settle else f"{base}/{quote}"
    return symbol, int(count) * UNIT_MS[unit]


def load_candles(path: PathLike) -> list[Candle]:
    """Read one candle CSV into candles in file order (open time strictly increasing).

    Raises ``ValueError`` naming the file and line for a bad name, header, column count,
    number, a non-positive price, high/low not bounding open/close, negative volume,
    timestamps not strictly increasing, or a file without candles.
    """
    path = Path(path)
    symbol, timeframe_ms = market_of_file(path)
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != CSV_HEADER:
            raise ValueError(f"{path.name}:1: header must be {','.join(CSV_HEADER)}, got {header}")
        candles: list[Candle] = []
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            candle = _parse_row(row, symbol, timeframe_ms, where)
            if candles and candle.ts <= candles[-1].ts:
                raise ValueError(f"{where}: timestamp {candle.ts} is not after {candles[-1].ts}")
            candles.append(candle)
    if not candles:
        raise ValueError(f"{path.name}: no candles")
    return candles


def _parse_row(row: list[str], symbol: str, timeframe_ms: int, where: str) -> Candle:
    if len(row) != len(CSV_HEADER):
        raise ValueError(f"{where}: expected {len(CSV_HEADER)} columns, got {len(row)}")
    try:
        ts = int(row[0])
        open_, high, low, close, volume = (Decimal(cell) for cell in row[1:])
    except (ValueError, InvalidOperation):
        raise ValueError(f"{where}: not a number in {row!r}") from None
    prices = (open_, high, low, close)
    if not all(p.is_finite() and p > 0 for p in prices):
        raise ValueError(f"{where}: prices must be finite and > 0")
    if high < max(open_, close) or low > min(open_, close):
        raise ValueError(f"{where}: high/low do not bound open/close")
    if not volume.is_finite() or volume < 0:
        raise ValueError(f"{where}: volume must be finite and >= 0")
    return Candle(symbol, ts, open_, high, low, close, volume, timeframe_ms)


def _candle_paths(folder_or_files: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(folder_or_files, str | Path):
        path = Path(folder_or_files)
        if not path.exists():
            raise ValueError(f"{path}: no such folder or file")
        paths = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    else:
        paths = [Path(p) for p in folder_or_files]
    if not paths:
        raise ValueError(f"{folder_or_files}: no candle CSV files")
    return paths


def _load_markets(
    folder_or_files: PathLike | Iterable[PathLike], symbols: list[str] | None
) -> dict[str, list[Candle]]:
    """Candles per symbol; one file per symbol; only ``symbols`` if given."""
    by_symbol: dict[str, Path] = {}
    for path in _candle_paths(folder_or_files):
        symbol, _ = market_of_file(path)
        if symbol in by_symbol:
            raise ValueError(f"{symbol}: two candle files ({by_symbol[symbol].name}, {path.name})")
        by_symbol[symbol] = path
    missing = sorted(set(symbols or ()) - set(by_symbol))
    if missing:
        raise ValueError(f"no candle file for {', '.join(missing)}")
    wanted = symbols if symbols is not None else sorted(by_symbol)
    return {symbol: load_candles(by_symbol[symbol]) for symbol in wanted}


# --- fan-out to several consumers ---------------------------------------------------


class CandleSubscription:
    """One consumer's stream: an async iterator over candles published after it began.

    It ends when the source ends or closes. Dropping it unsubscribes (the source holds
    it weakly), so a consumer that breaks out of ``async for`` leaks nothing.
    """

    def __init__(self, on_wait: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[Candle | None] = asyncio.Queue()
        self._on_wait = on_wait
        self._ended = False

    def __aiter__(self) -> CandleSubscription:
        return self

    async def __anext__(self) -> Candle:
        if self._ended:
            raise StopAsyncIteration
        self._on_wait()
        candle = await self._queue.get()
        if candle is None:
            self._ended = True
            raise StopAsyncIteration
        return candle

    def put(self, candle: Candle | None) -> None:
        """Queue ``candle``; None ends the stream after the candles already queued."""
        self._queue.put_nowait(candle)


class _FanOut:
    def __init__(self) -> None:
        self._subscribers: weakref.WeakSet[CandleSubscription] = weakref.WeakSet()
        self._closed = False

    def subscribe(self, on_wait: Callable[[], None]) -> CandleSubscription:
        subscription = CandleSubscription(on_wait)
        if self._closed:
            subscription.put(None)
        else:
            self._subscribers.add(subscription)
        return subscription

    def publish(self, candles: Iterable[Candle]) -> None:
        for subscription in list(self._subscribers):
            for candle in candles:
                subscription.put(candle)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for subscription in list(self._subscribers):
                subscription.put(None)


# --- replay ------------------------------------------------------------------------


class ReplayPriceSource:
    """Replays candle CSVs of several symbols merged in time order.

    A *step* is every candle closing at the same instant (one timeframe: the same open
    time). Candles closing at or before ``start_ms`` are history: already emitted, never
    streamed. Default ``start_ms``: the close of the ``history``-th step (= first open
    time + ``history`` candles). With ``speed`` the replay clock is ``start_ms + wall
    seconds since construction * 1000 * speed`` and a candle is emitted once its close
    time has passed on it; with ``speed=None`` nothing moves until ``advance()``.

    Raises ``ValueError`` for bad files, a symbol without a file, two files of one
    symbol, or a speed that is not > 0.
    """

    def __init__(
        self,
        folder_or_files: PathLike | Iterable[PathLike],
        *,
        speed: float | None,
        start_ms: int | None = None,
        symbols: list[str] | None = None,
        history: int = 200,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"replay speed must be > 0 or None (manual), got {speed}")
        self._speed = speed
        self._candles = _load_markets(folder_or_files, symbols)
        self._steps = _merge_steps(self._candles)
        self._emitted = dict.fromkeys(self._candles, 0)
        self._cursor = 0
        self._fanout = _FanOut()
        self._pump: asyncio.Task[None] | None = None
        self.start_ms = _default_start(self._steps, history) if start_ms is None else start_ms
        self._release_until(self.start_ms)
        self._now = max(self.start_ms, self._now_of_cursor())
        self._wall_start = time.monotonic()

    @property
    def symbols(self) -> list[str]:
        """Symbols replayed, in ccxt unified form."""
        return list(self._candles)

    @property
    def finished(self) -> bool:
        """True once every candle has been emitted (streams then end)."""
        return self._cursor >= len(self._steps)

    def now_ms(self) -> int:
        """Replay clock in Unix ms; manual: close time of the last emitted candle."""
        if self._speed is None:
            return self._now
        return self.start_ms + int((time.monotonic() - self._wall_start) * 1000 * self._speed)

    def last_price(self, symbol: str) -> Decimal | None:
        """Close (quote currency) of the latest emitted candle of ``symbol``; None before any."""
        self._catch_up()
        count = self._emitted.get(symbol, 0)
        return self._candles[symbol][count - 1].close if count else None

    def history(self, symbol: str, n: int) -> list[Candle]:
        """The last ``n`` emitted candles of ``symbol``, oldest first ([] if unknown)."""
        self._catch_up()
        count = self._emitted.get(symbol, 0)
        return self._candles[symbol][max(0, count - n) : count] if count else []

    def stream(self) -> CandleSubscription:
        """Every candle emitted from now on, in time order; ends when the replay ends.

        Each call is an independent consumer, subscribed at the call (not at the first
        ``__anext__``), so candles released right after the call are not missed.
        """
        return self._fanout.subscribe(self._ensure_pump)

    def advance(self, n: int = 1) -> list[Candle]:
        """Manual mode: emit the next ``n`` steps and return their candles (time order).

        Raises ``RuntimeError`` on a timed replay (``speed`` given).
        """
        self._require_manual()
        last = min(self._cursor + n, len(self._steps))
        released: list[Candle] = []
        while self._cursor < last:
            released.extend(self._release_step())
        return released

    def advance_to(self, ts_ms: int) -> list[Candle]:
        """Manual mode: emit every candle closed at or before ``ts_ms`` (Unix ms)."""
        self._require_manual()
        return self._release_until(ts_ms)

    async def aclose(self) -> None:
        """Stop the timed replay's task and end every open stream. Idempotent."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        self._fanout.close()

    def _require_manual(self) -> None:
        if self._speed is not None:
            raise RuntimeError("advance() only drives a manual replay (speed=None)")

    def _release_until(self, ts_ms: int) -> list[Candle]:
        released: list[Candle] = []
        while self._cursor < len(self._steps) and self._steps[self._cursor][0] <= ts_ms:
            released.extend(self._release_step())
        return released

    def _release_step(self) -> list[Candle]:
        close_ts, candles = self._steps[self._cursor]
        self._cursor += 1
        for candle in candles:
            self._emitted[candle.symbol] += 1
        self._now = close_ts
        self._fanout.publish(candles)
        if self.finished:
            self._fanout.close()
        return candles

    def _now_of_cursor(self) -> int:
        return self._steps[self._cursor - 1][0] if self._cursor else self.start_ms

    def _catch_up(self) -> None:
        if self._speed is not None:
            self._release_until(self.now_ms())

    def _ensure_pump(self) -> None:
        if self._speed is None or self.finished:
            return
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def _run_pump(self) -> None:
        assert self._speed is not None
        while not self.finished:
            self._catch_up()
            if not self.finished:
                wait_ms = self._steps[self._cursor][0] - self.now_ms()
                await asyncio.sleep(max(wait_ms, 0) / 1000 / self._speed)


def _merge_steps(candles: dict[str, list[Candle]]) -> list[tuple[int, list[Candle]]]:
    """Candles of all symbols grouped by close time, ascending; symbols sorted within."""
    steps: dict[int, list[Candle]] = defaultdict(list)
    for symbol in sorted(candles):
        for candle in candles[symbol]:
            steps[candle.close_ts].append(candle)
    return sorted(steps.items())


def _default_start(steps: list[tuple[int, list[Candle]]], history: int) -> int:
    if history <= 0:
        return min(candle.ts for candle in steps[0][1])
    return steps[min(history, len(steps)) - 1][0]


# --- live tickers through ccxt -----------------------------------------------------


class CcxtPriceSource:
    """Live prices: polls ``fetch_tickers(symbols)`` every ``poll_interval_s`` seconds.

    Each ticker becomes a Candle with open = high = low = close = last price (quote
    currency), volume 0, ``timeframe_ms`` 0 and ``ts`` = the exchange's ticker time
    (Unix ms). ``api_urls`` overrides entries of ccxt's ``exchange.urls['api']`` (tests
    point them at a local server); ``markets`` (ccxt market structures) are set offline
    so ``load_markets`` makes no call. Each ``stream()`` call polls on its own. The
    caller must ``await aclose()``, which closes the exchange's HTTP session.

    Raises ``ValueError`` for an exchange id ccxt does not know.
    """

    def __init__(
        self,
        exchange_id: str,
        symbols: list[str] | None,
        *,
        poll_interval_s: float = 5.0,
        api_urls: dict[str, str] | None = None,
        markets: list[dict[str, Any]] | None = None,
        history: int = 500,
    ) -> None:
        import ccxt.async_support as ccxt_async  # lazy: ~1.3 s, only when live prices are used

        if exchange_id not in ccxt_async.exchanges:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        self._errors = ccxt_async
        self.exchange = getattr(ccxt_async, exchange_id)({"enableRateLimit": True})
        if api_urls:
            self.exchange.urls["api"] = {**self.exchange.urls["api"], **api_urls}
        if markets is not None:
            self.exchange.set_markets(markets)
        self.symbols = symbols
        self.poll_interval_s = poll_interval_s
        self._recent: dict[str, deque[Candle]] = defaultdict(lambda: deque(maxlen=history))

    def now_ms(self) -> int:
        """Wall clock in Unix ms (UTC)."""
        return int(self.exchange.milliseconds())

    def last_price(self, symbol: str) -> Decimal | None:
        """Last traded price (quote currency) seen by the latest poll; None before any."""
        recent = self._recent.get(symbol)
        return recent[-1].close if recent else None

    def history(self, symbol: str, n: int) -> list[Candle]:
        """The last ``n`` ticker candles of ``symbol`` polled so far, oldest first."""
        return list(self._recent.get(symbol, ()))[-n:] if n > 0 else []

    async def poll(self) -> list[Candle]:
        """One ``fetch_tickers`` call: one candle per ticker with a last price.

        Raises ``RetryableError`` (network trouble, rate limits, exchange down) or
        ``PermanentError`` (any other ccxt error, e.g. an unknown symbol).
        """
        try:
            tickers = await self.exchange.fetch_tickers(self.symbols)
        except self._errors.NetworkError as exc:
            raise RetryableError(f"{self.exchange.id} fetch_tickers: {exc}") from exc
        except self._errors.BaseError as exc:
            raise PermanentError(f"{self.exchange.id} fetch_tickers: {exc}") from exc
        candles = [c for c in map(self._ticker_candle, tickers.values()) if c is not None]
        for candle in candles:
            self._recent[candle.symbol].append(candle)
        return candles

    async def stream(self) -> AsyncIterator[Candle]:
        """Ticker candles forever; waits out ``RetryableError``, raises ``PermanentError``."""
        while True:
            try:
                candles = await self.poll()
            except RetryableError as exc:
                log.warning("price poll failed, retrying: %s", exc.message)
                await asyncio.sleep(exc.retry_after or self.poll_interval_s)
                continue
            for candle in candles:
                yield candle
            await asyncio.sleep(self.poll_interval_s)

    async def aclose(self) -> None:
        """Close the exchange's HTTP session. Idempotent."""
        await self.exchange.close()

    def _ticker_candle(self, ticker: dict[str, Any]) -> Candle | None:
        last = ticker.get("last")
        if last is None:
            return None
        price = Decimal(str(last))
        ts = ticker.get("timestamp") or self.now_ms()
        return Candle(ticker["symbol"], int(ts), price, price, price, price, Decimal(0), 0)


# --- configuration -----------------------------------------------------------------


def parse_price_source(spec: str, *, speed: float | None) -> PriceSource:
    """Build the source a ``PRICE_SOURCE`` setting names.

    ``replay:<folder>`` -> ``ReplayPriceSource(folder, speed=speed)``;
    ``ccxt:<exchange id>[:SYM1,SYM2]`` -> ``CcxtPriceSource`` (no symbols: all tickers).
    Raises ``ValueError`` with a one-line message naming PRICE_SOURCE.
    """
    kind, _, rest = spec.strip().partition(":")
    try:
        if kind == "replay" and rest.strip():
            return ReplayPriceSource(rest.strip(), speed=speed)
        if kind == "ccxt" and rest.strip():
            exchange_id, symbols = _parse_ccxt_spec(rest)
            return CcxtPriceSource(exchange_id, symbols)
    except ValueError as exc:
        raise ValueError(f"PRICE_SOURCE={spec!r}: {exc}") from None
    raise ValueError(f"{SPEC_HELP}, got {spec!r}")


def _parse_ccxt_spec(rest: str) -> tuple[str, list[str] | None]:
    exchange_id, _, symbols_text = rest.partition(":")
    if not re.fullmatch(r"[a-z0-9]+", exchange_id.strip()):
        raise ValueError(f"exchange id must be a ccxt id like binance, got {exchange_id!r}")
    symbols = [s.strip() for s in symbols_text.split(",") if s.strip()]
    bad = [s for s in symbols if not SYMBOL_RE.match(s)]
    if bad:
        raise ValueError(f"symbols must be ccxt unified symbols like BTC/USDT, got {bad}")
    return exchange_id.strip(), symbols or None

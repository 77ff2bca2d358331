"""CSV loading, the replay price source and PRICE_SOURCE parsing, on the real candle files."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from domain.market import Candle
from integrations.prices import (
    ReplayPriceSource,
    load_candles,
    market_of_file,
    parse_price_source,
)

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
HOUR = 3_600_000
BTC_AND_ETH = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture(scope="module")
def btc() -> list[Candle]:
    return load_candles(DATA / "BTC_USDT-1h.csv")


@pytest.fixture(scope="module")
def eth() -> list[Candle]:
    return load_candles(DATA / "ETH_USDT-1h.csv")


def head_of(tmp_path: Path, name: str, rows: int) -> Path:
    """A copy of the first ``rows`` candles of a real file, under ``name``."""
    lines = (DATA / name).read_text().splitlines(keepends=True)[: rows + 1]
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def test_load_candles_reads_the_real_btc_file(btc: list[Candle]) -> None:
    readme = (DATA / "README.md").read_text()
    readme_rows = re.search(r"### `BTC_USDT-1h\.csv`.*?; (\d+) rows", readme, re.DOTALL)
    assert readme_rows is not None and len(btc) == int(readme_rows.group(1)) == 12556
    first = btc[0]  # 1726272000000,60497.99,60610.45,60372.77,60414.39,753.37252
    assert first == Candle(
        "BTC/USDT",
        1726272000000,
        Decimal("60497.99"),
        Decimal("60610.45"),
        Decimal("60372.77"),
        Decimal("60414.39"),
        Decimal("753.37252"),
        HOUR,
    )
    assert all(b.ts - a.ts == HOUR for a, b in zip(btc, btc[1:], strict=False))


@pytest.mark.parametrize(
    ("name", "market"),
    [
        ("BTC_USDT-1h.csv", ("BTC/USDT", HOUR)),
        ("BTC_USDT_USDT-1h.csv", ("BTC/USDT:USDT", HOUR)),
        ("ETH_USDT-5m.csv", ("ETH/USDT", 300_000)),
        ("ETH_USDT-15m.csv", ("ETH/USDT", 900_000)),
        ("BTC_USDT-4h.csv", ("BTC/USDT", 4 * HOUR)),
        ("BTC_USDT-1d.csv", ("BTC/USDT", 24 * HOUR)),
    ],
)
def test_market_of_file(name: str, market: tuple[str, int]) -> None:
    assert market_of_file(Path("x") / name) == market


@pytest.mark.parametrize("name", ["BTCUSDT-1h.csv", "BTC_USD-1M.csv", "btc_usdt-1h.csv", "B_U.csv"])
def test_market_of_file_rejects_other_names(name: str) -> None:
    with pytest.raises(ValueError, match="BTC_USDT-1h.csv"):
        market_of_file(name)


GOOD = "1726272000000,60497.99,60610.45,60372.77,60414.39,753.37252\n"
NEXT = "1726275600000,60414.39,60595.7,60406.06,60406.06,590.92967\n"
HEADER = "timestamp,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", r":1: header must be"),
        ("ts,o,h,l,c,v\n" + GOOD, r":1: header must be"),
        (HEADER, r": no candles"),
        (HEADER + "1726272000000,60497.99,60610.45\n", r":2: expected 6 columns, got 3"),
        (HEADER + GOOD + "1726275600000,abc,1,1,1,1\n", r":3: not a number"),
        (HEADER + NEXT + GOOD, r":3: timestamp 1726272000000 is not after"),
        (HEADER + GOOD + GOOD, r":3: timestamp .* is not after"),
        (HEADER + "1726272000000,60497.99,60400,60372.77,60414.39,1\n", r":2: high/low"),
        (HEADER + "1726272000000,0,1,0,1,1\n", r":2: prices must be finite and > 0"),
        (HEADER + "1726272000000,NaN,1,1,1,1\n", r":2: prices must be finite"),
        (HEADER + GOOD.replace("753.37252", "-1"), r":2: volume must be"),
    ],
)
def test_load_candles_rejects_malformed_files(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "BTC_USDT-1h.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"^BTC_USDT-1h\.csv" + error):
        load_candles(path)


def test_manual_replay_starts_after_history_and_advances(
    btc: list[Candle], eth: list[Candle]
) -> None:
    replay = ReplayPriceSource(DATA, speed=None, symbols=BTC_AND_ETH)

    assert replay.symbols == BTC_AND_ETH
    assert replay.now_ms() == btc[0].ts + 200 * HOUR == btc[199].close_ts
    assert replay.last_price("BTC/USDT") == btc[199].close
    assert replay.last_price("SOL/USDT") is None
    assert replay.history("ETH/USDT", 3) == eth[197:200]
    assert replay.history("ETH/USDT", 1000) == eth[:200]

    assert replay.advance() == [btc[200], eth[200]]
    assert replay.now_ms() == btc[200].close_ts
    assert replay.last_price("BTC/USDT") == btc[200].close
    assert replay.history("BTC/USDT", 2) == btc[199:201]

    assert replay.advance(2) == [btc[201], eth[201], btc[202], eth[202]]
    assert replay.advance_to(btc[205].close_ts + HOUR // 2) == [
        c for i in range(203, 206) for c in (btc[i], eth[i])
    ]
    assert replay.now_ms() == btc[205].close_ts
    assert replay.last_price("ETH/USDT") == eth[205].close


def test_replay_with_start_and_without_history(btc: list[Candle]) -> None:
    files = [DATA / "BTC_USDT-1h.csv"]
    fresh = ReplayPriceSource(files, speed=None, history=0)
    assert fresh.now_ms() == btc[0].ts
    assert fresh.last_price("BTC/USDT") is None and fresh.history("BTC/USDT", 5) == []
    assert fresh.advance() == [btc[0]] and fresh.last_price("BTC/USDT") == btc[0].close

    later = ReplayPriceSource(files, speed=None, start_ms=btc[1000].ts)
    assert later.history("BTC/USDT", 1) == [btc[999]]
    assert later.advance() == [btc[1000]]


async def test_two_consumers_each_get_every_candle_from_their_start(tmp_path: Path) -> None:
    for name in ("BTC_USDT-1h.csv", "SOL_USDT-1h.csv"):
        head_of(tmp_path, name, 30)
    replay = ReplayPriceSource(tmp_path, speed=None, history=10)

    async def collect(stream: AsyncIterator[Candle]) -> list[Candle]:
        return [candle async for candle in stream]

    first = asyncio.create_task(collect(replay.stream()))
    early = replay.advance(5)
    second = asyncio.create_task(collect(replay.stream()))
    late = replay.advance(100)

    assert len(early) == 10 and len(late) == 30 and replay.finished
    assert await first == early + late
    assert await second == late
    assert [c async for c in replay.stream()] == []


async def test_consumer_that_stops_early_does_not_block_the_others(tmp_path: Path) -> None:
    replay = ReplayPriceSource(head_of(tmp_path, "BTC_USDT-1h.csv", 20), speed=None, history=5)
    quitter, stayer = replay.stream(), replay.stream()
    released = replay.advance(100)

    assert await anext(quitter) == released[0]
    del quitter
    assert [c async for c in stayer] == released


async def test_timed_replay_streams_candles_as_they_close(tmp_path: Path) -> None:
    path = head_of(tmp_path, "ETH_USDT-1h.csv", 12)
    candles = load_candles(path)
    replay = ReplayPriceSource(path, speed=HOUR / 10, history=2)  # 1 h of candles per 10 ms

    streamed = [c async for c in replay.stream()]

    assert streamed == candles[2:]
    assert replay.now_ms() >= candles[-1].close_ts
    assert replay.last_price("ETH/USDT") == candles[-1].close
    with pytest.raises(RuntimeError, match="manual"):
        replay.advance()


def test_replay_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no candle file for XRP/USDT"):
        ReplayPriceSource(DATA, speed=None, symbols=["XRP/USDT"])
    with pytest.raises(ValueError, match="speed must be > 0"):
        ReplayPriceSource(DATA, speed=0)
    with pytest.raises(ValueError, match="no candle CSV files"):
        ReplayPriceSource(tmp_path, speed=None)


def test_parse_price_source_builds_a_replay() -> None:
    source = parse_price_source(f"replay:{DATA}", speed=60.0)
    assert isinstance(source, ReplayPriceSource)
    assert source.symbols == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "replay",
        "replay:",
        "replay:/no/such/folder",
        "files:/tmp",
        "ccxt",
        "ccxt:",
        "ccxt:Bin ance",
        "ccxt:binance:btcusdt",
        "ccxt:binance:BTC/USDT,ETH-USDT",
    ],
)
def test_parse_price_source_rejects_malformed_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="PRICE_SOURCE") as error:
        parse_price_source(spec, speed=1.0)
    assert "\n" not in str(error.value)

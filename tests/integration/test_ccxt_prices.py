"""CcxtPriceSource against a local server speaking binance's spot REST API on loopback.

ccxt runs unmodified; only ``exchange.urls['api']['public']`` points at the server.
Ticker prices are the last 24 real 1h candles of signalhub/data (no invented prices);
markets come from a minimal snapshot of binance's BTC/USDT and ETH/USDT spot markets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from domain.errors import PermanentError, RetryableError
from integrations.prices import CcxtPriceSource, load_candles, parse_price_source

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
FILES = {"BTCUSDT": "BTC_USDT-1h.csv", "ETHUSDT": "ETH_USDT-1h.csv"}


def spot_market(base: str, amount_step: float) -> dict[str, Any]:
    """A binance spot market as ccxt's load_markets leaves it (fields fetch_tickers reads)."""
    return {
        "id": f"{base}USDT", "symbol": f"{base}/USDT", "base": base, "quote": "USDT",
        "baseId": base, "quoteId": "USDT", "type": "spot", "spot": True, "margin": True,
        "swap": False, "future": False, "option": False, "contract": False, "active": True,
        "linear": None, "inverse": None, "precision": {"amount": amount_step, "price": 0.01},
        "limits": {"amount": {"min": amount_step}, "cost": {"min": 5.0}},
        "info": {"symbol": f"{base}USDT", "status": "TRADING"},
    }  # fmt: skip


MARKETS = [spot_market("BTC", 1e-05), spot_market("ETH", 0.0001)]


def ticker_24hr(market_id: str) -> dict[str, Any]:
    """Binance ``GET /api/v3/ticker/24hr`` item built from the file's last 24 candles."""
    candles = load_candles(DATA / FILES[market_id])
    day, before = candles[-24:], candles[-25]
    change = day[-1].close - day[0].open
    return {
        "symbol": market_id,
        "priceChange": str(change),
        "priceChangePercent": str(round(change / day[0].open * 100, 3)),
        "prevClosePrice": str(before.close),
        "lastPrice": str(day[-1].close),
        "openPrice": str(day[0].open),
        "highPrice": str(max(c.high for c in day)),
        "lowPrice": str(min(c.low for c in day)),
        "volume": str(sum(c.volume for c in day)),
        "openTime": day[0].ts,
        "closeTime": day[-1].close_ts - 1,
    }


class FakeBinance:
    """Answers ``/api/v3/ticker/24hr``; ``failures`` are (status, body) served first."""

    def __init__(self) -> None:
        self.failures: list[tuple[int, str]] = []
        self.queries: list[dict[str, str]] = []

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        if self.failures:
            status, body = self.failures.pop(0)
            return web.Response(status=status, text=body, content_type="application/json")
        ids = json.loads(request.query["symbols"])
        return web.json_response([ticker_24hr(market_id) for market_id in ids])


@pytest.fixture
async def binance() -> AsyncIterator[tuple[FakeBinance, str]]:
    fake = FakeBinance()
    app = web.Application()
    app.router.add_get("/api/v3/ticker/24hr", fake.ticker_24hr)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("/api/v3"))
    await server.close()


@pytest.fixture
async def source(binance: tuple[FakeBinance, str]) -> AsyncIterator[CcxtPriceSource]:
    _, api = binance
    prices = CcxtPriceSource(
        "binance",
        ["BTC/USDT", "ETH/USDT"],
        poll_interval_s=0.01,
        api_urls={"public": api},
        markets=MARKETS,
    )
    yield prices
    await prices.aclose()


async def test_poll_turns_tickers_into_candles(
    binance: tuple[FakeBinance, str], source: CcxtPriceSource
) -> None:
    fake, _ = binance
    btc, eth = load_candles(DATA / FILES["BTCUSDT"])[-1], load_candles(DATA / FILES["ETHUSDT"])[-1]

    candles = await source.poll()

    assert fake.queries == [{"symbols": '["BTCUSDT","ETHUSDT"]'}]
    assert {c.symbol: c.close for c in candles} == {"BTC/USDT": btc.close, "ETH/USDT": eth.close}
    for candle in candles:
        assert candle.open == candle.high == candle.low == candle.close
        assert candle.timeframe_ms == 0 and candle.volume == Decimal(0)
    assert source.last_price("BTC/USDT") == btc.close
    assert source.history("ETH/USDT", 5) == [c for c in candles if c.symbol == "ETH/USDT"]


async def test_errors_are_translated_and_stream_waits_out_retryable_ones(
    binance: tuple[FakeBinance, str], source: CcxtPriceSource
) -> None:
    fake, _ = binance
    fake.failures = [(400, '{"code":-1121,"msg":"Invalid symbol."}')]
    with pytest.raises(PermanentError, match="binance"):
        await source.poll()

    fake.failures = [(429, '{"code":-1003,"msg":"Too many requests."}')]
    with pytest.raises(RetryableError):
        await source.poll()

    fake.failures = [(503, "")]
    stream = source.stream()
    first = await anext(stream)
    await stream.aclose()
    assert first.symbol == "BTC/USDT" and len(fake.queries) == 4


async def test_parse_price_source_builds_a_ccxt_source() -> None:
    source = parse_price_source("ccxt:binance:BTC/USDT,ETH/USDT:USDT", speed=1.0)
    assert isinstance(source, CcxtPriceSource)
    assert source.symbols == ["BTC/USDT", "ETH/USDT:USDT"]
    await source.aclose()
    with pytest.raises(ValueError, match="PRICE_SOURCE.*unknown ccxt exchange id 'nosuch'"):
        parse_price_source("ccxt:nosuch", speed=1.0)

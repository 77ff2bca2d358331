"""The fake Binance as a pytest fixture, and gateways pointed at it.

Use the fixture in a test module with ``fake_binance = tests.support.exchange.fake_binance``
(a plain import trips ruff's F811), or start ``FakeBinance`` yourself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integrations.exchange_ccxt import CcxtGateway
from integrations.exchange_markets import ExchangeSpec
from integrations.exchange_pool import GatewayPool
from integrations.secrets import ExchangeCredentials
from tests.fakes.binance_api import FakeBinance

# Shaped like Binance keys (64 alphanumerics); used only against the fake.
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDENTIALS = ExchangeCredentials(API_KEY, SECRET)
START_USDT = "10000"


@pytest.fixture
async def fake_binance() -> AsyncIterator[FakeBinance]:
    """A started fake with one account (``API_KEY``/``SECRET``): 10,000 USDT spot and
    10,000 USDT in the futures wallet; prices = last real candle closes."""
    async with FakeBinance() as fake:
        fake.add_account(API_KEY, SECRET, spot={"USDT": START_USDT}, futures_usdt=START_USDT)
        yield fake


def spec_for(fake: FakeBinance, market_type: str = "spot") -> ExchangeSpec:
    """Binance ``market_type`` with every API URL moved to the fake."""
    return ExchangeSpec("binance", market_type, api_base_url=fake.base_url)


async def gateway_for(fake: FakeBinance, market_type: str = "spot", *,
                      credentials: ExchangeCredentials = CREDENTIALS,
                      pool: GatewayPool | None = None, account_id: int = 1,
                      timeout_ms: int = 10_000) -> CcxtGateway:
    """A gateway of ``pool`` (default: a Redis-less pool of its own) on the fake."""
    pool = pool or GatewayPool(None, "test", timeout_ms=timeout_ms)
    return await pool.gateway(account_id, spec_for(fake, market_type), credentials)

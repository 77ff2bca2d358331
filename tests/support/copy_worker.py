"""A real worker process for crash tests: ``python -m tests.support.copy_worker``.

Settings come from the environment like ``signalhub worker`` (DATABASE_URL, REDIS_URL,
SIGNALHUB_NAMESPACE, SIGNALHUB_SECRET_KEY, EXCHANGE_*); the price source is the shipped
BTC/USDT replay held at its last real candle (the fake Binance's default price), and
the position monitor is off. Prints ``worker ready`` once the worker runs.
"""

from __future__ import annotations

import asyncio

from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import bootstrap, shutdown
from signalhub.settings import Settings
from tests.support.setups import BTC_1H, btc_candles
from workers.settings import make_worker


async def main() -> None:
    settings = Settings()
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=btc_candles()[-1].close_ts)
    services = await bootstrap(settings, prices=prices)
    worker = make_worker(services, monitor=False, poll_delay=0.01)
    print("worker ready", flush=True)  # noqa: T201
    try:
        await worker.main()
    finally:
        await worker.close()
        await shutdown(services)


if __name__ == "__main__":
    asyncio.run(main())

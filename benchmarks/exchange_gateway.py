"""CcxtGateway throughput against the fake Binance: N market orders over M accounts.

    .venv/bin/python -m benchmarks.exchange_gateway [--orders 1000] [--accounts 100]
        [--latency-ms 20] [--redis redis://127.0.0.1:6379]

Prints the time to build the accounts' gateways (ccxt client per account, shared
markets), then for all orders sent at once: wall time, orders/s, p50/p99 latency per
order, and this process's CPU per order; once without and once with the shared Redis
rate limiter (default bursts). The fake runs in this process too: its CPU is included.
Prices are the last real candle closes of signalhub/data.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from decimal import Decimal

from redis.asyncio import Redis

from domain.ports import OrderRequest
from integrations.exchange_markets import ExchangeSpec
from integrations.exchange_pool import GatewayPool
from integrations.secrets import ExchangeCredentials
from tests.fakes.binance_api import FakeBinance


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_once(fake: FakeBinance, pool: GatewayPool, orders: int, accounts: int,
                   label: str) -> None:
    spec = ExchangeSpec("binance", "spot", api_base_url=fake.base_url)
    started = time.perf_counter()
    gateways = [await pool.gateway(i, spec, ExchangeCredentials(f"benchkey{i:08d}",
                                                                f"benchsecret{i:08d}"))
                for i in range(accounts)]
    built = time.perf_counter() - started
    latencies: list[float] = []

    async def one(n: int) -> None:
        t0 = time.perf_counter()
        await gateways[n % accounts].create_order(OrderRequest(
            "BTC/USDT", "buy", "market", Decimal("0.0001"), f"bench-{label}-{n}"))
        latencies.append(time.perf_counter() - t0)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(orders)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"{label:>14}: build {accounts} gateways {built * 1000:.0f} ms | {orders} orders in "
          f"{wall:.2f} s = {orders / wall:.0f}/s | p50 {percentile(latencies, 0.5) * 1000:.0f} "
          f"ms p99 {percentile(latencies, 0.99) * 1000:.0f} ms | CPU {cpu / orders * 1e6:.0f} "
          f"µs/order (fake included)")
    await pool.close()


async def main(orders: int, accounts: int, latency_ms: float, redis_url: str) -> None:
    async with FakeBinance(latency_s=latency_ms / 1000) as fake:
        for i in range(accounts):
            fake.add_account(f"benchkey{i:08d}", f"benchsecret{i:08d}",
                             spot={"USDT": "100000"})
        await run_once(fake, GatewayPool(None, "bench"), orders, accounts, "no limiter")
        redis = Redis.from_url(redis_url)
        namespace = f"bench-{int(time.time())}"
        try:
            await run_once(fake, GatewayPool(redis, namespace), orders, accounts,
                           "redis limiter")
        finally:
            keys = [k async for k in redis.scan_iter(match=f"{namespace}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.accounts, args.latency_ms, args.redis))

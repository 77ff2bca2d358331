"""Copy-execution latency: one signal, N live copy followers on the fake Binance.

    .venv/bin/python benchmarks/copy_latency.py [--followers 100,1000,5000]
        [--latency-ms 20]

For each N: a fresh database (``signalhub_bench_<random>``, migrated) and Redis
namespace; N followers with confirmed live binance spot accounts (credentials sealed
as in production) on the fake Binance, which runs in a process of its own with
``--latency-ms`` per answer; an arq worker in this process (the production wiring:
``make_worker``, gateway pool with the Redis rate limiter lifted to the fake's needs).

A first signal warms the worker (a ccxt client per account, markets, equity); the
second is measured: from just before ``publish_signal`` to each order's ``acked_at``
(written with the shard's results, so the latency includes recording them). Printed:
p50/p99/max latency, orders per second (N / time until the last order was
acknowledged), this process's CPU per order, and the share of shard wall time spent in
database work vs exchange calls (``CopyEngine.stats``). Needs PostgreSQL on
127.0.0.1:5432 and Redis on 127.0.0.1:6379; removes its database and keys at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import resource
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.exchange_models import ExchangeAccount, MarketType, TradingMode  # noqa: E402
from domain.models import (  # noqa: E402
    CopyOrder,
    CopySettings,
    OrderStatus,
    PaperAccount,
    Provider,
    Role,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.publishing import publish_signal  # noqa: E402
from domain.signals import make_draft  # noqa: E402
from integrations.prices import ReplayPriceSource, load_candles  # noqa: E402
from integrations.secrets import ExchangeCredentials, SecretBox  # noqa: E402
from signalhub.bootstrap import bootstrap, shutdown  # noqa: E402
from signalhub.db import migrate  # noqa: E402
from signalhub.settings import Settings  # noqa: E402
from workers.settings import make_worker  # noqa: E402

PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379"
BTC = ROOT / "signalhub" / "data" / "BTC_USDT-1h.csv"
SECRET_KEY = "cd" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class FakeExchange:
    """``python -m tests.fakes.binance_api`` in its own process."""

    def __init__(self, latency_ms: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.binance_api", "--port", str(self.port),
             "--latency-ms", str(latency_ms)], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "fake binance listening on ..."

    async def add_accounts(self, keys: list[tuple[str, str]]) -> None:
        async with httpx.AsyncClient(base_url=self.url) as client:
            sem = asyncio.Semaphore(50)

            async def one(key: str, secret: str) -> None:
                async with sem:
                    response = await client.post("/_fake/account", params={
                        "key": key, "secret": secret, "usdt": "100000"})
                    response.raise_for_status()

            await asyncio.gather(*(one(k, s) for k, s in keys))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def followers(n: int, owner: User, provider: Provider, box: SecretBox,
                    fake: FakeExchange) -> None:
    keys = [(f"BenchKey{i:056d}", f"BenchSecret{i:053d}") for i in range(n)]
    await fake.add_accounts(keys)
    await User.bulk_create([User(name=f"follower{i}") for i in range(n)], batch_size=1000)
    ids = sorted(await User.filter(name__startswith="follower").values_list("id", flat=True))
    await PaperAccount.bulk_create([PaperAccount(user_id=u) for u in ids], batch_size=1000)
    await Subscription.bulk_create([Subscription(user_id=u, provider=provider,
                                                 status=SubscriptionStatus.ACTIVE)
                                    for u in ids], batch_size=1000)
    subs = await Subscription.filter(provider=provider).values_list("id", flat=True)
    await CopySettings.bulk_create([CopySettings(subscription_id=s, enabled=True,
                                                 max_position_pct=Decimal(1))
                                    for s in subs], batch_size=1000)
    rows = []
    for uid, (key, secret) in zip(ids, keys, strict=True):
        sealed = box.encrypt(ExchangeCredentials(key, secret), uid)  # type: ignore[arg-type]
        rows.append(ExchangeAccount(
            user_id=uid, exchange_id="binance", market_type=MarketType.SPOT,
            api_base_url=fake.url, mode=TradingMode.LIVE, api_key_hint=key[-4:],
            live_confirmed_at=datetime.now(UTC), credentials_ciphertext=sealed.ciphertext,
            credentials_nonce=sealed.nonce, credentials_key_id=sealed.key_id))
    await ExchangeAccount.bulk_create(rows, batch_size=1000)


async def wait_done(signal_id: int, n: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = await CopyOrder.filter(signal_id=signal_id, leg="entry").exclude(
            status__in=(OrderStatus.PENDING, OrderStatus.SENDING)).count()
        if done >= n:
            return
        await asyncio.sleep(0.05)
    rows = await CopyOrder.filter(signal_id=signal_id).values_list("status", "reason")
    raise TimeoutError(f"signal {signal_id}: not all {n} orders acknowledged: {rows[:5]}")


async def settle(timeout_s: float = 120) -> None:
    """Wait until no order leg is PENDING or SENDING (the previous signal's exits)."""
    deadline = time.monotonic() + timeout_s
    while await CopyOrder.filter(status__in=(OrderStatus.PENDING, OrderStatus.SENDING)
                                 ).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("order legs did not settle")
        await asyncio.sleep(0.05)


async def run(n: int, latency_ms: float, profile: str | None = None) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    db = f"signalhub_bench_{tag}"
    ns = f"bench-{tag}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{db}"')
    fake = FakeExchange(latency_ms)
    candles = load_candles(BTC)
    now = candles[-1]
    settings = Settings(database_url=f"{PG}/{db}", redis_url=REDIS_URL,
                        signalhub_namespace=ns, signalhub_secret_key=SECRET_KEY,
                        exchange_rate=10_000.0, exchange_account_rate=1_000.0,
                        exchange_timeout_ms=10_000)
    services = None
    try:
        await migrate(settings.database_url)
        prices = ReplayPriceSource([BTC], speed=None, start_ms=now.close_ts)
        services = await bootstrap(settings, prices=prices)
        owner = await User.create(name="owner", role=Role.PROVIDER)
        provider = await Provider.create(owner=owner, slug="bench", name="Bench",
                                         monthly_price=Decimal(0))
        await followers(n, owner, provider, SecretBox(SECRET_KEY), fake)
        stop = max(c.low for c in candles[-300:-1] if c.low < now.close * Decimal("0.98"))
        target = min(c.high for c in candles[-300:-1] if c.high > now.close * Decimal("1.01"))
        draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=now.close,
                           entry_high=None, stop_loss=stop, targets=[target])
        worker = make_worker(services, monitor=False, poll_delay=0.005)
        task = asyncio.create_task(worker.main())
        results: dict[str, Any] = {"followers": n}
        for label in ("cold", "warm"):
            await settle()
            engine = services.extras.get("copy_runtime")
            before = dict(engine.engine.stats) if engine else {}
            profiler = cProfile.Profile() if profile and label == "warm" else None
            cpu0 = cpu_s()
            if profiler is not None:
                profiler.enable()
            t0 = datetime.now(UTC)
            signal = await publish_signal(owner, "bench", draft, services.queue,
                                          services.bus, market_ts=prices.now_ms())
            await wait_done(signal.id, n)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            cpu = cpu_s() - cpu0
            rows = await CopyOrder.filter(signal_id=signal.id, leg="entry").values(
                "status", "acked_at", "updated_at")
            lat = [((r["acked_at"] or r["updated_at"]) - t0).total_seconds() for r in rows]
            stats = services.extras["copy_runtime"].engine.stats
            db_s = stats["db_s"] - before.get("db_s", 0)
            ex_s = stats["exchange_s"] - before.get("exchange_s", 0)
            statuses: dict[str, int] = {}
            for r in rows:
                statuses[r["status"].value] = statuses.get(r["status"].value, 0) + 1
            results[label] = {
                "p50_s": pct(lat, 0.5), "p99_s": pct(lat, 0.99), "max_s": max(lat),
                "orders_per_s": n / max(lat), "cpu_ms_per_order": 1000 * cpu / n,
                "db_share": db_s / (db_s + ex_s) if db_s + ex_s else 0.0,
                "statuses": statuses}
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # A job arq had just started (cron reconcile, deferred exits) is cancelled with
        # the worker's main task; its CancelledError comes back through close().
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        return results
    finally:
        if services is not None:
            await shutdown(services)
        fake.stop()
        redis = Redis.from_url(REDIS_URL)
        keys = [k async for k in redis.scan_iter(match=f"*{ns}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", default="100,1000,5000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the warm signal of "
                        "the last N into FILE (pstats) and print its top functions; the "
                        "profiler's overhead inflates the timings of that run")
    args = parser.parse_args()
    print(f"fake Binance latency {args.latency_ms:g} ms")  # noqa: T201
    for n in (int(x) for x in args.followers.split(",")):
        result = asyncio.run(run(n, args.latency_ms, args.profile))
        for label in ("cold", "warm"):
            r = result[label]
            print(f"{n:>6} followers {label}: p50 {r['p50_s']:.3f} s  p99 {r['p99_s']:.3f} s  "  # noqa: T201
                  f"all {r['max_s']:.3f} s  {r['orders_per_s']:.0f} orders/s  "
                  f"CPU {r['cpu_ms_per_order']:.2f} ms/order  "
                  f"db {100 * r['db_share']:.0f}% / exchange "
                  f"{100 * (1 - r['db_share']):.0f}% of shard time  {r['statuses']}")
    if args.profile:
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    main()

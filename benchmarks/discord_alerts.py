"""Discord channel alerts: wall time and worker CPU per message, against the fake Discord API.

    .venv/bin/python benchmarks/discord_alerts.py --channels 50,200 [--limiter production|off]
        [--latency-ms 100] [--in-flight 10]

For each channel count N it creates a provider with N enabled alerts (one per channel),
publishes one signal from real BTC/USDT candles and runs the worker's job
``post_discord_alerts`` for the PUBLISHED event (N posts), then closes the signal and
runs the job for the CLOSED event (N in-place edits). The fake Discord API
(``tests/fakes/discord_api.py``) runs in a child process, so the CPU figure is the
worker process only: discord.py's HTTP client, our job, the database and Redis round
trips. ``--limiter production`` keeps the shared Redis limiter at Discord's rates
(50 requests/s per bot, 1/s per channel): wall time is then set by the limiter;
``off`` lifts it to show the cost of the code itself.

Needs PostgreSQL at ``postgres://postgres@127.0.0.1:5432`` and Redis at
``127.0.0.1:6379``; creates and drops its own database and Redis namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN = "bench-discord-token"
SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"


def _serve_fake(conn: Any, latency_s: float) -> None:
    from tests.fakes.discord_api import FakeDiscordApi

    async def main() -> None:
        async with FakeDiscordApi(token=TOKEN, latency_s=latency_s) as api:
            conn.send(api.api_base)
            await asyncio.Event().wait()

    asyncio.run(main())


async def run(channel_counts: list[int], limiter: str, latency_ms: float,
              in_flight: int) -> None:
    import asyncpg

    from benchmarks.fanout_support import real_drafts
    from domain.discord_models import DiscordAlert
    from domain.models import SignalEvent
    from domain.providers import create_provider
    from domain.publishing import close_signal, publish_signal
    from domain.users import create_user
    from integrations.ratelimit import RedisRateLimiter
    from signalhub.bootstrap import bootstrap, shutdown
    from signalhub.db import migrate
    from signalhub.settings import Settings
    from workers import discord_jobs
    from workers.context import WorkerDeps
    from workers.discord_jobs import close_discord, post_discord_alerts

    discord_jobs.IN_FLIGHT = in_flight
    parent, child = mp.Pipe()
    fake = mp.Process(target=_serve_fake, args=(child, latency_ms / 1000), daemon=True)
    fake.start()
    api_base = parent.recv()
    tag = secrets.token_hex(4)
    db_name, ns = f"signalhub_bench_{tag}", f"bench-{tag}"
    admin = await asyncpg.connect(SERVER + "/postgres")
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    db_url = f"{SERVER}/{db_name}"
    try:
        await migrate(db_url)
        settings = Settings(database_url=db_url, redis_url=REDIS, signalhub_namespace=ns,
                            discord_bot_token=TOKEN, discord_api_base=api_base)
        services = await bootstrap(settings)
        if limiter == "off":
            services.extras["discord_limiter"] = RedisRateLimiter(
                services.redis, f"{ns}:ratelimit:discord:", global_rate=1e6,
                per_chat_rate=1e6)
        deps = WorkerDeps(services, None, None)
        owner = await create_user("bench-owner", "provider")
        drafts = real_drafts(len(channel_counts))
        print(f"limiter: {limiter}, fake Discord latency {latency_ms:g} ms, "
              f"{in_flight} channel(s) in flight per job")
        print("| alert channels | posts: wall | posts: worker CPU per message | "
              "edits: wall | edits: worker CPU per message |")
        print("| --- | --- | --- | --- | --- |")
        for i, n in enumerate(channel_counts):
            slug = f"bench-discord-{i}"
            provider = await create_provider(owner, slug, f"Bench {n}", monthly_price="0")
            await DiscordAlert.bulk_create([
                DiscordAlert(guild_id=1, channel_id=10_000 + i * 100_000 + c,
                             provider=provider, created_by=1) for c in range(n)])
            signal = await publish_signal(owner, slug, drafts[i], services.queue,
                                          services.bus)
            published = await SignalEvent.get(signal_id=signal.id, kind="PUBLISHED")
            posts = await _timed(post_discord_alerts, deps, published.id)
            closed = await close_signal(owner, signal.id, "benchmark", services.queue,
                                        services.bus)
            edits = await _timed(post_discord_alerts, deps, closed.id)
            print(f"| {n} | {posts[0]:.2f} s ({posts[2]}) | {posts[1] / n * 1e3:.2f} ms | "
                  f"{edits[0]:.2f} s ({edits[2]}) | {edits[1] / n * 1e3:.2f} ms |")
        await close_discord(deps)
        keys = [k async for k in services.redis.scan_iter(match=f"*{ns}*", count=1000)]
        if keys:
            await services.redis.delete(*keys)
        await shutdown(services)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
        fake.terminate()


async def _timed(job: Any, deps: Any, event_id: int) -> tuple[float, float, dict[str, int]]:
    wall, cpu = time.perf_counter(), time.process_time()
    counts = await job({"deps": deps, "job_try": 1}, event_id)
    return time.perf_counter() - wall, time.process_time() - cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="50,200",
                        help="comma-separated alert channel counts")
    parser.add_argument("--limiter", choices=["production", "off"], default="production")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay the fake adds to each answer (Discord's round trip)")
    parser.add_argument("--in-flight", type=int, default=10,
                        help="channels posted to at once by one job (IN_FLIGHT)")
    args = parser.parse_args()
    asyncio.run(run([int(x) for x in args.channels.split(",")], args.limiter,
                    args.latency_ms, args.in_flight))


if __name__ == "__main__":
    main()

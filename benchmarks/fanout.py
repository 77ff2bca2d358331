"""Fan-out benchmark: GraphQL subscriptions (grouped strawberry) vs a bare websocket floor,
and Telegram deliveries per second through the worker.

    .venv/bin/python benchmarks/fanout.py --listeners 100,1000,10000 --telegram 100,300

Needs PostgreSQL on postgres://postgres@127.0.0.1:5432 and Redis on 127.0.0.1:6379. It
creates its own database ``signalhub_bench_<random>`` and namespace ``bench-<random>``
and removes both at the end. See benchmarks/README.md for the method and results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout_support import (  # noqa: E402 - after the sys.path set-up
    BOT_TOKEN,
    PG_ADMIN,
    REDIS_URL,
    ROOT,
    LoadClients,
    RecordingBus,
    RssSampler,
    cpu_s,
    create_listeners,
    free_port,
    mb,
    pct,
    raise_nofile,
    real_drafts,
    wait_http,
    wait_tcp,
)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        tag = secrets.token_hex(4)
        self.db_name = f"signalhub_bench_{tag}"
        self.db_url = f"postgres://postgres@127.0.0.1:5432/{self.db_name}"
        self.ns = f"bench-{tag}"
        self.topic = f"{self.ns}:signals:bench"
        self.env = {**os.environ, "DATABASE_URL": self.db_url, "REDIS_URL": REDIS_URL,
                    "SIGNALHUB_NAMESPACE": self.ns,
                    "PRICE_SOURCE": f"replay:{ROOT / 'signalhub' / 'data'}",
                    "SIGNALHUB_SECRET_KEY": secrets.token_hex(32),
                    "PYTHONPATH": str(ROOT)}
        self.env.pop("TELEGRAM_BOT_TOKEN", None)
        self.env.pop("TELEGRAM_API_BASE", None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.sampler = RssSampler()
        self.results: list[dict[str, Any]] = []
        self.tg_results: list[dict[str, Any]] = []
        self.drafts = real_drafts(400)
        self.draft_i = 0
        self.bare_messages: list[dict[str, Any]] = []

    def spawn(self, role: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(Path(tempfile.gettempdir()) / f"signalhub-bench-{role}.log",  # noqa: SIM115
                   "wb")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.procs[role] = proc
        self.sampler.watch(role, [proc.pid])
        return proc

    async def setup_db(self) -> None:
        import asyncpg

        from signalhub.db import migrate

        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        await conn.close()
        await migrate(self.db_url)

    async def teardown(self) -> None:
        import asyncpg
        from redis.asyncio import Redis

        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            from signalhub.bootstrap import shutdown

            if getattr(self, "services", None) is not None:
                await shutdown(self.services)
        except Exception as exc:  # noqa: BLE001
            print(f"(shutdown: {exc})")
        redis = Redis.from_url(REDIS_URL)
        keys = [k async for k in redis.scan_iter(match=f"*{self.ns}*", count=1000)]
        for i in range(0, len(keys), 500):
            await redis.delete(*keys[i:i + 500])
        await redis.aclose()
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        await conn.close()
        print(f"cleaned up: database {self.db_name}, {len(keys)} Redis keys of {self.ns}")

    async def publish(self) -> tuple[str, float]:
        from domain.publishing import publish_signal

        draft = self.drafts[self.draft_i % len(self.drafts)]
        self.draft_i += 1
        t0 = time.time()
        signal = await publish_signal(self.provider_user, "bench", draft,
                                      self.services.queue, self.bus)
        return str(signal.id), t0

    async def run(self) -> None:
        from domain.models import Provider
        from domain.users import create_user
        from signalhub.bootstrap import bootstrap
        from signalhub.settings import load_settings

        args = self.args
        listeners = [int(x) for x in args.listeners.split(",") if x]
        print(f"setup: database {self.db_name}, namespace {self.ns}")
        t0 = time.monotonic()
        await self.setup_db()
        settings = load_settings(database_url=self.db_url, redis_url=REDIS_URL,
                                 signalhub_namespace=self.ns,
                                 price_source=self.env["PRICE_SOURCE"])
        self.services = await bootstrap(settings)
        self.bus = RecordingBus(self.services.bus)
        self.provider_user = await create_user("bench-provider", "provider")
        self.provider = await Provider.create(owner=self.provider_user, slug="bench",
                                              name="Bench")
        self.tokens = await create_listeners(self.db_url, self.provider.id, max(listeners),
                                             "bench-listener")
        print(f"setup: migrated + {max(listeners)} subscriber users (own token each) in "
              f"{time.monotonic() - t0:.1f}s")

        api_port, bare_port = free_port(), free_port()
        self.sampler.start()
        api_argv = ([str(ROOT / "benchmarks" / "api_probe.py")] if self.args.probe
                    else ["-c", "from signalhub.cli import main; main()", "api"])
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.spawn("api", [sys.executable, *api_argv],
                   {**self.env, "SIGNALHUB_PORT": str(api_port)})
        self.spawn("bare", [sys.executable, str(ROOT / "benchmarks" / "bare_ws.py"),
                            "--port", str(bare_port), "--redis", REDIS_URL,
                            "--topic", self.topic], self.env)
        await wait_http(f"http://127.0.0.1:{api_port}/healthz")
        await wait_tcp(bare_port)

        for n in listeners:
            gql = await self.ws_run("graphql", f"ws://127.0.0.1:{api_port}/graphql", n,
                                    self.procs["api"].pid, "api")
            bare = await self.ws_run("bare", f"ws://127.0.0.1:{bare_port}/ws", n,
                                     self.procs["bare"].pid, "bare")
            self.report_pair(n, gql, bare)

        telegram = [int(x) for x in args.telegram.split(",") if x]
        if telegram:
            await self.telegram_runs(telegram)

    async def ws_run(self, mode: str, url: str, n: int, server_pid: int,
                     role: str) -> dict[str, Any]:
        args = self.args
        procs = 1 if n <= 200 else args.client_procs
        self.sampler.reset(role)
        self.sampler.reset("clients")
        t0 = time.monotonic()
        clients = LoadClients(url, mode, self.tokens[:n], procs, args.concurrency)
        self.sampler.watch("clients", clients.pids())
        loop = asyncio.get_running_loop()

        async def status(sid: str) -> tuple[int, int, dict[str, int]]:
            return await loop.run_in_executor(None, clients.status, sid)

        # wait for the connections (the handshakes run in the clients)
        deadline = time.monotonic() + args.connect_timeout
        connected, errors = 0, {}
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            connected, _, errors = await status("-")
            if connected + sum(errors.values()) >= n:
                break
        connect_s = time.monotonic() - t0
        print(f"[{mode} N={n}] {connected}/{n} connected in {connect_s:.1f}s"
              + (f"; errors: {errors}" if errors else ""))
        out: dict[str, Any] = {"mode": mode, "n": n, "connected": connected,
                               "connect_s": connect_s, "errors": errors}
        if connected == 0:
            clients.collect()
            return out

        # warm-up: publish until every connected listener gets the same event
        warm_ok = False
        for _ in range(args.warmups):
            sid, _t = await self.send(mode)
            got = await self.wait_all(status, sid, connected, args.signal_timeout)
            if got >= connected:
                warm_ok = True
                break
        out["warm_ok"] = warm_ok
        if not warm_ok:
            print(f"[{mode} N={n}] warm-up: only {got}/{connected} got a warm-up event")

        probe = self.args.probe and mode == "graphql"
        if probe:
            out["stats_before"] = await self.probe("GET", "/bench/stats")
            if self.args.profile:
                await self.probe("POST", "/bench/profile/start")
        cpu0 = cpu_s(server_pid)
        published: dict[str, float] = {}
        for _ in range(args.signals):
            sid, t_pub = await self.send(mode)
            published[sid] = t_pub
            await self.wait_all(status, sid, connected, args.signal_timeout)
            await asyncio.sleep(args.settle)
        cpu1 = cpu_s(server_pid)
        if probe:
            if self.args.profile:
                text = await self.probe("POST", "/bench/profile/stop")
                path = Path(tempfile.gettempdir()) / f"signalhub-bench-profile_{n}.txt"
                path.write_text(str(text))
                print(f"[{mode} N={n}] cProfile (CPU figures of this run are inflated by "
                      f"it) -> {path}")
            out["stats_after"] = await self.probe("GET", "/bench/stats")
            print(f"[{mode} N={n}] server stats before/after the measured signals: "
                  f"{out['stats_before']} / {out['stats_after']}")

        connected, received, errors = await loop.run_in_executor(None, clients.collect)
        lat, lasts, deliveries = [], [], 0
        for sid, t_pub in published.items():
            times = received.get(sid, [])
            deliveries += len(times)
            lat.extend(t - t_pub for t in times)
            if times:
                lasts.append(max(times) - t_pub)
        out.update(
            deliveries=deliveries, expected=args.signals * connected, errors=errors,
            cpu_s=cpu1 - cpu0,
            cpu_per_delivery_us=(cpu1 - cpu0) / deliveries * 1e6 if deliveries else None,
            p50_ms=pct(lat, 0.5) * 1e3 if lat else None,
            p99_ms=pct(lat, 0.99) * 1e3 if lat else None,
            last_ms=[x * 1e3 for x in lasts],
            server_rss=self.sampler.peak[role],
            clients_rss_max=self.sampler.peak["clients"],
            clients_rss_sum=self.sampler.peak_sum["clients"])
        return out

    async def probe(self, method: str, path: str) -> Any:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.request(
                method, self.api_url + path) as resp:
            if resp.content_type == "application/json":
                return await resp.json()
            return await resp.text()

    async def send(self, mode: str) -> tuple[str, float]:
        if mode == "graphql":
            sid, t_pub = await self.publish()
            self.bare_messages.append(self.bus.messages[-1])
            return sid, t_pub
        message = self.bare_messages.pop(0) if self.bare_messages else None
        if message is None:  # more bare sends than graphql ones: publish a fresh signal
            await self.publish()
            message = self.bus.messages[-1]
        raw = json.dumps(message)
        t_pub = time.time()
        await self.services.redis.publish(self.topic, raw)
        return str(message["signal"]["id"]), t_pub

    async def wait_all(self, status: Any, sid: str, expected: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        got = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            _, got, _ = await status(sid)
            if got >= expected:
                break
        return got

    def report_pair(self, n: int, gql: dict[str, Any], bare: dict[str, Any]) -> None:
        self.results.append({"n": n, "graphql": gql, "bare": bare})
        print(f"\n== {n} listeners, {self.args.signals} signals ==")
        for r in (gql, bare):
            if "deliveries" not in r:
                print(f"  {r['mode']:8} no measurement ({r['connected']} connected)")
                continue
            lasts = r["last_ms"]
            print(f"  {r['mode']:8} connected {r['connected']}/{n} in {r['connect_s']:.1f}s; "
                  f"delivered {r['deliveries']}/{r['expected']}; "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; last listener "
                  f"median {statistics.median(lasts):.0f} ms, max {max(lasts):.0f} ms; "
                  f"server CPU {r['cpu_s']:.3f}s = {r['cpu_per_delivery_us']:.1f} µs/delivery; "
                  f"peak RSS server {mb(r['server_rss'])}, load clients "
                  f"{mb(r['clients_rss_sum'])} total (max {mb(r['clients_rss_max'])})")
            if r["errors"]:
                print(f"           client errors: {r['errors']}")
        g, b = gql.get("cpu_per_delivery_us"), bare.get("cpu_per_delivery_us")
        if g and b:
            print(f"  CPU ratio grouped strawberry / bare = {g / b:.2f}x (target <= 1.2x)")

    async def telegram_runs(self, sizes: list[int]) -> None:
        from domain.models import Provider
        from domain.publishing import publish_signal
        from integrations.arq_queue import queue_name
        from tests.fakes.telegram_api import FakeTelegramApi

        api = FakeTelegramApi()
        base = await api.start()
        env = {**self.env, "TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_BASE": base}
        self.spawn("worker", [sys.executable, "-c", "from signalhub.cli import main; main()",
                              "worker"], env)
        # let the worker drain the fan-out jobs of the websocket runs (no Telegram users)
        qname = queue_name(self.ns)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if await self.services.redis.zcard(qname) == 0:
                break
        await asyncio.sleep(2)
        chat_base = 7_000_000_000
        for m in sizes:
            provider = await Provider.create(owner=self.provider_user, slug=f"bench-tg{m}",
                                             name=f"Bench TG {m}")
            await create_listeners(self.db_url, provider.id, m, f"bench-tg{m}", chat_base)
            chat_base += m
            before = len(api.calls_to("sendMessage"))
            draft = self.drafts[self.draft_i % len(self.drafts)]
            self.draft_i += 1
            t_pub = time.monotonic()
            await publish_signal(self.provider_user, provider.slug, draft,
                                 self.services.queue, self.services.bus)

            def is_new(call: Any) -> bool:
                return "new signal" in str(call.params.get("text", ""))

            deadline = time.monotonic() + m / 30 * 3 + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                ok = [c for c in api.calls_to("sendMessage")[before:] if c.status == 200]
                if sum(map(is_new, ok)) >= m:
                    break
            calls = api.calls_to("sendMessage")[before:]
            ok = [c for c in calls if c.status == 200]
            pub = [c for c in ok if is_new(c)]
            if pub:  # every sendMessage up to the last "new signal" one
                ok = [c for c in ok if c.at <= pub[-1].at]
            chats = [str(c.params.get("chat_id")) for c in pub]
            res: dict[str, Any] = {"m": m, "published_sent": len(pub),
                                   "published_distinct_chats": len(set(chats)),
                                   "all_sent_in_window": len(ok),
                                   "statuses": sorted({c.status for c in calls}),
                                   "worker_rss": self.sampler.peak["worker"]}
            if len(pub) >= 2:
                span = pub[-1].at - pub[0].at
                res.update(pub_rate=(len(pub) - 1) / span, span_s=span,
                           first_s=pub[0].at - t_pub, last_s=pub[-1].at - t_pub)
            if len(ok) >= 2 and ok[-1].at > ok[0].at:
                res["all_rate"] = (len(ok) - 1) / (ok[-1].at - ok[0].at)
            self.tg_results.append(res)
            print(f"\n== Telegram: {m} subscribers, 1 signal ==\n"
                  f"  PUBLISHED message sent to {len(pub)}/{m} subscribers "
                  f"({len(set(chats))} distinct chats, HTTP {res['statuses']}); "
                  f"publish->first {res.get('first_s', float('nan')):.2f}s, publish->last "
                  f"{res.get('last_s', float('nan')):.2f}s; first->last "
                  f"{res.get('pub_rate', float('nan')):.1f} msg/s\n"
                  f"  all sendMessage calls in that window (incl. later lifecycle events of "
                  f"the signal from the replay monitor): {len(ok)}, "
                  f"{res.get('all_rate', float('nan')):.1f}/s (expected bound: 30/s, "
                  f"the global bot limit); worker peak RSS {mb(res['worker_rss'])}")
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", default="100,1000,10000")
    parser.add_argument("--telegram", default="100,300")
    parser.add_argument("--signals", type=int, default=5)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200,
                        help="concurrent connection handshakes per load-client process")
    parser.add_argument("--connect-timeout", type=float, default=300)
    parser.add_argument("--signal-timeout", type=float, default=20,
                        help="max wait for every listener to get one signal (s)")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="pause after each signal reached everyone (s)")
    parser.add_argument("--warmups", type=int, default=5)
    parser.add_argument("--probe", action="store_true",
                        help="serve GraphQL with benchmarks/api_probe.py (same app, plus "
                             "/bench/stats) instead of `signalhub api`")
    parser.add_argument("--profile", action="store_true",
                        help="with --probe: cProfile the api during the measured signals")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    raise_nofile()
    print(f"machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 1e9:.1f} GB; "
          f"RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    bench = Bench(args)

    async def go() -> None:
        try:
            await bench.run()
        finally:
            bench.sampler.stopped = True
            peaks = {role: mb(v) for role, v in bench.sampler.peak.items()}
            print(f"\npeak RSS over the whole run, per process: {peaks}")
            await bench.teardown()
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"ws": bench.results, "telegram": bench.tg_results}, indent=1, default=str))

    asyncio.run(go())


if __name__ == "__main__":
    main()

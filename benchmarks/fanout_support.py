"""Support of benchmarks/fanout.py: load clients, RSS sampling, bench data, waits.

Load clients run in spawned processes (``client_main``), so they live in an importable
module of their own.
"""

from __future__ import annotations

import asyncio
import csv
import json
import multiprocessing as mp
import os
import resource
import secrets
import socket
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379"
BOT_TOKEN = "123456:BENCH-token-abcdefghijklmn"
CANDLES = ROOT / "signalhub" / "data" / "BTC_USDT-1h.csv"
QUERY = ('subscription { signalEvents(providerSlugs: ["bench"]) '
         '{ kind signal { id symbol side entryLow stopLoss targets } } }')


def raise_nofile() -> None:
    """Raise the soft open-files limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- load clients (subprocesses) --------------------------------------------------------

def client_main(conn: Any, url: str, mode: str, tokens: list[str], concurrency: int) -> None:
    """A load-client process: open the websockets, then answer the parent's commands."""
    raise_nofile()
    asyncio.run(_clients(conn, url, mode, tokens, concurrency))
    os._exit(0)


async def _clients(conn: Any, url: str, mode: str, tokens: list[str],
                   concurrency: int) -> None:
    from websockets.asyncio.client import connect

    received: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    sem = asyncio.Semaphore(concurrency)
    connected = 0

    def on_text(text: str | bytes) -> None:
        now = time.time()
        msg = json.loads(text)
        if mode == "bare":
            received[str(msg["signal"]["id"])].append(now)
            return
        if msg.get("type") == "next":
            payload = msg["payload"]
            if payload.get("errors"):
                errors["graphql error: " + str(payload["errors"][0].get("message"))] += 1
                return
            received[str(payload["data"]["signalEvents"]["signal"]["id"])].append(now)
        elif msg.get("type") in ("error", "complete"):
            errors[f"{msg.get('type')}: {str(msg.get('payload'))[:120]}"] += 1

    async def one(i: int, token: str) -> None:
        nonlocal connected
        try:
            async with sem:
                ws = await connect(
                    url, subprotocols=["graphql-transport-ws"] if mode == "graphql" else None,
                    compression=None, max_size=None, open_timeout=120, ping_interval=None,
                    close_timeout=1)
                if mode == "graphql":
                    await ws.send(json.dumps({"type": "connection_init",
                                              "payload": {"Authorization": f"Bearer {token}"}}))
                    ack = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if ack.get("type") != "connection_ack":
                        raise RuntimeError(f"no ack: {ack}")
                    await ws.send(json.dumps({"id": str(i), "type": "subscribe",
                                              "payload": {"query": QUERY}}))
            connected += 1
            async for text in ws:
                on_text(text)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1

    tasks = [asyncio.create_task(one(i, t)) for i, t in enumerate(tokens)]
    loop = asyncio.get_running_loop()
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        if cmd[0] == "status":
            sid = cmd[1]
            conn.send((connected, len(received.get(sid, ())), dict(errors)))
        elif cmd[0] == "collect":
            conn.send((connected, dict(received), dict(errors)))
            for task in tasks:
                task.cancel()
            return


class LoadClients:
    """``procs`` load-client processes sharing ``tokens`` between them."""

    def __init__(self, url: str, mode: str, tokens: list[str], procs: int,
                 concurrency: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for k in range(procs):
            parent, child = ctx.Pipe()
            part = tokens[k::procs]
            proc = ctx.Process(target=client_main,
                               args=(child, url, mode, part, concurrency), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid]

    def status(self, sid: str) -> tuple[int, int, dict[str, int]]:
        connected = got = 0
        errors: dict[str, int] = defaultdict(int)
        for conn in self.conns:
            conn.send(("status", sid))
        for conn in self.conns:
            c, g, e = conn.recv()
            connected += c
            got += g
            for key, value in e.items():
                errors[key] += value
        return connected, got, dict(errors)

    def collect(self) -> tuple[int, dict[str, list[float]], dict[str, int]]:
        connected = 0
        received: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        for conn in self.conns:
            conn.send(("collect",))
        for conn in self.conns:
            c, r, e = conn.recv()
            connected += c
            for key, value in r.items():
                received[key].extend(value)
            for key, value in e.items():
                errors[key] += value
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        return connected, dict(received), dict(errors)


# -- memory sampler ---------------------------------------------------------------------

class RssSampler(threading.Thread):
    """Peak RSS per role, sampled every 100 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.roles: dict[str, list[int]] = {}
        self.peak: dict[str, int] = defaultdict(int)
        self.peak_sum: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.stopped = False

    def watch(self, role: str, pids: list[int]) -> None:
        with self.lock:
            self.roles[role] = pids

    def reset(self, role: str) -> None:
        with self.lock:
            self.peak[role] = 0
            self.peak_sum[role] = 0

    def run(self) -> None:
        while not self.stopped:
            with self.lock:
                roles = dict(self.roles)
            for role, pids in roles.items():
                total = 0
                for pid in pids:
                    try:
                        rss = psutil.Process(pid).memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    self.peak[role] = max(self.peak[role], rss)
                self.peak_sum[role] = max(self.peak_sum[role], total)
            time.sleep(0.1)


def mb(value: int) -> str:
    return f"{value / 1e6:.0f} MB"


# -- database -------------------------------------------------------------------------

async def create_listeners(db_url: str, provider_id: int, count: int, tag: str,
                           chat_base: int | None = None) -> list[str]:
    """Bulk-insert ``count`` subscriber users (token, paper account, ACTIVE subscription,
    copy settings off); returns their plain API tokens."""
    import asyncpg

    from domain.users import TOKEN_PREFIX, hash_token

    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction():
            chats = [chat_base + i if chat_base is not None else None for i in range(count)]
            rows = await conn.fetch(
                "INSERT INTO users (name, role, telegram_user_id, telegram_chat_id, "
                "telegram_reachable, created_at) SELECT $1 || g.i, 'user', c, c, true, now() "
                "FROM unnest($2::int[], $3::bigint[]) AS g(i, c) RETURNING id",
                f"{tag}-", list(range(count)), chats)
            ids = [r["id"] for r in rows]
            tokens = [f"{TOKEN_PREFIX}{tag}_{i}_{secrets.token_hex(8)}" for i in range(count)]
            await conn.execute(
                "INSERT INTO api_tokens (user_id, token_hash, created_at) "
                "SELECT u, h, now() FROM unnest($1::int[], $2::text[]) AS t(u, h)",
                ids, [hash_token(t) for t in tokens])
            await conn.execute(
                "INSERT INTO paper_accounts (user_id, currency, starting_balance, balance) "
                "SELECT u, 'USDT', 10000, 10000 FROM unnest($1::int[]) AS t(u)", ids)
            subs = await conn.fetch(
                "INSERT INTO subscriptions (user_id, provider_id, status, created_at, "
                "updated_at) SELECT u, $2, 'ACTIVE', now(), now() "
                "FROM unnest($1::int[]) AS t(u) RETURNING id", ids, provider_id)
            await conn.execute(
                "INSERT INTO copy_settings (subscription_id, enabled, scale_factor, "
                "max_position_pct, max_open_positions) SELECT s, false, 1, 10, 5 "
                "FROM unnest($1::int[]) AS t(s)", [r["id"] for r in subs])
    finally:
        await conn.close()
    return tokens


def real_drafts(count: int, offset: int = 200) -> list[Any]:
    """BUY drafts from real BTC/USDT 1h candles: entry = a close, stop = the lowest low of
    the previous 24 candles (below entry), target = the highest high of the next 24."""
    from domain.signals import make_draft

    with CANDLES.open() as fh:
        candles = [(Decimal(r["high"]), Decimal(r["low"]), Decimal(r["close"]))
                   for r in csv.DictReader(fh)]
    drafts, i = [], offset
    while len(drafts) < count and i + 25 < len(candles):
        close = candles[i][2]
        low = min(c[1] for c in candles[i - 24:i])
        high = max(c[0] for c in candles[i + 1:i + 25])
        if low < close < high:
            drafts.append(make_draft(symbol="BTC/USDT", side="BUY", entry_low=close,
                                     entry_high=None, stop_loss=low, targets=[high],
                                     note="benchmark"))
        i += 37
    return drafts


class RecordingBus:
    """The services' bus, remembering the last message published (for the bare run)."""

    def __init__(self, bus: Any) -> None:
        self.bus, self.messages = bus, []  # type: list[dict[str, Any]]

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append(message)
        await self.bus.publish(topic, message)


# -- the benchmark ----------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


async def wait_http(url: str, timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


async def wait_tcp(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"port {port} did not open in {timeout}s")



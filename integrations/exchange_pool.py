"""``GatewayPool``: one ``CcxtGateway`` per exchange account for the process, markets
shared, the Redis rate limiter per exchange, every client closed on shutdown.

    GatewayPool(redis, namespace, ...)                      one per worker process
      .gateway(account_id, spec, credentials) -> CcxtGateway  cached per account
      .build(spec, credentials) -> CcxtGateway              uncached (caller closes)
      .markets(spec, gateway)                               memory -> Redis -> snapshot/network
      .forget(account_id), .close()
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

import aiohttp
from redis.asyncio import BlockingConnectionPool, Redis

from domain.errors import PermanentError, RetryableError
from integrations.exchange_ccxt import (
    DEFAULT_TIMEOUT_MS,
    CcxtGateway,
    make_exchange,
    shared_ssl_context,
)
from integrations.exchange_markets import (
    MARKETS_TTL_S,
    ExchangeSpec,
    MarketsCache,
    load_snapshot,
)
from integrations.ratelimit import RedisRateLimiter
from integrations.secrets import ExchangeCredentials

log = logging.getLogger(__name__)


class GatewayPool:
    """One ``CcxtGateway`` per exchange account, cached for the process; markets shared.

    Markets per ``ExchangeSpec.markets_key`` come from this process's memory (refreshed
    after ``markets_ttl_s``), else Redis, else — with ``offline=True`` or for an
    exchange that cannot be reached — the shipped snapshot
    (``signalhub/data/markets/<id>-<type>.json``), else ``load_markets()`` (stored in
    Redis for every other process). ``redis=None`` disables the shared cache and the
    shared rate limiter. Limits: ``account_rate`` requests/s per account,
    ``exchange_rate`` requests/s per exchange across all processes, each with a burst
    (default: 5 s of the account rate, 10 s of the exchange rate) that may go at once.
    Clients of one exchange endpoint share one aiohttp session of at most
    ``connections`` connections. Close with ``await pool.close()`` (arq ``on_shutdown``).
    """

    def __init__(self, redis: Redis | None, namespace: str, *, offline: bool = False,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, account_rate: float = 10.0,
                 exchange_rate: float = 100.0, account_burst: int | None = None,
                 exchange_burst: int | None = None, markets_ttl_s: int = MARKETS_TTL_S,
                 connections: int = 100) -> None:
        self.connections = connections
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self.redis = redis
        self.namespace = namespace
        self.offline = offline
        self.timeout_ms = timeout_ms
        self.account_rate = account_rate
        self.exchange_rate = exchange_rate
        # Exchanges budget weight per window (binance: 6,000/min per IP, 100 orders/10 s
        # per account), so a burst of 10 s (exchange) / 5 s (account) goes at once.
        self.account_burst = int(account_rate * 5) if account_burst is None else account_burst
        self.exchange_burst = (int(exchange_rate * 10) if exchange_burst is None
                               else exchange_burst)
        self.markets_ttl_s = markets_ttl_s
        self._cache = (MarketsCache(redis, f"{namespace}:markets:", markets_ttl_s)
                       if redis is not None else None)
        # The limiter's round trips (one per request) go through a small blocking pool of
        # their own: an unbounded pool opens one connection per concurrent call (1,000
        # orders at once: 1,000 connects), measured ~1.6 s slower per 1,000 orders.
        self._limiter_redis = _bounded_client(redis, 16) if redis is not None else None
        self._sources: dict[str, tuple[float, Any]] = {}
        self._markets_locks: dict[str, asyncio.Lock] = {}
        self._limiters: dict[str, RedisRateLimiter] = {}
        self._gateways: dict[int, tuple[str, CcxtGateway]] = {}
        self._lock = asyncio.Lock()

    async def gateway(self, account_id: int, spec: ExchangeSpec,
                      credentials: ExchangeCredentials) -> CcxtGateway:
        """The cached gateway of ``account_id`` (a new one if its spec or key changed)."""
        fingerprint = _fingerprint(spec, credentials)
        async with self._lock:
            cached = self._gateways.get(account_id)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            if cached is not None:
                await cached[1].close()
            gateway = await self.build(spec, credentials, account_key=account_id)
            self._gateways[account_id] = (fingerprint, gateway)
            return gateway

    async def build(self, spec: ExchangeSpec, credentials: ExchangeCredentials | None, *,
                    account_key: int = 0) -> CcxtGateway:
        """A new, uncached gateway with shared markets (the caller closes it)."""
        limiter = self.limiter(spec.exchange_id)
        exchange = make_exchange(spec, credentials, timeout_ms=self.timeout_ms,
                                 throttle=limiter is None, session=self._session(spec))
        gateway = CcxtGateway(exchange, spec, limiter=limiter, account_key=account_key)
        try:
            exchange.set_markets_from_exchange(await self._market_source(spec, gateway))
        except BaseException:
            await exchange.close()
            raise
        return gateway

    def _session(self, spec: ExchangeSpec) -> aiohttp.ClientSession:
        """The HTTP session every account of ``spec``'s exchange endpoint shares: one
        connection pool (``connections`` at most), TLS sessions reused across accounts
        (keys travel per request, in headers and signatures)."""
        key = spec.markets_key
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections, ssl=shared_ssl_context(),
                                             enable_cleanup_closed=True)
            session = self._sessions[key] = aiohttp.ClientSession(connector=connector)
        return session

    def limiter(self, exchange_id: str) -> RedisRateLimiter | None:
        """The shared limiter of ``exchange_id`` (bucket per account key), None without Redis."""
        if self.redis is None:
            return None
        if exchange_id not in self._limiters:
            self._limiters[exchange_id] = RedisRateLimiter(
                self._limiter_redis or self.redis,
                f"{self.namespace}:ratelimit:exchange:{exchange_id}:",
                global_rate=self.exchange_rate, per_chat_rate=self.account_rate,
                group_rate=self.account_rate, global_burst=self.exchange_burst,
                chat_burst=self.account_burst)
        return self._limiters[exchange_id]

    async def markets(self, spec: ExchangeSpec, gateway: CcxtGateway) -> list[dict[str, Any]]:
        """Markets of ``spec`` (see the class docstring for the order of sources)."""
        return list((await self._market_source(spec, gateway)).markets.values())

    async def _market_source(self, spec: ExchangeSpec, gateway: CcxtGateway) -> Any:
        """A key-less client holding ``spec``'s markets; every account's client shares its
        market structures by reference (ccxt ``set_markets_from_exchange``: no copy, no
        re-parse per account)."""
        key = spec.markets_key
        lock = self._markets_locks.setdefault(key, asyncio.Lock())
        async with lock:
            held = self._sources.get(key)
            if held is not None and time.monotonic() - held[0] < self.markets_ttl_s:
                return held[1]
            source = make_exchange(spec, None, timeout_ms=self.timeout_ms)
            source.set_markets(await self._load_markets(spec, gateway))
            self._sources[key] = (time.monotonic(), source)
            if held is not None:
                await held[1].close()
            return source

    async def _load_markets(self, spec: ExchangeSpec, gateway: CcxtGateway
                            ) -> list[dict[str, Any]]:
        cached = await self._cache.get(spec.markets_key) if self._cache else None
        if cached is not None:
            return cached
        snapshot = load_snapshot(spec.exchange_id, spec.market_type)
        if self.offline:
            if snapshot is None:
                raise PermanentError(f"no saved markets for {spec.exchange_id} "
                                     f"{spec.market_type} and the pool is offline")
            return snapshot
        try:
            await gateway._ensure_markets()
        except RetryableError:
            if snapshot is None:
                raise
            log.warning("%s markets unreachable, using the saved snapshot", spec.markets_key)
            return snapshot
        markets = list(gateway.exchange.markets.values())
        if self._cache is not None:
            await self._cache.put(spec.markets_key, markets)
        return markets

    async def forget(self, account_id: int) -> None:
        """Close and drop the cached gateway of ``account_id`` (disconnect, key change)."""
        async with self._lock:
            cached = self._gateways.pop(account_id, None)
        if cached is not None:
            await cached[1].close()

    async def close(self) -> None:
        """Close every cached client. Idempotent."""
        async with self._lock:
            gateways = [g for _, g in self._gateways.values()]
            self._gateways.clear()
        sources = [source for _, source in self._sources.values()]
        self._sources.clear()
        await asyncio.gather(*(g.close() for g in gateways), *(s.close() for s in sources),
                             return_exceptions=True)
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        if self._limiter_redis is not None:
            await self._limiter_redis.aclose()


def _fingerprint(spec: ExchangeSpec, credentials: ExchangeCredentials) -> str:
    text = "\0".join((spec.markets_key, credentials.api_key, credentials.secret,
                      credentials.password or ""))
    return hashlib.sha256(text.encode()).hexdigest()


def _bounded_client(redis: Redis, connections: int) -> Redis:
    """A client to the same server as ``redis`` with at most ``connections`` connections
    (callers wait for a free one instead of opening more)."""
    source = redis.connection_pool
    pool = BlockingConnectionPool(connection_class=source.connection_class,
                                  max_connections=connections, timeout=None,
                                  **source.connection_kwargs)
    return Redis(connection_pool=pool)

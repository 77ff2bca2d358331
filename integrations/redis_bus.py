"""Redis pub/sub event bus: one publisher API and one subscription hub per process.

Messages are JSON; topics are namespaced as ``<namespace>:<topic>``. The hub holds a
single pub/sub connection (pattern ``<namespace>:*``) and hands every message to the
per-listener asyncio queues registered for its topic, so N GraphQL subscribers cost
one Redis connection, not N. A consumer that fans a message out itself (one call for
many listeners, no task wake-up per listener) registers a *sink* instead
(``attach``/``detach``): a plain callable run synchronously by the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

Sink = Callable[[str, str, dict[str, Any]], None]
"""``sink(topic, raw_json, message)``, called by the hub's reader; must not block.
A sink with ``__len__`` counts that many listeners in ``BusHub.listener_count``."""


class RedisBus:
    """``domain.ports.EventBus`` over Redis PUBLISH."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis, self.namespace = redis, namespace

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """PUBLISH ``message`` as JSON on ``<namespace>:<topic>``."""
        await self.redis.publish(f"{self.namespace}:{topic}", json.dumps(message))


class BusHub:
    """Fans bus messages of this process out to local listeners (asyncio queues).

    ``start()`` opens the pub/sub connection and its reader task; ``listen(topics)`` is
    an async context manager yielding a queue that receives ``(topic, raw_json, message)``
    tuples. Queues are bounded (``maxsize``); a listener too slow to keep up loses the
    oldest messages rather than stalling everyone. If Redis drops the connection the
    reader reconnects with back-off.
    """

    def __init__(self, redis: Redis, namespace: str, maxsize: int = 1000) -> None:
        self.redis, self.namespace, self.maxsize = redis, namespace, maxsize
        self._listeners: dict[str, set[asyncio.Queue[tuple[str, str, dict[str, Any]]]]] = (
            defaultdict(set))
        self._sinks: dict[str, set[Sink]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Start the reader; returns once the pattern subscription is active."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bus-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        """Stop the reader task and close its connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def listen(self, topics: list[str]) -> AsyncIterator[
            asyncio.Queue[tuple[str, str, dict[str, Any]]]]:
        """Register a queue for ``topics`` for the duration of the ``async with`` block."""
        queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue(self.maxsize)
        for topic in topics:
            self._listeners[topic].add(queue)
        try:
            yield queue
        finally:
            for topic in topics:
                self._listeners[topic].discard(queue)
                if not self._listeners[topic]:
                    del self._listeners[topic]

    def stream(self, topics: list[str], wrap: Callable[[dict[str, Any]], Any]) -> BusStream:
        """Async iterator of ``wrap(message)`` for every message of ``topics``."""
        return BusStream(self, topics, wrap)

    def attach(self, topics: list[str], sink: Sink) -> None:
        """Call ``sink`` for every message of ``topics`` until ``detach``."""
        for topic in topics:
            self._sinks[topic].add(sink)

    def detach(self, topics: list[str], sink: Sink) -> None:
        for topic in topics:
            sinks = self._sinks.get(topic)
            if sinks is not None:
                sinks.discard(sink)
                if not sinks:
                    del self._sinks[topic]

    def listener_count(self) -> int:
        """Number of distinct listener queues registered, plus the sinks' listeners."""
        queues = len({id(q) for qs in self._listeners.values() for q in qs})
        sinks = {id(s): s for ss in self._sinks.values() for s in ss}.values()
        return queues + sum(len(s) if hasattr(s, "__len__") else 1 for s in sinks)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect on any connection error
                log.warning("bus hub lost Redis (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _read(self) -> None:
        prefix = f"{self.namespace}:"
        async with self.redis.pubsub() as pubsub:
            await pubsub.psubscribe(prefix + "*")
            self._ready.set()
            async for item in pubsub.listen():
                if item.get("type") != "pmessage":
                    continue
                channel = item["channel"]
                topic = (channel.decode() if isinstance(channel, bytes) else channel)[
                    len(prefix):]
                self._dispatch(topic, item["data"])

    def _dispatch(self, topic: str, data: bytes | str) -> None:
        queues = self._listeners.get(topic)
        sinks = self._sinks.get(topic)
        if not queues and not sinks:
            return
        raw = data.decode() if isinstance(data, bytes) else data
        message = json.loads(raw)
        for queue in list(queues or ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait((topic, raw, message))
        for sink in list(sinks or ()):
            try:
                sink(topic, raw, message)
            except Exception:
                log.exception("bus hub sink failed on %s", topic)


class BusStream:
    """Async iterator over ``wrap(message)`` of the hub's messages of ``topics``.

    Registers a queue on the first ``__anext__`` (``BusHub.listen``) and releases it on
    ``aclose``. Also exposes ``hub``, ``topics`` and ``wrap``, so a consumer that fans
    out itself can ``hub.attach`` a sink instead of iterating.
    """

    def __init__(self, hub: BusHub, topics: list[str],
                 wrap: Callable[[dict[str, Any]], Any]) -> None:
        self.hub, self.topics, self.wrap = hub, topics, wrap
        self._messages: AsyncGenerator[Any, None] | None = None

    def __aiter__(self) -> BusStream:
        return self

    async def __anext__(self) -> Any:
        if self._messages is None:
            self._messages = self._iterate()
        return await self._messages.__anext__()

    async def aclose(self) -> None:
        if self._messages is not None:
            await self._messages.aclose()

    async def _iterate(self) -> AsyncGenerator[Any, None]:
        async with self.hub.listen(self.topics) as queue:
            while True:
                _topic, _raw, message = await queue.get()
                yield self.wrap(message)

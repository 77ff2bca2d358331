"""The floor for websocket fan-out: a bare Starlette websocket route fed by Redis pub/sub.

One pub/sub connection subscribes to one topic; every message's text is forwarded
unchanged to every connected websocket (``/ws``). No GraphQL, no auth, no per-listener
queue or task. Run by ``benchmarks/fanout.py`` as a subprocess::

    python benchmarks/bare_ws.py --port 8123 --redis redis://127.0.0.1:6379 \
        --topic bench-x:signals:bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator

import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def raise_nofile() -> None:
    """Raise the soft open-files limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def build(redis_url: str, topic: str) -> Starlette:
    clients: set[WebSocket] = set()

    async def forward() -> None:
        redis = Redis.from_url(redis_url)
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(topic)
            async for item in pubsub.listen():
                if item.get("type") != "message":
                    continue
                data = item["data"]
                text = data.decode() if isinstance(data, bytes) else data
                for ws in list(clients):
                    try:
                        await ws.send_text(text)
                    except Exception:  # noqa: BLE001 - a closed client just leaves
                        clients.discard(ws)

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        clients.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(ws)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(forward())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()
    raise_nofile()
    uvicorn.run(build(args.redis, args.topic), host=args.host, port=args.port,
                ws_per_message_deflate=False, log_level="warning", backlog=4096)


if __name__ == "__main__":
    main()

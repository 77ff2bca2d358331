"""``signalhub run``: api + worker (+ Telegram bot when a token is set) in one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from domain.ports import PriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.db import migrate
from signalhub.settings import Settings, ensure_secret_key

Extra = Callable[[Services], list[Coroutine[Any, Any, Any]]]


async def run_all(settings: Settings, *, prices: PriceSource | None = None,
                  extra: Extra | None = None, duration: float | None = None,
                  on_ready: Callable[[Services], Coroutine[Any, Any, Any]] | None = None
                  ) -> None:
    """Migrate, then serve api, worker and bot until cancelled or ``duration`` seconds.

    ``on_ready`` runs after the API listens (e.g. to print its URL); ``extra`` adds
    coroutines (strategy, live views) that run beside the servers.
    """
    import uvicorn

    from graphql_api.app import build_app
    from workers.settings import make_worker

    ensure_secret_key(settings)
    await migrate(settings.database_url)
    services = await bootstrap(settings, prices=prices)
    server = uvicorn.Server(uvicorn.Config(
        build_app(services), host=settings.signalhub_host, port=settings.signalhub_port,
        ws_per_message_deflate=False, log_level="warning"))
    worker = make_worker(services)
    coros: list[Coroutine[Any, Any, Any]] = [server.serve(), worker.main()]
    if settings.telegram_bot_token:
        from bots.telegram.app import run_polling

        coros.append(run_polling(settings, services))
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        if on_ready is not None:
            await on_ready(services)
        tasks += [asyncio.create_task(c) for c in (extra(services) if extra else [])]
        await asyncio.wait(tasks, timeout=duration, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]
    finally:
        server.should_exit = True
        await asyncio.wait(tasks[:1], timeout=5)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await worker.close()
        await shutdown(services)

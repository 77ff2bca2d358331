"""arq worker wiring: the job functions, cron schedules and startup/shutdown hooks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq import Worker, cron
from arq.worker import func

from integrations.arq_queue import queue_name
from integrations.ratelimit import RedisRateLimiter
from signalhub.bootstrap import Services
from workers.billing_jobs import BILLING_FUNCTIONS, billing_crons
from workers.context import WorkerDeps
from workers.copy_jobs import (
    apply_provider_event,
    execute_copy_orders,
    on_worker_start,
    on_worker_stop,
    reconcile_copy_orders,
)
from workers.delivery import deliver_messages
from workers.discord_jobs import close_discord, post_discord_alerts
from workers.discord_roles import sync_discord_roles
from workers.jobs import fan_out_event, fan_out_signal, sweep_outbox
from workers.monitor import run_monitor

FUNCTIONS = [
    func(fan_out_signal, name="fan_out_signal", max_tries=5),
    func(fan_out_event, name="fan_out_event", max_tries=5),
    func(deliver_messages, name="deliver_messages", max_tries=5, timeout=600),
    func(execute_copy_orders, name="execute_copy_orders", max_tries=5),
    func(apply_provider_event, name="apply_provider_event", max_tries=5),
    func(post_discord_alerts, name="post_discord_alerts", max_tries=8, timeout=600),
    *BILLING_FUNCTIONS,
]


def make_sender(services: Services) -> Any:
    """A ``TelegramSender`` when ``TELEGRAM_BOT_TOKEN`` is set, else None."""
    settings = services.settings
    if not settings.telegram_bot_token:
        return None
    from integrations.telegram import TelegramSender, make_bot

    return TelegramSender(make_bot(settings.telegram_bot_token, settings.telegram_api_base))


def make_worker(services: Services, *, burst: bool = False, monitor: bool = True,
                sender: Any = None, poll_delay: float = 0.02, **overrides: Any) -> Worker:
    """An arq ``Worker`` on the namespace's queue with this process's ``services``.

    ``monitor`` starts the position monitor on the price source (not in burst mode).
    ``sender`` defaults to a TelegramSender built from the settings (None without token).
    """
    ns = services.settings.signalhub_namespace
    sender = sender if sender is not None else make_sender(services)
    limiter = RedisRateLimiter(services.redis, f"{ns}:ratelimit:telegram:")
    deps = WorkerDeps(services, sender, limiter)
    tasks: list[asyncio.Task[None]] = []

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps
        await on_worker_start(ctx)
        if monitor and not burst:
            tasks.append(asyncio.create_task(run_monitor(deps), name="position-monitor"))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await on_worker_stop(ctx)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        aclose = getattr(sender, "aclose", None)
        if aclose is not None:
            await aclose()
        await close_discord(deps)
        from signalhub.exchange_accounts import close_exchange_services  # ccxt: lazy

        await close_exchange_services(services)  # every account's ccxt client

    return Worker(
        functions=FUNCTIONS,  # type: ignore[arg-type]
        # arq keys cron jobs by name and time only: the namespace keeps two deployments
        # (or test runs) on one Redis from deduplicating each other's sweeps.
        cron_jobs=[cron(sweep_outbox, name=f"cron:{ns}:sweep_outbox", second={0, 30},
                        unique=True, run_at_startup=True),
                   cron(sync_discord_roles, name=f"cron:{ns}:sync_discord_roles", second={15},
                        unique=True),
                   cron(reconcile_copy_orders, name=f"cron:{ns}:reconcile_copy_orders",
                        second=set(range(5, 60, 10)), unique=True, run_at_startup=True),
                   *billing_crons(ns)],
        redis_pool=services.arq, queue_name=queue_name(ns), on_startup=on_startup,
        on_shutdown=on_shutdown, burst=burst, poll_delay=poll_delay, handle_signals=False,
        max_jobs=20, keep_result=600, **overrides,
    )

"""arq jobs of the signal flow: fan-out and the outbox sweep (copy execution: workers.copy_jobs).

Every job is idempotent: rows are unique per business key, job ids come from business
ids, and each job re-reads state and skips what is already done.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import outbox
from domain.fanout import FanOutPlan, fan_out, shards
from domain.models import (
    CopyOrder,
    Delivery,
    DeliveryStatus,
    EventKind,
    OrderStatus,
    SignalEvent,
)
from domain.monitor import close_positions_for_event
from workers.context import COPY_SHARD, DELIVERY_SHARD, WorkerDeps, activity, deps
from workers.discord_jobs import enqueue_alerts

log = logging.getLogger(__name__)
SWEEP_AFTER_S = 10.0
PENDING_AFTER_S = 60.0


async def fan_out_signal(ctx: dict[str, Any], signal_id: int) -> dict[str, int]:
    """Fan out a newly published signal: deliveries to subscribers, copy orders of followers.

    Enqueues ``deliver_messages`` and ``execute_copy_orders`` in shards (job ids from the
    event and first row id), then marks the outbox row processed. Safe to run twice.
    """
    d = deps(ctx)
    event = await SignalEvent.get(signal_id=signal_id, kind=EventKind.PUBLISHED)
    plan = await fan_out(event.id)
    await _enqueue_plan(d, plan, f"sig{signal_id}")
    await enqueue_alerts(d, event.id)
    await outbox.mark_processed("signal.published", signal_id)
    await activity(d, "fanout", f"signal #{signal_id} fanned out to "
                   f"{len(plan.delivery_ids)} Telegram subscribers and "
                   f"{len(plan.copy_order_ids)} copy followers", signalId=signal_id)
    return {"deliveries": len(plan.delivery_ids), "copy_orders": len(plan.copy_order_ids)}


async def fan_out_event(ctx: dict[str, Any], event_id: int) -> dict[str, int]:
    """Fan out a later signal event (activation, target, stop, close) to subscribers.

    For CLOSED/CANCELLED events, followers' open paper positions close at the current
    market price first. Marks the outbox row processed. Safe to run twice.
    """
    d = deps(ctx)
    event = await SignalEvent.get(id=event_id).select_related("signal")
    if event.kind in (EventKind.CLOSED, EventKind.CANCELLED) and d.services.prices:
        price = event.price or d.services.prices.last_price(event.signal.symbol)
        for position in await close_positions_for_event(event_id, price, d.fill_model):
            await activity(d, "close", f"paper position #{position.id} {position.symbol} "
                           f"closed by provider at {price}: PnL "
                           f"{position.realized_pnl:.2f} USDT", positionId=position.id)
    if event.kind in (EventKind.CLOSED, EventKind.CANCELLED, EventKind.STOP_MOVED):
        await d.services.queue.enqueue("apply_provider_event", event_id,
                                       job_id=f"copy:event:{event_id}")  # live positions
    plan = await fan_out(event_id)
    await _enqueue_plan(d, plan, f"ev{event_id}")
    await enqueue_alerts(d, event_id)
    await outbox.mark_processed("signal.event", event_id)
    return {"deliveries": len(plan.delivery_ids)}


async def _enqueue_plan(d: WorkerDeps, plan: FanOutPlan, key: str) -> None:
    queue = d.services.queue
    for shard in shards(plan.delivery_ids, DELIVERY_SHARD):
        await queue.enqueue("deliver_messages", shard, job_id=f"deliver:{key}:{shard[0]}")
    for shard in shards(plan.copy_order_ids, COPY_SHARD):
        await queue.enqueue("execute_copy_orders", shard, job_id=f"copy:{key}:{shard[0]}")


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Re-enqueue lost work: outbox rows, PENDING deliveries and PENDING copy orders.

    Outbox rows not processed ``SWEEP_AFTER_S`` after commit get their fan-out job
    again (a crash between commit and enqueue). Deliveries and copy orders still PENDING
    ``PENDING_AFTER_S`` after they were written get new jobs (Redis lost its queue after
    the fan-out). Jobs skip what is done, so the sweep never duplicates a message or an
    order. Returns how many jobs were newly enqueued.
    """
    d = deps(ctx)
    rows = await outbox.unprocessed(ctx.get("sweep_after_s", SWEEP_AFTER_S))
    new = await outbox.dispatch(d.services.queue, rows)
    new += await _sweep_pending(d, ctx.get("sweep_after_s", PENDING_AFTER_S))
    if new:
        log.info("outbox sweep re-enqueued %d jobs", new)
    return new


async def _sweep_pending(d: WorkerDeps, older_than_s: float) -> int:
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    new = 0
    if d.sender is not None or d.services.settings.discord_bot_token:  # Discord DMs too
        ids = await Delivery.filter(status=DeliveryStatus.PENDING, created_at__lte=cutoff
                                    ).order_by("id").limit(5000).values_list("id", flat=True)
        for shard in shards(list(ids), DELIVERY_SHARD):  # type: ignore[arg-type]
            new += await d.services.queue.enqueue("deliver_messages", shard,
                                                  job_id=f"deliver:sweep:{shard[0]}")
    orders = await CopyOrder.filter(status=OrderStatus.PENDING, created_at__lte=cutoff
                                    ).order_by("id").limit(5000).values_list("id", flat=True)
    for shard in shards(list(orders), COPY_SHARD):  # type: ignore[arg-type]
        new += await d.services.queue.enqueue("execute_copy_orders", shard,
                                              job_id=f"copy:sweep:{shard[0]}")
    return new

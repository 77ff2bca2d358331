"""The position monitor loop: every closed candle of the price source, through the domain.

Only one monitor runs per namespace: it holds a Redis lease (``<ns>:monitor-leader``,
renewed every few seconds) so that two worker processes never apply a candle twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from decimal import Decimal

from domain.fanout import shards
from domain.market import Candle
from domain.monitor import on_candle
from domain.publishing import after_commit
from workers.context import COPY_SHARD, DELIVERY_SHARD, WorkerDeps, activity
from workers.copy_jobs import fill_resting_paper_orders, position_closed_events

log = logging.getLogger(__name__)
LEASE_S = 15


async def process_candle(d: WorkerDeps, candle: Candle) -> None:
    """Apply one candle; dispatch the events' outbox rows, announce them, send notices."""
    await fill_resting_paper_orders(d, candle)
    result = await on_candle(candle, d.fill_model)
    await after_commit(d.services.queue, d.services.bus, result.outbox, result.messages)
    for shard in shards(result.exit_order_ids, COPY_SHARD):
        await d.services.queue.enqueue("execute_copy_orders", shard,
                                       job_id=f"copy:monitor:{shard[0]}")
    ids = [n.id for n in result.notices]
    for shard in shards(ids, DELIVERY_SHARD):
        await d.services.queue.enqueue("deliver_messages", shard,
                                       job_id=f"deliver:notice:{shard[0]}")
    for message in result.messages:
        signal = message["signal"]
        await activity(d, "signal", f"signal #{signal['id']} {signal['symbol']} "
                       f"{message['kind']} at {_num(message['price'])}", eventId=message["eventId"])
    await position_closed_events(d, result.closed_positions)
    for position in result.closed_positions:
        await activity(d, "close", f"paper position #{position.id} {position.symbol} closed "
                       f"({position.close_reason}): PnL {position.realized_pnl:.2f} USDT",
                       positionId=position.id)


def _num(text: str | None) -> str:
    return "-" if text is None else format(Decimal(text).normalize(), "f")


async def run_monitor(d: WorkerDeps) -> None:
    """Consume the price source for as long as this process holds the monitor lease."""
    prices = d.services.prices
    if prices is None:
        return
    key = f"{d.services.settings.signalhub_namespace}:monitor-leader"
    me = uuid.uuid4().hex
    redis = d.services.redis
    while not await redis.set(key, me, nx=True, ex=LEASE_S):
        await asyncio.sleep(LEASE_S / 3)
    renew = asyncio.create_task(_renew(redis, key, me))
    try:
        async for candle in prices.stream():
            try:
                await process_candle(d, candle)
            except Exception:  # noqa: BLE001 - one bad candle must not stop the monitor
                log.exception("monitor failed on %s %s", candle.symbol, candle.ts)
    finally:
        renew.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await renew
        with contextlib.suppress(Exception):
            if (await redis.get(key) or b"").decode() == me:
                await redis.delete(key)


async def _renew(redis, key: str, me: str) -> None:  # noqa: ANN001
    while True:
        await asyncio.sleep(LEASE_S / 3)
        if (await redis.get(key) or b"").decode() == me:
            await redis.expire(key, LEASE_S)
        else:
            await redis.set(key, me, nx=True, ex=LEASE_S)

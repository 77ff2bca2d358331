"""Transactional outbox: rows written with a signal event, turned into jobs after commit.

Topics: ``signal.published`` (ref: signal id) → job ``fan_out_signal``;
``signal.event`` (ref: event id) → job ``fan_out_event``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import OutboxMessage
from domain.ports import JobQueue

JOB_OF_TOPIC = {"signal.published": "fan_out_signal", "signal.event": "fan_out_event"}


def job_id_for(topic: str, ref_id: int) -> str:
    """Deterministic arq job id of an outbox row: a retry never enqueues a second job."""
    return f"{JOB_OF_TOPIC[topic]}:{ref_id}"


async def dispatch(queue: JobQueue, rows: list[OutboxMessage]) -> int:
    """Enqueue the job of each row (idempotent by job id); returns how many were new."""
    new = 0
    for row in rows:
        new += await queue.enqueue(JOB_OF_TOPIC[row.topic], row.ref_id,
                                   job_id=job_id_for(row.topic, row.ref_id))
    return new


async def mark_processed(topic: str, ref_id: int) -> None:
    """Record that the job of an outbox row finished; the sweep stops re-enqueueing it."""
    await OutboxMessage.filter(topic=topic, ref_id=ref_id, processed_at=None).update(
        processed_at=datetime.now(UTC))


async def unprocessed(older_than_s: float, limit: int = 500) -> list[OutboxMessage]:
    """Rows whose job has not finished ``older_than_s`` seconds after they were written."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    return await OutboxMessage.filter(processed_at=None, created_at__lte=cutoff).order_by(
        "id").limit(limit)

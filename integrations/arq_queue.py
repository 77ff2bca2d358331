"""``domain.ports.JobQueue`` over arq: deterministic job ids, one queue per namespace."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis, RedisSettings


def queue_name(namespace: str) -> str:
    """The arq queue of a namespace (tests and parallel deployments stay apart)."""
    return f"{namespace}:arq:queue"


def redis_settings(url: str) -> RedisSettings:
    """arq ``RedisSettings`` for ``redis://``, ``rediss://`` or ``unix://`` URLs."""
    if url.startswith("unix://"):
        path, _, query = url.removeprefix("unix://").partition("?")
        db = 0
        for part in query.split("&"):
            if part.startswith("db="):
                db = int(part[3:])
        return RedisSettings(unix_socket_path=path, database=db)
    return RedisSettings.from_dsn(url)


class ArqQueue:
    """Enqueues jobs on ``<namespace>:arq:queue``; an existing job id is a no-op."""

    def __init__(self, pool: ArqRedis, namespace: str) -> None:
        self.pool, self.queue_name, self.namespace = pool, queue_name(namespace), namespace

    async def enqueue(self, function: str, *args: Any, job_id: str,
                      defer_by: float | None = None) -> bool:
        """Enqueue ``function(*args)`` as ``job_id``; False if that id is queued or kept.

        arq keys jobs by id alone (``arq:job:<id>``), so the id is prefixed with the
        namespace to keep deployments (and parallel test runs) on one Redis apart.
        """
        job = await self.pool.enqueue_job(function, *args, _job_id=f"{self.namespace}:{job_id}",
                                          _queue_name=self.queue_name, _defer_by=defer_by)
        return job is not None

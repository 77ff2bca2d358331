"""What every job finds in arq's ``ctx``: the process's adapters, built in ``on_startup``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.ports import MessageSender, RateLimiter
from domain.sizing import FillModel
from signalhub.bootstrap import Services

ACTIVITY_TOPIC = "activity"
DELIVERY_SHARD = 50
COPY_SHARD = 100


@dataclass
class WorkerDeps:
    """Adapters of a worker process. ``sender`` is None when no Telegram token is set."""

    services: Services
    sender: MessageSender | None
    limiter: RateLimiter | None
    fill_model: FillModel = FillModel()
    max_send_attempts: int = 5


def deps(ctx: dict[str, Any]) -> WorkerDeps:
    """The ``WorkerDeps`` stored in a job's context by ``on_startup``."""
    return ctx["deps"]  # type: ignore[no-any-return]


async def activity(d: WorkerDeps, kind: str, text: str, **fields: Any) -> None:
    """Announce one line of activity (delivery, fill, close) on the bus for live views."""
    try:
        await d.services.bus.publish(ACTIVITY_TOPIC, {"kind": kind, "text": text, **fields})
    except Exception:  # noqa: BLE001 - live views are best effort
        pass

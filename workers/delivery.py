"""Job ``deliver_messages``: send pending Delivery rows through the shared rate limiter.

Each delivery is claimed in Redis (``<ns>:delivery-claim:<id>``, expiring), re-read
and marked SENT right after sending, so two jobs over the same rows never both send
one, and a job that runs again (retry, second worker, crash) skips what went out. A 429 is waited
out for its ``retry_after`` (and pushes the shared limiter back for every worker); a
user who blocked the bot is marked unreachable and their deliveries UNREACHABLE, never
retried; other failures are retried up to ``max_send_attempts`` times, then FAILED.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from domain.errors import PermanentError, RecipientUnreachable, RetryableError
from domain.events import event_message
from domain.models import Delivery, DeliveryStatus, SignalEvent, SignalState, User
from domain.notifications import silent_now
from domain.subscriptions import is_entitled_to_event
from integrations.telegram_format import render_event, render_notice
from workers.context import WorkerDeps, activity, deps
from workers.discord_jobs import CHANNEL_DISCORD, deliver_discord

log = logging.getLogger(__name__)
LAPSED = "not sent: the subscription lapsed before delivery (not entitled at send time)"
CLAIM_S = 300  # a crashed sender's claim expires; the row stays PENDING and is re-sent


async def deliver_messages(ctx: dict[str, Any], delivery_ids: list[int]) -> dict[str, int]:
    """Send each PENDING delivery of ``delivery_ids``; returns counts by final status."""
    d = deps(ctx)
    counts: dict[str, int] = {}
    rendered: dict[int, str] = {}
    for delivery_id in delivery_ids:
        status = await _deliver_one(d, delivery_id, rendered)
        counts[status] = counts.get(status, 0) + 1
    return counts


async def _deliver_one(d: WorkerDeps, delivery_id: int, rendered: dict[int, str]) -> str:
    claim = f"{d.services.settings.signalhub_namespace}:delivery-claim:{delivery_id}"
    if not await d.services.redis.set(claim, 1, nx=True, ex=CLAIM_S):
        return "skipped"  # another job is sending it right now
    try:
        return await _deliver_claimed(d, delivery_id, rendered)
    finally:
        await d.services.redis.delete(claim)


async def _deliver_claimed(d: WorkerDeps, delivery_id: int, rendered: dict[int, str]) -> str:
    delivery = await Delivery.get_or_none(id=delivery_id).select_related("user")
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        return "skipped"
    if not await _still_entitled(delivery):  # lapsed between publish and delivery
        await _finish(delivery, DeliveryStatus.FAILED, LAPSED)
        return "lapsed"
    if delivery.channel == CHANNEL_DISCORD:
        return await deliver_discord(d, delivery)
    if d.sender is None:
        return "pending"  # no Telegram token: the row stays PENDING
    user = delivery.user
    if not user.telegram_chat_id or not user.telegram_reachable:
        await _finish(delivery, DeliveryStatus.UNREACHABLE, "user unreachable")
        return DeliveryStatus.UNREACHABLE.value
    html = await _html(delivery, rendered)
    return await _send_with_retries(d, delivery, user, html)


async def _still_entitled(delivery: Delivery) -> bool:
    """Signal deliveries need an entitled subscription at send time; notices do not."""
    if delivery.event_id is None:  # type: ignore[attr-defined]
        return True
    return await is_entitled_to_event(delivery.user_id, delivery.event_id)  # type: ignore[attr-defined]


async def _send_with_retries(d: WorkerDeps, delivery: Delivery, user: User, html: str) -> str:
    assert d.sender is not None and user.telegram_chat_id is not None
    silent = await silent_now(user.id)  # quiet hours: delivered without a sound
    for attempt in range(1, d.max_send_attempts + 1):
        if d.limiter is not None:
            await d.limiter.acquire(user.telegram_chat_id)
        try:
            if silent:
                await d.sender.send_html(user.telegram_chat_id, html, silent=True)
            else:
                await d.sender.send_html(user.telegram_chat_id, html)
        except RetryableError as exc:
            await _wait_out(d, exc, attempt)
            delivery.error = exc.message
            continue
        except RecipientUnreachable as exc:
            await _mark_unreachable(user, delivery, exc.message)
            return DeliveryStatus.UNREACHABLE.value
        except PermanentError as exc:
            await _finish(delivery, DeliveryStatus.FAILED, exc.message, attempt)
            return DeliveryStatus.FAILED.value
        await _finish(delivery, DeliveryStatus.SENT, "", attempt)
        await activity(d, "delivery", f"delivered to {user.name} (Telegram)",
                       deliveryId=delivery.id, userId=user.id)
        return DeliveryStatus.SENT.value
    await _finish(delivery, DeliveryStatus.FAILED, delivery.error, d.max_send_attempts)
    return DeliveryStatus.FAILED.value


async def _wait_out(d: WorkerDeps, exc: RetryableError, attempt: int) -> None:
    wait = exc.retry_after if exc.retry_after is not None else min(2.0 ** attempt, 30.0)
    penalize = getattr(d.limiter, "penalize", None)
    if exc.retry_after is not None and penalize is not None:
        await penalize(exc.retry_after)
    await asyncio.sleep(wait)


async def _html(delivery: Delivery, rendered: dict[int, str]) -> str:
    if delivery.event_id is None:  # type: ignore[attr-defined]
        return render_notice(delivery.text)
    event_id: int = delivery.event_id  # type: ignore[attr-defined]
    if event_id not in rendered:
        event = await SignalEvent.get(id=event_id).select_related("signal__provider")
        signal = event.signal
        state = await SignalState.get_or_none(signal_id=signal.id)
        rendered[event_id] = render_event(event_message(event, signal, signal.provider, state))
    return rendered[event_id]


async def _finish(delivery: Delivery, status: DeliveryStatus, error: str,
                  attempts: int = 0) -> None:
    delivery.status, delivery.error = status, error[:500]
    delivery.attempts = attempts
    if status is DeliveryStatus.SENT:
        delivery.sent_at = datetime.now(UTC)
    await delivery.save(update_fields=["status", "error", "attempts", "sent_at"])


async def _mark_unreachable(user: User, delivery: Delivery, error: str) -> None:
    await User.filter(id=user.id).update(telegram_reachable=False)
    await _finish(delivery, DeliveryStatus.UNREACHABLE, error, 1)

"""Discord work of the worker: channel alerts (job ``post_discord_alerts``) and DM deliveries.

``post_discord_alerts(event_id)`` is enqueued by the fan-out of every signal event
whose provider has an enabled alert (``enqueue_alerts``, job id ``discord:ev<event
id>``). For PUBLISHED it posts the signal's embed in every enabled alert channel of
the provider and records the message id; for later events it edits that message in
place. The embed always shows the signal after its latest
event, so edits may run late or twice without showing a stale status.

``deliver_discord`` sends one Delivery row of channel ``discord`` as a DM to the
user's linked Discord account (called by ``workers.delivery`` for those rows).

A job posts to up to ``IN_FLIGHT`` channels at once (one HTTP round trip to Discord
each); sends go through the Redis rate limiter shared by every worker (prefix
``<ns>:ratelimit:discord:``: 50 requests/s per bot, 1 message/s per channel, under
Discord's 5 per 5 s per channel), then through discord.py, which keeps Discord's
per-route buckets and waits out 429s. A post is created with a nonce
(``enforce_nonce``), so a retry after a crash between Discord's answer and our
write returns the message already created. A 403/404 (channel deleted, permission
lost) disables the alert and DMs the admin who created it; it is never retried.
Transient failures raise arq ``Retry`` with Discord's wait or a back-off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from arq import Retry

from domain import alerts
from domain.discord_models import DiscordAlert
from domain.errors import PermanentError, RecipientUnreachable, RetryableError
from domain.events import event_message
from domain.models import (
    Delivery,
    DeliveryStatus,
    EventKind,
    Signal,
    SignalEvent,
    SignalState,
)
from domain.notifications import silent_now
from integrations.discord_format import event_content, notice_content, signal_embed
from integrations.discord_rest import DiscordRest, MessageGone
from integrations.ratelimit import RedisRateLimiter
from workers.context import WorkerDeps, activity, deps

log = logging.getLogger(__name__)
CHANNEL_DISCORD = "discord"
GLOBAL_RATE = 50.0  # requests/s per bot (Discord's global limit)
CHANNEL_RATE = 1.0  # messages/s per channel (Discord: 5 per 5 s)
IN_FLIGHT = 10  # alert channels posted to concurrently by one job
REST_KEY, LIMITER_KEY, LOCK_KEY = "discord_rest", "discord_limiter", "discord_lock"
OWNED_KEY = "discord_rest_owned"


def job_id(event_id: int) -> str:
    """Deterministic arq job id of ``post_discord_alerts`` for one event."""
    return f"discord:ev{event_id}"


async def enqueue_alerts(d: WorkerDeps, event_id: int) -> bool:
    """Enqueue ``post_discord_alerts(event_id)`` if the signal's provider has an alert.

    One indexed query instead of a job per event for the providers (most) without
    alerts. Returns True when newly enqueued (the job id makes a repeat a no-op).
    """
    if not await DiscordAlert.exists(enabled=True, provider__signals__events__id=event_id):
        return False
    return await d.services.queue.enqueue("post_discord_alerts", event_id,
                                          job_id=job_id(event_id))


async def discord_rest(d: WorkerDeps) -> DiscordRest | None:
    """This worker's logged-in ``DiscordRest`` (built once), or None without a bot token
    or when Discord refuses the token (logged as an error: fix DISCORD_BOT_TOKEN; jobs
    then skip Discord instead of failing over and over).

    Kept in ``services.extras["discord_rest"]``; a caller may put its own there (then
    ``close_discord`` leaves it open). Raises ``RetryableError`` when Discord cannot be
    reached to log in.
    """
    extras = d.services.extras
    if REST_KEY not in extras:
        settings = d.services.settings
        if not settings.discord_bot_token:
            return None
        lock = extras.setdefault(LOCK_KEY, asyncio.Lock())
        async with lock:
            if REST_KEY not in extras:
                rest = DiscordRest(settings.discord_bot_token, settings.discord_api_base)
                try:
                    extras[REST_KEY] = await rest.start()
                except PermanentError as exc:
                    await rest.aclose()
                    log.error("Discord is off in this worker: %s", exc.message)
                    return None
                extras[OWNED_KEY] = True
    return extras[REST_KEY]  # type: ignore[no-any-return]


def discord_limiter(d: WorkerDeps) -> RedisRateLimiter:
    """The shared Discord limiter (``services.extras["discord_limiter"]`` if set)."""
    extras = d.services.extras
    if LIMITER_KEY not in extras:
        prefix = f"{d.services.settings.signalhub_namespace}:ratelimit:discord:"
        extras[LIMITER_KEY] = RedisRateLimiter(d.services.redis, prefix,
                                               global_rate=GLOBAL_RATE,
                                               per_chat_rate=CHANNEL_RATE)
    return extras[LIMITER_KEY]  # type: ignore[no-any-return]


async def close_discord(d: WorkerDeps) -> None:
    """Close the Discord HTTP session ``discord_rest`` opened (not one put there by a caller)."""
    if d.services.extras.pop(OWNED_KEY, False):
        await d.services.extras.pop(REST_KEY).aclose()


async def post_discord_alerts(ctx: dict[str, Any], event_id: int) -> dict[str, int]:
    """Post (PUBLISHED) or edit in place (later events) the signal in every alert channel.

    Returns counts by outcome (posted, edited, reposted, skipped, disabled, failed).
    Safe to run twice. Raises arq ``Retry`` on a transient Discord failure.
    """
    d = deps(ctx)
    event = await SignalEvent.get(id=event_id).select_related("signal__provider")
    targets = await alerts.alert_targets(event.signal.provider_id)  # type: ignore[attr-defined]
    rest = await discord_rest(d) if targets else None
    if rest is None:
        return {"skipped": len(targets)}
    embed = await current_embed(event.signal)
    posted = await alerts.posted_messages(event.signal.id, [a.id for a in targets])
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(alert: DiscordAlert) -> str:
        async with gate:
            return await _post_one(d, rest, alert, event, embed, posted.get(alert.id),
                                   ctx.get("job_try", 1))

    results = await asyncio.gather(*(one(a) for a in targets), return_exceptions=True)
    failure = next((r for r in results if isinstance(r, BaseException)), None)
    if failure is not None:  # what went out is recorded: the retry skips it
        raise failure
    counts: dict[str, int] = {}
    for outcome in results:
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    return counts


async def current_embed(signal: Signal) -> dict[str, Any]:
    """The embed of ``signal`` (provider loaded) as it stands after its latest event."""
    latest = await SignalEvent.filter(signal_id=signal.id).order_by("-id").first()
    assert latest is not None  # every signal has its PUBLISHED event
    state = await SignalState.get_or_none(signal_id=signal.id)
    return signal_embed(event_message(latest, signal, signal.provider, state),
                        state.stop_loss if state is not None else None)


async def _post_one(d: WorkerDeps, rest: DiscordRest, alert: DiscordAlert,
                    event: SignalEvent, embed: dict[str, Any], message_id: int | None,
                    job_try: int) -> str:
    signal = event.signal
    if (message_id is None) is not (event.kind is EventKind.PUBLISHED):
        return "skipped"  # already posted, or the alert was added after the signal
    await discord_limiter(d).acquire(alert.channel_id)
    try:
        if message_id is None:
            new_id = await rest.send_embed(alert.channel_id, embed, nonce=_nonce(alert, signal))
            await alerts.record_message(alert.id, signal.id, new_id)
            return "posted"
        try:
            await rest.edit_embed(alert.channel_id, message_id, embed)
            return "edited"
        except MessageGone:  # someone deleted the message: show the signal again
            new_id = await rest.send_embed(alert.channel_id, embed)
            await alerts.record_message(alert.id, signal.id, new_id)
            return "reposted"
    except RecipientUnreachable as exc:
        await disable_and_tell(d, rest, alert.id, exc.message)
        return "disabled"
    except PermanentError as exc:
        log.warning("discord alert %s: %s", alert.id, exc.message)
        return "failed"
    except RetryableError as exc:
        raise Retry(defer=exc.retry_after or min(2.0 ** job_try, 60.0)) from exc


def _nonce(alert: DiscordAlert, signal: Signal) -> str:
    return f"sh{alert.id}-{signal.id}"[:25]


async def disable_and_tell(d: WorkerDeps, rest: DiscordRest, alert_id: int,
                           reason: str) -> None:
    """Disable the alert; the caller that disabled it DMs the admin who created it."""
    alert = await alerts.disable_alert(alert_id, reason)
    if alert is None:
        return
    await activity(d, "discord", f"Discord alert #{alert.id} disabled: {reason}",
                   alertId=alert.id)
    try:
        await rest.send_dm(alert.created_by, content=alerts.disabled_notice(alert))
    except (PermanentError, RetryableError) as exc:
        log.warning("could not tell the admin of discord alert %s: %s", alert.id, exc.message)


async def deliver_discord(d: WorkerDeps, delivery: Delivery) -> str:
    """Send one ``discord`` Delivery (user loaded) as a DM; returns the final status value.

    Sent silently (``SUPPRESS_NOTIFICATIONS``) during the user's quiet hours, as
    Telegram messages are. Waits out ``RetryableError`` up to ``d.max_send_attempts``
    times, then FAILED; a user who does not accept DMs makes it UNREACHABLE. Without a
    bot token it stays PENDING (returns "pending").
    """
    rest = await discord_rest(d)
    if rest is None:
        return "pending"
    user_id = delivery.user.discord_user_id
    if user_id is None:
        return await _finish(delivery, DeliveryStatus.UNREACHABLE, "no linked Discord account")
    content, embed = await _dm_payload(delivery)
    silent = await silent_now(delivery.user.id)  # quiet hours: no push, no sound
    for attempt in range(1, d.max_send_attempts + 1):
        await discord_limiter(d).acquire(user_id)
        try:
            await rest.send_dm(user_id, content, embed, nonce=f"shd{delivery.id}",
                               silent=silent)
        except RetryableError as exc:
            delivery.error = exc.message
            await asyncio.sleep(exc.retry_after or min(2.0 ** attempt, 30.0))
            continue
        except RecipientUnreachable as exc:
            return await _finish(delivery, DeliveryStatus.UNREACHABLE, exc.message, attempt)
        except PermanentError as exc:
            return await _finish(delivery, DeliveryStatus.FAILED, exc.message, attempt)
        await activity(d, "delivery", f"delivered to {delivery.user.name} (Discord)",
                       deliveryId=delivery.id, userId=delivery.user.id)
        return await _finish(delivery, DeliveryStatus.SENT, "", attempt)
    return await _finish(delivery, DeliveryStatus.FAILED, delivery.error, d.max_send_attempts)


async def _dm_payload(delivery: Delivery) -> tuple[str, dict[str, Any] | None]:
    event_id = delivery.event_id  # type: ignore[attr-defined]
    if event_id is None:
        return notice_content(delivery.text), None
    event = await SignalEvent.get(id=event_id).select_related("signal__provider")
    state = await SignalState.get_or_none(signal_id=event.signal.id)
    message = event_message(event, event.signal, event.signal.provider, state)
    return event_content(message), signal_embed(
        message, state.stop_loss if state is not None else None)


async def _finish(delivery: Delivery, status: DeliveryStatus, error: str,
                  attempts: int = 0) -> str:
    delivery.status, delivery.error, delivery.attempts = status, error[:500], attempts
    if status is DeliveryStatus.SENT:
        delivery.sent_at = datetime.now(UTC)
    await delivery.save(update_fields=["status", "error", "attempts", "sent_at"])
    return status.value

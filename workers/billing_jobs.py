"""arq jobs of billing: apply a Stripe event, expire lapsed subscriptions, reconcile.

``process_stripe_event`` runs once per stored event (``domain.billing_events``); its
notices (payment succeeded/failed, subscription ended, new subscriber) are Delivery
rows sent by ``deliver_messages``. For a paid invoice it then asks Stripe for the
processing fee; if Stripe does not answer, the daily reconcile fills it in. A stray
Stripe subscription an event revealed is cancelled by ``cancel_stray_subscription``.

The clock of the scheduled jobs is ``ctx["clock"]()`` when a worker is built with one
(tests drive time that way), else the current UTC time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from arq import Retry, cron
from arq.worker import func

from domain import billing
from domain.billing_events import apply_event
from domain.billing_schedule import ScheduleResult, expire_lapsed, reconcile
from domain.errors import ExternalServiceError, PermanentError, RetryableError
from signalhub.billing import billing_config, payment_gateway
from workers.context import WorkerDeps, activity, deps

log = logging.getLogger(__name__)


def now_of(ctx: dict[str, Any]) -> datetime:
    """The job's clock: ``ctx["clock"]()`` if set, else the current UTC time."""
    clock: Callable[[], datetime] | None = ctx.get("clock")
    return clock() if clock is not None else datetime.now(UTC)


async def process_stripe_event(ctx: dict[str, Any], event_id: str) -> str:
    """Apply stored Stripe event ``event_id`` (once), send its notices; the outcome text."""
    d = deps(ctx)
    config = billing_config(d.services.settings)
    applied = await apply_event(event_id, config.fee_pct, config.grace)
    await _send(d, applied.notice_ids, f"stripe:{event_id}")
    for stray in applied.cancel_stripe:
        await d.services.queue.enqueue("cancel_stray_subscription", stray,
                                       job_id=f"stripe-cancel:{stray}")
    if applied.paid_invoice:
        await _fetch_fee(d, applied.paid_invoice)
    for row in applied.transitions:
        await activity(d, "billing", f"subscription #{row.subscription_id} "  # type: ignore[attr-defined]
                       f"{row.from_status} -> {row.to_status} ({row.cause})")
    return applied.outcome


async def _fetch_fee(d: WorkerDeps, invoice_id: str) -> None:
    gateway = payment_gateway(d.services)
    if gateway is None:
        return
    try:
        fee = await gateway.invoice_fee(invoice_id)
    except ExternalServiceError as exc:
        log.warning("Stripe fee of %s not known yet: %s", invoice_id, exc.message)
        return
    if fee is not None:
        await billing.record_stripe_fee(invoice_id, *fee)


async def cancel_stray_subscription(ctx: dict[str, Any], stripe_id: str) -> str:
    """Cancel at once at Stripe a stray Stripe subscription (one whose invoice came for
    a row bound to another, ``domain.billing_events``), comment ``billing.SUPERSEDED``;
    idempotent (an ended one is returned as it is). Stripe unreachable -> arq ``Retry``
    with back-off; a permanent refusal is logged. Should every try fail, the stray's
    next invoice event asks again. Its echo webhook is unmatched and changes nothing."""
    d = deps(ctx)
    gateway = payment_gateway(d.services)
    if gateway is None:
        return "no Stripe key"
    try:
        obj = await gateway.cancel_subscription(stripe_id, False, billing.SUPERSEDED)
    except RetryableError as exc:
        raise Retry(defer=min(2.0 ** ctx.get("job_try", 1), 300.0)) from exc
    except PermanentError as exc:
        log.warning("billing: Stripe refused to cancel stray %s: %s", stripe_id, exc.message)
        return f"refused: {exc.message}"
    await activity(d, "billing", f"stray Stripe subscription {stripe_id} cancelled "
                                 f"({obj.get('status')})")
    return str(obj.get("status"))


async def expire_subscriptions(ctx: dict[str, Any]) -> dict[str, int]:
    """Hourly: expire lapsed subscriptions at the job's clock. A Stripe-billed one is
    asked about first (``domain.billing_schedule.expire_lapsed``); one Stripe does not
    answer for stays as it is (logged) until a later run."""
    d = deps(ctx)
    now = now_of(ctx)
    grace = billing_config(d.services.settings).grace
    result = await expire_lapsed(now, payment_gateway(d.services), grace=grace)
    await _send(d, result.notice_ids, f"expire:{int(now.timestamp())}")
    _log_failures("expiry", result)
    return _counts(result)


async def reconcile_billing(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: reconcile live paid subscriptions with Stripe, expire lapsed ones, fill
    missing Stripe fees. Without a Stripe key only the expiry runs."""
    d = deps(ctx)
    now = now_of(ctx)
    gateway, grace = payment_gateway(d.services), billing_config(d.services.settings).grace
    result = await (reconcile(gateway, now, grace) if gateway is not None
                    else expire_lapsed(now, grace=grace))
    await _send(d, result.notice_ids, f"reconcile:{int(now.timestamp())}")
    _log_failures("reconcile", result)
    return _counts(result)


def _log_failures(job: str, result: ScheduleResult) -> None:
    for failure in result.failures:
        log.warning("billing %s: Stripe did not answer for %s (kept as is, retried on the "
                    "next run)", job, failure)


def _counts(result: ScheduleResult) -> dict[str, int]:
    return {"changed": len(result.changed), "expired": len(result.expired),
            "failures": len(result.failures), "fees": result.fees}


async def _send(d: WorkerDeps, delivery_ids: list[int], key: str) -> None:
    if delivery_ids:
        await d.services.queue.enqueue("deliver_messages", delivery_ids,
                                       job_id=f"deliver:{key}:{delivery_ids[0]}")


BILLING_FUNCTIONS = [
    func(process_stripe_event, name="process_stripe_event", max_tries=8),
    func(cancel_stray_subscription, name="cancel_stray_subscription", max_tries=10),
    func(expire_subscriptions, name="expire_subscriptions", max_tries=3),
    func(reconcile_billing, name="reconcile_billing", max_tries=3, timeout=1800),
]


def billing_crons(ns: str) -> list[Any]:
    """Hourly expiry (minute 7) and the daily reconcile with Stripe (03:17 UTC); cron
    names carry the namespace (arq keys cron jobs by name and time only)."""
    return [cron(expire_subscriptions, name=f"cron:{ns}:expire_subscriptions", minute={7},
                 second={0}, unique=True),
            cron(reconcile_billing, name=f"cron:{ns}:reconcile_billing", hour={3},
                 minute={17}, second={0}, unique=True)]

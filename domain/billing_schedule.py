"""Scheduled billing work: expiring lapsed subscriptions, reconciling with Stripe.

``expire_lapsed`` ends access of a PAST_DUE subscription whose grace has run out and of
one cancelled at period end whose period is over (EXPIRED). Before it ends a
Stripe-billed one it asks Stripe for its current state and applies the answer: a retry
charge that succeeded (its webhook late) makes it ACTIVE with the new period. If Stripe
cannot be asked (outage) the subscription stays as it is and is asked again on the next
run: an outage never turns access that may have been paid for into EXPIRED. (Access
itself follows the entitlement rule meanwhile: a PAST_DUE past its grace gets nothing.)
Free subscriptions, ones without a Stripe id and a process without a Stripe key expire
without asking.

A Stripe subscription whose access ends here while Stripe still holds it unpaid but alive
(past_due past the grace, unpaid, incomplete) is cancelled at Stripe at once first, and
EXPIRED is recorded only with Stripe's confirmation: otherwise Stripe's dunning could
charge the card days later for access the user no longer has, and a re-subscribe would
leave two live Stripe subscriptions. The cancellation carries ``billing.GRACE_ENDED``
as its comment, so its echo webhook reads as EXPIRED too (``billing.status_of``).

``reconcile`` re-reads every live paid subscription from Stripe and applies it; one
Stripe cannot be asked about keeps its state. Then it expires lapsed ones (without
asking Stripe twice) and fills in Stripe fees not known yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import billing
from domain.billing import DEFAULT_GRACE, StripeState
from domain.billing_models import LedgerEntry
from domain.checkout import PaymentGateway
from domain.errors import ExternalServiceError
from domain.models import Subscription, SubscriptionStatus

S = SubscriptionStatus
LIVE = (S.TRIALING, S.ACTIVE, S.PAST_DUE, S.PAUSED, S.CANCELLED)
RECONCILE = "schedule:reconcile"


@dataclass
class ScheduleResult:
    """What a scheduled run changed: transitions, notices written, Stripe failures."""

    expired: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    notice_ids: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    fees: int = 0


async def expire_lapsed(now: datetime, gateway: PaymentGateway | None = None,
                        read: dict[int, dict[str, Any] | None] | None = None,
                        grace: timedelta = DEFAULT_GRACE) -> ScheduleResult:
    """EXPIRED for PAST_DUE past ``grace_until`` (cause ``schedule:grace``) and for
    CANCELLED-at-period-end past ``current_period_end`` (``schedule:period_end``).

    With a ``gateway``, a subscription with a Stripe id is first read from Stripe
    (``settle``): Stripe's state is applied (``schedule:reconcile``, listed in
    ``changed``), and one Stripe still holds unpaid but alive (past_due, unpaid,
    incomplete) is cancelled at Stripe before it is recorded EXPIRED, so Stripe's
    dunning cannot charge for access that ended. A Stripe failure (read or cancel)
    leaves it unchanged, listed in ``failures``, for the next run. ``read``: Stripe
    objects this run already read (None: Stripe did not answer), not asked again.
    ``grace``: see ``reconcile``. Copy trading and notices follow the transitions
    (``billing.record_transition``, ``billing.lifecycle_notices``). Idempotent: a second
    run finds nothing.
    """
    result, read = ScheduleResult(), read if read is not None else {}
    for sub_id, stripe_id, cause in await _lapsed(now):
        if not stripe_id or gateway is None:
            async with in_transaction():
                await _expire(await billing.lock_subscription(sub_id), cause, now, result)
            continue
        obj = read[sub_id] if sub_id in read else await _read(gateway, stripe_id, result)
        if obj is not None:  # None: Stripe did not answer for it this run
            await settle(sub_id, obj, cause, now, gateway, grace, result)
    return result


async def _read(gateway: PaymentGateway, stripe_id: str, result: ScheduleResult
                ) -> dict[str, Any] | None:
    try:
        return await gateway.retrieve_subscription(stripe_id)
    except ExternalServiceError as exc:
        result.failures.append(f"{stripe_id}: {exc.message}")
        return None


async def _expire(sub: Subscription, cause: str, now: datetime, result: ScheduleResult
                  ) -> None:
    """EXPIRED (``cause``) if ``sub`` (locked) is still lapsed at ``now``."""
    if _still_lapsed(sub, now):
        row = await billing.record_transition(sub, S.EXPIRED, cause, now)
        await sub.save()
        if row is not None:
            result.expired.append(sub.id)
            result.notice_ids += await billing.lifecycle_notices(sub, row)


def must_cancel(sub: Subscription, obj: dict[str, Any], now: datetime) -> bool:
    """True when Stripe's ``obj`` is unpaid but alive and applying it leaves ``sub``
    without access: unpaid or incomplete, or past_due while ``sub`` is PAST_DUE past its
    grace. (A past_due read for a row not yet PAST_DUE gets its grace first.)"""
    status = obj.get("status")
    if status not in billing.UNPAID_ALIVE:
        return False
    if status != "past_due":
        return True
    return (sub.status is S.PAST_DUE and sub.grace_until is not None
            and sub.grace_until <= now)


async def settle(sub_id: int, obj: dict[str, Any], cause: str, now: datetime,
                 gateway: PaymentGateway, grace: timedelta, result: ScheduleResult) -> None:
    """Apply Stripe's ``obj`` of subscription ``sub_id``, then expire it (``cause``) if
    still lapsed. When ``must_cancel``, it is first cancelled at Stripe at once
    (``billing.GRACE_ENDED`` comment; no transaction is open during the call) and the
    cancellation Stripe answers is applied with ``cause`` (EXPIRED): only Stripe's
    confirmation ends it. If the cancel fails, nothing changes (``failures``)."""
    sub = await Subscription.get(id=sub_id)
    applied_cause = RECONCILE
    if must_cancel(sub, obj, now):
        try:
            obj = await gateway.cancel_subscription(str(sub.stripe_subscription_id), False,
                                                    billing.GRACE_ENDED)
        except ExternalServiceError as exc:
            result.failures.append(f"{sub.stripe_subscription_id}: {exc.message}")
            return
        applied_cause = cause
    async with in_transaction():
        sub = await billing.lock_subscription(sub_id)
        await _apply_stripe(sub, obj, now, grace, result, applied_cause)
        await _expire(sub, cause, now, result)


async def _lapsed(now: datetime) -> list[tuple[int, str | None, str]]:
    grace = await Subscription.filter(status=S.PAST_DUE, grace_until__lte=now
                                      ).values_list("id", "stripe_subscription_id")
    ended = await Subscription.filter(status=S.CANCELLED, cancel_at_period_end=True,
                                      current_period_end__lte=now
                                      ).values_list("id", "stripe_subscription_id")
    return ([(int(i), s, "schedule:grace") for i, s in grace]  # type: ignore[misc]
            + [(int(i), s, "schedule:period_end") for i, s in ended])  # type: ignore[misc]


def _still_lapsed(sub: Subscription, now: datetime) -> bool:
    """PAST_DUE or CANCELLED at period end, and not entitled at ``now`` (paid again
    meanwhile, or Stripe's answer ended it some other way: nothing to do)."""
    lapsing = sub.status is S.PAST_DUE or (sub.status is S.CANCELLED
                                           and sub.cancel_at_period_end)
    return lapsing and not billing.is_entitled_state(
        sub.status, sub.cancel_at_period_end, sub.current_period_end, sub.grace_until, now)


async def _apply_stripe(sub: Subscription, obj: dict[str, Any], now: datetime,
                        grace: timedelta, result: ScheduleResult,
                        cause: str = RECONCILE) -> None:
    """Apply a Stripe subscription object just read (``sub`` locked by the caller)."""
    status, at_end = billing.status_of(obj)
    grace_until = now + grace if status is S.PAST_DUE else None
    row = await billing.apply_state(sub, StripeState(
        status, int(now.timestamp()), cause, at_end,
        billing.subscription_period_end(obj), grace_until), fresh=True)
    if row is not None:
        (result.changed if cause == RECONCILE else result.expired).append(sub.id)
        result.notice_ids += await billing.lifecycle_notices(sub, row)


async def reconcile(gateway: PaymentGateway, now: datetime,
                    grace: timedelta = DEFAULT_GRACE) -> ScheduleResult:
    """Apply Stripe's current state of every live paid subscription (cause
    ``schedule:reconcile``; a CANCELLED-at-once one has ended and is not re-read), then
    ``expire_lapsed`` (not asking Stripe again), then fetch missing Stripe fees.
    One Stripe holds unpaid while it has no access here is cancelled at Stripe first
    (``settle``); a lapsed one is settled by ``expire_lapsed``. A Stripe failure for one
    subscription is recorded in ``failures`` and leaves it unchanged. A subscription
    found past_due whose failure we missed (no webhook) gets its grace from ``now``
    (``now + grace``); one already PAST_DUE keeps its deadline."""
    result, read = ScheduleResult(), {}
    subs = await Subscription.filter(
        ~Q(status=S.CANCELLED, cancel_at_period_end=False), status__in=LIVE,
        stripe_subscription_id__not_isnull=True)
    for sub in subs:
        read[sub.id] = obj = await _read(gateway, str(sub.stripe_subscription_id), result)
        if obj is not None and not _still_lapsed(sub, now):
            await settle(sub.id, obj, RECONCILE, now, gateway, grace, result)
    expired = await expire_lapsed(now, gateway, read, grace)
    result.expired += expired.expired
    result.changed += expired.changed
    result.notice_ids += expired.notice_ids
    result.failures += expired.failures
    result.fees = await fill_stripe_fees(gateway, result)
    return result


async def fill_stripe_fees(gateway: PaymentGateway, result: ScheduleResult | None = None
                           ) -> int:
    """Look up Stripe's fee of ledger entries that lack it; returns how many were filled."""
    filled = 0
    for entry in await LedgerEntry.filter(stripe_fee__isnull=True).limit(500):
        try:
            fee = await gateway.invoice_fee(entry.stripe_invoice_id)
        except ExternalServiceError as exc:
            if result is not None:
                result.failures.append(f"{entry.stripe_invoice_id}: {exc.message}")
            continue
        if fee is not None:
            filled += await billing.record_stripe_fee(entry.stripe_invoice_id, fee[0], fee[1],
                                                      fee[2])
    return filled

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
                        read: dict[int, bool] | None = None,
                        grace: timedelta = DEFAULT_GRACE) -> ScheduleResult:
    """EXPIRED for PAST_DUE past ``grace_until`` (cause ``schedule:grace``) and for
    CANCELLED-at-period-end past ``current_period_end`` (``schedule:period_end``).

    With a ``gateway``, a subscription with a Stripe id is first read from Stripe and
    Stripe's state applied (cause ``schedule:reconcile``, listed in ``changed``); it
    expires only if that still leaves it lapsed. A Stripe failure leaves it unchanged
    and is listed in ``failures``. ``read``: subscriptions whose Stripe state this run
    already applied (True) or could not read (False), which are not asked again.
    ``grace``: see ``reconcile``.
    Copy trading and notices follow the transitions (``billing.record_transition``,
    ``billing.lifecycle_notices``). Idempotent: a second run finds nothing.
    """
    result, read = ScheduleResult(), read or {}
    for sub_id, stripe_id, cause in await _lapsed(now):
        obj = None
        if stripe_id and gateway is not None and sub_id not in read:
            try:
                obj = await gateway.retrieve_subscription(stripe_id)
            except ExternalServiceError as exc:
                result.failures.append(f"{stripe_id}: {exc.message}")
                continue
        elif stripe_id and gateway is not None and not read[sub_id]:
            continue  # Stripe did not answer for it this run: try again next run
        async with in_transaction():
            sub = await billing.lock_subscription(sub_id)
            if obj is not None:
                await _apply_stripe(sub, obj, now, grace, result)
            if _still_lapsed(sub, now):
                row = await billing.record_transition(sub, S.EXPIRED, cause, now)
                await sub.save()
                if row is not None:
                    result.expired.append(sub.id)
                    result.notice_ids += await billing.lifecycle_notices(sub, row)
    return result


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
                        grace: timedelta, result: ScheduleResult) -> None:
    """Apply a Stripe subscription object just read (``sub`` locked by the caller)."""
    status, at_end = billing.status_of(obj)
    grace_until = now + grace if status is S.PAST_DUE else None
    row = await billing.apply_state(sub, StripeState(
        status, int(now.timestamp()), RECONCILE, at_end,
        billing.subscription_period_end(obj), grace_until), fresh=True)
    if row is not None:
        result.changed.append(sub.id)
        result.notice_ids += await billing.lifecycle_notices(sub, row)


async def reconcile(gateway: PaymentGateway, now: datetime,
                    grace: timedelta = DEFAULT_GRACE) -> ScheduleResult:
    """Apply Stripe's current state of every live paid subscription (cause
    ``schedule:reconcile``; a CANCELLED-at-once one has ended and is not re-read), then
    ``expire_lapsed`` (not asking Stripe again), then fetch missing Stripe fees.
    A Stripe failure for one subscription is recorded in ``failures`` and leaves it
    unchanged. A subscription found past_due whose failure we missed (no webhook) gets
    its grace from ``now`` (``now + grace``); one already PAST_DUE keeps its deadline."""
    result, read = ScheduleResult(), {}
    subs = await Subscription.filter(
        ~Q(status=S.CANCELLED, cancel_at_period_end=False), status__in=LIVE,
        stripe_subscription_id__not_isnull=True)
    for sub in subs:
        try:
            obj = await gateway.retrieve_subscription(str(sub.stripe_subscription_id))
        except ExternalServiceError as exc:
            result.failures.append(f"{sub.stripe_subscription_id}: {exc.message}")
            read[sub.id] = False
            continue
        read[sub.id] = True
        async with in_transaction():
            await _apply_stripe(await billing.lock_subscription(sub.id), obj, now, grace,
                                result)
    expired = await expire_lapsed(now, gateway, read, grace)
    result.expired, result.notice_ids = expired.expired, result.notice_ids + expired.notice_ids
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

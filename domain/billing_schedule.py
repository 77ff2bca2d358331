"""Scheduled billing work: expiring lapsed subscriptions, reconciling with Stripe.

``expire_lapsed`` needs no Stripe: a PAST_DUE subscription whose grace has run out and
a subscription cancelled at period end whose period is over become EXPIRED.
``reconcile`` re-reads every live paid subscription from Stripe and applies it; a
subscription Stripe cannot be asked about (outage) keeps its state, so an outage
never removes access that was paid for. It also fills in Stripe fees not known yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from domain import billing
from domain.billing import StripeState
from domain.billing_models import LedgerEntry
from domain.checkout import PaymentGateway
from domain.errors import ExternalServiceError
from domain.models import CopySettings, Subscription, SubscriptionStatus

S = SubscriptionStatus
LIVE = (S.TRIALING, S.ACTIVE, S.PAST_DUE, S.PAUSED, S.CANCELLED)


@dataclass
class ScheduleResult:
    """What a scheduled run changed: transitions, notices written, Stripe failures."""

    expired: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    notice_ids: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    fees: int = 0


async def expire_lapsed(now: datetime) -> ScheduleResult:
    """EXPIRED for PAST_DUE past ``grace_until`` (cause ``schedule:grace``) and for
    CANCELLED-at-period-end past ``current_period_end`` (``schedule:period_end``); copy
    trading of each switches off. Idempotent: a second run finds nothing."""
    result = ScheduleResult()
    lapsed = await Subscription.filter(status=S.PAST_DUE, grace_until__lte=now
                                       ).values_list("id", flat=True)
    ended = await Subscription.filter(status=S.CANCELLED, cancel_at_period_end=True,
                                      current_period_end__lte=now).values_list("id", flat=True)
    for sub_id, cause in [(i, "schedule:grace") for i in lapsed] + [
            (i, "schedule:period_end") for i in ended]:
        async with in_transaction():
            sub = await billing.lock_subscription(int(sub_id))  # type: ignore[call-overload]
            if billing.is_entitled_state(sub.status, sub.cancel_at_period_end,
                                         sub.current_period_end, sub.grace_until, now):
                continue  # paid again meanwhile
            row = await billing.record_transition(sub, S.EXPIRED, cause, now)
            await sub.save()
            await CopySettings.filter(subscription_id=sub.id).update(enabled=False)
            if row is not None:
                result.expired.append(sub.id)
                result.notice_ids += await billing.lifecycle_notices(sub, row)
    return result


async def reconcile(gateway: PaymentGateway, now: datetime) -> ScheduleResult:
    """Apply Stripe's current state of every live paid subscription (cause
    ``schedule:reconcile``), then ``expire_lapsed(now)``, then fetch missing Stripe fees.
    A Stripe failure for one subscription is recorded in ``failures`` and leaves it
    unchanged."""
    result = ScheduleResult()
    subs = await Subscription.filter(status__in=LIVE, stripe_subscription_id__not_isnull=True)
    for sub in subs:
        try:
            obj = await gateway.retrieve_subscription(str(sub.stripe_subscription_id))
        except ExternalServiceError as exc:
            result.failures.append(f"{sub.stripe_subscription_id}: {exc.message}")
            continue
        status, at_end = billing.status_of(obj)
        async with in_transaction():
            locked = await billing.lock_subscription(sub.id)
            row = await billing.apply_state(locked, StripeState(
                status, int(now.timestamp()), "schedule:reconcile", at_end,
                billing.subscription_period_end(obj)), fresh=True)
            if row is not None:
                result.changed.append(sub.id)
                result.notice_ids += await billing.lifecycle_notices(locked, row)
    expired = await expire_lapsed(now)
    result.expired, result.notice_ids = expired.expired, result.notice_ids + expired.notice_ids
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

"""The daily reconcile job (``reconcile_billing``) and its schedule: run by an arq burst
worker against the local Stripe (SDK unmodified), real PostgreSQL and Redis. It fills
in Stripe fees Stripe did not tell at payment time and corrects subscriptions whose
webhooks were missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from arq.cron import next_cron
from arq.jobs import Job

from domain.billing_models import LedgerEntry, SubscriptionTransition
from domain.billing_schedule import fill_stripe_fees
from domain.models import Subscription, SubscriptionStatus, User
from domain.users import create_user
from integrations.arq_queue import queue_name
from signalhub.billing import payment_gateway
from tests.fakes.stripe_api import MONTH_S
from tests.support.billing import BillingWorld, paid_provider_world
from workers.billing_jobs import billing_crons, expire_subscriptions, reconcile_billing
from workers.context import WorkerDeps

S = SubscriptionStatus


__all__ = ["paid_provider_world"]  # the fixture ``world``


async def run_job(world: BillingWorld, function: str, job_id: str,
                  at: datetime | None = None) -> Any:
    """Enqueue ``function``, run a burst worker (clock ``at``), return the job's result."""
    ns = world.services.settings.signalhub_namespace
    assert await world.services.queue.enqueue(function, job_id=job_id)
    await world.run_worker(clock=(lambda: at) if at is not None else None)
    job = Job(f"{ns}:{job_id}", world.services.arq, _queue_name=queue_name(ns))
    return await job.result(timeout=10)


async def paid(world: BillingWorld, name: str) -> tuple[User, Subscription]:
    user = await create_user(name)
    await world.deliver_all(await world.checkout_events(user))
    return user, await Subscription.get(user=user)


async def test_a_fee_stripe_did_not_tell_at_payment_time_is_filled_in(
        world: BillingWorld) -> None:
    user = await create_user("Payer")
    events = await world.checkout_events(user)
    for event in events:
        assert (await world.deliver(event)).status_code == 200
    world.stripe.outage = True  # Stripe is down while the worker records the payment
    await world.run_worker()
    world.stripe.outage = False
    unknown = await LedgerEntry.get(user=user)
    invoice = events[2]["data"]["object"]
    intent = world.stripe.invoices[invoice["id"]]["_intent"]

    counts = await run_job(world, "reconcile_billing", "reconcile:fees")

    assert unknown.stripe_fee is None and unknown.stripe_payment_intent_id is None
    entry = await LedgerEntry.get(user=user)
    # Stripe's US card price on 3.00: 2.9 % (0.087 -> 0.09) + 0.30
    assert entry.stripe_fee == Decimal("0.39") and entry.stripe_payment_intent_id == intent
    assert (entry.gross, entry.platform_fee, entry.provider_net) == (
        Decimal("3.00"), Decimal("0.90"), Decimal("2.10"))
    assert counts == {"changed": 0, "expired": 0, "failures": 0, "fees": 1}
    assert await fill_stripe_fees(payment_gateway(world.services)) == 0  # nothing left


async def test_a_fee_stripe_does_not_know_yet_stays_unknown(world: BillingWorld) -> None:
    user = await create_user("Payer")
    events = await world.checkout_events(user)
    invoice_id = events[2]["data"]["object"]["id"]
    del world.stripe.invoices[invoice_id]["_intent"]  # no invoice payment listed yet
    await world.deliver_all(events)

    gateway = payment_gateway(world.services)
    assert gateway is not None
    filled = await fill_stripe_fees(gateway)

    assert filled == 0
    assert (await LedgerEntry.get(user=user)).stripe_fee is None
    assert world.stripe.calls("GET", "/v1/invoice_payments")[-1].params == {
        "invoice": invoice_id, "limit": "1"}


async def test_subscriptions_out_of_step_with_stripe_are_corrected(world: BillingWorld) -> None:
    _, missed_failure = await paid(world, "Missed failure")
    _, missed_payment = await paid(world, "Missed payment")
    _, in_step = await paid(world, "In step")
    # Stripe's side moved on; the webhooks never arrived
    failing = world.stripe.subscriptions[str(missed_failure.stripe_subscription_id)]
    failing["status"] = "past_due"
    renewed = world.stripe.subscriptions[str(missed_payment.stripe_subscription_id)]
    renewed["items"]["data"][0]["current_period_end"] += MONTH_S
    new_end = datetime.fromtimestamp(renewed["items"]["data"][0]["current_period_end"], UTC)
    await Subscription.filter(id=missed_payment.id).update(
        status=S.PAST_DUE, grace_until=datetime.now(UTC) + timedelta(days=1))
    now = datetime.now(UTC).replace(microsecond=0)

    counts = await run_job(world, "reconcile_billing", "reconcile:steps", at=now)

    assert counts == {"changed": 2, "expired": 0, "failures": 0, "fees": 0}
    a = await Subscription.get(id=missed_failure.id)
    assert a.status is S.PAST_DUE and a.grace_until == now + timedelta(days=3)
    b = await Subscription.get(id=missed_payment.id)
    assert b.status is S.ACTIVE and b.grace_until is None and b.current_period_end == new_end
    assert (await Subscription.get(id=in_step.id)).status is S.ACTIVE
    causes = await SubscriptionTransition.filter(cause="schedule:reconcile").order_by(
        "subscription_id").values_list("subscription_id", "from_status", "to_status")
    assert causes == [(missed_failure.id, "ACTIVE", "PAST_DUE"),
                      (missed_payment.id, "PAST_DUE", "ACTIVE")]


async def test_the_jobs_without_a_stripe_key_only_expire(world: BillingWorld) -> None:
    _, sub = await paid(world, "Payer")
    later = datetime.now(UTC) + timedelta(days=1)
    await Subscription.filter(id=sub.id).update(status=S.PAST_DUE, grace_until=later)
    services, configured = world.services, world.services.settings
    services.settings = configured.model_copy(update={"stripe_secret_key": None})
    ctx = {"deps": WorkerDeps(services, None, None), "clock": lambda: later}
    try:
        reconciled = await reconcile_billing(ctx)
        expired = await expire_subscriptions(ctx)
    finally:
        services.settings = configured

    assert reconciled == {"changed": 0, "expired": 1, "failures": 0, "fees": 0}
    assert expired == {"changed": 0, "expired": 0, "failures": 0, "fees": 0}
    assert (await Subscription.get(id=sub.id)).status is S.EXPIRED
    assert world.stripe.calls("GET", "/v1/subscriptions/") == []


def test_the_billing_crons_run_hourly_and_daily_at_0317_utc() -> None:
    expire, reconcile = billing_crons("ns1")
    start = datetime(2026, 3, 1, 3, 20, tzinfo=UTC)

    def next_run(job: Any, after: datetime) -> datetime:
        """arq's own next run time, to the second (arq fires at microsecond 123456)."""
        return next_cron(after, month=job.month, day=job.day, weekday=job.weekday,
                         hour=job.hour, minute=job.minute, second=job.second,
                         microsecond=job.microsecond).replace(microsecond=0)

    assert (expire.name, expire.coroutine, expire.unique) == (
        "cron:ns1:expire_subscriptions", expire_subscriptions, True)
    assert (reconcile.name, reconcile.coroutine, reconcile.unique) == (
        "cron:ns1:reconcile_billing", reconcile_billing, True)
    assert next_run(expire, start) == datetime(2026, 3, 1, 4, 7, tzinfo=UTC)
    assert next_run(reconcile, start) == datetime(2026, 3, 2, 3, 17, tzinfo=UTC)

"""Stripe must not keep charging for access that ended here: the expiry cancels an
unpaid Stripe subscription before it records EXPIRED, a new checkout cancels the
previous Stripe subscription Stripe still holds, and a payment Stripe collected on a
stray Stripe subscription reaches the ledger and gets the stray cancelled. The SDK
runs unmodified against the local Stripe; events are signed and POSTed over HTTP;
jobs run in arq burst workers; real PostgreSQL and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from arq import Retry

from domain import billing
from domain.billing_models import LedgerEntry, StripeEvent, SubscriptionTransition
from domain.checkout import checkout_link, pause
from domain.errors import NotAllowed
from domain.models import Delivery, Subscription, SubscriptionStatus, User
from domain.users import telegram_user
from signalhub.billing import billing_config, payment_gateway
from tests.fakes.stripe_api import MONTH_S, Recorded
from tests.integration.test_billing_endings import (
    copying,
    ended_notices,
    last_cause,
    past_due,
    run_expiry,
    subscriber,
)
from tests.support.billing import BillingWorld, paid_provider_world
from workers.billing_jobs import cancel_stray_subscription
from workers.context import WorkerDeps

S = SubscriptionStatus


__all__ = ["paid_provider_world"]  # the fixture ``world``


def deleted_echo(world: BillingWorld, stripe_id: str) -> dict[str, Any]:
    """Stripe's ``customer.subscription.deleted`` for a cancellation just made."""
    return world.stripe.event("customer.subscription.deleted",
                              world.stripe.subscriptions[stripe_id])


async def checkout_at(world: BillingWorld, user: User, now: datetime
                      ) -> list[dict[str, Any]]:
    """``user`` opens a Checkout link at ``now`` and pays it: Stripe's events, not
    delivered yet."""
    outcome = await checkout_link(user, "btc-desk", payment_gateway(world.services),
                                  billing_config(world.services.settings), now=now)
    [session] = [s for s in world.stripe.sessions.values() if s["url"] == outcome.url]
    return world.stripe.complete_checkout(session["id"])


async def transitions(sub: Subscription) -> int:
    return await SubscriptionTransition.filter(subscription_id=sub.id).count()


# -- 1. the end of grace cancels at Stripe first ---------------------------------------


async def test_end_of_grace_cancels_at_stripe_then_the_echo_changes_nothing(
        world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    stripe_id = str(sub.stripe_subscription_id)

    await run_expiry(world, sub.grace_until + timedelta(minutes=1), "grace")
    expired, count = await Subscription.get(id=sub.id), await transitions(sub)
    await world.deliver_all([deleted_echo(world, stripe_id)])

    [delete] = world.stripe.calls("DELETE", f"/v1/subscriptions/{stripe_id}")
    assert delete.params["cancellation_details"]["comment"] == billing.GRACE_ENDED
    assert world.stripe.subscriptions[stripe_id]["status"] == "canceled"
    assert expired.status is S.EXPIRED
    assert await last_cause(sub) == ("PAST_DUE", "EXPIRED", "schedule:grace")
    assert await transitions(sub) == count  # the echo changed nothing more
    assert (await Subscription.get(id=sub.id)).status is S.EXPIRED
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_the_echo_before_the_cancel_answer_ends_it_once(world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    stripe_id = str(sub.stripe_subscription_id)

    async def webhook_first(call: Recorded) -> None:
        assert call.method == "DELETE"
        await world.deliver_all([deleted_echo(world, stripe_id)])

    async def after_the_read(call: Recorded) -> None:  # the expiry reads, then cancels
        assert call.method == "GET"
        world.stripe.before_answer = webhook_first

    world.stripe.before_answer = after_the_read
    await run_expiry(world, sub.grace_until + timedelta(minutes=1), "echo-first")

    assert world.stripe.before_answer is None  # the hook ran
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.EXPIRED
    from_, to, cause = await last_cause(sub)
    assert (from_, to) == ("PAST_DUE", "EXPIRED") and cause.startswith("stripe:evt_")
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_an_outage_at_the_cancel_keeps_it_for_the_next_run(world: BillingWorld) -> None:
    _, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    stripe_id = str(sub.stripe_subscription_id)

    async def stripe_goes_down(call: Recorded) -> None:  # after the read, before the cancel
        assert call.method == "GET"
        world.stripe.outage = True

    world.stripe.before_answer = stripe_goes_down
    later = sub.grace_until + timedelta(minutes=1)
    await run_expiry(world, later, "cancel-down")
    kept = await Subscription.get(id=sub.id)
    world.stripe.outage = False
    await run_expiry(world, later + timedelta(hours=1), "cancel-up")

    assert kept.status is S.PAST_DUE  # Stripe did not confirm: nothing decided
    assert world.stripe.subscriptions[stripe_id]["status"] == "canceled"
    assert (await Subscription.get(id=sub.id)).status is S.EXPIRED
    assert await last_cause(sub) == ("PAST_DUE", "EXPIRED", "schedule:grace")


# -- 1b. a new checkout never leaves two live Stripe subscriptions ---------------------


async def test_a_checkout_cancels_the_previous_unpaid_stripe_subscription(
        world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    old = str(sub.stripe_subscription_id)
    # grace is over, the hourly expiry has not run yet; the user subscribes again
    second = await checkout_at(world, user, sub.grace_until + timedelta(minutes=1))
    await world.deliver_all([deleted_echo(world, old), *second])

    [delete] = world.stripe.calls("DELETE", f"/v1/subscriptions/{old}")
    assert delete.params["cancellation_details"]["comment"] == billing.REPLACED
    live = [s["id"] for s in world.stripe.subscriptions.values() if s["status"] != "canceled"]
    new = second[1]["data"]["object"]["id"]
    assert live == [new]
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.ACTIVE and sub.stripe_subscription_id == new
    causes = await SubscriptionTransition.filter(subscription_id=sub.id).order_by(
        "id").values_list("from_status", "to_status", "cause")
    assert causes[-3:-1] == [("PAST_DUE", "EXPIRED", "user:checkout"),
                             ("EXPIRED", "PENDING_PAYMENT", "user:checkout")]
    assert await ended_notices(user) == []  # subscribing again: no 'ended' notice


async def test_a_paused_subscription_is_resumed_not_bought_twice(world: BillingWorld) -> None:
    user, _ = await subscriber(world)
    gateway = payment_gateway(world.services)
    await pause(user, "btc-desk", gateway)
    sessions = len(world.stripe.sessions)

    with pytest.raises(NotAllowed) as refused:
        await checkout_link(user, "btc-desk", gateway, billing_config(world.services.settings))

    assert refused.value.message == ("your subscription to Btc-Desk is paused: resume it in "
                                     "/subscriptions")
    assert len(world.stripe.sessions) == sessions
    assert (await Subscription.get(user=user)).status is S.PAUSED


# -- 2. money Stripe collected on a stray Stripe subscription --------------------------


def late_payment(world: BillingWorld, stripe_id: str) -> dict[str, Any]:
    """``invoice.paid`` of a renewal Stripe charged on ``stripe_id`` (3.00 USD: the
    provider's price)."""
    stripe_sub = world.stripe.subscriptions[stripe_id]
    item = stripe_sub["items"]["data"][0]
    start = item["current_period_end"]
    invoice = world.stripe._invoice(stripe_sub, 300, start, start + MONTH_S,
                                    "subscription_cycle", paid=True)
    return world.stripe.event("invoice.paid", invoice)


async def assert_stray_recorded(user: User, sub: Subscription, event: dict[str, Any],
                                stray: str) -> None:
    invoice = event["data"]["object"]
    entry = await LedgerEntry.get(stripe_invoice_id=invoice["id"])
    period = invoice["lines"]["data"][0]["period"]
    assert (entry.subscription_id, entry.stripe_subscription_id,  # type: ignore[attr-defined]
            entry.stripe_event_id) == (sub.id, stray, event["id"])
    assert (entry.gross, entry.platform_fee, entry.provider_net) == (
        Decimal("3.00"), Decimal("0.90"), Decimal("2.10"))  # 30 % fee, 70 % provider
    assert (entry.period_start, entry.period_end) == (
        datetime.fromtimestamp(period["start"], UTC), datetime.fromtimestamp(period["end"], UTC))
    outcome = (await StripeEvent.get(id=event["id"])).outcome
    assert outcome.startswith(f"late payment of stray Stripe subscription {stray}"), outcome
    texts = [d.text for d in await Delivery.filter(user=user)]
    assert any(t.startswith("A payment of 3.00 USD was collected on your earlier") for t in texts)


async def test_a_late_payment_of_the_old_subscription_after_resubscribing(
        world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    old = str(sub.stripe_subscription_id)
    assert sub.grace_until is not None
    # after the grace: the checkout cancels the old one at Stripe
    second = await checkout_at(world, user, sub.grace_until + timedelta(minutes=1))
    await world.deliver_all(second)
    current = await Subscription.get(id=sub.id)
    count = await transitions(sub)

    # Stripe's retry charge of the old one went through just before our cancel; its
    # invoice.paid arrives now, after the re-subscribe
    event = late_payment(world, old)
    await world.deliver_all([event])

    await assert_stray_recorded(user, sub, event, old)
    after = await Subscription.get(id=sub.id)
    assert (after.status, after.stripe_subscription_id, after.stripe_version,
            after.current_period_end) == (S.ACTIVE, current.stripe_subscription_id,
                                          current.stripe_version, current.current_period_end)
    assert await transitions(sub) == count
    assert world.stripe.subscriptions[old]["status"] == "canceled"
    # the stray job asked again: Stripe refused (already canceled), which is success
    assert len(world.stripe.calls("DELETE", f"/v1/subscriptions/{old}")) == 2
    assert await LedgerEntry.filter(user=user).count() == 2 + 1


async def test_a_second_paid_checkout_is_recorded_and_cancelled(world: BillingWorld) -> None:
    user = await telegram_user(7401, 7401, "Two tabs")
    config, gateway = billing_config(world.services.settings), payment_gateway(world.services)
    # two checkout sessions opened in different idempotency windows, both paid
    now = datetime.now(UTC)
    links = [await checkout_link(user, "btc-desk", gateway, config, now=now + timedelta(
        minutes=minutes)) for minutes in (0, 11)]
    first, second = (world.stripe.complete_checkout(
        next(s["id"] for s in world.stripe.sessions.values() if s["url"] == link.url))
        for link in links)
    stray = second[1]["data"]["object"]["id"]

    await world.deliver_all(first)
    await world.deliver_all(second)

    [delete] = world.stripe.calls("DELETE", f"/v1/subscriptions/{stray}")
    assert delete.params["cancellation_details"]["comment"] == billing.SUPERSEDED
    assert world.stripe.subscriptions[stray]["status"] == "canceled"
    sub = await Subscription.get(user=user)
    assert sub.status is S.ACTIVE
    assert sub.stripe_subscription_id == first[1]["data"]["object"]["id"] != stray
    await assert_stray_recorded(user, sub, second[2], stray)


async def test_the_stray_cancel_job_retries_while_stripe_is_down_and_is_idempotent(
        world: BillingWorld) -> None:
    _, sub = await subscriber(world)
    stray = str(sub.stripe_subscription_id)
    ctx = {"deps": WorkerDeps(world.services, None, None), "job_try": 1}

    world.stripe.outage = True
    with pytest.raises(Retry) as retry:
        await cancel_stray_subscription(ctx, stray)
    assert retry.value.defer_score == 2000  # 2 s for the first try, doubling up to 300 s
    assert world.stripe.subscriptions[stray]["status"] != "canceled"

    world.stripe.outage = False
    assert await cancel_stray_subscription({**ctx, "job_try": 2}, stray) == "canceled"
    delete = world.stripe.calls("DELETE", f"/v1/subscriptions/{stray}")[-1]  # (+ the outage's)
    assert delete.params["cancellation_details"]["comment"] == billing.SUPERSEDED
    # run twice (a second invoice of the stray): Stripe refuses, the job reads it back
    assert await cancel_stray_subscription(ctx, stray) == "canceled"
    assert world.stripe.subscriptions[stray]["status"] == "canceled"

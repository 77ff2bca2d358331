"""How paid access ends: the schedule asks Stripe first (an outage never expires a
subscription), every ending sends one Telegram notice, and copy trading switches off
on every path. The SDK runs unmodified against the local Stripe; events are signed and
POSTed over HTTP; jobs run in arq burst workers; real PostgreSQL and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.billing_models import SubscriptionTransition
from domain.checkout import cancel
from domain.copy_settings import set_copy_trading
from domain.models import CopySettings, Delivery, Provider, Subscription, SubscriptionStatus, User
from domain.users import telegram_user
from signalhub.billing import payment_gateway
from tests.fakes.stripe_api import MONTH_S, Recorded
from tests.support.billing import BillingWorld, paid_provider_world

S = SubscriptionStatus
ENDED = "has ended"


__all__ = ["paid_provider_world"]  # the fixture ``world``


async def subscriber(world: BillingWorld, tg: int = 7301) -> tuple[User, Subscription]:
    """A Telegram user who paid for btc-desk (ACTIVE) and switched copy trading on."""
    user = await telegram_user(tg, tg, f"Payer {tg}")
    await world.deliver_all(await world.checkout_events(user))
    await set_copy_trading(user, "btc-desk", True)
    return user, await Subscription.get(user=user)


async def past_due(world: BillingWorld, sub: Subscription) -> Subscription:
    """The renewal fails (Stripe's events delivered): PAST_DUE with a grace deadline."""
    world.stripe.clock += 31 * 86400
    await world.deliver_all(world.stripe.fail_renewal(str(sub.stripe_subscription_id)))
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.PAST_DUE and sub.grace_until is not None
    return sub


async def run_expiry(world: BillingWorld, at: datetime, name: str) -> None:
    """The hourly ``expire_subscriptions`` job, run by a burst worker whose clock is ``at``."""
    await world.services.queue.enqueue("expire_subscriptions", job_id=f"expire:{name}")
    await world.run_worker(clock=lambda: at)


async def ended_notices(user: User) -> list[Delivery]:
    return [d for d in await Delivery.filter(user=user) if ENDED in d.text]


async def copying(sub: Subscription) -> bool:
    return (await CopySettings.get(subscription_id=sub.id)).enabled


async def last_cause(sub: Subscription) -> tuple[str, str, str]:
    row = await SubscriptionTransition.filter(subscription_id=sub.id).order_by("-id").first()
    assert row is not None
    return row.from_status, row.to_status, row.cause


# -- 1. the schedule asks Stripe before it ends paid access ----------------------------


async def test_an_outage_at_the_end_of_grace_expires_nothing(world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    later = sub.grace_until + timedelta(minutes=1)

    world.stripe.outage = True
    await run_expiry(world, later, "down")
    down, copying_during_outage = await Subscription.get(id=sub.id), await copying(sub)
    asked_during_outage = world.stripe.calls(
        "GET", "/v1/subscriptions/" + str(sub.stripe_subscription_id))
    world.stripe.outage = False
    await run_expiry(world, later + timedelta(hours=1), "up")  # the next hourly run

    assert down.status is S.PAST_DUE and down.grace_until == sub.grace_until
    assert asked_during_outage  # it did ask (the SDK retried the 500s), then kept the state
    assert copying_during_outage is True  # nothing ended yet
    up = await Subscription.get(id=sub.id)
    assert up.status is S.EXPIRED  # Stripe still says past_due
    assert await last_cause(up) == ("PAST_DUE", "EXPIRED", "schedule:grace")
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_a_retry_charge_stripe_took_meanwhile_makes_it_active(world: BillingWorld) -> None:
    _, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    stripe_sub = world.stripe.subscriptions[str(sub.stripe_subscription_id)]
    stripe_sub["status"] = "active"  # the retry succeeded; its invoice.paid is late
    item = stripe_sub["items"]["data"][0]
    item["current_period_end"] += MONTH_S
    new_end = datetime.fromtimestamp(item["current_period_end"], UTC)

    await run_expiry(world, sub.grace_until + timedelta(minutes=1), "paid")

    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.ACTIVE and sub.grace_until is None
    assert sub.current_period_end == new_end
    assert await last_cause(sub) == ("PAST_DUE", "ACTIVE", "schedule:reconcile")
    assert await copying(sub) is True


@pytest.mark.parametrize(("stripe_status", "transition"), [
    ("past_due", ("PAST_DUE", "EXPIRED", "schedule:grace")),  # cancelled at Stripe first
    ("unpaid", ("PAST_DUE", "EXPIRED", "schedule:grace")),  # cancelled at Stripe first
    ("canceled", ("PAST_DUE", "EXPIRED", "schedule:reconcile")),
])
async def test_stripe_saying_unpaid_or_cancelled_ends_it(
        world: BillingWorld, stripe_status: str, transition: tuple[str, str, str]) -> None:
    user, sub = await subscriber(world)
    sub = await past_due(world, sub)
    assert sub.grace_until is not None
    stripe_sub = world.stripe.subscriptions[str(sub.stripe_subscription_id)]
    stripe_sub["status"] = stripe_status
    if stripe_status == "canceled":  # Stripe gave up retrying and cancelled it
        stripe_sub.update(ended_at=world.stripe.clock, canceled_at=world.stripe.clock)
        stripe_sub["cancellation_details"]["reason"] = "payment_failed"

    await run_expiry(world, sub.grace_until + timedelta(minutes=1), stripe_status)

    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.EXPIRED
    assert await last_cause(sub) == transition
    deletes = world.stripe.calls("DELETE", "/v1/subscriptions/" + str(sub.stripe_subscription_id))
    assert len(deletes) == (0 if stripe_status == "canceled" else 1)
    assert stripe_sub["status"] == "canceled"
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_a_cancelled_period_ends_only_once_stripe_confirms(world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    await cancel(user, "btc-desk", payment_gateway(world.services), at_period_end=True)
    sub = await Subscription.get(id=sub.id)
    assert sub.current_period_end is not None and sub.cancel_at_period_end
    after = sub.current_period_end + timedelta(seconds=1)

    world.stripe.outage = True
    await run_expiry(world, after, "cancelled-down")
    kept = await Subscription.get(id=sub.id)
    world.stripe.outage = False
    await run_expiry(world, after + timedelta(hours=1), "cancelled-up")

    assert kept.status is S.CANCELLED and kept.cancel_at_period_end
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.EXPIRED
    assert await last_cause(sub) == ("CANCELLED", "EXPIRED", "schedule:period_end")
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_without_a_stripe_subscription_it_expires_without_asking(
        world: BillingWorld) -> None:
    user = await telegram_user(7390, 7390, "Legacy")
    sub = await Subscription.create(user=user, provider=await Provider.get(slug="btc-desk"),
                                    status=S.PAST_DUE, grace_until=datetime.now(UTC))
    world.stripe.outage = True

    await run_expiry(world, datetime.now(UTC) + timedelta(minutes=1), "no-stripe-id")

    assert (await Subscription.get(id=sub.id)).status is S.EXPIRED
    assert world.stripe.calls("GET", "/v1/subscriptions/") == []


# -- 2. and 3. every ending: one notice, copy trading off ------------------------------


def echo_of(world: BillingWorld, sub: Subscription) -> dict[str, Any]:
    """Stripe's ``customer.subscription.deleted`` of a cancellation at once."""
    return world.stripe.event("customer.subscription.deleted",
                              world.stripe.subscriptions[str(sub.stripe_subscription_id)])


async def test_cancel_at_once_then_the_echo_webhook_one_notice(world: BillingWorld) -> None:
    user, sub = await subscriber(world)

    cancelled = await cancel(user, "btc-desk", payment_gateway(world.services),
                             at_period_end=False)
    notices_before_echo = await ended_notices(user)
    await world.deliver_all([echo_of(world, sub)])

    assert cancelled.status is S.CANCELLED and not cancelled.cancel_at_period_end
    assert len(notices_before_echo) == 1
    [notice] = await ended_notices(user)
    assert notice.text == ("Your subscription to Btc-Desk has ended; /subscribe btc-desk to "
                           "subscribe again.")
    assert await last_cause(sub) == ("ACTIVE", "CANCELLED", "user:cancel")
    assert await copying(sub) is False


async def test_the_echo_webhook_before_the_answer_one_notice(world: BillingWorld) -> None:
    user, sub = await subscriber(world)

    async def webhook_first(call: Recorded) -> None:
        assert call.method == "DELETE"
        await world.deliver_all([echo_of(world, sub)])
        assert (await Subscription.get(id=sub.id)).status is S.CANCELLED

    world.stripe.before_answer = webhook_first
    await cancel(user, "btc-desk", payment_gateway(world.services), at_period_end=False)

    assert world.stripe.before_answer is None  # the hook ran
    assert len(await ended_notices(user)) == 1
    from_, to, cause = await last_cause(sub)
    assert (from_, to) == ("ACTIVE", "CANCELLED") and cause.startswith("stripe:evt_")
    assert await copying(sub) is False


async def test_cancel_at_period_end_then_at_once_ends_it_once(world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    gateway = payment_gateway(world.services)

    await cancel(user, "btc-desk", gateway, at_period_end=True)
    still_copying = await copying(sub)
    await cancel(user, "btc-desk", gateway, at_period_end=False)
    await world.deliver_all([echo_of(world, sub)])

    assert still_copying is True  # paid up until the period ends
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.CANCELLED and not sub.cancel_at_period_end
    row = await SubscriptionTransition.filter(subscription_id=sub.id).order_by("-id").first()
    assert row is not None and (row.from_status, row.to_status, row.cause, row.note) == (
        "CANCELLED", "CANCELLED", "user:cancel", "at once")
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False


async def test_a_webhook_that_ends_access_switches_copying_off(world: BillingWorld) -> None:
    user, sub = await subscriber(world)
    stripe_sub = world.stripe.subscriptions[str(sub.stripe_subscription_id)]
    stripe_sub.update(status="canceled", ended_at=world.stripe.clock + 5)
    stripe_sub["cancellation_details"]["reason"] = "payment_failed"

    await world.deliver_all([world.stripe.event("customer.subscription.deleted", stripe_sub,
                                                created=world.stripe.clock + 5)])
    # a later checkout of the same provider does not switch copying back on
    await world.checkout_events(user)

    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.PENDING_PAYMENT
    assert (await last_cause(sub))[:2] == ("EXPIRED", "PENDING_PAYMENT")
    assert len(await ended_notices(user)) == 1
    assert await copying(sub) is False

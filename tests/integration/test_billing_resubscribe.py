"""Subscribing again after a paid subscription ended: late events of the old Stripe
subscription never take the row from the new checkout's. The SDK runs unmodified
against the local Stripe; events are signed and POSTed over HTTP; arq burst workers."""

from __future__ import annotations

from typing import Any

from domain.billing_models import LedgerEntry, StripeEvent, SubscriptionTransition
from domain.checkout import cancel
from domain.models import Subscription, SubscriptionStatus, User
from domain.users import create_user
from signalhub.billing import payment_gateway
from tests.support.billing import BillingWorld, paid_provider_world

S = SubscriptionStatus


__all__ = ["paid_provider_world"]  # the fixture ``world``


async def ended_subscriber(world: BillingWorld) -> tuple[User, str, list[dict[str, Any]]]:
    """A user who paid (Stripe subscription ``old``), then cancelled at once."""
    user = await create_user("Comes back")
    first = await world.checkout_events(user)
    await world.deliver_all(first)
    await cancel(user, "btc-desk", payment_gateway(world.services), at_period_end=False)
    old = first[1]["data"]["object"]["id"]
    assert (await Subscription.get(user=user)).stripe_subscription_id == old
    return user, old, first


def late_events(world: BillingWorld, old: str, first: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Events of the old Stripe subscription that arrive after the new checkout began."""
    stripe_sub = world.stripe.subscriptions[old]
    invoice = first[2]["data"]["object"]
    return [world.stripe.event("customer.subscription.deleted", stripe_sub),
            world.stripe.event("customer.subscription.updated", stripe_sub),
            world.stripe.event("invoice.payment_failed", invoice)]


async def test_late_events_of_the_old_subscription_do_not_take_the_new_checkout(
        world: BillingWorld) -> None:
    user, old, first = await ended_subscriber(world)

    second = await world.checkout_events(user)  # the new checkout (PENDING_PAYMENT)
    late = late_events(world, old, first)
    await world.deliver_all(late)  # before any event of the new one
    pending = await Subscription.get(user=user)
    await world.deliver_all(second)

    assert pending.status is S.PENDING_PAYMENT and pending.stripe_subscription_id is None
    for event in late:
        row = await StripeEvent.get(id=event["id"])
        assert row.processed_at is not None and row.outcome.startswith("unmatched"), row.outcome
    new = second[1]["data"]["object"]["id"]
    sub = await Subscription.get(user=user)
    assert sub.status is S.ACTIVE and sub.stripe_subscription_id == new != old
    entries = await LedgerEntry.filter(user=user).order_by("id").values_list(
        "stripe_subscription_id", flat=True)
    assert entries == [old, new]
    refs = [s["_params"]["metadata"]["checkout_ref"] for s in world.stripe.sessions.values()]
    checkouts = await SubscriptionTransition.filter(
        subscription=sub, cause="user:checkout").order_by("id").values_list("id", flat=True)
    assert refs == [str(i) for i in checkouts] and len(set(refs)) == 2
    # the new checkout within the idempotency window is a new session, not a replay
    assert len({s["id"] for s in world.stripe.sessions.values()}) == 2


async def test_late_events_without_a_checkout_ref_are_told_apart_by_the_ledger(
        world: BillingWorld) -> None:
    user, old, first = await ended_subscriber(world)
    for obj in (world.stripe.subscriptions[old], first[2]["data"]["object"]):
        metadata = obj.get("metadata") or obj["parent"]["subscription_details"]["metadata"]
        metadata.pop("checkout_ref")  # as made before checkouts carried a reference

    second = await world.checkout_events(user)
    await world.deliver_all(late_events(world, old, first))
    await world.deliver_all(second)

    sub = await Subscription.get(user=user)
    assert sub.status is S.ACTIVE
    assert sub.stripe_subscription_id == second[1]["data"]["object"]["id"]


async def test_events_of_the_new_checkout_in_any_order_bind_it(world: BillingWorld) -> None:
    user, old, first = await ended_subscriber(world)

    second = await world.checkout_events(user)
    for event in reversed(second):  # invoice.paid first: matched by metadata and its ref
        await world.deliver_all([event])

    sub = await Subscription.get(user=user)
    assert sub.status is S.ACTIVE
    assert sub.stripe_subscription_id == second[1]["data"]["object"]["id"] != old
    assert await LedgerEntry.filter(user=user).count() == 2

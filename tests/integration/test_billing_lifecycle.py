"""Billing lifecycle through GraphQL over HTTP: cancel, pause, resume, portal, earnings;
entitlement at send time; the daily reconcile through a Stripe outage. The SDK runs
unmodified against the local Stripe; events are signed and POSTed to the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.billing_models import SubscriptionTransition
from domain.billing_schedule import reconcile
from domain.fanout import fan_out
from domain.models import Delivery, DeliveryStatus, Role, Subscription, SubscriptionStatus
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import entitled_user_ids, is_entitled, subscribe
from domain.users import create_user, issue_token, telegram_user
from signalhub.billing import payment_gateway
from tests.support.billing import BillingWorld, billing_world
from tests.support.setups import btc_candles, winning_buy
from workers.delivery import LAPSED

S = SubscriptionStatus
SETUP = winning_buy(btc_candles(), 2000)
SUB = """__typename ... on ProviderSubscription { status cancelAtPeriodEnd currentPeriodEnd
  monthlyPrice graceUntil } ... on UserError { message }"""


@pytest.fixture
async def world(clean_db, settings, redis) -> AsyncIterator[BillingWorld]:  # noqa: ANN001
    async with billing_world(settings) as w:
        yield w


async def gql(world: BillingWorld, query: str, token: str | None = None,
              variables: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await world.http.post("/graphql", json={"query": query,
                                                        "variables": variables or {}},
                                     headers=headers)
    return response.json()  # type: ignore[no-any-return]


async def paid_subscriber(world: BillingWorld, name: str = "Payer") -> tuple[Any, str]:
    """A user who paid for btc-desk through createCheckoutLink and Stripe's events."""
    user = await telegram_user(9000 + len(name), 9000 + len(name), name)
    token = await issue_token(user)
    result = await gql(world, 'mutation { createCheckoutLink(providerSlug: "btc-desk") { '
                       '__typename ... on CheckoutLink { url subscription { status } } } }',
                       token)
    link = result["data"]["createCheckoutLink"]
    assert link["subscription"]["status"] == "PENDING_PAYMENT"
    [session] = [s for s in world.stripe.sessions.values() if s["url"] == link["url"]]
    for event in world.stripe.complete_checkout(session["id"]):
        assert (await world.deliver(event)).status_code == 200
    await world.run_worker()
    return user, token


async def causes(user: Any) -> list[tuple[str, str, str]]:
    rows = await SubscriptionTransition.filter(subscription__user=user).order_by("id")
    return [(r.from_status, r.to_status, r.cause if not r.cause.startswith("stripe:")
             else "stripe") for r in rows]


async def test_cancel_pause_resume_each_recorded_with_its_cause(world: BillingWorld) -> None:
    await world.paid_provider()
    user, token = await paid_subscriber(world)

    paused = await gql(world, f'mutation {{ pauseSubscription(providerSlug: "btc-desk") '
                       f'{{ {SUB} }} }}', token)
    again = await gql(world, f'mutation {{ pauseSubscription(providerSlug: "btc-desk") '
                      f'{{ {SUB} }} }}', token)
    resumed = await gql(world, f'mutation {{ resumeSubscription(providerSlug: "btc-desk") '
                        f'{{ {SUB} }} }}', token)
    cancelled = await gql(world, f'mutation {{ cancelSubscription(providerSlug: "btc-desk") '
                          f'{{ {SUB} }} }}', token)

    assert paused["data"]["pauseSubscription"]["status"] == "PAUSED"
    assert again["data"]["pauseSubscription"] == {
        "__typename": "NotAllowed", "message": "a paused subscription cannot be paused"}
    assert resumed["data"]["resumeSubscription"]["status"] == "ACTIVE"
    view = cancelled["data"]["cancelSubscription"]
    assert view["status"] == "CANCELLED" and view["cancelAtPeriodEnd"] is True
    assert view["monthlyPrice"] == "3"
    sub = await Subscription.get(user=user)
    [pause_call, resume_call, cancel_call] = world.stripe.calls("POST", "/v1/subscriptions/")
    assert pause_call.params == {"pause_collection": {"behavior": "void"}}
    assert resume_call.params == {"pause_collection": ""}
    assert cancel_call.params == {"cancel_at_period_end": "true"}
    # cancelled at period end: still entitled until the period ends, then expired
    now = datetime.now(UTC)
    assert await is_entitled(user.id, sub.provider_id, now)
    assert not await is_entitled(user.id, sub.provider_id, sub.current_period_end)
    await world.services.queue.enqueue("expire_subscriptions", job_id="expire:lifecycle")
    await world.run_worker(clock=lambda: sub.current_period_end + timedelta(seconds=1))
    assert (await Subscription.get(user=user)).status is S.EXPIRED
    assert await causes(user) == [
        ("NEW", "PENDING_PAYMENT", "user:checkout"), ("PENDING_PAYMENT", "ACTIVE", "stripe"),
        ("ACTIVE", "PAUSED", "user:pause"), ("PAUSED", "ACTIVE", "user:resume"),
        ("ACTIVE", "CANCELLED", "user:cancel"), ("CANCELLED", "EXPIRED", "schedule:period_end")]


async def test_stripe_echo_of_a_user_action_changes_nothing(world: BillingWorld) -> None:
    await world.paid_provider()
    user, token = await paid_subscriber(world)
    await gql(world, 'mutation { cancelSubscription(providerSlug: "btc-desk", '
              'atPeriodEnd: false) { __typename } }', token)
    sub = await Subscription.get(user=user)
    echo = world.stripe.event("customer.subscription.deleted",
                              world.stripe.subscriptions[str(sub.stripe_subscription_id)])
    older = world.stripe.event("customer.subscription.updated",
                               {**world.stripe.subscriptions[str(sub.stripe_subscription_id)],
                                "status": "active"}, created=world.stripe.clock - 5)
    for event in (echo, older):
        assert (await world.deliver(event)).status_code == 200
    await world.run_worker()

    sub = await Subscription.get(user=user)
    assert sub.status is S.CANCELLED and not sub.cancel_at_period_end
    assert not await is_entitled(user.id, sub.provider_id)
    assert (await causes(user))[-1] == ("ACTIVE", "CANCELLED", "user:cancel")


async def test_portal_onboarding_and_free_checkout(world: BillingWorld) -> None:
    owner, _ = await world.paid_provider()
    user, token = await paid_subscriber(world)
    owner_token = await issue_token(owner)
    free_owner = await create_user("Free desk", Role.PROVIDER)
    from domain.providers import create_provider
    await create_provider(free_owner, "free-desk", "Free Desk", monthly_price="0")

    portal = await gql(world, "mutation { billingPortalLink { __typename "
                       "... on BillingLink { url } ... on UserError { message } } }", token)
    onboarding = await gql(world, "mutation { providerOnboardingLink { __typename "
                           "... on BillingLink { url } } }", owner_token)
    stranger = await gql(world, 'mutation { providerOnboardingLink(providerSlug: "btc-desk") '
                         "{ __typename ... on UserError { message } } }", token)
    free = await gql(world, 'mutation { createCheckoutLink(providerSlug: "free-desk") { '
                     "__typename ... on CheckoutLink { url subscription { status } } } }",
                     token)
    twice = await gql(world, 'mutation { createCheckoutLink(providerSlug: "btc-desk") { '
                      "__typename ... on UserError { message } } }", token)

    assert portal["data"]["billingPortalLink"]["url"].startswith(
        "https://billing.stripe.com/p/session/test_")
    [call] = world.stripe.calls("POST", "/v1/billing_portal/sessions")
    assert call.params["return_url"] == "https://hub.example.com/billing/return"
    assert onboarding["data"]["providerOnboardingLink"]["url"].startswith(
        "https://connect.stripe.com/setup/e/acct_")
    assert stranger["data"]["providerOnboardingLink"] == {
        "__typename": "NotAllowed", "message": "you do not own the provider 'btc-desk'"}
    assert free["data"]["createCheckoutLink"] == {
        "__typename": "CheckoutLink", "url": None, "subscription": {"status": "ACTIVE"}}
    assert twice["data"]["createCheckoutLink"] == {
        "__typename": "NotAllowed", "message": "you are already subscribed to Btc-Desk (active)"}


async def test_earnings_by_month_and_platform_revenue(world: BillingWorld) -> None:
    owner, _ = await world.paid_provider()
    await paid_subscriber(world, "First")
    await paid_subscriber(world, "Second payer")
    admin = await create_user("Admin", Role.ADMIN)
    span = {"from": "2020-01-01T00:00:00+00:00", "to": "2100-01-01T00:00:00+00:00"}
    fields = "month currency payments gross stripeFees platformFees providerNet"
    query = f"query($from: DateTime!, $to: DateTime!) {{ providerEarnings(from: $from, " \
            f"to: $to) {{ {fields} }} }}"
    revenue = f"query($from: DateTime!, $to: DateTime!) {{ platformRevenue(from: $from, " \
              f"to: $to) {{ {fields} }} }}"

    mine = await gql(world, query, await issue_token(owner), span)
    admin_view = await gql(world, revenue, await issue_token(admin), span)
    refused = await gql(world, revenue, await issue_token(owner), span)

    month = datetime.fromtimestamp(world.stripe.clock, UTC).strftime("%Y-%m")
    expected = [{"month": month, "currency": "usd", "payments": 2, "gross": "6",
                 "stripeFees": "0.78", "platformFees": "1.8", "providerNet": "4.2"}]
    assert mine["data"]["providerEarnings"] == expected
    assert admin_view["data"]["platformRevenue"] == expected
    assert refused["errors"][0]["extensions"]["code"] == "NOT_ALLOWED"
    assert refused["errors"][0]["message"] == "platform revenue is for admins only"


async def test_a_delivery_whose_subscription_lapsed_before_sending_is_not_sent(
        world: BillingWorld) -> None:
    owner, provider = await world.paid_provider()
    user, _ = await paid_subscriber(world)
    signal = await publish_signal(owner, "btc-desk", make_draft(
        symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
        stop_loss=SETUP.stop, targets=[SETUP.target]), world.services.queue,
        world.services.bus, market_ts=world.services.prices.now_ms())
    event_id = (await signal.events.all())[0].id
    plan = await fan_out(event_id)
    assert len(plan.delivery_ids) == 1
    # the renewal fails and the grace period ends after the fan-out, before the send
    world.stripe.clock += 31 * 86400
    for event in world.stripe.fail_renewal(
            str((await Subscription.get(user=user)).stripe_subscription_id)):
        assert (await world.deliver(event)).status_code == 200
    await world.run_worker()
    sub = await Subscription.get(user=user)
    await world.services.queue.enqueue("expire_subscriptions", job_id="expire:lapse")
    await world.run_worker(clock=lambda: sub.grace_until + timedelta(seconds=1))

    from workers.context import WorkerDeps
    from workers.delivery import deliver_messages

    class Refuse:
        async def send_html(self, chat_id: int, html: str) -> None:
            raise AssertionError("a lapsed subscriber must not be sent the signal")

    deps = WorkerDeps(world.services, Refuse(), None)
    counts = await deliver_messages({"deps": deps}, plan.delivery_ids)

    assert counts == {"lapsed": 1}
    delivery = await Delivery.get(id=plan.delivery_ids[0])
    assert delivery.status is DeliveryStatus.FAILED and delivery.error == LAPSED
    assert await entitled_user_ids(provider.id) == set()


async def test_reconcile_keeps_paid_access_through_a_stripe_outage(world: BillingWorld) -> None:
    await world.paid_provider()
    user, _ = await paid_subscriber(world)
    free_owner = await create_user("Free desk", Role.PROVIDER)
    from domain.providers import create_provider
    await create_provider(free_owner, "free-desk", "Free Desk", monthly_price="0")
    await subscribe(user, "free-desk")
    gateway = payment_gateway(world.services)
    assert gateway is not None

    world.stripe.outage = True
    down = await reconcile(gateway, datetime.now(UTC))
    world.stripe.outage = False
    sub = await Subscription.get(user=user, provider__slug="btc-desk")
    world.stripe.subscriptions[str(sub.stripe_subscription_id)]["status"] = "unpaid"
    up = await reconcile(gateway, datetime.now(UTC))

    assert len(down.failures) == 1 and "Stripe" in down.failures[0]
    assert down.changed == [] and down.expired == []
    assert up.changed == [sub.id]
    assert (await Subscription.get(id=sub.id)).status is S.EXPIRED
    assert (await Subscription.get(user=user, provider__slug="free-desk")).status is S.ACTIVE
    assert (await causes(user))[-1] == ("ACTIVE", "EXPIRED", "schedule:reconcile")
    assert Decimal((await Subscription.get(id=sub.id)).monthly_price) == Decimal("3.00")


async def test_pricing_with_a_trial_then_trialing_without_a_ledger_entry(
        world: BillingWorld) -> None:
    owner, provider = await world.paid_provider()
    owner_token = await issue_token(owner)
    pricing = ('mutation($price: Decimal, $days: Int) { setProviderPricing(providerSlug: '
               '"btc-desk", monthlyPrice: $price, trialDays: $days) { __typename '
               '... on ProviderPricing { provider { monthlyPrice } trialDays acceptsPayments } '
               '... on ValidationError { field } ... on UserError { message } } }')

    bad_days = await gql(world, pricing, owner_token, {"days": 91})
    bad_price = await gql(world, pricing, owner_token, {"price": "1.005", "days": 7})
    _, stranger = await paid_subscriber_token(world)
    refused = await gql(world, pricing, stranger, {"days": 7})
    changed = await gql(world, pricing, owner_token, {"price": "4.50", "days": 7})

    assert bad_days["data"]["setProviderPricing"]["field"] == "trialDays"
    assert bad_price["data"]["setProviderPricing"]["field"] == "monthlyPrice"
    assert refused["data"]["setProviderPricing"]["__typename"] == "NotAllowed"
    assert changed["data"]["setProviderPricing"] == {
        "__typename": "ProviderPricing", "provider": {"monthlyPrice": "4.5"}, "trialDays": 7,
        "acceptsPayments": True}

    user, _ = await paid_subscriber(world, "Trial user")
    call = world.stripe.calls("POST", "/v1/checkout/sessions")[-1]
    assert call.params["subscription_data"]["trial_period_days"] == "7"
    assert call.params["line_items"][0]["price_data"]["unit_amount"] == "450"
    sub = await Subscription.get(user=user)
    assert sub.status is S.TRIALING and sub.monthly_price == Decimal("4.50")
    assert await is_entitled(user.id, provider.id)
    from domain.billing_models import LedgerEntry
    assert not await LedgerEntry.exists(user=user)  # the trial's $0 invoice is no payment


async def paid_subscriber_token(world: BillingWorld) -> tuple[Any, str]:
    user = await create_user("Someone")
    return user, await issue_token(user)

"""Stripe billing over real HTTP: the SDK unmodified against the local Stripe, signed
webhooks into ``/webhooks/stripe``, arq burst workers, real PostgreSQL and Redis."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.billing_models import ConnectAccount, LedgerEntry, StripeEvent, SubscriptionTransition
from domain.checkout import checkout_link, onboarding_link
from domain.errors import NotAllowed
from domain.models import Role, Subscription, SubscriptionStatus, User
from domain.providers import create_provider
from domain.users import create_user
from signalhub.billing import billing_config, payment_gateway
from tests.support.billing import BillingWorld, billing_world, expected_ledger, ledger_fields

S = SubscriptionStatus


@pytest.fixture
async def world(clean_db, settings, redis) -> AsyncIterator[BillingWorld]:  # noqa: ANN001
    async with billing_world(settings) as w:
        yield w


async def pay(world: BillingWorld, user: User, slug: str = "btc-desk") -> list[dict]:
    """Checkout link for ``user``, then Stripe's events of the completed payment."""
    outcome = await checkout_link(user, slug, payment_gateway(world.services),
                                  billing_config(world.services.settings))
    assert outcome.url and outcome.url.startswith("https://checkout.stripe.com/c/pay/cs_test_")
    call = world.stripe.calls("POST", "/v1/checkout/sessions")[-1]
    sessions = [s for s in world.stripe.sessions.values() if s["url"] == outcome.url]
    assert len(sessions) == 1  # the link is the session the last checkout call created
    assert sessions[0]["_params"] == call.params
    assert sessions[0]["client_reference_id"] == str(user.id)
    return world.stripe.complete_checkout(sessions[0]["id"])


async def deliver_all(world: BillingWorld, events: list[dict]) -> None:
    for event in events:
        response = await world.deliver(event)
        assert response.status_code == 200, response.text
    await world.run_worker()


async def deliver_one_by_one(world: BillingWorld, events: list[dict]) -> None:
    """Deliver and process each event before the next is delivered: the worker sees the
    events strictly in the given order (one queued job at a time)."""
    for event in events:
        await deliver_all(world, [event])


async def transitions(sub: Subscription) -> list[tuple[str, str, str]]:
    rows = await SubscriptionTransition.filter(subscription=sub).order_by("id")
    return [(r.from_status, r.to_status, r.cause.split(":")[0] + ":" + (
        r.cause.split(":")[1] if not r.cause.startswith("stripe:") else "evt")) for r in rows]


# -- checkout and onboarding ---------------------------------------------------------


async def test_checkout_session_carries_fee_destination_and_user(world: BillingWorld) -> None:
    _, provider = await world.paid_provider()
    user = await create_user("Payer")
    config = billing_config(world.services.settings)

    first = await checkout_link(user, "btc-desk", payment_gateway(world.services), config)
    again = await checkout_link(user, "btc-desk", payment_gateway(world.services), config)

    account = await ConnectAccount.get(provider=provider)
    [call, replay] = world.stripe.calls("POST", "/v1/checkout/sessions")
    p = call.params
    assert p["mode"] == "subscription" and p["client_reference_id"] == str(user.id)
    [pending] = await SubscriptionTransition.filter(subscription__user=user)
    assert p["metadata"] == {"user_id": str(user.id), "provider_slug": "btc-desk",
                             "checkout_ref": str(pending.id)}
    assert float(p["subscription_data"]["application_fee_percent"]) == 30
    assert p["subscription_data"]["transfer_data"] == {"destination": account.account_id}
    assert p["subscription_data"]["metadata"] == p["metadata"]
    assert p["line_items"][0] == {"quantity": "1", "price_data": {
        "currency": "usd", "unit_amount": "300", "recurring": {"interval": "month"},
        "product_data": {"name": "Btc-Desk signals"}}}
    assert p["success_url"].startswith("https://hub.example.com/billing/success?session_id=")
    assert p["cancel_url"] == "https://hub.example.com/billing/cancel"
    assert p["customer"] in world.stripe.customers
    assert call.headers["idempotency-key"] == replay.headers["idempotency-key"]
    assert first.url == again.url  # the same session within the idempotency window
    sub = await Subscription.get(user=user, provider=provider)
    assert sub.status is S.PENDING_PAYMENT and sub.monthly_price == Decimal("3.00")
    assert await transitions(sub) == [("NEW", "PENDING_PAYMENT", "user:checkout")]


async def test_priced_provider_needs_onboarding_and_a_stripe_key(world: BillingWorld) -> None:
    owner = await create_user("Desk", Role.PROVIDER)
    await create_provider(owner, "no-payouts", "No Payouts", monthly_price="5.00")
    user = await create_user("Payer")
    config = billing_config(world.services.settings)

    with pytest.raises(NotAllowed, match="has not finished payout setup"):
        await checkout_link(user, "no-payouts", payment_gateway(world.services), config)
    with pytest.raises(NotAllowed, match="no Stripe key"):
        await checkout_link(user, "no-payouts", None, config)
    assert world.stripe.calls("POST", "/v1/checkout/sessions") == []
    assert not await Subscription.exists(user=user)


async def test_onboarding_link_then_account_updated_enables_paid_subscriptions(
        world: BillingWorld) -> None:
    owner = await create_user("Desk", Role.PROVIDER)
    provider = await create_provider(owner, "new-desk", "New Desk")
    gateway, config = payment_gateway(world.services), billing_config(world.services.settings)

    link = await onboarding_link(owner, None, gateway, config)
    again = await onboarding_link(owner, "new-desk", gateway, config)
    account = await ConnectAccount.get(provider=provider)
    stranger = await create_user("Stranger", Role.PROVIDER)
    with pytest.raises(NotAllowed, match="do not own"):
        await onboarding_link(stranger, "new-desk", gateway, config)

    assert link.startswith(f"https://connect.stripe.com/setup/e/{account.account_id}/")
    assert again != link and len(world.stripe.calls("POST", "/v1/accounts")) == 1
    [created] = world.stripe.calls("POST", "/v1/accounts")
    assert created.params["type"] == "express"
    [first_link, _] = world.stripe.calls("POST", "/v1/account_links")
    assert first_link.params["type"] == "account_onboarding"
    assert first_link.params["return_url"] == "https://hub.example.com/billing/onboarding/return"
    assert not account.charges_enabled

    older = world.stripe.event("account.updated", world.stripe.accounts[account.account_id],
                               created=world.stripe.clock - 60)
    newer = world.stripe.finish_onboarding(account.account_id)
    await deliver_one_by_one(world, [newer, older])  # the older event is processed last

    account = await ConnectAccount.get(provider=provider)
    assert account.charges_enabled and account.payouts_enabled and account.details_submitted


# -- webhook endpoint ---------------------------------------------------------------


async def test_webhook_accepts_only_fresh_events_signed_with_our_secret(
        world: BillingWorld) -> None:
    event = world.stripe.event("customer.created", {"id": "cus_x", "object": "customer"})
    body = json.dumps(event)

    good = await world.deliver(event)
    wrong = await world.deliver(body, secret="whsec_someone_else")
    stale = await world.deliver(body, timestamp=int(time.time()) - 600)
    unsigned = await world.http.post("/webhooks/stripe", content=body)
    malformed = await world.deliver("{\"id\": \"evt_1\", \"type\": ")
    not_event = await world.deliver(json.dumps({"hello": "world"}))

    assert good.status_code == 200 and good.json() == {"received": True, "duplicate": False}
    assert (wrong.status_code, stale.status_code, unsigned.status_code) == (400, 400, 400)
    assert "signature verification failed" in wrong.json()["error"]
    assert "signature verification failed" in stale.json()["error"]
    assert unsigned.json() == {"error": "missing Stripe-Signature header"}
    assert malformed.status_code == 400 and malformed.json()["error"] == "body is not valid JSON"
    assert not_event.status_code == 400 and "not a Stripe event" in not_event.json()["error"]
    assert await StripeEvent.all().values_list("id", flat=True) == [event["id"]]


async def test_unknown_event_type_is_stored_and_ignored(world: BillingWorld) -> None:
    event = world.stripe.event("radar.early_fraud_warning.created", {"id": "issfr_1"})
    await deliver_all(world, [event])

    row = await StripeEvent.get(id=event["id"])
    assert row.processed_at is not None
    assert row.outcome == "ignored: radar.early_fraud_warning.created is not handled"


async def test_a_redelivered_event_changes_nothing(world: BillingWorld) -> None:
    await world.paid_provider()
    user = await create_user("Payer")
    events = await pay(world, user)
    await deliver_all(world, events)
    again = [await world.deliver(e) for e in events]
    await world.run_worker()

    assert [r.json()["duplicate"] for r in again] == [True, True, True]
    sub = await Subscription.get(user=user)
    assert sub.status is S.ACTIVE
    [entry] = await LedgerEntry.all()
    expected = expected_ledger(events, world.stripe)
    assert ledger_fields(entry, expected) == expected
    assert (entry.gross, entry.stripe_fee, entry.platform_fee, entry.provider_net,
            entry.currency) == (Decimal("3.00"), Decimal("0.39"), Decimal("0.90"),
                                Decimal("2.10"), "usd")
    assert sub.current_period_end == expected["period_end"]
    assert await transitions(sub) == [("NEW", "PENDING_PAYMENT", "user:checkout"),
                                      ("PENDING_PAYMENT", "ACTIVE", "stripe:evt")]
    assert await StripeEvent.filter(processed_at__isnull=True).count() == 0


async def test_the_order_of_events_does_not_change_the_result(world: BillingWorld) -> None:
    await world.paid_provider()
    in_order, reversed_ = await create_user("In order"), await create_user("Reversed")
    paid = [await pay(world, in_order), await pay(world, reversed_)]
    world.stripe.clock += 31 * 86400
    failed = [world.stripe.fail_renewal(e[1]["data"]["object"]["id"]) for e in paid]

    orders = [paid[0] + failed[0], list(reversed(paid[1] + failed[1]))]
    for events in orders:
        await deliver_one_by_one(world, events)

    for events in orders:  # processed strictly in the order given
        rows = await StripeEvent.filter(id__in=[e["id"] for e in events]).order_by(
            "processed_at").values_list("id", flat=True)
        assert rows == [e["id"] for e in events]
    a = await Subscription.get(user=in_order)
    b = await Subscription.get(user=reversed_)
    assert a.status is b.status is S.PAST_DUE
    assert a.current_period_end == b.current_period_end is not None
    assert a.grace_until == b.grace_until
    failed_at = datetime.fromtimestamp(failed[0][0]["created"], UTC)
    assert a.grace_until == failed_at + timedelta(days=3)
    assert a.stripe_subscription_id and b.stripe_subscription_id
    last = [await SubscriptionTransition.filter(subscription=sub).order_by("-id").first()
            for sub in (a, b)]
    assert [(t.to_status, t.cause) for t in last if t] == [
        ("PAST_DUE", f"stripe:{failed[0][0]['id']}"),  # in order: invoice.payment_failed
        ("PAST_DUE", f"stripe:{failed[1][1]['id']}")]  # reversed: subscription.updated first
    ledger = {e.user_id: e for e in await LedgerEntry.all()}
    same = ("currency", "gross", "stripe_fee", "platform_fee", "provider_net", "fee_pct",
            "period_start", "period_end", "paid_at")
    assert [getattr(ledger[in_order.id], f) for f in same] == [
        getattr(ledger[reversed_.id], f) for f in same]
    assert ledger[in_order.id].gross == Decimal("3.00")
    for user, events in ((in_order, paid[0]), (reversed_, paid[1])):
        invoice = events[2]["data"]["object"]
        entry = ledger[user.id]
        assert (entry.stripe_invoice_id, entry.stripe_subscription_id, entry.stripe_event_id
                ) == (invoice["id"], events[1]["data"]["object"]["id"], events[2]["id"])


async def test_connect_events_signed_with_the_connect_endpoint_secret_are_accepted(
        clean_db, settings, redis) -> None:  # noqa: ANN001
    async with billing_world(settings, stripe_connect_webhook_secret="whsec_connect") as w:
        event = w.stripe.event("account.updated", {"id": "acct_unknown", "object": "account"},
                               account="acct_unknown")
        connect = await w.deliver(event, secret="whsec_connect")
        stale = await w.deliver(json.dumps(event), secret="whsec_connect",
                                timestamp=int(time.time()) - 900)
        await w.run_worker()

        assert connect.status_code == 200 and stale.status_code == 400
        assert stale.json()["error"].startswith(
            "signature verification failed: Timestamp outside the tolerance zone")
        row = await StripeEvent.get(id=event["id"])
        assert row.outcome == "account acct_unknown: not ours"


# -- pages Stripe sends users back to ------------------------------------------------


async def test_the_billing_pages_tell_the_user_to_go_back_to_the_bot(
        world: BillingWorld) -> None:
    pages = ["success?session_id=cs_test_abc", "cancel", "return", "onboarding/return",
             "onboarding/refresh"]
    answers = {page: await world.http.get(f"/billing/{page}") for page in pages}
    unknown = await world.http.get("/billing/nowhere")
    posted = await world.http.post("/billing/success")

    for page, response in answers.items():
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html"), page
        assert "Go back to the bot" in response.text, page
    assert "<h1>Payment received</h1>" in answers[pages[0]].text
    assert "Nothing was charged" in answers["cancel"].text
    assert "/payouts" in answers["onboarding/refresh"].text
    assert unknown.status_code == 404
    assert posted.status_code == 405

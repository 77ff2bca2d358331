"""Billing test rig: the API on loopback with Stripe settings, the local Stripe, signing.

``billing_world`` serves the real app (``graphql_api.app.build_app``) with uvicorn and
the fake Stripe (``tests.fakes.stripe_api``); webhooks are signed with the SDK's
``stripe.WebhookSignature.generate_signature_header`` and POSTed over real HTTP.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from tortoise import connections

from domain.billing_models import ConnectAccount
from domain.checkout import checkout_link, onboarding_link
from domain.models import Provider, Role, User
from domain.providers import create_provider
from domain.users import create_user
from graphql_api.app import build_app
from integrations.prices import ReplayPriceSource
from signalhub.billing import billing_config, close_gateway, payment_gateway
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.stripe_api import FakeStripe, running_stripe
from tests.support.servers import serve
from workers.settings import make_worker

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
SECRET_KEY = "sk_test_51SignalHubLocalFake"


def signed(event: dict[str, Any] | str, secret: str = WEBHOOK_SECRET,
           timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a webhook delivery signed as Stripe signs it."""
    body = event if isinstance(event, str) else json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp or int(time.time()))
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def expected_ledger(events: list[dict[str, Any]], fake: FakeStripe) -> dict[str, Any]:
    """The ledger fields of the payment in ``complete_checkout``'s events, taken from the
    event bodies: the invoice line's period, the ids, the paid time; the payment intent
    is the one the fake's invoice payment names (Stripe's fee lookup)."""
    [paid] = [e for e in events if e["type"] == "invoice.paid"]
    [created] = [e for e in events if e["type"] == "customer.subscription.created"]
    invoice = paid["data"]["object"]
    period = invoice["lines"]["data"][0]["period"]
    return {
        "period_start": datetime.fromtimestamp(period["start"], UTC),
        "period_end": datetime.fromtimestamp(period["end"], UTC),
        "paid_at": datetime.fromtimestamp(invoice["status_transitions"]["paid_at"], UTC),
        "stripe_invoice_id": invoice["id"],
        "stripe_subscription_id": created["data"]["object"]["id"],
        "stripe_payment_intent_id": fake.invoices[invoice["id"]].get("_intent"),
        "stripe_event_id": paid["id"],
    }


def ledger_fields(entry: Any, names: Any) -> dict[str, Any]:
    """``entry``'s values of the fields ``names``."""
    return {name: getattr(entry, name) for name in names}


@dataclass
class BillingWorld:
    """Services, the served API, its HTTP client and the fake Stripe."""

    services: Services
    stripe: FakeStripe
    url: str
    http: httpx.AsyncClient

    async def deliver(self, event: dict[str, Any] | str, **sign: Any) -> httpx.Response:
        """POST one signed event to ``/webhooks/stripe``."""
        body, headers = signed(event, **sign)
        return await self.http.post("/webhooks/stripe", content=body, headers=headers)

    async def deliver_all(self, events: list[dict[str, Any]], sender: Any = None) -> None:
        """POST each event (each answered 200), then run the worker until the queue is empty."""
        for event in events:
            response = await self.deliver(event)
            assert response.status_code == 200, response.text
        await self.run_worker(sender)

    async def checkout_events(self, user: User, slug: str = "btc-desk"
                              ) -> list[dict[str, Any]]:
        """``user`` opens a Checkout link (``domain.checkout.checkout_link``) and pays it:
        Stripe's events of the payment, not delivered yet."""
        outcome = await checkout_link(user, slug, payment_gateway(self.services),
                                      billing_config(self.services.settings))
        [session] = [s for s in self.stripe.sessions.values() if s["url"] == outcome.url]
        return self.stripe.complete_checkout(session["id"])

    async def run_worker(self, sender: Any = None,
                         clock: Callable[[], datetime] | None = None) -> None:
        """Run the arq worker (burst) until the queue is empty."""
        ctx = {"clock": clock} if clock is not None else None
        worker = make_worker(self.services, burst=True, monitor=False, sender=sender,
                             poll_delay=0.01, ctx=ctx)
        await worker.main()
        await worker.close()

    async def paid_provider(self, slug: str = "btc-desk", price: str = "3.00",
                            trial_days: int = 0) -> tuple[User, Provider]:
        """A provider at ``price`` whose owner finished Stripe Connect onboarding (through
        ``onboarding_link`` and a signed ``account.updated``)."""
        owner = await create_user(f"owner of {slug}", Role.PROVIDER)
        provider = await create_provider(owner, slug, slug.title(), monthly_price=price)
        if trial_days:
            provider.trial_days = trial_days
            await provider.save()
        await onboarding_link(owner, slug, payment_gateway(self.services),
                              billing_config(self.services.settings))
        account = await ConnectAccount.get(provider=provider)
        response = await self.deliver(self.stripe.finish_onboarding(account.account_id))
        assert response.status_code == 200, response.text
        await self.run_worker()
        return owner, provider


def billing_settings(settings: Settings, stripe_url: str, **more: Any) -> Settings:
    """``settings`` with Stripe pointed at the local fake."""
    return settings.model_copy(update={
        "stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": stripe_url, "public_base_url": "https://hub.example.com", **more})


@contextlib.asynccontextmanager
async def billing_world(settings: Settings, **more: Any) -> AsyncIterator[BillingWorld]:
    """The whole rig for one test (stored Stripe events emptied first: ``clean_db``
    does not know that table); closes everything at the end."""
    await connections.get("default").execute_script("TRUNCATE stripe_events")
    async with running_stripe() as fake:
        configured = billing_settings(settings, fake.url, **more)
        prices = ReplayPriceSource(PACKAGE_DATA, speed=None)
        services = await bootstrap(configured, prices=prices, init_database=False)
        try:
            async with serve(build_app(services)) as url, \
                    httpx.AsyncClient(base_url=url) as http:
                yield BillingWorld(services, fake, url, http)
        finally:
            await close_gateway(services)
            await shutdown(services, close_database=False)


@pytest.fixture(name="world")
async def paid_provider_world(clean_db: str, settings: Settings, redis: Any
                              ) -> AsyncIterator[BillingWorld]:
    """Fixture ``world``: ``billing_world`` with the paid provider (``paid_provider``)
    already set up. A test module uses it by importing ``paid_provider_world``."""
    async with billing_world(settings) as w:
        await w.paid_provider()
        yield w

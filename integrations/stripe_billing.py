"""Stripe adapter: the only module that imports ``stripe``.

``StripeGateway`` implements ``domain.checkout.PaymentGateway`` with the official SDK
(``stripe.StripeClient``, async methods over httpx). ``STRIPE_API_BASE`` moves every
call to another server (a proxy, or the local fake in tests). Stripe's exceptions
become the domain's error tree: connection failures, 429 and 5xx ->
``RetryableError``; everything else (bad request, auth, card) -> ``PermanentError``
with Stripe's message.

``verify_event`` checks a webhook's ``Stripe-Signature`` on the raw body with
``stripe.Webhook.construct_event`` (HMAC-SHA256, 300 s tolerance).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import stripe

from domain.checkout import CheckoutRequest, CheckoutSession
from domain.errors import PermanentError, RetryableError

T = TypeVar("T")
TOLERANCE_S = 300


class WebhookRejected(Exception):
    """A webhook body or signature is not acceptable; ``reason`` says why (for the 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_event(payload: bytes, signature: str | None, secret: str | list[str]
                 ) -> dict[str, Any]:
    """The event (a plain dict) of a webhook whose signature is valid and fresh under
    ``secret`` (or one of several: the account endpoint's and the Connect endpoint's).

    Raises ``WebhookRejected``: no signature header, bad signature (wrong secret,
    tampered body), a timestamp older than 300 s, or a body that is not an event.
    """
    if not signature:
        raise WebhookRejected("missing Stripe-Signature header")
    failures: list[str] = []
    for one in [secret] if isinstance(secret, str) else secret:
        try:
            stripe.Webhook.construct_event(payload, signature, one, tolerance=TOLERANCE_S)
            break
        except stripe.SignatureVerificationError as exc:
            failures.append(str(exc.user_message or exc))
        except ValueError:
            raise WebhookRejected("body is not valid JSON") from None
    else:  # no secret verified it: a stale signature says so, else the primary's reason
        stale = [f for f in failures if f.startswith("Timestamp outside")]
        raise WebhookRejected(f"signature verification failed: {(stale or failures)[0]}")
    event = json.loads(payload)
    if not isinstance(event, dict) or not all(k in event for k in ("id", "type", "data")):
        raise WebhookRejected("body is not a Stripe event (needs id, type and data)")
    return event


def _translate(exc: stripe.StripeError) -> Exception:
    message = f"Stripe: {exc.user_message or exc}"
    retryable = (stripe.APIConnectionError, stripe.RateLimitError)
    if isinstance(exc, retryable) or (exc.http_status or 0) >= 500:
        return RetryableError(message)
    return PermanentError(message)


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except stripe.StripeError as exc:
        raise _translate(exc) from exc


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


class StripeGateway:
    """Stripe calls SignalHub makes, with ``api_key`` against ``api_base`` (None: Stripe)."""

    def __init__(self, api_key: str, api_base: str | None = None,
                 max_network_retries: int = 2) -> None:
        bases: Any = {"api": api_base, "connect": api_base} if api_base else None
        self.http = stripe.HTTPXClient(timeout=20)
        self.client = stripe.StripeClient(api_key, base_addresses=bases, http_client=self.http,
                                          max_network_retries=max_network_retries)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self.http.close_async()

    async def create_customer(self, user_id: int, name: str) -> str:
        """A new Stripe customer for user ``user_id``; its id (idempotent per user)."""
        customer = await _call(self.client.v1.customers.create_async(
            {"name": name, "metadata": {"user_id": str(user_id)}},
            {"idempotency_key": f"customer-{user_id}"}))
        return str(customer.id)

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """A Checkout Session (mode subscription) for ``request``; its id and URL.

        The price is inline (``price_data``: the provider's monthly USD price,
        recurring monthly), the platform keeps ``fee_pct`` percent
        (``subscription_data.application_fee_percent``) and the rest goes to the
        provider's connected account (``transfer_data.destination``). The metadata
        (``user_id``, ``provider_slug``, ``checkout_ref``) goes on the session and on the
        subscription (Stripe copies the latter onto its invoices).
        """
        metadata = {"user_id": str(request.user_id), "provider_slug": request.provider_slug}
        if request.checkout_ref:
            metadata["checkout_ref"] = request.checkout_ref
        subscription_data: dict[str, Any] = {
            "application_fee_percent": fee_percent(request.fee_pct),
            "transfer_data": {"destination": request.destination},
            "metadata": metadata,
        }
        if request.trial_days:
            subscription_data["trial_period_days"] = request.trial_days
        params: Any = {
            "mode": "subscription",
            "customer": request.customer_id,
            "client_reference_id": str(request.user_id),
            "metadata": metadata,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "usd",
                "unit_amount": request.unit_amount,
                "recurring": {"interval": "month"},
                "product_data": {"name": f"{request.provider_name} signals"},
            }}],
            "subscription_data": subscription_data,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        session = await _call(self.client.v1.checkout.sessions.create_async(
            params, {"idempotency_key": request.idempotency_key}))
        return CheckoutSession(str(session.id), str(session.url))

    async def create_account(self, provider_id: int, provider_slug: str) -> str:
        """A new Express connected account for a provider; its id."""
        account = await _call(self.client.v1.accounts.create_async(
            {"type": "express", "metadata": {"provider_id": str(provider_id),
                                             "provider_slug": provider_slug}},
            {"idempotency_key": f"account-{provider_id}"}))
        return str(account.id)

    async def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        """An onboarding link (``account_onboarding``) for a connected account."""
        link = await _call(self.client.v1.account_links.create_async(
            {"account": account_id, "type": "account_onboarding",
             "refresh_url": refresh_url, "return_url": return_url}))
        return str(link.url)

    async def retrieve_account(self, account_id: str) -> dict[str, Any]:
        """The connected account object as a plain dict."""
        return _plain(await _call(self.client.v1.accounts.retrieve_async(account_id)))

    async def portal_link(self, customer_id: str, return_url: str) -> str:
        """A customer-portal session URL (cards, invoices) for ``customer_id``."""
        session = await _call(self.client.v1.billing_portal.sessions.create_async(
            {"customer": customer_id, "return_url": return_url}))
        return str(session.url)

    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription object as a plain dict."""
        return _plain(await _call(self.client.v1.subscriptions.retrieve_async(
            subscription_id)))

    async def cancel_subscription(self, subscription_id: str, at_period_end: bool,
                                  comment: str = "") -> dict[str, Any]:
        """Cancel at period end (update ``cancel_at_period_end``) or at once (DELETE, with
        ``comment`` as ``cancellation_details.comment`` when given).

        Cancelling at once is idempotent: Stripe refuses to cancel a subscription that
        is already canceled (a 4xx), so after a ``PermanentError`` the subscription is
        read and returned if it has ended; otherwise the error is raised."""
        if at_period_end:
            return _plain(await _call(self.client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": True})))
        params: Any = {"cancellation_details": {"comment": comment}} if comment else {}
        try:
            return _plain(await _call(self.client.v1.subscriptions.cancel_async(
                subscription_id, params)))
        except PermanentError:
            obj = await self.retrieve_subscription(subscription_id)
            if obj.get("status") in ("canceled", "incomplete_expired"):
                return obj
            raise

    async def pause_subscription(self, subscription_id: str, paused: bool) -> dict[str, Any]:
        """Pause collection (``pause_collection.behavior=void``) or resume it."""
        params: Any = {"pause_collection": {"behavior": "void"} if paused else ""}
        return _plain(await _call(self.client.v1.subscriptions.update_async(
            subscription_id, params)))

    async def invoice_fee(self, invoice_id: str) -> tuple[int, str, str] | None:
        """``(Stripe fee in minor units, currency, payment intent id)`` of a paid invoice,
        from its payment's charge balance transaction; None while not known yet."""
        payments = await _call(self.client.v1.invoice_payments.list_async(
            {"invoice": invoice_id, "limit": 1}))
        for payment in payments.data:
            intent_id = (_plain(payment).get("payment") or {}).get("payment_intent")
            if not intent_id:
                continue
            intent = await _call(self.client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": ["latest_charge.balance_transaction"]}))
            charge = _plain(intent).get("latest_charge") or {}
            txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
            if isinstance(txn, dict) and txn.get("fee") is not None:
                return int(txn["fee"]), str(txn.get("currency", "usd")), str(intent_id)
        return None


def fee_percent(value: Decimal) -> float:
    """``application_fee_percent`` as Stripe takes it (a number with up to 2 decimals)."""
    return float(value.quantize(Decimal("0.01")))

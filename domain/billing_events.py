"""Applying stored Stripe webhook events (``StripeEvent`` rows) to subscriptions.

``apply_event`` runs once per event id (the row's ``processed_at`` guards it) inside
one transaction with the subscription row locked. Handled types:

- ``checkout.session.completed``: links the Stripe subscription and customer ids;
- ``customer.subscription.created/updated/deleted``: the object's status and period
  are the source of truth (``domain.billing.status_of``);
- ``invoice.paid``: a ledger entry (once per invoice), ACTIVE, period end from the line;
- ``invoice.payment_failed``: PAST_DUE with a grace deadline (failure time + grace);
- an invoice of a *stray* Stripe subscription (its metadata names the user's row of the
  provider, but the row is bound to another Stripe subscription or waits for a new
  checkout): a paid one still goes to the ledger under that row (the stray's ids; the
  row's state unchanged; the user told), and either kind asks the job to cancel the
  stray at Stripe (``Applied.cancel_stripe``) so it does not charge again;
- ``account.updated``: the provider's Connect onboarding state.

Anything else is stored and marked ``ignored``. Events are matched to subscriptions by
the Stripe subscription id, else by the ``user_id``/``provider_slug`` metadata our
checkout sessions put on the session and the subscription; the metadata's
``checkout_ref`` keeps a late event of an older Stripe subscription of the same user
and provider from binding a row that is waiting for a new checkout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain import billing
from domain.billing import Applied, StripeState
from domain.billing_models import BillingCustomer, LedgerEntry, StripeEvent
from domain.checkout import checkout_ref
from domain.models import Provider, Subscription, SubscriptionStatus

S = SubscriptionStatus
SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted", "customer.subscription.paused",
                       "customer.subscription.resumed")


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    """The subscription id of an invoice: ``parent.subscription_details.subscription`` in
    current API versions, top-level ``subscription`` in older ones."""
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    return details.get("subscription") or invoice.get("subscription")


def invoice_metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    """The subscription's metadata as copied onto the invoice (may be empty)."""
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    return dict(details.get("metadata") or invoice.get("subscription_details", {})
                .get("metadata") or {})


async def find_subscription(stripe_id: str | None, metadata: dict[str, Any],
                            client_reference_id: str | None = None) -> Subscription | None:
    """Our subscription for a Stripe object, by subscription id, else by metadata
    (``user_id`` + ``provider_slug``; ``client_reference_id`` is the user id). A row
    is created (PENDING_PAYMENT) when metadata names a user and provider without one.

    None (the event is left unmatched) for a Stripe subscription that is not the row's:
    another id is bound, or — when none is bound yet (a new checkout) — the object is of
    an older checkout (its metadata ``checkout_ref`` is not the row's current one, or,
    without a ref, the ledger was paid under that id before). A late event of the old
    Stripe subscription therefore never takes the row from the new checkout's."""
    if stripe_id:
        sub = await Subscription.get_or_none(stripe_subscription_id=stripe_id)
        if sub is not None:
            return sub
    user_id = metadata.get("user_id") or client_reference_id
    slug = metadata.get("provider_slug")
    if not user_id or not slug or not str(user_id).isdigit():
        return None
    provider = await Provider.get_or_none(slug=slug)
    if provider is None:
        return None
    sub, created = await Subscription.get_or_create(
        {"status": S.PENDING_PAYMENT, "monthly_price": provider.monthly_price},
        user_id=int(user_id), provider=provider)
    if created:
        await billing.record_creation(sub, "stripe:metadata", datetime.now(UTC))
    if stripe_id and sub.stripe_subscription_id and sub.stripe_subscription_id != stripe_id:
        return None  # about another (older) Stripe subscription of this user and provider
    if stripe_id and not sub.stripe_subscription_id and await _older_checkout(
            sub, stripe_id, metadata):
        return None
    return sub


async def _older_checkout(sub: Subscription, stripe_id: str, metadata: dict[str, Any]) -> bool:
    ref = metadata.get("checkout_ref")
    if ref:
        current = await checkout_ref(sub)
        return current is not None and str(ref) != current
    return await LedgerEntry.exists(subscription_id=sub.id, stripe_subscription_id=stripe_id)


async def apply_event(event_id: str, fee_pct: Decimal, grace: timedelta) -> Applied:
    """Apply the stored event ``event_id`` once; returns transitions and notice ids.

    A second call (job retry, second worker) finds ``processed_at`` set and does
    nothing. Raises ``tortoise`` errors (the job retries) but never for an event we
    cannot match: that is recorded as the outcome.
    """
    async with in_transaction():
        row = await StripeEvent.filter(id=event_id).select_for_update().get_or_none()
        if row is None or row.processed_at is not None:
            return Applied(outcome="already processed" if row else "unknown event")
        applied = await _dispatch(row.payload, fee_pct, grace)
        row.processed_at, row.outcome = datetime.now(UTC), applied.outcome[:500]
        await row.save(update_fields=["processed_at", "outcome"])
    return applied


async def _dispatch(event: dict[str, Any], fee_pct: Decimal, grace: timedelta) -> Applied:
    kind, obj = event.get("type", ""), (event.get("data") or {}).get("object") or {}
    created, cause = int(event.get("created") or 0), f"stripe:{event.get('id')}"
    if kind == "checkout.session.completed":
        return await _checkout_completed(obj)
    if kind in SUBSCRIPTION_EVENTS:
        return await _subscription_changed(obj, created, cause)
    if kind == "invoice.paid":
        return await _invoice_paid(obj, created, cause, event["id"], fee_pct)
    if kind == "invoice.payment_failed":
        return await _invoice_failed(obj, created, cause, event["id"], grace)
    if kind == "account.updated":
        account = await billing.apply_account(obj, created)
        return Applied(outcome=f"account {obj.get('id')}: "
                               f"{'updated' if account else 'not ours'}")
    return Applied(outcome=f"ignored: {kind} is not handled")


async def _checkout_completed(session: dict[str, Any]) -> Applied:
    if session.get("mode") != "subscription":
        return Applied(outcome="ignored: not a subscription checkout")
    sub = await find_subscription(session.get("subscription"), session.get("metadata") or {},
                                  session.get("client_reference_id"))
    if sub is None:
        return Applied(outcome="unmatched checkout session")
    sub = await billing.lock_subscription(sub.id)
    sub.stripe_subscription_id = sub.stripe_subscription_id or session.get("subscription")
    sub.stripe_customer_id = session.get("customer") or sub.stripe_customer_id
    await sub.save(update_fields=["stripe_subscription_id", "stripe_customer_id",
                                  "updated_at"])
    if session.get("customer"):
        await BillingCustomer.get_or_create({"customer_id": session["customer"]},
                                            user_id=sub.user_id)  # type: ignore[attr-defined]
    return Applied(outcome=f"subscription {sub.id} linked to {session.get('subscription')}")


async def _subscription_changed(obj: dict[str, Any], created: int, cause: str) -> Applied:
    sub = await find_subscription(obj.get("id"), obj.get("metadata") or {})
    if sub is None:
        return Applied(outcome=f"unmatched subscription {obj.get('id')}")
    sub = await billing.lock_subscription(sub.id)
    sub.stripe_subscription_id = sub.stripe_subscription_id or obj.get("id")
    sub.stripe_customer_id = obj.get("customer") or sub.stripe_customer_id
    status, at_end = billing.status_of(obj)
    state = StripeState(status, created, cause, at_end, billing.subscription_period_end(obj))
    return await _apply(sub, state)


async def _apply(sub: Subscription, state: StripeState) -> Applied:
    applied = Applied()
    row = await billing.apply_state(sub, state)
    if row is not None:
        applied.transitions.append(row)
        applied.notice_ids += await billing.lifecycle_notices(sub, row)
    applied.outcome = f"subscription {sub.id}: {sub.status.value}"
    return applied


async def _invoice_sub(invoice: dict[str, Any]) -> Subscription | None:
    sub = await find_subscription(invoice_subscription_id(invoice), invoice_metadata(invoice))
    return None if sub is None else await billing.lock_subscription(sub.id)


async def _stray_owner(invoice: dict[str, Any]) -> Subscription | None:
    """The user's row of the provider named by the metadata of an unmatched invoice of a
    Stripe subscription that is not the row's current one (an older one, or a second
    checkout paid twice); None if the metadata names no existing row."""
    stripe_id, metadata = invoice_subscription_id(invoice), invoice_metadata(invoice)
    user_id, slug = str(metadata.get("user_id") or ""), metadata.get("provider_slug")
    if not stripe_id or not user_id.isdigit() or not slug:
        return None
    sub = await Subscription.get_or_none(user_id=int(user_id), provider__slug=slug)
    if sub is None or sub.stripe_subscription_id == stripe_id:
        return None
    return await billing.lock_subscription(sub.id)


async def _stray_paid(invoice: dict[str, Any], event_id: str, fee_pct: Decimal) -> Applied:
    """A payment Stripe collected on a stray Stripe subscription: money is money, so it
    goes to the ledger (linked to the user's row of that provider, with the stray's
    ids), the row's state is not touched, the user is told, the stray is cancelled at
    Stripe (``Applied.cancel_stripe``) and the outcome tells the operator."""
    stray, sub = invoice_subscription_id(invoice), await _stray_owner(invoice)
    if sub is None or int(invoice.get("amount_paid") or 0) == 0:
        return Applied(outcome=f"unmatched invoice {invoice.get('id')}",
                       cancel_stripe=[stray] if sub is not None and stray else [])
    entry, new = await billing.record_payment(invoice, sub, event_id, fee_pct, stray)
    applied = Applied(paid_invoice=entry.stripe_invoice_id if new else None,
                      cancel_stripe=[str(stray)])
    if new:
        text = (f"A payment of {billing.amount_text(entry.gross, entry.currency)} was "
                "collected on your "
                f"earlier subscription to {sub.provider.name} (Stripe invoice "
                f"{entry.stripe_invoice_id}). That subscription is being cancelled so it "
                "does not charge again; your current subscription is unchanged.")
        notice = await billing.notify(sub.user, f"pay:{event_id}", text)
        applied.notice_ids += [notice] if notice else []
    applied.outcome = (f"late payment of stray Stripe subscription {stray}: ledger "
                       f"{entry.stripe_invoice_id} gross "
                       f"{billing.amount_text(entry.gross, entry.currency)} under "
                       f"subscription {sub.id} (state "
                       f"{sub.status.value} unchanged); cancelling {stray} at Stripe; "
                       "operator: check whether to refund")
    return applied


async def _invoice_paid(invoice: dict[str, Any], created: int, cause: str, event_id: str,
                        fee_pct: Decimal) -> Applied:
    sub = await _invoice_sub(invoice)
    if sub is None:
        return await _stray_paid(invoice, event_id, fee_pct)
    sub.stripe_subscription_id = sub.stripe_subscription_id or invoice_subscription_id(invoice)
    if int(invoice.get("amount_paid") or 0) == 0:  # a trial's zero invoice: no payment
        await sub.save()
        return Applied(outcome=f"subscription {sub.id}: zero invoice, nothing paid")
    entry, new = await billing.record_payment(invoice, sub, event_id, fee_pct)
    state = StripeState(S.ACTIVE, created, cause, False, entry.period_end)
    applied = await _apply(sub, state)
    if new:
        notice = await billing.payment_notice(sub, event_id, True, entry.gross, entry.currency)
        applied.notice_ids += [notice] if notice else []
    applied.outcome += f"; ledger {entry.stripe_invoice_id} gross {entry.gross}"
    applied.paid_invoice = entry.stripe_invoice_id if new else None
    return applied


async def _invoice_failed(invoice: dict[str, Any], created: int, cause: str, event_id: str,
                          grace: timedelta) -> Applied:
    sub = await _invoice_sub(invoice)
    if sub is None:  # a stray Stripe subscription still dunning: cancel it
        stray = invoice_subscription_id(invoice) if await _stray_owner(invoice) else None
        return Applied(outcome=f"unmatched invoice {invoice.get('id')}"
                               + (f"; cancelling stray {stray} at Stripe" if stray else ""),
                       cancel_stripe=[stray] if stray else [])
    at = billing.timestamp(created) or datetime.now(UTC)
    state = StripeState(S.PAST_DUE, created, cause, False, None, at + grace)
    applied = await _apply(sub, state)
    if sub.status is S.PAST_DUE:
        currency = str(invoice.get("currency", "usd"))
        amount = billing.from_minor_units(int(invoice.get("amount_due") or 0), currency)
        notice = await billing.payment_notice(sub, event_id, False, amount, currency)
        applied.notice_ids += [notice] if notice else []
    return applied


async def record_event(event: dict[str, Any]) -> tuple[StripeEvent, bool]:
    """Store a verified webhook event once by its id; ``(row, newly stored)``.

    A redelivery (same id) returns the stored row and changes nothing. Concurrent
    deliveries of one id both return the single row.
    """
    defaults = {"type": str(event.get("type", ""))[:96], "created": int(event.get("created") or 0),
                "payload": event}
    try:
        return await StripeEvent.get_or_create(defaults, id=str(event["id"]))
    except IntegrityError:
        return await StripeEvent.get(id=str(event["id"])), False

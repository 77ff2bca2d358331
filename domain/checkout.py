"""What users and providers do with billing: pay, cancel, pause, resume, manage, onboard.

Each function takes the ``PaymentGateway`` (Stripe; None when ``STRIPE_SECRET_KEY`` is
unset) and ``BillingConfig``. A state Stripe answers with is applied at once with the
user's action as its cause (``user:cancel`` ...), with its notice when it ends access
(a PENDING Delivery the outbox sweep sends); Stripe's webhook for the same change then
finds nothing newer to apply, and writes no second notice. Errors: ``NotFound``
(provider, subscription), ``NotAllowed`` (priced provider without Stripe or without
payout setup, wrong state, not the owner), and the gateway's ``RetryableError``/``PermanentError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from domain import billing
from domain.billing import DEFAULT_FEE_PCT, DEFAULT_GRACE, StripeState
from domain.billing_models import BillingCustomer, ConnectAccount, SubscriptionTransition
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models import Provider, Role, Subscription, SubscriptionStatus, User
from domain.providers import get_provider
from domain.subscriptions import price_text, subscribe, unsubscribe

S = SubscriptionStatus
CHECKOUT_WINDOW_S = 600  # the same checkout request within 10 minutes -> the same session


@dataclass(frozen=True)
class CheckoutRequest:
    """One Checkout Session to create; ``unit_amount`` in US cents."""

    user_id: int
    provider_slug: str
    provider_name: str
    unit_amount: int
    fee_pct: Decimal
    destination: str
    customer_id: str
    trial_days: int
    success_url: str
    cancel_url: str
    idempotency_key: str
    checkout_ref: str = ""


@dataclass(frozen=True)
class CheckoutSession:
    """A created Checkout Session: its id and the URL to pay at."""

    id: str
    url: str


class PaymentGateway(Protocol):
    """The Stripe calls billing needs (``integrations.stripe_billing.StripeGateway``)."""

    async def create_customer(self, user_id: int, name: str) -> str: ...
    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...
    async def create_account(self, provider_id: int, provider_slug: str) -> str: ...
    async def account_link(self, account_id: str, refresh_url: str,
                           return_url: str) -> str: ...
    async def retrieve_account(self, account_id: str) -> dict[str, Any]: ...
    async def portal_link(self, customer_id: str, return_url: str) -> str: ...
    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]: ...
    async def cancel_subscription(self, subscription_id: str, at_period_end: bool,
                                  comment: str = "") -> dict[str, Any]: ...
    async def pause_subscription(self, subscription_id: str,
                                 paused: bool) -> dict[str, Any]: ...
    async def invoice_fee(self, invoice_id: str) -> tuple[int, str, str] | None: ...


@dataclass(frozen=True)
class BillingConfig:
    """Billing settings: platform fee percent, public base URL of the API, grace."""

    fee_pct: Decimal = DEFAULT_FEE_PCT
    public_base_url: str = "http://127.0.0.1:8000"
    grace: timedelta = DEFAULT_GRACE

    def page(self, name: str) -> str:
        """URL of one of the API's billing pages (success, cancel, return...)."""
        return f"{self.public_base_url}/billing/{name}"


@dataclass(frozen=True)
class CheckoutOutcome:
    """``url`` to pay at, or None when the provider is free and the user is subscribed."""

    subscription: Subscription
    provider: Provider
    url: str | None


def no_stripe(provider: Provider) -> NotAllowed:
    """The refusal for a priced provider when payments are not configured."""
    return NotAllowed(f"{provider.name} costs {price_text(provider)}, and payments are not "
                      "set up on this SignalHub (no Stripe key): it cannot be subscribed to "
                      "yet")


async def checkout_link(user: User, provider_slug: str, gateway: PaymentGateway | None,
                        config: BillingConfig, now: datetime | None = None
                        ) -> CheckoutOutcome:
    """Subscribe to a free provider at once, or a Checkout link for a priced one.

    The subscription row becomes PENDING_PAYMENT until Stripe's events arrive. The
    same request within 10 minutes returns the same session (idempotency key).
    A previous Stripe subscription of the row that Stripe still holds unpaid is
    cancelled first, so the user never has two live Stripe subscriptions of one
    provider (``_end_previous``). Raises ``NotFound`` (provider), ``NotAllowed`` (no
    Stripe, provider without payout setup, already subscribed, paused: resume it),
    gateway errors.
    """
    now = now or datetime.now(UTC)
    provider = await get_provider(provider_slug)
    if Decimal(provider.monthly_price) == 0:
        sub = await subscribe(user, provider.slug)
        return CheckoutOutcome(sub, provider, None)
    if gateway is None:
        raise no_stripe(provider)
    existing = await Subscription.get_or_none(user=user, provider=provider)
    if existing is not None:
        _refuse_if_running(existing, provider, now)
    account = await ConnectAccount.get_or_none(provider=provider)
    if account is None or not account.charges_enabled:
        raise NotAllowed(f"{provider.name} has not finished payout setup (Stripe Connect) "
                         "and cannot take paid subscribers yet")
    if existing is not None and existing.stripe_subscription_id:
        existing = await _end_previous(existing, provider, gateway, now)
    customer_id = await customer_of(user, gateway)
    sub = await _pending(user, provider, existing, now)
    ref = await checkout_ref(sub) or ""
    cents = billing.to_minor_units(Decimal(provider.monthly_price), "usd")
    window = int(now.timestamp()) // CHECKOUT_WINDOW_S
    session = await gateway.create_checkout(CheckoutRequest(
        user_id=user.id, provider_slug=provider.slug, provider_name=provider.name,
        unit_amount=cents, fee_pct=config.fee_pct, destination=account.account_id,
        customer_id=customer_id, trial_days=provider.trial_days,
        success_url=config.page("success") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=config.page("cancel"),
        idempotency_key=f"checkout-{sub.id}-{ref}-{cents}-{window}", checkout_ref=ref))
    return CheckoutOutcome(sub, provider, session.url)


def _refuse_if_running(sub: Subscription, provider: Provider, now: datetime) -> None:
    """``NotAllowed`` for a subscription that still has access, or is paused (resuming
    it, not a second Stripe subscription, is the way back)."""
    if sub.status is S.PAUSED:
        raise NotAllowed(f"your subscription to {provider.name} is paused: resume it in "
                         "/subscriptions")
    if billing.is_entitled_state(sub.status, sub.cancel_at_period_end,
                                 sub.current_period_end, sub.grace_until, now):
        state = sub.status.value.lower().replace("_", " ")
        fix = (": update your card with /subscriptions (Manage billing)"
               if sub.status is S.PAST_DUE else "")
        raise NotAllowed(f"you are already subscribed to {provider.name} ({state}){fix}")


async def _end_previous(sub: Subscription, provider: Provider, gateway: PaymentGateway,
                        now: datetime) -> Subscription:
    """Before a new checkout, make sure the row's previous Stripe subscription cannot
    charge next to the new one. Stripe's current state is read: still unpaid but alive
    (past_due, unpaid, incomplete: the row has no access) -> cancelled at Stripe at once
    (comment ``billing.REPLACED``) and the answer applied (EXPIRED, cause
    ``user:checkout``, no notice: the user is subscribing again); paid or paused at
    Stripe (the row was out of step) -> applied (``schedule:reconcile``) and refused as
    ``_refuse_if_running`` refuses; ended -> nothing. Raises gateway errors (nothing
    changed then)."""
    obj = await gateway.retrieve_subscription(str(sub.stripe_subscription_id))
    if obj.get("status") in billing.UNPAID_ALIVE:
        obj = await gateway.cancel_subscription(str(sub.stripe_subscription_id), False,
                                                billing.REPLACED)
        return await _apply_answer(sub, obj, "user:checkout", notices=False)
    status, at_end = billing.status_of(obj)
    if status is S.PAUSED or billing.is_entitled_state(
            status, at_end, billing.subscription_period_end(obj), None, now):
        sub = await _apply_answer(sub, obj, "schedule:reconcile")
        _refuse_if_running(sub, provider, now)
    return sub


async def customer_of(user: User, gateway: PaymentGateway) -> str:
    """The user's Stripe customer id, created (and stored) the first time."""
    row = await BillingCustomer.get_or_none(user=user)
    if row is None:
        customer_id = await gateway.create_customer(user.id, user.name)
        row, _ = await BillingCustomer.get_or_create({"customer_id": customer_id}, user=user)
    return row.customer_id


async def checkout_ref(sub: Subscription) -> str | None:
    """The reference of ``sub``'s current checkout: the id of its latest ``user:checkout``
    transition (None if it never had one). Checkout sessions carry it in their metadata
    (``checkout_ref``, copied by Stripe onto the subscription and its invoices), so the
    events of an older Stripe subscription of the same user and provider are told apart
    from the new checkout's (``domain.billing_events.find_subscription``)."""
    row = await SubscriptionTransition.filter(subscription_id=sub.id, cause="user:checkout"
                                              ).order_by("-id").first()
    return None if row is None else str(row.id)


async def _pending(user: User, provider: Provider, sub: Subscription | None,
                   now: datetime) -> Subscription:
    if sub is None:
        sub = await Subscription.create(user=user, provider=provider,
                                        status=S.PENDING_PAYMENT,
                                        monthly_price=provider.monthly_price)
        await billing.record_creation(sub, "user:checkout", now)
        return sub
    # A new checkout makes a new Stripe subscription: its events are ordered among
    # themselves (version from 0), and the old one's no longer match (checkout_ref).
    await billing.record_transition(sub, S.PENDING_PAYMENT, "user:checkout", now)
    sub.monthly_price, sub.stripe_subscription_id = provider.monthly_price, None
    sub.cancel_at_period_end, sub.grace_until = False, None
    sub.stripe_version, sub.current_period_end = 0, None
    await sub.save()
    return sub


async def _paid_subscription(user: User, provider_slug: str) -> Subscription:
    provider = await get_provider(provider_slug)
    sub = await Subscription.get_or_none(user=user, provider=provider)
    if sub is None or sub.status in (S.EXPIRED, S.PENDING_PAYMENT):
        raise NotFound(f"you have no subscription to {provider.slug!r}")
    return sub


async def _apply_answer(sub: Subscription, obj: dict[str, Any], cause: str,
                        notices: bool = True) -> Subscription:
    """Apply Stripe's answer to a user action and (``notices``) write the notices of the
    transition."""
    async with in_transaction():
        locked = await billing.lock_subscription(sub.id)
        status, at_end = billing.status_of(obj)
        now = int(datetime.now(UTC).timestamp())
        row = await billing.apply_state(locked, StripeState(
            status, now, cause, at_end, billing.subscription_period_end(obj)), fresh=True)
        if row is not None and notices:
            await billing.lifecycle_notices(locked, row)
    return locked


async def cancel(user: User, provider_slug: str, gateway: PaymentGateway | None,
                 at_period_end: bool = True) -> Subscription:
    """Cancel ``user``'s subscription: a free one at once; a paid one at the end of the
    paid period (signals keep coming until then) or at once. When access ends (at once,
    or later by the schedule) copy trading switches off and the subscriber is told once
    (``billing.record_transition``, ``billing.lifecycle_notices``). Raises ``NotFound``
    (no subscription), ``NotAllowed`` (already cancelled, no Stripe), gateway errors."""
    sub = await _paid_subscription(user, provider_slug)
    if not sub.stripe_subscription_id:
        return await unsubscribe(user, provider_slug)
    if sub.status is S.CANCELLED and (sub.cancel_at_period_end == at_period_end
                                      or not sub.cancel_at_period_end):
        raise NotAllowed("this subscription is already cancelled")
    if gateway is None:
        raise NotAllowed("payments are not set up on this SignalHub (no Stripe key)")
    obj = await gateway.cancel_subscription(sub.stripe_subscription_id, at_period_end)
    return await _apply_answer(sub, obj, "user:cancel")


async def pause(user: User, provider_slug: str, gateway: PaymentGateway | None,
                paused: bool = True) -> Subscription:
    """Pause (``paused``) or resume a paid subscription's billing; a paused subscription
    receives no signals. Raises ``NotFound``, ``NotAllowed`` (free subscription, wrong
    state, no Stripe), gateway errors."""
    sub = await _paid_subscription(user, provider_slug)
    if not sub.stripe_subscription_id or gateway is None:
        raise NotAllowed("only paid subscriptions can be paused or resumed")
    allowed = (S.ACTIVE, S.TRIALING) if paused else (S.PAUSED,)
    if sub.status not in allowed:
        verb = "paused" if paused else "resumed"
        raise NotAllowed(f"a {sub.status.value.lower()} subscription cannot be {verb}")
    obj = await gateway.pause_subscription(sub.stripe_subscription_id, paused)
    return await _apply_answer(sub, obj, "user:pause" if paused else "user:resume")


async def portal_link(user: User, gateway: PaymentGateway | None,
                      config: BillingConfig) -> str:
    """A Stripe customer-portal link (cards, invoices, cancellation) for ``user``.
    Raises ``NotAllowed`` when there is no Stripe or the user never paid."""
    row = await BillingCustomer.get_or_none(user=user)
    if gateway is None or row is None:
        raise NotAllowed("you have no paid subscriptions to manage")
    return await gateway.portal_link(row.customer_id, config.page("return"))


async def onboarding_link(user: User, provider_slug: str | None,
                          gateway: PaymentGateway | None, config: BillingConfig) -> str:
    """Stripe Connect (Express) onboarding link for a provider the user owns (admins:
    any). Creates the connected account the first time. Without ``provider_slug`` the
    user's only provider. Raises ``NotFound``, ``NotAllowed``, gateway errors."""
    provider = await _owned_provider(user, provider_slug)
    if gateway is None:
        raise NotAllowed("payouts are not set up on this SignalHub (no Stripe key)")
    account = await ConnectAccount.get_or_none(provider=provider)
    if account is None:
        account_id = await gateway.create_account(provider.id, provider.slug)
        account, _ = await ConnectAccount.get_or_create({"account_id": account_id},
                                                        provider=provider)
    return await gateway.account_link(account.account_id, config.page("onboarding/refresh"),
                                      config.page("onboarding/return"))


async def _owned_provider(user: User, provider_slug: str | None) -> Provider:
    if provider_slug:
        provider = await get_provider(provider_slug)
        if provider.owner_id != user.id and user.role is not Role.ADMIN:  # type: ignore[attr-defined]
            raise NotAllowed(f"you do not own the provider {provider.slug!r}")
        return provider
    owned = await Provider.filter(owner=user).order_by("id")
    if len(owned) != 1:
        raise NotFound("name the provider: you own " + (
            ", ".join(p.slug for p in owned) if owned else "no provider"))
    return owned[0]


MAX_TRIAL_DAYS = 90


async def set_pricing(user: User, provider_slug: str, monthly_price: Decimal | None = None,
                      trial_days: int | None = None) -> Provider:
    """Change a provider's monthly price (USD, 0–10,000, whole cents; 0 = free) and/or
    trial (0–90 days); omitted values stay. Applies to checkouts from now on; running
    subscriptions keep their price. Raises ``NotFound``, ``NotAllowed`` (not the owner
    or an admin), ``InvalidInput`` (nothing changed then)."""
    provider = await _owned_provider(user, provider_slug)
    if monthly_price is not None:
        if not monthly_price.is_finite() or not 0 <= monthly_price <= 10000:
            raise InvalidInput("monthlyPrice", "must be between 0 and 10000 US dollars")
        if monthly_price != monthly_price.quantize(Decimal("0.01")):
            raise InvalidInput("monthlyPrice", "must be whole cents")
    if trial_days is not None and not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise InvalidInput("trialDays", f"must be 0 to {MAX_TRIAL_DAYS} days")
    if monthly_price is not None:
        provider.monthly_price = monthly_price
    if trial_days is not None:
        provider.trial_days = trial_days
    await provider.save(update_fields=["monthly_price", "trial_days"])
    return provider

"""Subscriptions of users to providers, who is entitled to signals, copy settings.

A free provider (monthly price 0) is subscribed to at once (ACTIVE). A priced one is
paid through a Stripe Checkout link (``domain.checkout``); its lifecycle follows
Stripe's events (``domain.billing``).

Entitlement (who receives a signal or copies it, checked at fan-out, at send time and
at copy execution): ACTIVE, TRIALING, PAST_DUE before its grace deadline, CANCELLED at
period end before the period ends. Nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.billing import notify, record_creation, record_transition
from domain.errors import NotAllowed, NotFound
from domain.models import CopySettings, Provider, Subscription, SubscriptionStatus, User
from domain.providers import get_provider

S = SubscriptionStatus


def entitled_q(now: datetime | None = None, prefix: str = "") -> Q:
    """The entitlement rule as a query filter on subscriptions at ``now`` (default: the
    current UTC time). ``prefix`` (e.g. ``"subscriptions__"``) filters a related model."""
    now = now or datetime.now(UTC)
    p = prefix
    paying: dict[str, Any] = {f"{p}status__in": [S.ACTIVE, S.TRIALING]}
    in_grace: dict[str, Any] = {f"{p}status": S.PAST_DUE, f"{p}grace_until__gt": now}
    paid_up: dict[str, Any] = {f"{p}status": S.CANCELLED, f"{p}cancel_at_period_end": True,
                               f"{p}current_period_end__gt": now}
    return Q(**paying) | Q(**in_grace) | Q(**paid_up)


async def is_entitled(user_id: int, provider_id: int, now: datetime | None = None) -> bool:
    """True if user ``user_id`` may receive (and copy) provider ``provider_id``'s signals
    at ``now`` (default: the current UTC time). One indexed query."""
    return await Subscription.filter(entitled_q(now), user_id=user_id,
                                     provider_id=provider_id).exists()


async def is_entitled_to_event(user_id: int, event_id: int, now: datetime | None = None
                               ) -> bool:
    """True if user ``user_id`` is entitled at ``now`` to the provider of signal event
    ``event_id`` (what a delivery checks at send time). One query."""
    return await Subscription.filter(entitled_q(now), user_id=user_id,
                                     provider__signals__events__id=event_id).exists()


async def entitled_user_ids(provider_id: int, user_ids: list[int] | None = None,
                            now: datetime | None = None) -> set[int]:
    """Ids of the users (of ``user_ids``, or all) entitled to provider ``provider_id`` at
    ``now``. One query."""
    query = Subscription.filter(entitled_q(now), provider_id=provider_id)
    if user_ids is not None:
        query = query.filter(user_id__in=list(user_ids))
    return set(await query.values_list("user_id", flat=True))  # type: ignore[arg-type]


def price_text(provider: Provider) -> str:
    """``$3.00/month`` for a provider's monthly price."""
    return f"${Decimal(provider.monthly_price):.2f}/month"


async def subscribe(user: User, provider_slug: str) -> Subscription:
    """Subscribe ``user`` to a free provider (or re-activate a cancelled subscription).

    Idempotent: subscribing twice returns the same ACTIVE subscription. Creates the
    copy settings row (copy trading off) and, for a new or re-activated subscription, a
    notice to the provider's owner (a PENDING Delivery the outbox sweep sends). Raises
    ``NotFound`` for an unknown provider, ``NotAllowed`` for a priced provider (pay
    through ``domain.checkout.checkout_link``).
    """
    provider = await get_provider(provider_slug)
    if Decimal(provider.monthly_price) > 0:
        raise NotAllowed(f"{provider.name} costs {price_text(provider)}: subscribe with a "
                         f"payment link (/subscribe {provider.slug} in the bot, or "
                         "createCheckoutLink)")
    async with in_transaction():
        sub, created = await Subscription.get_or_create({"monthly_price": Decimal(0)},
                                                        user=user, provider=provider)
        row = None
        if created:
            row = await record_creation(sub, "user:subscribe", datetime.now(UTC))
        elif sub.status is not S.ACTIVE:
            row = await record_transition(sub, S.ACTIVE, "user:subscribe", datetime.now(UTC))
            sub.cancel_at_period_end = False
            await sub.save(update_fields=["status", "cancel_at_period_end", "updated_at"])
        await CopySettings.get_or_create(subscription=sub)
        if row is not None:
            owner = await User.get(id=provider.owner_id)  # type: ignore[attr-defined]
            await notify(owner, f"billing:{row.id}", f"New subscriber: {user.name} "
                                                     f"subscribed to {provider.name} (free).")
    sub.provider = provider
    return sub


async def unsubscribe(user: User, provider_slug: str) -> Subscription:
    """Cancel ``user``'s free subscription at once and switch its copy trading off.

    Raises ``NotFound`` for an unknown provider or when there is no entitled
    subscription, ``NotAllowed`` for a paid one (``domain.checkout.cancel``).
    """
    sub = await active_subscription(user, provider_slug)
    if sub.stripe_subscription_id:
        raise NotAllowed(f"your subscription to {sub.provider.name} is paid: cancel it with "
                         "the Cancel button of /subscriptions (or cancelSubscription)")
    async with in_transaction():
        sub.cancel_at_period_end = False  # at once: access (and copy trading) end now
        await record_transition(sub, S.CANCELLED, "user:unsubscribe", datetime.now(UTC))
        await sub.save(update_fields=["status", "cancel_at_period_end", "updated_at"])
    return sub


async def active_subscription(user: User, provider_slug: str) -> Subscription:
    """``user``'s entitled subscription to the provider; raises ``NotFound`` otherwise."""
    provider = await get_provider(provider_slug)
    sub = await Subscription.filter(entitled_q(), user=user, provider=provider).first()
    if sub is None:
        raise NotFound(f"you are not subscribed to {provider.slug!r}")
    sub.provider = provider
    return sub


async def user_subscriptions(user: User) -> list[Subscription]:
    """All of ``user``'s subscriptions (any status) with provider and copy settings loaded."""
    return await Subscription.filter(user=user).select_related(
        "provider", "copy_settings").order_by("id")


async def may_listen(user: User, provider: Provider) -> bool:
    """True if ``user`` may receive ``provider``'s events: its owner, an admin or a subscriber."""
    if provider.owner_id == user.id or user.role == "admin":  # type: ignore[attr-defined]
        return True
    return await is_entitled(user.id, provider.id)


def __getattr__(name: str) -> Any:
    """``set_copy_trading`` moved to ``domain.copy_settings``; old imports still work."""
    if name == "set_copy_trading":
        from domain.copy_settings import set_copy_trading  # import cycle: it imports us
        return set_copy_trading
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

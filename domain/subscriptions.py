"""Subscriptions of users to providers and their copy-trading settings.

In this release a subscription is ACTIVE or CANCELLED (billing comes later); the
provider's monthly price is informational.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tortoise.transactions import in_transaction

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models import CopySettings, Provider, Subscription, SubscriptionStatus, User
from domain.providers import get_provider
from domain.sizing import CopyLimits, validate_limits


async def subscribe(user: User, provider_slug: str) -> Subscription:
    """Subscribe ``user`` to a provider (or re-activate a cancelled subscription).

    Idempotent: subscribing twice returns the same ACTIVE subscription. Creates the
    copy settings row (copy trading off). Raises ``NotFound`` for an unknown provider.
    """
    provider = await get_provider(provider_slug)
    async with in_transaction():
        sub, _ = await Subscription.get_or_create(user=user, provider=provider)
        if sub.status is not SubscriptionStatus.ACTIVE:
            sub.status = SubscriptionStatus.ACTIVE
            await sub.save(update_fields=["status", "updated_at"])
        await CopySettings.get_or_create(subscription=sub)
    sub.provider = provider
    return sub


async def unsubscribe(user: User, provider_slug: str) -> Subscription:
    """Cancel ``user``'s subscription and switch its copy trading off.

    Raises ``NotFound`` for an unknown provider or when there is no active subscription.
    """
    sub = await active_subscription(user, provider_slug)
    async with in_transaction():
        sub.status = SubscriptionStatus.CANCELLED
        await sub.save(update_fields=["status", "updated_at"])
        await CopySettings.filter(subscription_id=sub.id).update(enabled=False)
    return sub


async def active_subscription(user: User, provider_slug: str) -> Subscription:
    """``user``'s ACTIVE subscription to the provider; raises ``NotFound`` otherwise."""
    provider = await get_provider(provider_slug)
    sub = await Subscription.get_or_none(user=user, provider=provider,
                                         status=SubscriptionStatus.ACTIVE)
    if sub is None:
        raise NotFound(f"you are not subscribed to {provider.slug!r}")
    sub.provider = provider
    return sub


async def set_copy_trading(user: User, provider_slug: str, enabled: bool,
                           scale_factor: object = None, max_position_pct: object = None,
                           max_open_positions: int | None = None) -> CopySettings:
    """Switch copy trading for one subscription on or off and set its limits.

    Omitted (None) limits keep their current values. ``scale_factor`` 0.1–2.0,
    ``max_position_pct`` percent of equity (0–100], ``max_open_positions`` 1–100.
    Raises ``NotAllowed`` without an active subscription, ``InvalidInput`` for a limit
    out of range (nothing is changed then).
    """
    try:
        sub = await active_subscription(user, provider_slug)
    except NotFound as exc:
        raise NotAllowed(f"{exc.message}; subscribe first") from None
    settings, _ = await CopySettings.get_or_create(subscription=sub)
    limits = CopyLimits(
        scale_factor=_decimal("scaleFactor", scale_factor, settings.scale_factor),
        max_position_pct=_decimal("maxPositionPct", max_position_pct,
                                  settings.max_position_pct),
        max_open_positions=(settings.max_open_positions if max_open_positions is None
                            else max_open_positions),
    )
    validate_limits(limits)
    settings.enabled = enabled
    settings.scale_factor, settings.max_position_pct = limits.scale_factor, limits.max_position_pct
    settings.max_open_positions = limits.max_open_positions
    await settings.save()
    return settings


def _decimal(field: str, value: object, current: Decimal) -> Decimal:
    if value is None:
        return Decimal(current)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, f"must be a number, got {value!r}") from None
    if not number.is_finite():
        raise InvalidInput(field, "must be a finite number")
    return number


async def user_subscriptions(user: User) -> list[Subscription]:
    """All of ``user``'s subscriptions (any status) with provider and copy settings loaded."""
    return await Subscription.filter(user=user).select_related(
        "provider", "copy_settings").order_by("id")


async def may_listen(user: User, provider: Provider) -> bool:
    """True if ``user`` may receive ``provider``'s events: its owner, an admin or a subscriber."""
    if provider.owner_id == user.id or user.role == "admin":  # type: ignore[attr-defined]
        return True
    return await Subscription.exists(user=user, provider=provider,
                                     status=SubscriptionStatus.ACTIVE)

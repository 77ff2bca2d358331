"""Wiring of billing: the Stripe gateway and billing settings of a process.

The gateway is built on first use from ``STRIPE_SECRET_KEY``/``STRIPE_API_BASE`` and
kept in ``services.extras`` (one HTTP pool per process); without a key it is None and
priced providers cannot be subscribed to.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.checkout import BillingConfig, PaymentGateway
from signalhub.settings import Settings

GATEWAY = "stripe_gateway"


def billing_config(settings: Settings) -> BillingConfig:
    """``BillingConfig`` from ``PLATFORM_FEE_PCT``, ``PUBLIC_BASE_URL``, ``GRACE_PERIOD_DAYS``."""
    return BillingConfig(fee_pct=settings.platform_fee_pct,
                         public_base_url=settings.public_base_url,
                         grace=timedelta(days=settings.grace_period_days))


def payment_gateway(services: Any) -> PaymentGateway | None:
    """The process's ``StripeGateway`` (created once), or None without ``STRIPE_SECRET_KEY``."""
    settings: Settings = services.settings
    if not settings.stripe_secret_key:
        return None
    if GATEWAY not in services.extras:
        from integrations.stripe_billing import StripeGateway

        services.extras[GATEWAY] = StripeGateway(settings.stripe_secret_key,
                                                 settings.stripe_api_base)
    return services.extras[GATEWAY]  # type: ignore[no-any-return]


async def close_gateway(services: Any) -> None:
    """Close the gateway's HTTP pool if one was opened."""
    gateway = services.extras.pop(GATEWAY, None)
    if gateway is not None:
        await gateway.aclose()

"""Providers: who publishes signals and what a subscription costs (USD per month)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models import Provider, Role, User

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$")


async def create_provider(owner: User, slug: str, name: str, description: str = "",
                          monthly_price: object = "3.00") -> Provider:
    """Create a provider owned by ``owner`` (role provider or admin).

    ``monthly_price`` is USD per month (Decimal, 0–10,000, cents). Raises ``NotAllowed``
    for role user, ``InvalidInput`` for a bad slug/name/price or a slug already taken.
    """
    if owner.role not in (Role.PROVIDER, Role.ADMIN):
        raise NotAllowed("only users with role provider or admin can create providers")
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise InvalidInput("slug", "use 3–48 lowercase letters, digits and dashes")
    if not 1 <= len(name.strip()) <= 80:
        raise InvalidInput("name", "must be 1 to 80 characters")
    price = _price(monthly_price)
    if await Provider.exists(slug=slug):
        raise InvalidInput("slug", f"{slug!r} is already taken")
    return await Provider.create(owner=owner, slug=slug, name=name.strip(),
                                 description=description.strip(), monthly_price=price)


def _price(value: object) -> Decimal:
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput("monthlyPrice", "must be a number of US dollars") from None
    if not price.is_finite() or not Decimal(0) <= price <= Decimal(10000):
        raise InvalidInput("monthlyPrice", "must be between 0 and 10000 US dollars")
    if price != price.quantize(Decimal("0.01")):
        raise InvalidInput("monthlyPrice", "must be whole cents")
    return price


async def get_provider(slug: str) -> Provider:
    """The provider with ``slug``; raises ``NotFound``."""
    provider = await Provider.get_or_none(slug=slug.strip().lower())
    if provider is None:
        raise NotFound(f"no provider with slug {slug!r}")
    return provider


async def list_providers() -> list[Provider]:
    """All providers, ordered by slug."""
    return await Provider.all().order_by("slug")

"""GraphQL billing: checkout links, cancel/pause/resume, portal and onboarding links,
provider earnings and platform revenue by month.

Mutations return their result or a typed error (``graphql_api.errors``); a Stripe
failure (``ExternalServiceError``) is not the caller's mistake and propagates as an
ordinary GraphQL error. Queries raise the caller's errors with ``extensions.code``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from domain import billing, checkout, models
from domain.errors import NotAllowed as DomainNotAllowed
from domain.providers import get_provider
from graphql_api.errors import (
    CALLER_ERRORS,
    NotAllowed,
    NotFound,
    ValidationError,
    error_result,
    raising_api_errors,
)
from graphql_api.mutations import ProviderSubscriptionResult
from graphql_api.types import Provider, ProviderSubscription
from signalhub.billing import billing_config, payment_gateway

SlugArg = Annotated[str, strawberry.argument(description="Provider slug, e.g. `btc-swing`.")]
FromArg = Annotated[datetime, strawberry.argument(
    name="from", description="Start of the range, inclusive (ISO-8601 with offset).")]
ToArg = Annotated[datetime, strawberry.argument(
    description="End of the range, exclusive (ISO-8601 with offset).")]


@strawberry.type(description="Where to pay for a subscription, or the subscription when "
                             "the provider is free (subscribed at once).")
class CheckoutLink:
    url: str | None = strawberry.field(
        description="Stripe Checkout URL to pay at; null when the provider is free and the "
                    "subscription is already ACTIVE.")
    provider: Provider = strawberry.field(description="The provider subscribed to.")
    subscription: ProviderSubscription = strawberry.field(
        description="The subscription: PENDING_PAYMENT until Stripe confirms the payment.")


@strawberry.type(description="A Stripe-hosted page to open (customer portal or Connect "
                             "onboarding). Links expire: ask again when one does.")
class BillingLink:
    url: str = strawberry.field(description="The https URL of the Stripe page.")


@strawberry.type(description="Ledger sums of one calendar month (UTC) in one currency.")
class MonthlyEarnings:
    month: str = strawberry.field(description="The month as YYYY-MM (UTC).")
    currency: str = strawberry.field(description="ISO currency code, lower case (usd).")
    payments: int = strawberry.field(description="Number of payments.")
    gross: Decimal = strawberry.field(description="What subscribers paid, major units.")
    stripe_fees: Decimal = strawberry.field(
        description="Stripe's processing fees known so far (paid by the platform).")
    platform_fees: Decimal = strawberry.field(
        description="The platform's share (application fees, PLATFORM_FEE_PCT of gross).")
    provider_net: Decimal = strawberry.field(
        description="The providers' share: gross minus the platform's share.")

    @classmethod
    def from_total(cls, t: billing.MonthTotal) -> MonthlyEarnings:
        return cls(month=t.month, currency=t.currency, payments=t.payments, gross=t.gross,
                   stripe_fees=t.stripe_fees, platform_fees=t.platform_fees,
                   provider_net=t.provider_net)


@strawberry.type(description="What a provider charges and whether it can take payments.")
class ProviderPricing:
    provider: Provider = strawberry.field(description="The provider.")
    trial_days: int = strawberry.field(description="Free trial of new paid subscriptions, "
                                                   "days (0 = none).")
    accepts_payments: bool = strawberry.field(
        description="True when the provider's Stripe Connect account can take charges "
                    "(onboarding finished); a priced provider without it cannot take paid "
                    "subscribers.")


CheckoutLinkResult = Annotated[
    CheckoutLink | ValidationError | NotAllowed | NotFound,
    strawberry.union("CheckoutLinkResult", description="A checkout link, or why none was "
                                                       "made.")]
ProviderPricingResult = Annotated[
    ProviderPricing | ValidationError | NotAllowed | NotFound,
    strawberry.union("ProviderPricingResult", description="The provider's pricing after the "
                                                          "change, or why nothing changed.")]
BillingLinkResult = Annotated[
    BillingLink | ValidationError | NotAllowed | NotFound,
    strawberry.union("BillingLinkResult", description="A Stripe link, or why none was made.")]


async def _view(subscription_id: int) -> ProviderSubscription:
    sub = await models.Subscription.get(id=subscription_id).select_related("provider")
    settings = await models.CopySettings.get_or_none(subscription_id=subscription_id)
    return ProviderSubscription.from_model(sub, sub.provider, settings)


@strawberry.type(description="Billing mutations.")
class BillingMutation:
    @strawberry.mutation(description=(
        "Subscribe to a provider: a Stripe Checkout link (monthly, USD) for a priced "
        "provider, or an ACTIVE subscription at once for a free one. Errors: NotFound "
        "(provider), NotAllowed (not signed in, already subscribed, payments not set up, "
        "provider without finished payout setup)."))
    async def create_checkout_link(self, info: strawberry.Info, provider_slug: SlugArg
                                   ) -> CheckoutLinkResult:
        services = info.context.services
        try:
            user = info.context.require_user()
            outcome = await checkout.checkout_link(user, provider_slug,
                                                   payment_gateway(services),
                                                   billing_config(services.settings))
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return CheckoutLink(url=outcome.url, provider=Provider.from_model(outcome.provider),
                            subscription=await _view(outcome.subscription.id))

    @strawberry.mutation(description=(
        "Cancel the caller's subscription: a paid one at the end of the paid period "
        "(default; signals continue until currentPeriodEnd) or at once; a free one at "
        "once. Errors: NotFound (provider or subscription), NotAllowed (already "
        "cancelled, not signed in)."))
    async def cancel_subscription(
        self, info: strawberry.Info, provider_slug: SlugArg,
        at_period_end: Annotated[bool, strawberry.argument(
            description="True: run until the period ends; false: end now.")] = True,
    ) -> ProviderSubscriptionResult:
        try:
            user = info.context.require_user()
            sub = await checkout.cancel(user, provider_slug,
                                        payment_gateway(info.context.services), at_period_end)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return await _view(sub.id)

    @strawberry.mutation(description=(
        "Pause billing of a paid ACTIVE or TRIALING subscription (Stripe pause_collection); "
        "a PAUSED subscription receives no signals. Errors: NotFound, NotAllowed (free "
        "or not active, not signed in)."))
    async def pause_subscription(self, info: strawberry.Info, provider_slug: SlugArg
                                 ) -> ProviderSubscriptionResult:
        return await _pause(info, provider_slug, True)

    @strawberry.mutation(description=(
        "Resume billing of a PAUSED subscription: it becomes ACTIVE again. Errors: "
        "NotFound, NotAllowed (not paused, not signed in)."))
    async def resume_subscription(self, info: strawberry.Info, provider_slug: SlugArg
                                  ) -> ProviderSubscriptionResult:
        return await _pause(info, provider_slug, False)

    @strawberry.mutation(description=(
        "A Stripe customer-portal link to manage cards and invoices. Errors: NotAllowed "
        "(never paid, payments not set up, not signed in)."))
    async def billing_portal_link(self, info: strawberry.Info) -> BillingLinkResult:
        services = info.context.services
        try:
            user = info.context.require_user()
            url = await checkout.portal_link(user, payment_gateway(services),
                                             billing_config(services.settings))
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return BillingLink(url=url)

    @strawberry.mutation(description=(
        "A Stripe Connect (Express) onboarding link for one of the caller's providers; "
        "once Stripe enables the account, the provider can take paid subscribers and "
        "receives its share of every payment. Errors: NotFound (provider; the caller "
        "owns several and named none), NotAllowed (not the owner, payouts not set up)."))
    async def provider_onboarding_link(
        self, info: strawberry.Info,
        provider_slug: Annotated[str | None, strawberry.argument(
            description="Provider slug; omit when you own exactly one.")] = None,
    ) -> BillingLinkResult:
        services = info.context.services
        try:
            user = info.context.require_user()
            url = await checkout.onboarding_link(user, provider_slug, payment_gateway(services),
                                                 billing_config(services.settings))
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return BillingLink(url=url)


    @strawberry.mutation(description=(
        "Set a provider's monthly price (US dollars, 0–10000, whole cents; 0 = free) and/or "
        "free trial (0–90 days) for new subscriptions; omitted values stay. Owner or admin. "
        "Errors: ValidationError (monthlyPrice, trialDays), NotFound (provider), NotAllowed "
        "(not yours, not signed in)."))
    async def set_provider_pricing(
        self, info: strawberry.Info, provider_slug: SlugArg,
        monthly_price: Annotated[Decimal | None, strawberry.argument(
            description="US dollars per month.")] = None,
        trial_days: Annotated[int | None, strawberry.argument(
            description="Free trial days of new subscriptions.")] = None,
    ) -> ProviderPricingResult:
        try:
            user = info.context.require_user()
            provider = await checkout.set_pricing(user, provider_slug, monthly_price,
                                                  trial_days)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return ProviderPricing(provider=Provider.from_model(provider),
                               trial_days=provider.trial_days,
                               accepts_payments=await billing.payouts_ready(provider))


async def _pause(info: strawberry.Info, provider_slug: str, paused: bool
                 ) -> ProviderSubscriptionResult:
    try:
        user = info.context.require_user()
        sub = await checkout.pause(user, provider_slug, payment_gateway(info.context.services),
                                   paused)
    except CALLER_ERRORS as exc:
        return error_result(exc)
    return await _view(sub.id)


@strawberry.type(description="Billing queries.")
class BillingQuery:
    @strawberry.field(description=(
        "A provider's earnings by month (payments with from <= paid time < to): gross, "
        "Stripe fees, platform share and the provider's net. Owner or admin only. Errors "
        "(extensions.code): NOT_FOUND (provider), NOT_ALLOWED (not yours, not signed in)."))
    async def provider_earnings(
        self, info: strawberry.Info, from_: FromArg, to: ToArg,
        provider_slug: Annotated[str | None, strawberry.argument(
            description="Provider slug; omit when you own exactly one.")] = None,
    ) -> list[MonthlyEarnings]:
        with raising_api_errors():
            user = info.context.require_user()
            provider = await _earning_provider(user, provider_slug)
            totals = await billing.monthly_totals(from_, to, provider)
        return [MonthlyEarnings.from_total(t) for t in totals]

    @strawberry.field(description=(
        "Platform revenue by month over every provider (payments with from <= paid time "
        "< to). Admins only. Errors (extensions.code): NOT_ALLOWED."))
    async def platform_revenue(self, info: strawberry.Info, from_: FromArg, to: ToArg
                               ) -> list[MonthlyEarnings]:
        with raising_api_errors():
            user = info.context.require_user()
            if user.role is not models.Role.ADMIN:
                raise DomainNotAllowed("platform revenue is for admins only")
            totals = await billing.monthly_totals(from_, to)
        return [MonthlyEarnings.from_total(t) for t in totals]


async def _earning_provider(user: models.User, slug: str | None) -> models.Provider:
    if slug is None:
        owned = await models.Provider.filter(owner=user).order_by("id")
        if len(owned) == 1:
            return owned[0]
        raise DomainNotAllowed("name the provider (providerSlug): you own "
                               f"{len(owned)} providers")
    provider = await get_provider(slug)
    if provider.owner_id != user.id and user.role is not models.Role.ADMIN:  # type: ignore[attr-defined]
        raise DomainNotAllowed(f"you do not own the provider {provider.slug!r}")
    return provider

"""Mutation root: providers, publishing and closing signals, subscriptions.

``setCopyTrading`` lives in ``graphql_api.copy_trading``.

Every mutation returns a union of its result and the typed errors of
``graphql_api.errors``; on an error nothing is stored. A caller without a valid token
gets ``NotAllowed`` (sign in).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry

from domain import models, providers, publishing, subscriptions
from domain.events import event_message
from domain.signals import make_draft
from graphql_api.errors import CALLER_ERRORS, NotAllowed, NotFound, ValidationError, error_result
from graphql_api.types import Provider, ProviderSubscription, Signal, SignalEvent


def _union(name: str, description: str) -> object:
    return strawberry.union(name, description=description)


CreateProviderResult = Annotated[
    Provider | ValidationError | NotAllowed | NotFound,
    _union("CreateProviderResult", "The new provider, or why it was not created.")]
PublishSignalResult = Annotated[
    Signal | ValidationError | NotAllowed | NotFound,
    _union("PublishSignalResult", "The published signal, or why nothing was published.")]
CloseSignalResult = Annotated[
    SignalEvent | ValidationError | NotAllowed | NotFound,
    _union("CloseSignalResult", "The CLOSED event, or why the signal was not closed.")]
ProviderSubscriptionResult = Annotated[
    ProviderSubscription | ValidationError | NotAllowed | NotFound,
    _union("ProviderSubscriptionResult", "The subscription after the change, or why it failed.")]

SlugArg = Annotated[str, strawberry.argument(description="Provider slug, e.g. `btc-swing`.")]


@strawberry.input(description="A new provider.")
class CreateProviderInput:
    slug: str = strawberry.field(description="Unique handle: 3–48 lowercase letters, digits "
                                             "and dashes, not starting or ending with a dash.")
    name: str = strawberry.field(description="Display name, 1–80 characters.")
    description: str = strawberry.field(default="", description="Free text for subscribers.")
    monthly_price: Decimal = strawberry.field(
        default=Decimal("3.00"),
        description="Subscription price in US dollars per month: 0–10000, whole cents.")


@strawberry.input(description="A signal to publish. Prices in quote currency.")
class PublishSignalInput:
    provider_slug: str = strawberry.field(description="Provider to publish for (yours).")
    symbol: str = strawberry.field(description="ccxt unified symbol: BTC/USDT, or "
                                               "BTC/USDT:USDT for a linear perpetual.")
    side: models.Side = strawberry.field(description="BUY (long) or SELL (short).")
    entry_low: Decimal = strawberry.field(description="Entry price, or the lower bound of "
                                                      "an entry zone; > 0.")
    stop_loss: Decimal = strawberry.field(description="Stop-loss: below the entry for BUY, "
                                                      "above it for SELL; > 0.")
    targets: list[Decimal] = strawberry.field(
        description="1–10 take-profit prices beyond the entry: strictly ascending above "
                    "entryHigh for BUY, strictly descending below entryLow for SELL.")
    entry_high: Decimal | None = strawberry.field(
        default=None, description="Upper bound of the entry zone (>= entryLow); omit for a "
                                  "single entry price.")
    leverage: int | None = strawberry.field(default=None, description="Leverage 1–125; omit "
                                                                      "for spot.")
    note: str = strawberry.field(default="", description="Comment, at most 1000 characters.")


@strawberry.type(description="Write operations; each returns its result or a typed error.")
class Mutation:
    @strawberry.mutation(description=(
        "Create a provider owned by the caller (role provider or admin). Errors: "
        "ValidationError (slug, name, monthlyPrice; a slug already taken), NotAllowed "
        "(role user, not signed in)."))
    async def create_provider(
        self, info: strawberry.Info,
        input: Annotated[CreateProviderInput, strawberry.argument(
            description="The provider to create.")],
    ) -> CreateProviderResult:
        try:
            user = info.context.require_user()
            row = await providers.create_provider(user, input.slug, input.name,
                                                  input.description, input.monthly_price)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return Provider.from_model(row)

    @strawberry.mutation(description=(
        "Publish a signal for one of the caller's providers (admins: any). Stores it, "
        "queues its fan-out to subscribers and copy followers and announces a PUBLISHED "
        "event on signalEvents. Errors: ValidationError (the first broken rule: symbol, "
        "entryLow/entryHigh, stopLoss side, targets order and count 1–10, leverage 1–125, "
        "note length), NotFound (provider), NotAllowed (not yours, not signed in)."))
    async def publish_signal(
        self, info: strawberry.Info,
        input: Annotated[PublishSignalInput, strawberry.argument(
            description="The signal to publish.")],
    ) -> PublishSignalResult:
        services = info.context.services
        try:
            user = info.context.require_user()
            draft = make_draft(
                symbol=input.symbol, side=input.side.value, entry_low=input.entry_low,
                entry_high=input.entry_high, stop_loss=input.stop_loss,
                targets=input.targets, leverage=input.leverage, note=input.note)
            market_ts = services.prices.now_ms() if services.prices else 0
            signal = await publishing.publish_signal(user, input.provider_slug, draft,
                                                     services.queue, services.bus,
                                                     market_ts=market_ts)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        state = await models.SignalState.get_or_none(signal_id=signal.id)
        return Signal.from_model(signal, signal.provider, state)

    @strawberry.mutation(description=(
        "Close an open (PENDING or ACTIVE) signal of the caller's provider at the market "
        "price (quote currency, null if the price source has none); followers' paper "
        "positions close with it and a CLOSED event is announced. Errors: NotFound "
        "(signal), NotAllowed (not yours, not signed in), ValidationError (signalId: "
        "already closed)."))
    async def close_signal(
        self, info: strawberry.Info,
        signal_id: Annotated[int, strawberry.argument(description="Id of the signal.")],
        note: Annotated[str, strawberry.argument(
            description="Why it is closed, at most 1000 characters.")] = "",
    ) -> CloseSignalResult:
        services = info.context.services
        try:
            user = info.context.require_user()
            row = await models.Signal.get_or_none(id=signal_id)
            price = (services.prices.last_price(row.symbol)
                     if row is not None and services.prices else None)
            event = await publishing.close_signal(user, signal_id, note, services.queue,
                                                  services.bus, price=price)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        signal = await models.Signal.get(id=signal_id).select_related("provider")
        state = await models.SignalState.get_or_none(signal_id=signal_id)
        return SignalEvent(message=event_message(event, signal, signal.provider, state))

    @strawberry.mutation(description=(
        "Subscribe the caller to a provider's signals (re-activates a cancelled "
        "subscription; idempotent). Copy trading starts switched off. Errors: NotFound "
        "(provider), NotAllowed (not signed in)."))
    async def subscribe(self, info: strawberry.Info, provider_slug: SlugArg
                        ) -> ProviderSubscriptionResult:
        try:
            user = info.context.require_user()
            sub = await subscriptions.subscribe(user, provider_slug)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return await _subscription_view(sub.id)

    @strawberry.mutation(description=(
        "Cancel the caller's subscription and switch its copy trading off. Errors: "
        "NotFound (provider, or no ACTIVE subscription), NotAllowed (not signed in)."))
    async def unsubscribe(self, info: strawberry.Info, provider_slug: SlugArg
                          ) -> ProviderSubscriptionResult:
        try:
            user = info.context.require_user()
            sub = await subscriptions.unsubscribe(user, provider_slug)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return await _subscription_view(sub.id)


async def _subscription_view(subscription_id: int) -> ProviderSubscription:
    sub = await models.Subscription.get(id=subscription_id).select_related("provider")
    settings = await models.CopySettings.get_or_none(subscription_id=subscription_id)
    return ProviderSubscription.from_model(sub, sub.provider, settings)

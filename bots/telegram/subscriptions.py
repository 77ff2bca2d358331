"""/subscribe <slug>, /unsubscribe <slug>, /subscriptions and their buttons.

A free provider is subscribed to at once; a priced one answers with a Stripe Checkout
link (the subscription starts when Stripe's webhook confirms the payment). Without a
Stripe key priced providers cannot be subscribed to, and the reply says so.
/subscriptions lists status and renewal date with Cancel / Pause / Resume buttons and
a customer-portal link for cards and invoices.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bots.telegram import billing_ui, texts
from bots.telegram.billing_ui import BillingAction
from bots.telegram.commands import slug_argument
from domain import checkout
from domain.billing_models import BillingCustomer
from domain.errors import ExternalServiceError
from domain.models import User
from domain.subscriptions import user_subscriptions
from signalhub.billing import billing_config, payment_gateway
from signalhub.bootstrap import Services

log = logging.getLogger(__name__)


async def offer_subscription(message: Message, user: User, slug: str,
                             services: Services) -> str:
    """Subscribe to a free provider, or send the Checkout link of a priced one, in
    ``message``'s chat. Returns a short confirmation for a button's answer. Raises the
    domain's errors (the error router replies with them)."""
    outcome = await checkout.checkout_link(user, slug, payment_gateway(services),
                                           billing_config(services.settings))
    provider = outcome.provider
    if outcome.url is None:
        await message.answer(texts.subscribed(provider, message.chat.type == ChatType.PRIVATE))
        return f"Subscribed to {provider.name}"[:200]
    await message.answer(billing_ui.checkout_text(provider, provider.trial_days),
                         reply_markup=billing_ui.checkout_keyboard(provider, outcome.url))
    return f"Payment link for {provider.name} sent"[:200]


async def subscribe_to_provider(message: Message, command: CommandObject, user: User,
                                services: Services) -> None:
    await offer_subscription(message, user, slug_argument("subscribe", command.args), services)


async def unsubscribe_from_provider(message: Message, command: CommandObject, user: User,
                                    services: Services) -> None:
    slug = slug_argument("unsubscribe", command.args)
    sub = await checkout.cancel(user, slug, payment_gateway(services))
    if sub.cancel_at_period_end:
        await message.answer(f"🛑 {billing_ui.action_done('cancel', sub)}.")
    else:
        await message.answer(texts.unsubscribed(sub.provider))


async def show_subscriptions(message: Message, user: User, services: Services) -> None:
    subs = await user_subscriptions(user)
    portal = await _portal_url(user, services)
    await message.answer(billing_ui.subscriptions_text(subs),
                         reply_markup=billing_ui.subscriptions_keyboard(subs, portal))


async def _portal_url(user: User, services: Services) -> str | None:
    """The customer-portal link, or None (never paid, no Stripe, Stripe unreachable)."""
    gateway = payment_gateway(services)
    if gateway is None or not await BillingCustomer.exists(user=user):
        return None
    try:
        return await checkout.portal_link(user, gateway, billing_config(services.settings))
    except ExternalServiceError as exc:
        log.warning("no portal link for user %s: %s", user.id, exc.message)
        return None


async def press_billing_action(query: CallbackQuery, callback_data: BillingAction, user: User,
                               services: Services) -> None:
    """Cancel (at period end), pause or resume; answers the press, refreshes the list."""
    gateway = payment_gateway(services)
    slug, action = callback_data.slug, callback_data.action
    if action == "cancel":
        sub = await checkout.cancel(user, slug, gateway)
    else:
        sub = await checkout.pause(user, slug, gateway, paused=action == "pause")
    await query.answer(billing_ui.action_done(action, sub))
    if query.message is not None and isinstance(query.message, Message):
        subs = await user_subscriptions(user)
        await query.message.edit_text(
            billing_ui.subscriptions_text(subs),
            reply_markup=billing_ui.subscriptions_keyboard(subs, await _portal_url(user,
                                                                                   services)))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(subscribe_to_provider, Command("subscribe"))
    router.message.register(unsubscribe_from_provider, Command("unsubscribe"))
    router.message.register(show_subscriptions, Command("subscriptions"))
    router.callback_query.register(press_billing_action, BillingAction.filter())
    return router

"""/payouts [slug]: a provider's Stripe Connect onboarding link (paid subscribers, payouts)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import billing_ui
from bots.telegram.commands import UsageError
from domain import checkout
from domain.models import User
from signalhub.billing import billing_config, payment_gateway
from signalhub.bootstrap import Services


async def send_onboarding_link(message: Message, command: CommandObject, user: User,
                               services: Services) -> None:
    words = (command.args or "").split()
    if len(words) > 1:
        raise UsageError("/payouts takes at most one provider slug, e.g. /payouts rsi-demo")
    url = await checkout.onboarding_link(user, words[0].lower() if words else None,
                                         payment_gateway(services),
                                         billing_config(services.settings))
    await message.answer(billing_ui.payouts_text(url),
                         reply_markup=billing_ui.link_keyboard("🏦 Set up payouts", url))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(send_onboarding_link, Command("payouts"))
    return router

"""/providers: the provider list, paged, with a Subscribe button per provider."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bots.telegram import keyboards, texts
from bots.telegram.callbacks import ProvidersPage, SubscribeCallback
from bots.telegram.subscriptions import offer_subscription
from domain.models import User
from domain.providers import list_providers
from signalhub.bootstrap import Services


async def show_providers(message: Message) -> None:
    page = keyboards.paginate(await list_providers(), 0)
    await message.answer(texts.providers_text(page.items, page.number, page.count),
                         reply_markup=keyboards.providers_keyboard(page))


async def turn_providers_page(query: CallbackQuery, callback_data: ProvidersPage,
                              message: Message) -> None:
    page = keyboards.paginate(await list_providers(), callback_data.page)
    await message.edit_text(texts.providers_text(page.items, page.number, page.count),
                            reply_markup=keyboards.providers_keyboard(page))
    await query.answer()


async def subscribe_from_button(query: CallbackQuery, callback_data: SubscribeCallback,
                                user: User, services: Services) -> None:
    """Subscribes the presser (free provider) or sends a Checkout link (priced one) in
    the chat; answers the press (``bots.telegram.subscriptions.offer_subscription``)."""
    if not isinstance(query.message, Message):
        await query.answer("Send /subscribe " + callback_data.slug)
        return
    await query.answer(await offer_subscription(query.message, user, callback_data.slug,
                                                services))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(show_providers, Command("providers"))
    router.callback_query.register(turn_providers_page, ProvidersPage.filter(),
                                   F.message.as_("message"))
    router.callback_query.register(subscribe_from_button, SubscribeCallback.filter())
    return router

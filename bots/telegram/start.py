"""/start (greeting, or a provider's card from a deep link ``/start <slug>``, or linking
from ``/start link_<code>``) and /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bots.telegram import keyboards, link, texts
from domain.models import User
from domain.providers import get_provider


async def show_linked_provider(message: Message, command: CommandObject) -> None:
    """``t.me/<bot>?start=<slug>``: the provider's card with a Subscribe button."""
    provider = await get_provider(command.args or "")
    await message.answer(texts.provider_card(provider),
                         reply_markup=keyboards.provider_card_keyboard(provider))


async def greet(message: Message, user: User) -> None:
    await message.answer(texts.greeting(user.name))


async def show_help(message: Message) -> None:
    await message.answer(texts.help_text())


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(link.link_by_deep_link,
                            CommandStart(deep_link=True,
                                         magic=F.args.startswith(link.LINK_PREFIX)),
                            F.chat.type == ChatType.PRIVATE)
    router.message.register(show_linked_provider, CommandStart(deep_link=True))
    router.message.register(greet, CommandStart())
    router.message.register(show_help, Command("help"))
    return router

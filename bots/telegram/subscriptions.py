"""/subscribe <slug>, /unsubscribe <slug> and /subscriptions."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import texts
from bots.telegram.commands import slug_argument
from domain.models import User
from domain.subscriptions import subscribe, unsubscribe, user_subscriptions


async def subscribe_to_provider(message: Message, command: CommandObject, user: User) -> None:
    sub = await subscribe(user, slug_argument("subscribe", command.args))
    await message.answer(texts.subscribed(sub.provider, message.chat.type == ChatType.PRIVATE))


async def unsubscribe_from_provider(message: Message, command: CommandObject,
                                    user: User) -> None:
    sub = await unsubscribe(user, slug_argument("unsubscribe", command.args))
    await message.answer(texts.unsubscribed(sub.provider))


async def show_subscriptions(message: Message, user: User) -> None:
    await message.answer(texts.subscriptions_text(await user_subscriptions(user)))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(subscribe_to_provider, Command("subscribe"))
    router.message.register(unsubscribe_from_provider, Command("unsubscribe"))
    router.message.register(show_subscriptions, Command("subscriptions"))
    return router

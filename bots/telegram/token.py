"""/token: a new API token, issued only in a private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import Message

from bots.telegram import texts
from domain.models import User
from domain.users import issue_token


async def send_token(message: Message, user: User) -> None:
    await message.answer(texts.token_issued(await issue_token(user)))


async def refuse_token_outside_private_chat(message: Message) -> None:
    await message.answer(texts.TOKEN_PRIVATE_ONLY)


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(send_token, Command("token"), F.chat.type == ChatType.PRIVATE)
    router.message.register(refuse_token_outside_private_chat, Command("token"))
    return router

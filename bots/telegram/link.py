"""/link: show a one-time code (to enter in Discord or the API), or /link <code> to use one.

A code can also arrive as a deep link, ``t.me/<bot>?start=link_<code>`` (registered by
``bots.telegram.start``, whose deep-link handler would otherwise read it as a slug;
``_`` never occurs in a provider slug).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import chat_texts
from bots.telegram.middlewares import private_chat_id
from domain.linking import issue_code, redeem_code
from domain.linking_models import Platform
from domain.models import User


async def link_accounts(message: Message, command: CommandObject, user: User) -> None:
    """No argument: a new code for this account. With a code: link this Telegram account."""
    if not command.args:
        await message.answer(chat_texts.link_code_issued(
            await issue_code(user, Platform.TELEGRAM)))
        return
    sender = message.from_user
    assert sender is not None  # the user middleware drops updates without a sender
    result = await redeem_code(command.args, Platform.TELEGRAM, platform_user_id=sender.id,
                               chat_id=private_chat_id(sender, message.chat))
    await message.answer(chat_texts.linked(result))


LINK_PREFIX = "link_"


async def link_by_deep_link(message: Message, command: CommandObject, user: User) -> None:
    """``/start link_<code>`` from a deep link: the same as ``/link <code>``."""
    args = (command.args or "").removeprefix(LINK_PREFIX)
    await link_accounts(message, CommandObject(prefix="/", command="link", args=args), user)


async def refuse_link_outside_private_chat(message: Message) -> None:
    await message.answer(chat_texts.LINK_PRIVATE_ONLY)


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(link_accounts, Command("link"), F.chat.type == ChatType.PRIVATE)
    router.message.register(refuse_link_outside_private_chat, Command("link"))
    return router

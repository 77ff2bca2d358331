"""Last router: any command no other router took, and any private message, get the help.

In groups only commands are answered (``/cmd`` or ``/cmd@<this bot>``, never a command
addressed to another bot), so the bot does not talk over people.
"""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import texts


async def answer_unknown_command(message: Message, command: CommandObject) -> None:
    await message.answer(texts.unknown_command(command.command))


async def answer_anything_else(message: Message) -> None:
    await message.answer(texts.help_text())


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(answer_unknown_command, Command(re.compile(r".+")))
    router.message.register(answer_anything_else, F.chat.type == ChatType.PRIVATE)
    return router

"""/copy on|off <slug> [scale=0.5] [max_pct=10] [max_open=5]: paper copy trading."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import texts
from bots.telegram.commands import parse_copy
from domain.models import User
from domain.subscriptions import set_copy_trading


async def set_copying(message: Message, command: CommandObject, user: User) -> None:
    request = parse_copy(command.args)
    settings = await set_copy_trading(
        user, request.slug, request.enabled, scale_factor=request.scale_factor,
        max_position_pct=request.max_position_pct,
        max_open_positions=request.max_open_positions)
    await message.answer(texts.copy_settings(request.slug, settings))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(set_copying, Command("copy"))
    return router

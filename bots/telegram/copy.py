"""/copy on|off <slug> [scale=0.5] [max_pct=10] [max_open=5] [max_loss=5 ...]: copy trading.

Every option of ``commands.LIMIT_OPTIONS`` may be given; /risk shows and changes them.
"""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bots.telegram import texts
from bots.telegram.commands import parse_copy
from bots.telegram.risk_texts import limits_summary
from domain.copy_settings import copy_limits, set_copy_trading
from domain.models import User


async def set_copying(message: Message, command: CommandObject, user: User) -> None:
    request = parse_copy(command.args)
    settings = await set_copy_trading(user, request.slug, request.enabled,
                                      **request.changes())
    text = texts.copy_settings(request.slug, settings)
    if settings.enabled:
        text += (f"\n{limits_summary(copy_limits(settings))}\n"
                 f"All limits: /risk {html.quote(request.slug)}")
    await message.answer(text)


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(set_copying, Command("copy"))
    return router

"""/risk <slug> [changes]: show and change copy risk limits (inline buttons); /pnl [days]."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bots.telegram.commands import parse_days, parse_risk
from bots.telegram.risk_texts import (
    STEPS,
    RiskCallback,
    pnl_text,
    risk_keyboard,
    risk_text,
    stepped,
)
from domain.copy_settings import copy_limits, get_copy_settings, set_copy_trading
from domain.models import CopySettings, User
from domain.portfolio import load_pnl


async def show_risk(message: Message, command: CommandObject, user: User) -> None:
    """Shows the limits; with ``name=value`` options, changes them first (all or none)."""
    request = parse_risk(command.args)
    if request.changes:
        settings = await set_copy_trading(user, request.slug, None, **dict(request.changes))
    else:
        settings = await get_copy_settings(user, request.slug)
    text, keyboard = _view(request.slug, settings)
    await message.answer(text, reply_markup=keyboard)


async def press_risk_button(query: CallbackQuery, callback_data: RiskCallback, user: User,
                            message: Message) -> None:
    """Applies one step or switch; a refused value is answered with an alert by the
    error router and changes nothing."""
    slug = callback_data.slug
    settings = await get_copy_settings(user, slug)
    if callback_data.op == "=":
        _, label, _ = STEPS.get(callback_data.code, ("", "limit", None))
        await query.answer(f"{label}: use − and + to change it")
        return
    change = stepped(copy_limits(settings), settings.enabled, callback_data.code,
                     callback_data.op)
    enabled = change.pop("enabled", None)
    settings = await set_copy_trading(user, slug, enabled,  # type: ignore[arg-type]
                                      **change)
    text, keyboard = _view(slug, settings)
    await message.edit_text(text, reply_markup=keyboard)
    await query.answer("Saved")


async def show_pnl(message: Message, command: CommandObject, user: User) -> None:
    summary = await load_pnl(user.id, parse_days(command.args), datetime.now(UTC))
    await message.answer(pnl_text(summary))


def _view(slug: str, settings: CopySettings) -> tuple[str, InlineKeyboardMarkup]:
    limits = copy_limits(settings)
    return (risk_text(slug, limits, settings.enabled),
            risk_keyboard(slug, limits, settings.enabled))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(show_risk, Command("risk"))
    router.message.register(show_pnl, Command("pnl"))
    router.callback_query.register(press_risk_button, RiskCallback.filter(),
                                   F.message.as_("message"))
    return router

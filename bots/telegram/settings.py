"""/settings (which signal events arrive, with a button per kind) and /quiet (quiet hours)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bots.telegram import chat_texts
from bots.telegram.chat_callbacks import NotifyToggle, QuietOff
from bots.telegram.chat_commands import quiet_arguments
from bots.telegram.chat_keyboards import settings_keyboard
from domain.models import User
from domain.notifications import clear_quiet_hours, preferences, set_quiet_hours, toggle_kind


async def show_settings(message: Message, user: User) -> None:
    prefs = await preferences(user)
    await message.answer(chat_texts.settings_text(prefs), reply_markup=settings_keyboard(prefs))


async def set_quiet(message: Message, command: CommandObject, user: User) -> None:
    request = quiet_arguments(command.args)
    if request.off:
        prefs = await clear_quiet_hours(user)
    else:
        prefs = await set_quiet_hours(user, request.start, request.end, request.zone)
    await message.answer(chat_texts.settings_text(prefs), reply_markup=settings_keyboard(prefs))


async def toggle(query: CallbackQuery, callback_data: NotifyToggle, user: User,
                 message: Message) -> None:
    prefs = await toggle_kind(user, callback_data.kind)
    on = callback_data.kind not in prefs.muted_kinds
    await query.answer("On" if on else "Off")
    await message.edit_text(chat_texts.settings_text(prefs), reply_markup=settings_keyboard(prefs))


async def quiet_off(query: CallbackQuery, user: User, message: Message) -> None:
    prefs = await clear_quiet_hours(user)
    await query.answer("Quiet hours off")
    await message.edit_text(chat_texts.settings_text(prefs), reply_markup=settings_keyboard(prefs))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(show_settings, Command("settings"))
    router.message.register(set_quiet, Command("quiet"))
    router.callback_query.register(toggle, NotifyToggle.filter(), F.message.as_("message"))
    router.callback_query.register(quiet_off, QuietOff.filter(), F.message.as_("message"))
    return router

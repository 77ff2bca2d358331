"""Callback data of the bot's inline buttons (at most 64 bytes once packed)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class SubscribeCallback(CallbackData, prefix="sub"):
    """Subscribe the presser to the provider ``slug``."""

    slug: str


class ProvidersPage(CallbackData, prefix="providers"):
    """Show page ``page`` (0-based) of the provider list in the same message."""

    page: int

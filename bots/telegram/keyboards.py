"""Inline keyboards and paging of the provider list: pure builders, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.telegram.callbacks import ProvidersPage, SubscribeCallback
from domain.models import Provider

PROVIDERS_PER_PAGE = 8
BUTTON_NAME_CHARS = 40

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` of page ``number`` (0-based) out of ``count`` pages (at least 1)."""

    items: list[T]
    number: int
    count: int


def paginate(items: Sequence[T], number: int, size: int = PROVIDERS_PER_PAGE) -> Page[T]:
    """Page ``number`` of ``items``; a number out of range is clamped to the nearest page."""
    count = max(1, -(-len(items) // size))
    number = min(max(number, 0), count - 1)
    return Page(list(items[number * size:(number + 1) * size]), number, count)


def subscribe_button_text(provider: Provider) -> str:
    """``Subscribe · <name>``, the name cut to fit a button."""
    name = provider.name
    if len(name) > BUTTON_NAME_CHARS:
        name = name[:BUTTON_NAME_CHARS - 1] + "…"
    return f"➕ Subscribe · {name}"


def providers_keyboard(page: Page[Provider]) -> InlineKeyboardMarkup | None:
    """One Subscribe button per provider of ``page``, then ◀/▶ buttons when there are pages."""
    builder = InlineKeyboardBuilder()
    for provider in page.items:
        builder.button(text=subscribe_button_text(provider),
                       callback_data=SubscribeCallback(slug=provider.slug))
    sizes = [1] * len(page.items)
    navigation = page_buttons(page)
    for text, number in navigation:
        builder.button(text=text, callback_data=ProvidersPage(page=number))
    if navigation:
        sizes.append(len(navigation))
    if not sizes:
        return None
    builder.adjust(*sizes)
    return builder.as_markup()


def page_buttons(page: Page[T]) -> list[tuple[str, int]]:
    """(text, page number) of the ◀ previous / next ▶ buttons that apply."""
    buttons = []
    if page.number > 0:
        buttons.append(("◀ Previous", page.number - 1))
    if page.number < page.count - 1:
        buttons.append(("Next ▶", page.number + 1))
    return buttons


def provider_card_keyboard(provider: Provider) -> InlineKeyboardMarkup:
    """The Subscribe button under a provider's card."""
    builder = InlineKeyboardBuilder()
    builder.button(text=subscribe_button_text(provider),
                   callback_data=SubscribeCallback(slug=provider.slug))
    return builder.as_markup()

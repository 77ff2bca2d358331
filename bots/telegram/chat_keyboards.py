"""Inline keyboards of drafts, channels and notification settings: pure builders."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bots.telegram.chat_callbacks import (
    ChannelModeChoice,
    ChannelProviderChoice,
    DraftAction,
    DraftStep,
    FormAnswer,
    NotifyToggle,
    QuietOff,
)
from domain.linking_models import ChannelSource, NotificationPreferences, SourceMode
from domain.models import Provider
from domain.notifications import EVENT_LABELS


def draft_keyboard(post_id: int, ready: bool) -> InlineKeyboardMarkup:
    """Publish / Edit / Cancel under a preview; without Publish while it cannot be published."""
    builder = InlineKeyboardBuilder()
    if ready:
        builder.button(text="✅ Publish", callback_data=DraftAction(step=DraftStep.PUBLISH,
                                                                   post_id=post_id))
    builder.button(text="✏️ Edit", callback_data=DraftAction(step=DraftStep.EDIT,
                                                            post_id=post_id))
    builder.button(text="✖️ Cancel", callback_data=DraftAction(step=DraftStep.CANCEL,
                                                              post_id=post_id))
    builder.adjust(3 if ready else 2)
    return builder.as_markup()


def settings_keyboard(prefs: NotificationPreferences) -> InlineKeyboardMarkup:
    """One on/off button per event kind (two a row), then "quiet hours off" if set."""
    builder = InlineKeyboardBuilder()
    muted = set(prefs.muted_kinds or [])
    for kind, label in EVENT_LABELS.items():
        mark = "🔕" if kind.value in muted else "🔔"
        builder.button(text=f"{mark} {label}", callback_data=NotifyToggle(kind=kind.value))
    sizes = [2] * (len(EVENT_LABELS) // 2) + [1] * (len(EVENT_LABELS) % 2)
    if prefs.quiet_start is not None and prefs.quiet_end is not None:
        builder.button(text="🌙 Quiet hours off", callback_data=QuietOff())
        sizes.append(1)
    builder.adjust(*sizes)
    return builder.as_markup()


def channel_keyboard(source: ChannelSource) -> InlineKeyboardMarkup:
    """Mode buttons (the current one marked) and Remove for one channel source."""
    builder = InlineKeyboardBuilder()
    for mode, label in ((SourceMode.AUTO, "publish automatically"),
                        (SourceMode.CONFIRM, "ask me first")):
        mark = "● " if source.mode is mode else ""
        builder.button(text=f"{mark}{label}",
                       callback_data=ChannelModeChoice(source_id=source.id, mode=mode.value))
    builder.button(text="Remove", callback_data=ChannelModeChoice(source_id=source.id,
                                                                  mode="remove"))
    builder.adjust(2, 1)
    return builder.as_markup()


def channel_provider_keyboard(chat_id: int, providers: list[Provider]) -> InlineKeyboardMarkup:
    """One button per provider the channel could feed."""
    builder = InlineKeyboardBuilder()
    for provider in providers[:20]:
        builder.button(text=provider.name[:40],
                       callback_data=ChannelProviderChoice(chat_id=chat_id,
                                                           provider_id=provider.id))
    builder.adjust(1)
    return builder.as_markup()


def form_keyboard(post_id: int, choices: tuple[str, ...]) -> InlineKeyboardMarkup | None:
    """One-tap answers of a form question (none: the answer is typed)."""
    if not choices:
        return None
    builder = InlineKeyboardBuilder()
    for choice in choices:
        builder.button(text=choice, callback_data=FormAnswer(post_id=post_id, value=choice))
    builder.adjust(len(choices))
    return builder.as_markup()

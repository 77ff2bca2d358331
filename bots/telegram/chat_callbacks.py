"""Callback data of the buttons of linking, publishing, channels and settings (≤ 64 bytes)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class DraftStep(StrEnum):
    PUBLISH = "publish"
    EDIT = "edit"
    CANCEL = "cancel"


class DraftAction(CallbackData, prefix="draft"):
    """Publish, edit or cancel the draft ``post_id`` (a ``PendingPost``)."""

    step: DraftStep
    post_id: int


class NotifyToggle(CallbackData, prefix="ntf"):
    """Switch delivery of one event kind (``EventKind`` value) on or off."""

    kind: str


class QuietOff(CallbackData, prefix="quiet"):
    """Remove the presser's quiet hours."""

    off: bool = True


class ChannelModeChoice(CallbackData, prefix="chan"):
    """Set channel source ``source_id`` to ``mode`` (auto, confirm) or ``remove`` it."""

    source_id: int
    mode: str


class ChannelProviderChoice(CallbackData, prefix="chanp"):
    """Make channel ``chat_id`` a source of provider ``provider_id`` (confirm mode)."""

    chat_id: int
    provider_id: int


class FormAnswer(CallbackData, prefix="form"):
    """A one-tap answer (LONG, SHORT, skip) to the /publish form of draft ``post_id``."""

    post_id: int
    value: str

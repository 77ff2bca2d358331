"""The one error router: turns failures of handlers into replies.

    UsageError                      -> the text saying what to type instead
    DomainError (not external)      -> its message (NotFound, NotAllowed, InvalidInput, ...)
    anything else, ExternalServiceError included
                                    -> logged with its traceback; "try again in a minute"

A message gets a reply in its chat; a button press gets an alert (at most 200 chars).
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery, ErrorEvent, Message

from bots.telegram import texts
from bots.telegram.commands import UsageError
from domain.errors import DomainError, ExternalServiceError

log = logging.getLogger(__name__)
ALERT_CHARS = 200


def user_message(exc: Exception) -> str | None:
    """Plain text of a failure the user caused and can fix; None for any other failure."""
    if isinstance(exc, UsageError):
        return exc.text
    if isinstance(exc, DomainError) and not isinstance(exc, ExternalServiceError):
        return exc.message
    return None


def reply_for(exc: Exception) -> str:
    """Telegram HTML telling the user what went wrong."""
    message = user_message(exc)
    if message is None:
        return texts.FAILURE
    return texts.usage(message) if isinstance(exc, UsageError) else texts.error(message)


def alert_for(exc: Exception) -> str:
    """Plain text for a callback alert (no HTML there), at most 200 characters."""
    text = user_message(exc) or "Something went wrong on our side. Please try again in a minute."
    return text if len(text) <= ALERT_CHARS else text[:ALERT_CHARS - 1] + "…"


def log_unexpected(event: ErrorEvent) -> None:
    if user_message(event.exception) is None:
        log.error("update %s failed", event.update.update_id, exc_info=event.exception)


async def reply_to_failed_message(event: ErrorEvent, message: Message) -> None:
    log_unexpected(event)
    await message.answer(reply_for(event.exception))


async def alert_failed_button(event: ErrorEvent, query: CallbackQuery) -> None:
    log_unexpected(event)
    await query.answer(alert_for(event.exception), show_alert=True)


async def log_failed_update(event: ErrorEvent) -> None:
    log_unexpected(event)


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.error.register(reply_to_failed_message, F.update.message.as_("message"))
    router.error.register(alert_failed_button, F.update.callback_query.as_("query"))
    router.error.register(log_failed_update)
    return router

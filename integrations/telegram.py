"""Telegram sender: the one home of aiogram's Bot on the sending side.

``TelegramSender`` implements ``domain.ports.MessageSender`` and translates aiogram's
exceptions into the domain's error tree:

    TelegramRetryAfter (429)                  -> RetryableError(retry_after=seconds)
    TelegramNetworkError, TelegramServerError -> RetryableError
    TelegramForbiddenError (403, blocked)     -> PermanentError
    TelegramBadRequest (400, incl. chat not found, can't parse entities)
                                              -> PermanentError with the description
    TelegramMigrateToChat, TelegramEntityTooLarge -> PermanentError
    TelegramUnauthorizedError, TelegramNotFound (bad token or API URL), other API
    errors                                    -> RetryableError: the bot's configuration
                                                 is at fault, not the recipient
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import LinkPreviewOptions

from domain.errors import (
    ExternalServiceError,
    PermanentError,
    RecipientUnreachable,
    RetryableError,
)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def make_bot(token: str, api_base: str | None = None) -> Bot:
    """An aiogram ``Bot`` with HTML as default parse mode.

    ``api_base`` (e.g. ``http://127.0.0.1:8081`` for a local Bot API server or a test
    fake) replaces ``https://api.telegram.org``. The caller closes ``bot.session``.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base \
        else AiohttpSession()
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


class TelegramSender:
    """Sends HTML messages through one ``Bot``; owns and closes its session in ``aclose``."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_html(self, chat_id: int, html: str, silent: bool = False) -> None:
        """Send ``html`` (Telegram HTML, at most 4096 characters of text) without link preview.

        ``silent`` sends it with ``disable_notification`` (no sound: quiet hours).
        Raises ``RetryableError`` (``retry_after`` in seconds when Telegram gave it) or
        ``PermanentError`` (blocked, chat not found, malformed message); see the module
        docstring for the full mapping.
        """
        try:
            await self.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML,
                                        link_preview_options=_NO_PREVIEW,
                                        disable_notification=True if silent else None)
        except TelegramAPIError as exc:
            raise translate_error(exc) from exc

    async def aclose(self) -> None:
        """Close the bot's HTTP session; the sender is unusable afterwards."""
        await self.bot.session.close()


def translate_error(exc: TelegramAPIError) -> ExternalServiceError:
    """The domain error for an aiogram API error (mapping in the module docstring)."""
    if isinstance(exc, TelegramRetryAfter):
        return RetryableError(f"Telegram flood control: retry after {exc.retry_after} s",
                              retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return RecipientUnreachable(f"Telegram refused the chat: {exc.message}")
    if isinstance(exc, TelegramMigrateToChat):
        return PermanentError(f"group moved to supergroup {exc.migrate_to_chat_id}")
    if isinstance(exc, TelegramBadRequest) and "chat not found" in exc.message.lower():
        return RecipientUnreachable(f"Telegram: {exc.message}")
    if isinstance(exc, TelegramBadRequest | TelegramEntityTooLarge):
        return PermanentError(f"Telegram rejected the message: {exc.message}")
    if isinstance(exc, TelegramNetworkError | TelegramServerError):
        return RetryableError(f"Telegram unreachable: {exc.message}")
    return RetryableError(f"Telegram API error ({type(exc).__name__}): {exc.message}")

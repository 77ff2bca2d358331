"""Middleware that injects the SignalHub ``user`` of whoever sent a message or pressed a button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser

from domain.users import telegram_user

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def private_chat_id(sender: TelegramUser, chat: Chat | None) -> int:
    """The sender's private chat with the bot, where personal messages go.

    In a private chat that is the chat itself; from a group it is the sender's own id
    (Telegram's private chat id equals the user id), so a command typed in a group never
    sends someone's signals into that group.
    """
    if chat is not None and chat.type == ChatType.PRIVATE:
        return chat.id
    return sender.id


class UserMiddleware(BaseMiddleware):
    """Resolves or creates the sender's user (``domain.users.telegram_user``) as ``user``.

    One read per handled update (plus one write for a new user or a changed chat).
    Updates without a human sender (bots, anonymous group admins) are dropped: every
    handler of the bot acts for a user.
    """

    async def __call__(self, handler: Handler, event: TelegramObject,
                       data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None or sender.is_bot:
            return None
        chat: Chat | None = data.get("event_chat")
        data["user"] = await telegram_user(sender.id, private_chat_id(sender, chat),
                                           sender.full_name.strip())
        return await handler(event, data)

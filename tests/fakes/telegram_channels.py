"""The fake Bot API with channels, forum topics and chat membership.

``FakeTelegramChannelsApi`` extends ``FakeTelegramApi`` with ``getChat`` and
``getChatMember`` (answering from the channels and admins a test declares with
``add_channel``) and builds real-shaped Updates: ``channel_post``,
``edited_channel_post``, ``my_chat_member`` (the bot promoted to admin or removed),
edited private messages and messages in forum topics. Shapes follow the Bot API
(``accepted_gift_types`` and the story/welcome rights are required by aiogram 3.31).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.fakes.telegram_api import FakeTelegramApi, Reply, _bad, _ok, utf16_len

ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
    "can_delete_messages": True, "can_manage_video_chats": True,
    "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
    "can_invite_users": True, "can_post_stories": True, "can_edit_stories": True,
    "can_delete_stories": True, "can_send_welcome_messages": True,
    "can_post_messages": True, "can_edit_messages": True,
}


class FakeTelegramChannelsApi(FakeTelegramApi):
    """``FakeTelegramApi`` plus channels: ``add_channel`` declares one and its admins."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels: dict[int, dict[str, Any]] = {}
        self.channel_admins: dict[int, set[int]] = {}
        self._post_ids = itertools.count(100)
        self._handlers["getchat"] = self._get_chat
        self._handlers["getchatmember"] = self._get_chat_member

    def add_channel(self, chat_id: int, title: str, username: str, admins: set[int]) -> None:
        """Declare channel ``chat_id`` (``@username``) administered by ``admins``."""
        self.channels[chat_id] = {"id": chat_id, "type": "channel", "title": title,
                                  "username": username}
        self.channel_admins[chat_id] = set(admins)

    def channel_post(self, chat_id: int, text: str, *, message_id: int | None = None,
                     edited: bool = False, reply_to: int | None = None) -> dict[str, Any]:
        """An Update with a (edited) post of channel ``chat_id``, not queued."""
        chat = self.channels[chat_id]
        post: dict[str, Any] = {
            "message_id": message_id or next(self._post_ids), "sender_chat": chat,
            "chat": chat, "date": int(time.time()), "text": text,
        }
        if edited:
            post["edit_date"] = int(time.time())
        if reply_to is not None:
            post["reply_to_message"] = {"message_id": reply_to, "sender_chat": chat,
                                        "chat": chat, "date": int(time.time()), "text": "…"}
        key = "edited_channel_post" if edited else "channel_post"
        return {"update_id": next(self._update_ids), key: post}

    def bot_promoted(self, chat_id: int, by_user: int, *, removed: bool = False
                     ) -> dict[str, Any]:
        """A ``my_chat_member`` Update: ``by_user`` made the bot admin of (or removed it
        from) channel ``chat_id``."""
        bot = {**self._bot_user(self._token), "is_bot": True}
        new = ({"user": bot, "status": "left"} if removed
               else {"user": bot, "status": "administrator", **ADMIN_RIGHTS})
        old = ({"user": bot, "status": "administrator", **ADMIN_RIGHTS} if removed
               else {"user": bot, "status": "left"})
        member = {"chat": self.channels[chat_id], "from": self._user(by_user),
                  "date": int(time.time()), "old_chat_member": old, "new_chat_member": new}
        return {"update_id": next(self._update_ids), "my_chat_member": member}

    def edited_message_update(self, user_id: int, message_id: int, text: str
                              ) -> dict[str, Any]:
        """An Update with the user's private message ``message_id`` edited to ``text``."""
        message: dict[str, Any] = {
            "message_id": message_id, "from": self._user(user_id), "chat": self._chat(user_id),
            "date": int(time.time()) - 5, "edit_date": int(time.time()), "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return {"update_id": next(self._update_ids), "edited_message": message}

    def topic_message(self, user_id: int, chat_id: int, thread_id: int, text: str
                      ) -> dict[str, Any]:
        """An Update with a message in forum topic ``thread_id`` of supergroup ``chat_id``."""
        update = self.message_update(user_id, text, chat_id)
        message = update["message"]
        message["chat"] = {**message["chat"], "is_forum": True}
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        return update

    def _chat_of(self, params: dict[str, Any]) -> dict[str, Any] | None:
        key = params.get("chat_id")
        if isinstance(key, str) and key.startswith("@"):
            return next((c for c in self.channels.values() if c["username"] == key[1:]), None)
        try:
            return self.channels.get(int(key))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    def _get_chat(self, token: str, params: dict[str, Any]) -> Reply:
        chat = self._chat_of(params)
        if chat is None:
            return _bad("chat not found")
        return _ok({**chat, "accent_color_id": 0, "max_reaction_count": 11,
                    "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                            "unique_gifts": False,
                                            "premium_subscription": False,
                                            "gifts_from_channels": False}})

    def _get_chat_member(self, token: str, params: dict[str, Any]) -> Reply:
        chat = self._chat_of(params)
        if chat is None:
            return _bad("chat not found")
        user_id = int(params["user_id"])
        if user_id in self.channel_admins.get(chat["id"], set()):
            return _ok({"user": self._user(user_id), "status": "administrator",
                        **ADMIN_RIGHTS})
        return _ok({"user": self._user(user_id), "status": "left"})

"""A fake Telegram Bot API server on loopback, for tests and benchmarks.

aiogram talks to it unmodified::

    async with FakeTelegramApi() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot("123456:TEST", session=session)
        api.push_update(api.message_update(user_id=42, text="/start"))

Requests are ``POST /bot{token}/{method}`` with urlencoded or multipart form bodies;
nested objects arrive as JSON strings and are decoded into ``ApiCall.params``.
Answers are ``{"ok": true, "result": ...}`` or Telegram's error bodies, with the
HTTP status equal to ``error_code`` as the real server does.

Text sent with ``parse_mode=HTML`` is checked like Telegram checks it: only
Telegram's tags, balanced, and every bare ``<``, ``>`` or ``&`` escaped; otherwise
400 "Bad Request: can't parse entities: ...". The returned ``Message.text`` is the
plain text (no ``entities`` are reported). The 4096 limit is counted on that text
in UTF-16 code units.

Not thread-safe: call the helpers from the event loop that runs the server.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.web_request import FileField

T = TypeVar("T")
Reply = tuple[int, dict[str, Any]]

MAX_TEXT_UTF16 = 4096
ANY_CHAT = "*"
_STRING_PARAMS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
    "description", "short_description", "name", "title", "query", "language_code",
    "business_connection_id", "message_effect_id", "secret_token",
})
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "code", "pre", "blockquote", "tg-emoji",
})
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class ApiCall:
    """One request the fake answered; ``at`` is ``time.monotonic()`` seconds on arrival."""

    method: str
    params: dict[str, Any]
    token: str
    at: float
    status: int


@dataclass(frozen=True)
class SentMessage:
    """A successful sendMessage: ``text`` is the source as sent (HTML included)."""

    chat_id: int | str
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    message: dict[str, Any]


@dataclass
class _Failure:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class HtmlEntityError(ValueError):
    """Text is not valid Telegram HTML; the message mirrors Telegram's description."""


def error_body(status: int, description: str | None = None,
               retry_after: int | None = None) -> dict[str, Any]:
    """Telegram's error body for ``status``; 429 carries ``parameters.retry_after`` (s)."""
    if status == 429:
        wait = 1 if retry_after is None else retry_after
        return {"ok": False, "error_code": 429,
                "description": description or f"Too Many Requests: retry after {wait}",
                "parameters": {"retry_after": wait}}
    text = description or _DESCRIPTIONS.get(status, "Bad Request")
    return {"ok": False, "error_code": status, "description": text}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    return len(text.encode("utf-16-le")) // 2


def html_to_text(source: str) -> str:
    """Plain text of Telegram HTML ``source``; raises ``HtmlEntityError`` like the API would."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char == "<":
            pos = _consume_tag(source, pos, stack)
        elif char == "&":
            match = _ENTITY_RE.match(source, pos)
            if match is None:
                raise HtmlEntityError(f"Character entity expected at {_at(source, pos)}")
            out.append(html.unescape(match.group()))
            pos = match.end()
        elif char == ">":
            raise HtmlEntityError(f'Unexpected ">" at {_at(source, pos)}')
        else:
            out.append(char)
            pos += 1
    if stack:
        raise HtmlEntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _consume_tag(source: str, pos: int, stack: list[str]) -> int:
    match = _TAG_RE.match(source, pos)
    name = match.group(2).lower() if match else ""
    if match is None or name not in _HTML_TAGS:
        raise HtmlEntityError(f'Unsupported start tag "{name}" at {_at(source, pos)}')
    if not match.group(1):
        stack.append(name)
    elif not stack or stack.pop() != name:
        raise HtmlEntityError(f"Unexpected end tag at {_at(source, pos)}")
    return match.end()


def _at(source: str, pos: int) -> str:
    return f"byte offset {len(source[:pos].encode())}"


def _decode_value(key: str, value: Any) -> Any:
    if isinstance(value, FileField):
        return {"filename": value.filename, "data": value.file.read()}
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> dict[str, Any]:
    """Form fields of ``request`` (urlencoded or multipart), JSON values decoded."""
    form = await request.post()
    return {key: _decode_value(key, value) for key, value in form.items()}


def _ok(result: Any) -> Reply:
    return 200, {"ok": True, "result": result}


def _bad(description: str) -> Reply:
    return 400, error_body(400, f"Bad Request: {description}")


class FakeTelegramApi:
    """The Bot API on ``127.0.0.1:<free port>``; every call is recorded in ``calls``.

    ``respond_delay_s`` (seconds, changeable at any time) delays every answer but
    getUpdates, whose long poll waits up to its own ``timeout`` seconds.
    """

    def __init__(self, *, respond_delay_s: float = 0.0, host: str = "127.0.0.1",
                 port: int = 0, bot_username: str = "signalhub_test_bot") -> None:
        self.respond_delay_s = respond_delay_s
        self.bot_username = bot_username
        self.calls: list[ApiCall] = []
        self.my_commands: dict[str, list[dict[str, Any]]] = {}
        self.base_url = ""
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._token = "1:TEST"
        self._closing = False
        self._changed = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self._sent: list[SentMessage] = []
        self._messages: dict[tuple[Any, Any], dict[str, Any]] = {}
        self._incoming: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.deleted: list[tuple[Any, Any]] = []  # (chat_id, message_id) of deleteMessage
        self._users: dict[int, dict[str, Any]] = {}
        self._failures: dict[int | str, deque[_Failure]] = {}
        self._blocked: set[int | str] = set()
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Any]] = {
            "getme": self._get_me, "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text, "deletemessage": self._delete_message,
            "getupdates": self._get_updates, "setmycommands": self._set_my_commands,
            "answercallbackquery": self._true, "deletewebhook": self._delete_webhook,
            "sendchataction": self._true, "close": self._true, "logout": self._true,
            "deletemycommands": self._true, "editmessagereplymarkup": self._edit_reply_markup,
            "getwebhookinfo": self._get_webhook_info,
        }

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> str:
        """Bind and serve; returns ``base_url`` (``http://127.0.0.1:<port>``)."""
        app = web.Application()
        app.router.add_route("POST", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        return self.base_url

    async def close(self) -> None:
        """Answer pending long polls with ``[]`` and stop serving; idempotent."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- test helpers ----------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for getUpdates (``update_id`` assigned if missing); returns it."""
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._notify()
        return update

    def message_update(self, user_id: int, text: str, chat_id: int | None = None, *,
                       first_name: str | None = None, username: str | None = None,
                       language_code: str = "en") -> dict[str, Any]:
        """A real-shaped Update with a text message from ``user_id`` (not queued).

        The chat is the user's private chat unless ``chat_id`` names another (a
        negative id is a supergroup). Text starting with '/' gets a bot_command entity.
        """
        user = self._user(user_id, first_name, username, language_code)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "from": user,
            "chat": self._chat(user_id if chat_id is None else chat_id), "date": _now(),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        self._incoming[(message["chat"]["id"], message["message_id"])] = message
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, user_id: int, data: str, message_id: int | None = None,
                        chat_id: int | None = None) -> dict[str, Any]:
        """A real-shaped Update with a callback query (a button press), not queued.

        The query's message is the bot's message ``message_id`` in ``chat_id`` (default:
        the user's private chat), or the last message the bot sent there; if none is
        known a placeholder bot message is used.
        """
        chat = user_id if chat_id is None else chat_id
        query = {
            "id": str(next(self._callback_ids)), "from": self._user(user_id),
            "chat_instance": str(chat), "data": data,
            "message": self._message_for_callback(chat, message_id),
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    def sent_messages(self, chat_id: int | str | None = None) -> list[SentMessage]:
        """Successful sendMessage calls, oldest first, optionally to one chat only."""
        return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of ``method`` (case-insensitive), oldest first."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        Re-checked after every call the fake answers and at least every 50 ms.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            await self._wait_changed(min(remaining, 0.05))
        return result

    def fail_next(self, chat_id: int | str | None, status: int = 429, retry_after: int = 1,
                  description: str | None = None) -> None:
        """Fail the next call carrying ``chat_id`` (None: any chat) with ``status``.

        429 answers "Too Many Requests: retry after N" with ``parameters.retry_after``
        (seconds); 403 "Forbidden: bot was blocked by the user"; 400 "Bad Request: chat
        not found"; ``description`` overrides. Calls queue up: one failure per call.
        """
        key = ANY_CHAT if chat_id is None else chat_id
        failure = _Failure(status, error_body(status, description, retry_after))
        self._failures.setdefault(key, deque()).append(failure)

    def block(self, chat_id: int | str) -> None:
        """Every later call to ``chat_id`` answers 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int | str) -> None:
        """Undo ``block``."""
        self._blocked.discard(chat_id)

    # -- plumbing --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        token, method = request.match_info["token"], request.match_info["method"]
        self._token = token
        params = await read_params(request)
        if self.respond_delay_s > 0 and method.lower() != "getupdates":
            await asyncio.sleep(self.respond_delay_s)
        status, body = await self._dispatch(token, method, params)
        self.calls.append(ApiCall(method, params, token, arrived, status))
        self._notify()
        return web.json_response(body, status=status)

    async def _dispatch(self, token: str, method: str, params: dict[str, Any]) -> Reply:
        handler = self._handlers.get(method.lower())
        if handler is None:
            return 404, error_body(404)
        failure = self._injected_failure(params.get("chat_id"))
        if failure is not None:
            return failure.status, failure.body
        result = handler(token, params)
        return await result if asyncio.iscoroutine(result) else result

    def _injected_failure(self, chat_id: int | str | None) -> _Failure | None:
        if chat_id is None:
            return None
        for key in (chat_id, ANY_CHAT):
            queue = self._failures.get(key)
            if queue:
                return queue.popleft()
        if chat_id in self._blocked:
            return _Failure(403, error_body(403))
        return None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_changed(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    def _bot_user(self, token: str) -> dict[str, Any]:
        prefix = token.split(":", 1)[0]
        return {"id": int(prefix) if prefix.isdigit() else 1, "is_bot": True,
                "first_name": "SignalHub Test", "username": self.bot_username}

    def _user(self, user_id: int, first_name: str | None = None, username: str | None = None,
              language_code: str = "en") -> dict[str, Any]:
        known = self._users.get(user_id)
        if known is None or first_name or username:
            known = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}",
                     "username": username or f"user{user_id}", "language_code": language_code}
            self._users[user_id] = known
        return known

    def _chat(self, chat_id: int | str) -> dict[str, Any]:
        if isinstance(chat_id, int) and chat_id > 0:
            user = self._user(chat_id)
            return {"id": chat_id, "type": "private", "first_name": user["first_name"],
                    "username": user["username"]}
        numeric = chat_id if isinstance(chat_id, int) else -1001000000000
        return {"id": numeric, "type": "supergroup", "title": f"Group {chat_id}"}

    def _message_for_callback(self, chat_id: int, message_id: int | None) -> dict[str, Any]:
        if message_id is None:
            mine = [m for m in self._sent if m.chat_id == chat_id]
            message_id = mine[-1].message_id if mine else None
        stored = self._messages.get((chat_id, message_id)) if message_id else None
        if stored is not None:
            return stored
        return {"message_id": message_id or next(self._message_ids),
                "from": self._bot_user(self._token), "chat": self._chat(chat_id), "date": _now(),
                "text": "..."}

    # -- methods ---------------------------------------------------------------------

    def _true(self, token: str, params: dict[str, Any]) -> Reply:
        return _ok(True)

    def _delete_webhook(self, token: str, params: dict[str, Any]) -> Reply:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return _ok(True)

    def _get_me(self, token: str, params: dict[str, Any]) -> Reply:
        return _ok({**self._bot_user(token), "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False})

    def _get_webhook_info(self, token: str, params: dict[str, Any]) -> Reply:
        return _ok({"url": "", "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)})

    def _set_my_commands(self, token: str, params: dict[str, Any]) -> Reply:
        scope = params.get("scope") or {"type": "default"}
        self.my_commands[json.dumps(scope, sort_keys=True)] = params.get("commands") or []
        return _ok(True)

    def _send_message(self, token: str, params: dict[str, Any]) -> Reply:
        chat_id, source = params.get("chat_id"), params.get("text")
        if chat_id is None:
            return _bad("chat_id is empty")
        reply = self._plain_text(source, params.get("parse_mode"))
        if isinstance(reply, tuple):
            return reply
        message_id = next(self._message_ids)
        message = {"message_id": message_id, "from": self._bot_user(token),
                   "chat": self._chat(chat_id), "date": _now(), "text": reply}
        _set_markup(message, params.get("reply_markup"))
        self._messages[(chat_id, message_id)] = message
        self._sent.append(SentMessage(chat_id, message_id, source or "",
                                      params.get("parse_mode"), params.get("reply_markup"),
                                      params, message))
        return _ok(message)

    def _stored(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return self._messages.get((params.get("chat_id"), params.get("message_id") or 0))

    def _edit_message_text(self, token: str, params: dict[str, Any]) -> Reply:
        stored = self._stored(params)
        if stored is None:
            return _bad("message to edit not found")
        reply = self._plain_text(params.get("text"), params.get("parse_mode"))
        if isinstance(reply, tuple):
            return reply
        markup = params.get("reply_markup")
        if reply == stored["text"] and markup == stored.get("reply_markup"):
            return _bad("message is not modified: specified new message content and reply "
                        "markup are exactly the same as a current content and reply markup "
                        "of the message")
        stored.update(text=reply, edit_date=_now())
        _set_markup(stored, markup)
        return _ok(stored)

    def _edit_reply_markup(self, token: str, params: dict[str, Any]) -> Reply:
        stored = self._stored(params)
        if stored is None:
            return _bad("message to edit not found")
        _set_markup(stored, params.get("reply_markup"))
        stored["edit_date"] = _now()
        return _ok(stored)

    def _delete_message(self, token: str, params: dict[str, Any]) -> Reply:
        """Deletes a bot message, or a user's message (bots may in private chats)."""
        key = (params.get("chat_id"), params.get("message_id") or 0)
        if self._messages.pop(key, None) is None and self._incoming.pop(key, None) is None:
            return _bad("message to delete not found")
        self.deleted.append(key)
        return _ok(True)

    def _plain_text(self, source: str | None, parse_mode: str | None) -> str | Reply:
        text = source or ""
        if parse_mode and parse_mode.lower() == "html":
            try:
                text = html_to_text(text)
            except HtmlEntityError as exc:
                return _bad(f"can't parse entities: {exc}")
        if not text.strip():
            return _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT_UTF16:
            return _bad("message is too long")
        return text

    async def _get_updates(self, token: str, params: dict[str, Any]) -> Reply:
        offset, limit = params.get("offset"), params.get("limit") or 100
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self._acknowledge(offset)
            remaining = deadline - time.monotonic()
            if self._updates or self._closing or remaining <= 0:
                return _ok(self._updates[:limit])
            await self._wait_changed(remaining)

    def _acknowledge(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]


def _set_markup(message: dict[str, Any], markup: Any) -> None:
    """Messages echo inline keyboards only, as Telegram does."""
    message.pop("reply_markup", None)
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup


def _now() -> int:
    return int(time.time())

"""A fake Discord REST API (v10) on loopback, for tests; discord.py talks to it unmodified.

Point ``discord.http.Route.BASE`` at ``api.api_base`` (``http://127.0.0.1:<port>/api/v10``)
and every REST call of discord.py goes here, interaction callbacks and webhooks included::

    async with FakeDiscordApi(token=TOKEN) as api:
        Route.BASE = api.api_base

Served routes, with Discord's request and response shapes (plus a gateway at
``/gateway``: HELLO, IDENTIFY → READY, heartbeats, and ``dispatch`` to push events such
as INTERACTION_CREATE; point ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` at
``api.gateway_url``):

    GET    /users/@me                              the bot user (login)
    GET    /oauth2/applications/@me                the application (Client.login)
    POST   /channels/{channel}/messages            create a message (content, embeds;
                                                   a repeated ``nonce`` with
                                                   ``enforce_nonce`` returns the first)
    PATCH  /channels/{channel}/messages/{message}  edit a message
    POST   /users/@me/channels                     open a DM channel ({"recipient_id"})
    PUT    /applications/{app}/commands            register the global slash commands
    PUT    /guilds/{guild}/members/{user}/roles/{role}   give a member a role (204)
    DELETE /guilds/{guild}/members/{user}/roles/{role}   take it back (204)
    POST   /interactions/{id}/{token}/callback     answer an interaction (?with_response)
    POST   /webhooks/{app}/{token}                 interaction follow-up message
    PATCH  /webhooks/{app}/{token}/messages/@original   edit the original response

Every answer has ``Content-Type: application/json`` exactly (discord.py reads the body
as text otherwise), per-route ``X-RateLimit-*`` headers and Discord's error bodies
(``{"message": ..., "code": ...}``). What can be injected: a deleted channel (404,
code 10003), a lost permission (403, code 50013) or missing access (403, 50001), a user
who does not accept DMs (403, 50007), a deleted message (404, 10008), and one-off 429s
(``retry_after``, ``global``, ``X-RateLimit-*`` and ``Via`` headers as Discord sends
them) or 5xx answers. Embeds are checked against Discord's limits (400, code 50035).
A wrong token gets 401.

Not thread-safe: use it from the event loop that runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
ERRORS = {
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10007: (404, "Unknown Member"),
    10011: (404, "Unknown Role"),
    10008: (404, "Unknown Message"),
    50001: (403, "Missing Access"),
    50007: (403, "Cannot send messages to this user"),
    50013: (403, "Missing Permissions"),
}
EMBED_LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024,
                "footer": 2048, "author": 256, "fields": 25, "total": 6000}


@dataclass(frozen=True)
class ApiCall:
    """One request the fake answered: route name, path, JSON body, query and status."""

    route: str
    method: str
    path: str
    body: Any
    query: dict[str, str]
    status: int
    at: float


@dataclass
class _Injected:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeDiscordApi:
    """The fake server; ``messages``, ``calls``, ``commands`` and ``callbacks`` record state.

    ``messages[channel_id][message_id]`` is the current message object (after edits).
    ``callbacks`` holds the JSON bodies of interaction callbacks, ``followups`` the
    follow-up messages, ``commands`` the last registered command list.
    """

    def __init__(self, token: str = "fake-bot-token", application_id: int = 1100000000000000001,
                 bot_id: int = 1100000000000000002, latency_s: float = 0.0) -> None:
        self.token = token
        self.latency_s = latency_s  # added to every REST answer (benchmarks: Discord's RTT)
        self.application_id = application_id
        self.bot_user = {"id": str(bot_id), "username": "SignalHub", "discriminator": "0",
                         "global_name": "SignalHub", "avatar": None, "bot": True,
                         "flags": 0, "public_flags": 0, "verified": True}
        self.messages: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.dm_channels: dict[int, int] = {}
        self.calls: list[ApiCall] = []
        self.commands: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.followups: list[dict[str, Any]] = []
        self.channel_errors: dict[int, int] = {}
        self.dm_refused: set[int] = set()
        self._injected: dict[str, list[_Injected]] = defaultdict(list)
        self._nonces: dict[tuple[int, str], int] = {}
        self.guild_roles: dict[int, set[int]] = defaultdict(set)
        self.guild_members: dict[int, set[int]] = defaultdict(set)
        self.member_roles: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._ids = itertools.count(1200000000000000000)
        self.identify: dict[str, Any] | None = None
        self.identified = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscordApi:
        app = web.Application(middlewares=[self._record])
        p = API_PREFIX
        app.router.add_get("/gateway", self._gateway, name="gateway")
        app.router.add_get(p + "/users/@me", self._me, name="get_me")
        app.router.add_get(p + "/oauth2/applications/@me", self._app_info, name="app_info")
        app.router.add_post(p + "/channels/{channel}/messages", self._create, name="create_message")
        app.router.add_patch(p + "/channels/{channel}/messages/{message}", self._edit,
                             name="edit_message")
        app.router.add_post(p + "/users/@me/channels", self._open_dm, name="create_dm")
        app.router.add_put(p + "/applications/{app}/commands", self._register, name="commands")
        app.router.add_put(p + "/guilds/{guild}/members/{user}/roles/{role}", self._role,
                           name="add_role")
        app.router.add_delete(p + "/guilds/{guild}/members/{user}/roles/{role}", self._role,
                              name="remove_role")
        app.router.add_post(p + "/interactions/{id}/{token}/callback", self._callback,
                            name="interaction_callback")
        app.router.add_post(p + "/webhooks/{app}/{token}", self._followup, name="followup")
        app.router.add_patch(p + "/webhooks/{app}/{token}/messages/@original", self._edit_original,
                             name="edit_original")
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def gateway_url(self) -> str:
        """The fake gateway (set ``DiscordWebSocket.DEFAULT_GATEWAY`` to it)."""
        return self.base_url.replace("http://", "ws://") + "/gateway"

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one gateway dispatch (op 0, e.g. ``INTERACTION_CREATE``) to every session."""
        self._seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        for ws in list(self._sockets):
            await ws.send_str(frame)

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` (and ``DISCORD_API_BASE``) should be."""
        return self.base_url + API_PREFIX

    # -- injection ------------------------------------------------------------------
    def delete_channel(self, channel_id: int) -> None:
        """Requests to ``channel_id`` get 404 Unknown Channel (10003) from now on."""
        self.channel_errors[channel_id] = 10003

    def revoke_permission(self, channel_id: int, code: int = 50013) -> None:
        """Requests to ``channel_id`` (or a server's role routes, by its id) get 403
        (50013 Missing Permissions or 50001 Missing Access)."""
        self.channel_errors[channel_id] = code

    def add_guild(self, guild_id: int, roles: list[int], members: list[int]) -> None:
        """A server with ``roles`` and ``members`` (role changes to others get 404)."""
        self.guild_roles[guild_id].update(roles)
        self.guild_members[guild_id].update(members)

    def roles_of(self, guild_id: int, user_id: int) -> set[int]:
        """The roles member ``user_id`` holds in ``guild_id``."""
        return set(self.member_roles[guild_id, user_id])

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Someone deleted the message: editing it gets 404 Unknown Message (10008)."""
        del self.messages[channel_id][message_id]

    def refuse_dms(self, user_id: int) -> None:
        """Messages to ``user_id``'s DM channel get 403 (50007)."""
        self.dm_refused.add(user_id)

    def fail_next(self, route: str, status: int = 429, *, times: int = 1,
                  retry_after: float = 0.05, is_global: bool = False) -> None:
        """The next ``times`` requests of ``route`` (e.g. ``create_message``) get ``status``.

        429 answers carry Discord's body (``retry_after`` seconds, ``global``) and headers
        (``Retry-After``, ``X-RateLimit-*``, ``Via``); 5xx answers a plain error body.
        """
        for _ in range(times):
            if status == 429:
                self._injected[route].append(_too_many(retry_after, is_global))
            else:
                self._injected[route].append(_Injected(status, {"message": "Server Error",
                                                                "code": 0}))

    # -- reading ----------------------------------------------------------------------
    def calls_to(self, route: str) -> list[ApiCall]:
        """The recorded requests of one route name, oldest first."""
        return [c for c in self.calls if c.route == route]

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Current messages of a channel in the order they were created."""
        return list(self.messages[channel_id].values())

    def dms_to(self, user_id: int) -> list[dict[str, Any]]:
        """Messages sent to ``user_id``'s DM channel."""
        channel = self.dm_channels.get(user_id)
        return [] if channel is None else self.channel_messages(channel)

    # -- handlers ---------------------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.name or "unknown"
        raw = await request.read()
        body = json.loads(raw) if raw and request.content_type == "application/json" else None
        response = await self._answer(request, route, handler)
        self.calls.append(ApiCall(route, request.method, request.path, body,
                                  dict(request.query), response.status, time.monotonic()))
        return response

    async def _answer(self, request: web.Request, route: str, handler: Any
                      ) -> web.StreamResponse:
        if self.latency_s and route != "gateway":
            await asyncio.sleep(self.latency_s)
        webhook = route in ("interaction_callback", "followup", "edit_original", "gateway")
        if not webhook and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if self._injected.get(route):
            failure = self._injected[route].pop(0)
            return _json(failure.body, failure.status, failure.headers)
        return await handler(request)  # type: ignore[no-any-return]

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """Gateway v10 (JSON text frames): HELLO, IDENTIFY → READY, heartbeat → ACK."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None,
                            "t": None})
        try:
            async for frame in ws:
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif message["op"] == 2:
                    await self._ready(ws, message["d"])
        finally:
            self._sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        if identify.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify = identify
        self._seq += 1
        await ws.send_json({"op": 0, "t": "READY", "s": self._seq, "d": {
            "v": 10, "user": self.bot_user, "guilds": [], "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url, "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "user_settings": {}}})
        self.identified.set()

    async def _me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user)

    async def _app_info(self, request: web.Request) -> web.Response:
        return _json({"id": str(self.application_id), "name": "SignalHub", "icon": None,
                      "description": "Trading signals", "bot_public": True,
                      "bot_require_code_grant": False, "verify_key": "0" * 64,
                      "owner": self.bot_user, "flags": 0, "team": None,
                      "summary": "", "rpc_origins": [], "bot": self.bot_user})

    async def _create(self, request: web.Request) -> web.Response:
        channel = int(request.match_info["channel"])
        refused = self._refusal(channel)
        if refused is not None:
            return refused
        body = await request.json()
        invalid = _invalid_message(body)
        if invalid is not None:
            return invalid
        nonce = body.get("nonce") if body.get("enforce_nonce") else None
        if nonce is not None and (channel, nonce) in self._nonces:
            return _json(self.messages[channel][self._nonces[channel, nonce]],
                         headers=_bucket_headers(f"channel-{channel}"))
        message = self._message(channel, body)
        self.messages[channel][int(message["id"])] = message
        if nonce is not None:
            self._nonces[channel, nonce] = int(message["id"])
        return _json(message, headers=_bucket_headers(f"channel-{channel}"))

    async def _edit(self, request: web.Request) -> web.Response:
        channel, mid = int(request.match_info["channel"]), int(request.match_info["message"])
        refused = self._refusal(channel)
        if refused is not None:
            return refused
        if mid not in self.messages[channel]:
            return _error(10008)
        body = await request.json()
        invalid = _invalid_message(body)
        if invalid is not None:
            return invalid
        message = self.messages[channel][mid]
        message.update({k: body[k] for k in ("content", "embeds", "components") if k in body})
        message["edited_timestamp"] = _now()
        return _json(message, headers=_bucket_headers(f"channel-{channel}"))

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["recipient_id"])
        channel = self.dm_channels.setdefault(user_id, next(self._ids))
        if user_id in self.dm_refused:
            self.channel_errors[channel] = 50007
        recipient = {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
                     "global_name": None, "avatar": None}
        return _json({"id": str(channel), "type": 1, "last_message_id": None,
                      "recipients": [recipient], "flags": 0})

    async def _register(self, request: web.Request) -> web.Response:
        if int(request.match_info["app"]) != self.application_id:
            return _json({"message": "Unknown Application", "code": 10002}, 404)
        commands = await request.json()
        self.commands = [{**c, "id": str(next(self._ids)),
                          "application_id": str(self.application_id), "version": "1",
                          "default_member_permissions": c.get("default_member_permissions"),
                          "type": c.get("type", 1)} for c in commands]
        return _json(self.commands)

    async def _role(self, request: web.Request) -> web.Response:
        guild, user = int(request.match_info["guild"]), int(request.match_info["user"])
        role = int(request.match_info["role"])
        refused = self._refusal(guild)
        if refused is not None:
            return refused
        if guild not in self.guild_roles:
            return _error(10004)
        if role not in self.guild_roles[guild]:
            return _error(10011)
        if user not in self.guild_members[guild]:
            return _error(10007)
        if request.method == "PUT":
            self.member_roles[guild, user].add(role)
        else:
            self.member_roles[guild, user].discard(role)
        return web.Response(status=204, headers=_bucket_headers(f"guild-{guild}"))

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.callbacks.append(body)
        data = body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        message = self._message(0, data) if body.get("type") == 4 else None
        answer: dict[str, Any] = {"interaction": {
            "id": request.match_info["id"], "type": 2,
            "response_message_loading": body.get("type") == 5,
            "response_message_ephemeral": ephemeral}}
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": 4, "message": message}
        if request.query.get("with_response") in ("1", "true"):
            return _json(answer)
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.followups.append(body)
        return _json(self._message(0, body))

    async def _edit_original(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.followups.append(body)
        return _json(self._message(0, body))

    # -- helpers ----------------------------------------------------------------------
    def _refusal(self, channel: int) -> web.Response | None:
        code = self.channel_errors.get(channel)
        return None if code is None else _error(code)

    def _message(self, channel: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(next(self._ids)), "channel_id": str(channel), "type": 0,
                "content": body.get("content") or "", "embeds": body.get("embeds") or [],
                "components": body.get("components") or [], "author": self.bot_user,
                "timestamp": _now(), "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [],
                "attachments": [], "pinned": False, "flags": int(body.get("flags") or 0)}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": with "; charset=utf-8" discord.py reads the body as text.
    return web.Response(body=json.dumps(body).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(code: int) -> web.Response:
    status, message = ERRORS[code]
    return _json({"message": message, "code": code}, status)


def _bucket_headers(bucket: str) -> dict[str, str]:
    return {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 5:.3f}", "X-RateLimit-Reset-After": "5.000",
            "X-RateLimit-Bucket": bucket}


def _too_many(retry_after: float, is_global: bool) -> _Injected:
    headers = {"Retry-After": str(max(1, round(retry_after))), "Via": "1.1 google",
               "X-RateLimit-Scope": "global" if is_global else "user"}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                        "X-RateLimit-Bucket": "fake-bucket"})
    body = {"message": "You are being rate limited.", "retry_after": retry_after,
            "global": is_global, "code": 0}
    return _Injected(429, body, headers)


def _invalid_message(body: dict[str, Any]) -> web.Response | None:
    problems: dict[str, Any] = {}
    if not body.get("content") and not body.get("embeds"):
        return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
    if len(body.get("content") or "") > 2000:
        problems["content"] = "Must be 2000 or fewer in length."
    for i, embed in enumerate(body.get("embeds") or []):
        problem = embed_problem(embed)
        if problem:
            problems[f"embeds.{i}"] = problem
    if not problems:
        return None
    errors = {k: {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": v}]}
              for k, v in problems.items()}
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)


def embed_problem(embed: dict[str, Any]) -> str | None:
    """The first of Discord's embed limits ``embed`` breaks, or None if it is valid."""
    fields = embed.get("fields") or []
    texts = [embed.get("title") or "", embed.get("description") or "",
             (embed.get("footer") or {}).get("text") or "",
             (embed.get("author") or {}).get("name") or ""]
    texts += [f.get("name", "") + f.get("value", "") for f in fields]
    checks = [
        (len(embed.get("title") or "") > EMBED_LIMITS["title"], "title too long"),
        (len(embed.get("description") or "") > EMBED_LIMITS["description"],
         "description too long"),
        (len(fields) > EMBED_LIMITS["fields"], "more than 25 fields"),
        (any(not f.get("name") or not f.get("value") for f in fields),
         "a field needs a name and a value"),
        (any(len(f.get("name", "")) > EMBED_LIMITS["field_name"]
             or len(f.get("value", "")) > EMBED_LIMITS["field_value"] for f in fields),
         "field too long"),
        (sum(len(t) for t in texts) > EMBED_LIMITS["total"], "embed over 6000 characters"),
        (not isinstance(embed.get("color", 0), int), "color must be an integer"),
    ]
    return next((message for failed, message in checks if failed), None)

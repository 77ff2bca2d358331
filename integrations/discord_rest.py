"""Discord REST sender: with ``bots/discord`` the only home of discord.py.

``DiscordRest`` sends over Discord's REST API with discord.py's own ``HTTPClient``
(no gateway connection): create a message with embeds, edit it, open a DM channel
and send a DM, add and remove a member's role. discord.py keeps Discord's per-route
rate-limit buckets (from the ``X-RateLimit-*`` headers, waiting pre-emptively when a
bucket is exhausted) and waits out a 429 for its ``retry_after`` (a ``global`` 429
holds every request of the client) up to five tries; a wait longer than
``max_ratelimit_timeout`` raises instead. A 429 without Cloudflare's ``Via`` header
(a ban, not a rate limit) is not waited out: it becomes ``RetryableError``.

Vendor errors become the domain's error tree:

    403 / 404 with code 10003 Unknown Channel, 10004 Unknown Guild, 10011 Unknown
        Role, 50001 Missing Access, 50013 Missing Permissions, 50007 Cannot send
        messages to this user                  -> RecipientUnreachable
    404 code 10008 Unknown Message             -> MessageGone (PermanentError)
    404 code 10007 Unknown Member              -> MemberGone (PermanentError)
    other 4xx (400 Invalid Form Body, ...)     -> PermanentError with Discord's message
    RateLimited (wait too long), 5xx, network errors
                                               -> RetryableError (retry_after when known)
    401 at login (LoginFailure: bad token)     -> PermanentError (fix the configuration)
    401 later (token revoked meanwhile)        -> RetryableError

``DISCORD_API_BASE`` moves ``discord.http.Route.BASE`` (a class attribute: it moves
every REST call of the process, interaction callbacks and webhooks included).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route, handle_message_parameters
from discord.utils import MISSING

from domain.errors import (
    ExternalServiceError,
    PermanentError,
    RecipientUnreachable,
    RetryableError,
)

UNREACHABLE_CODES = frozenset({10003, 10004, 10011, 50001, 50007, 50013})
UNKNOWN_MESSAGE = 10008
UNKNOWN_MEMBER = 10007
MAX_RATELIMIT_WAIT_S = 60.0
_NO_MENTIONS = discord.AllowedMentions.none()


class MessageGone(PermanentError):
    """The message to edit was deleted (Discord code 10008); post a new one instead."""


class MemberGone(PermanentError):
    """The user is not a member of the server (Discord code 10007)."""


def use_api_base(api_base: str | None) -> None:
    """Point discord.py's REST calls at ``api_base`` (e.g. ``http://127.0.0.1:8090/api/v10``).

    None leaves Discord's own ``https://discord.com/api/v10``. Process-wide.
    """
    if api_base:
        Route.BASE = api_base.rstrip("/")


class DiscordRest:
    """REST-only Discord client of a worker; ``start`` logs in, ``aclose`` closes it.

    Embeds are Discord's JSON embed objects (``integrations.discord_format``). Message,
    channel and user ids are snowflakes (int). Every method raises the domain errors of
    the module docstring.
    """

    def __init__(self, token: str, api_base: str | None = None,
                 max_ratelimit_timeout: float = MAX_RATELIMIT_WAIT_S) -> None:
        use_api_base(api_base)
        self.token = token
        self.http = HTTPClient(asyncio.get_running_loop(),
                               max_ratelimit_timeout=max_ratelimit_timeout)
        self.bot_user_id: int | None = None
        self._dm_channels: dict[int, int] = {}

    async def start(self) -> DiscordRest:
        """Open the HTTP session and check the token (``GET /users/@me``)."""
        me = await _call(self.http.static_login(self.token))
        self.bot_user_id = int(me["id"])
        return self

    async def send_embed(self, channel_id: int, embed: dict[str, Any],
                         content: str | None = None, nonce: str | None = None) -> int:
        """Post ``embed`` (and optional ``content``) in ``channel_id``; returns the message id.

        ``nonce`` (at most 25 characters) is sent with ``enforce_nonce``: Discord answers a
        repeat within a few minutes with the message already created instead of a new one.
        """
        params = _params(embed, content, nonce)
        message = await _call(self.http.send_message(channel_id, params=params))
        return int(message["id"])

    async def edit_embed(self, channel_id: int, message_id: int, embed: dict[str, Any],
                         content: str | None = None) -> None:
        """Replace the embed (and content) of message ``message_id`` in ``channel_id``.

        Raises ``MessageGone`` when the message was deleted.
        """
        params = _params(embed, content)
        await _call(self.http.edit_message(channel_id, message_id, params=params))

    async def dm_channel(self, user_id: int) -> int:
        """The DM channel id with ``user_id`` (opened once per process, then cached)."""
        if user_id not in self._dm_channels:
            channel = await _call(self.http.start_private_message(user_id))
            self._dm_channels[user_id] = int(channel["id"])
        return self._dm_channels[user_id]

    async def send_dm(self, user_id: int, content: str | None = None,
                      embed: dict[str, Any] | None = None, nonce: str | None = None,
                      silent: bool = False) -> int:
        """Send a direct message to Discord user ``user_id``; returns the message id.

        ``nonce`` as in ``send_embed``. ``silent`` sends it with Discord's
        SUPPRESS_NOTIFICATIONS flag (1 << 12: delivered without a push or sound; quiet
        hours). Raises ``RecipientUnreachable`` when the user does not accept DMs from
        the bot (no shared server, DMs closed, bot blocked).
        """
        channel = await self.dm_channel(user_id)
        params = _params(embed, content, nonce, silent)
        message = await _call(self.http.send_message(channel, params=params))
        return int(message["id"])

    async def add_role(self, guild_id: int, user_id: int, role_id: int, reason: str) -> None:
        """Give member ``user_id`` of ``guild_id`` the role ``role_id`` (no-op if held).

        Raises ``MemberGone`` when the user is not in the server, ``RecipientUnreachable``
        when the server or role is gone or the bot may not manage the role.
        """
        await _call(self.http.add_role(guild_id, user_id, role_id, reason=reason))

    async def remove_role(self, guild_id: int, user_id: int, role_id: int, reason: str
                          ) -> None:
        """Take ``role_id`` from member ``user_id``; errors as in ``add_role``."""
        await _call(self.http.remove_role(guild_id, user_id, role_id, reason=reason))

    async def aclose(self) -> None:
        """Close the HTTP session; the sender is unusable afterwards."""
        await self.http.close()


def _params(embed: dict[str, Any] | None, content: str | None, nonce: str | None = None,
            silent: bool = False) -> Any:
    embeds = [discord.Embed.from_dict(embed)] if embed else []
    flags = discord.MessageFlags(suppress_notifications=True) if silent else MISSING
    return handle_message_parameters(content=content, embeds=embeds, nonce=nonce,
                                     allowed_mentions=_NO_MENTIONS, flags=flags)


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except discord.LoginFailure as exc:
        raise PermanentError("Discord rejected DISCORD_BOT_TOKEN (401 on login)") from exc
    except (TimeoutError, discord.HTTPException, discord.RateLimited, aiohttp.ClientError) as exc:
        raise translate_error(exc) from exc


def translate_error(exc: Exception) -> ExternalServiceError:
    """The domain error for a discord.py / aiohttp exception (mapping in the module docstring)."""
    if isinstance(exc, discord.RateLimited):
        return RetryableError(f"Discord rate limit: retry after {exc.retry_after:.1f} s",
                              retry_after=exc.retry_after)
    if not isinstance(exc, discord.HTTPException):
        return RetryableError(f"Discord unreachable: {exc!r}")
    text = f"Discord {exc.status} (code {exc.code}): {exc.text or 'no message'}"
    if exc.code in UNREACHABLE_CODES:
        return RecipientUnreachable(text)
    if exc.code == UNKNOWN_MESSAGE:
        return MessageGone(text)
    if exc.code == UNKNOWN_MEMBER:
        return MemberGone(text)
    if exc.status in (401, 429) or exc.status >= 500:
        return RetryableError(text)
    return PermanentError(text)

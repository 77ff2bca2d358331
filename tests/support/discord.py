"""Discord test rig: a logged-in SignalHubBot on the fake REST API, Interaction payloads.

``discord_bot`` logs the real client in against ``tests.fakes.discord_api`` (commands
synced through ``setup_hook``); ``payload`` builds INTERACTION_CREATE data as Discord
sends it; ``run`` passes one through the bot's own ``CommandTree`` (or button handler)
and returns the interaction callback the fake received.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import discord
from discord.http import Route

from bots.discord.app import SignalHubBot
from bots.discord.commands import handle_component, handle_modal
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import bootstrap, shutdown
from signalhub.settings import Settings
from tests.fakes.discord_api import EPHEMERAL, FakeDiscordApi
from tests.support.setups import BTC_1H, btc_candles

TOKEN = "discord-bot-token-for-tests"
GUILD, CHANNEL = 910000000000000001, 910000000000000011
ALICE, BOB = 910000000000000101, 910000000000000102
MANAGE_GUILD = str(1 << 5)
CANDLES = btc_candles()
_ids = itertools.count(1300000000000000000)


@contextlib.asynccontextmanager
async def discord_bot(settings: Settings) -> AsyncIterator[tuple[SignalHubBot, FakeDiscordApi]]:
    """A logged-in SignalHubBot on the fake API (commands synced), and the fake."""
    saved_base = Route.BASE
    async with FakeDiscordApi(token=TOKEN) as api:
        Route.BASE = api.api_base
        configured = settings.model_copy(update={"discord_bot_token": TOKEN,
                                                 "discord_application_id": api.application_id})
        prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[2500].close_ts)
        services = await bootstrap(configured, prices=prices, init_database=False)
        client = SignalHubBot(services)
        await client.login(TOKEN)
        yield client, api
        await client.close()
        await shutdown(services, close_database=False)
    Route.BASE = saved_base


def _user(user_id: int) -> dict[str, Any]:
    return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
            "global_name": f"User {user_id}", "avatar": None, "public_flags": 0}


def payload(name: str, options: list[dict[str, Any]] | None = None, *, user_id: int = ALICE,
            permissions: str = "0", in_dm: bool = False, kind: int = 2,
            data: dict[str, Any] | None = None, resolved: dict[str, Any] | None = None,
            message: dict[str, Any] | None = None) -> dict[str, Any]:
    """INTERACTION_CREATE data as Discord sends it (type 2 command, 3 component, 5 modal
    submit: ``data`` holds the custom id and components; ``message`` is then the message
    whose button opened the form).

    ``resolved`` carries the objects behind role/user/channel options, as Discord does.
    """
    body: dict[str, Any] = {
        "id": str(next(_ids)), "application_id": "1100000000000000001", "type": kind,
        "token": f"itoken-{next(_ids)}", "version": 1, "locale": "en-US",
        "entitlements": [], "app_permissions": "2248473465835073",
        "attachment_size_limit": 10485760,
        "data": data or {"id": str(next(_ids)), "name": name, "type": 1,
                         "options": options or []},
    }
    if resolved is not None:
        body["data"]["resolved"] = resolved
    if message is not None:
        body["message"] = message
    if in_dm:
        body.update({"channel_id": str(CHANNEL + 1), "context": 1, "user": _user(user_id),
                     "channel": {"id": str(CHANNEL + 1), "type": 1, "flags": 0,
                                 "recipients": [_user(user_id)], "last_message_id": None}})
        return body
    body.update({
        "guild_id": str(GUILD), "channel_id": str(CHANNEL), "context": 0,
        "guild_locale": "en-US", "authorizing_integration_owners": {"0": str(GUILD)},
        "channel": {"id": str(CHANNEL), "type": 0, "guild_id": str(GUILD),
                    "name": "signals", "position": 0, "permission_overwrites": [],
                    "nsfw": False, "parent_id": None, "flags": 0},
        "member": {"user": _user(user_id), "roles": [], "nick": None, "avatar": None,
                   "joined_at": datetime(2025, 1, 5, tzinfo=UTC).isoformat(),
                   "deaf": False, "mute": False, "flags": 0, "pending": False,
                   "permissions": permissions},
    })
    return body


def opt(name: str, value: Any, kind: int = 3) -> dict[str, Any]:
    """One command option (3 string, 4 integer, 5 boolean)."""
    return {"name": name, "type": kind, "value": value}


async def run(client: SignalHubBot, api: FakeDiscordApi, body: dict[str, Any]
              ) -> dict[str, Any]:
    """Run one interaction through the bot's tree; returns the callback body it sent."""
    interaction = discord.Interaction(data=body, state=client._connection)
    before = len(api.callbacks)
    if body["type"] == 3:
        assert await handle_component(client.services, interaction)
    elif body["type"] == 5:
        assert await handle_modal(client.services, interaction)
    else:
        await client.tree._call(interaction)
    assert len(api.callbacks) == before + 1
    return api.callbacks[-1]


def ephemeral(callback: dict[str, Any]) -> bool:
    return bool(callback["data"].get("flags", 0) & EPHEMERAL)


def role_object(role_id: int, name: str = "Subscribers") -> dict[str, Any]:
    """A role object as in ``data.resolved.roles``."""
    return {"id": str(role_id), "name": name, "color": 0x2ECC71, "colors": {
        "primary_color": 0x2ECC71, "secondary_color": None, "tertiary_color": None},
        "hoist": False, "icon": None, "unicode_emoji": None, "position": 3,
        "permissions": "0", "managed": False, "mentionable": True, "flags": 0}

"""The Discord bot process end to end: ``run_bot`` over a fake gateway and REST API.

``run_bot`` (what ``signalhub bot discord`` runs) logs in over REST, registers the
commands, connects to the fake gateway (HELLO, IDENTIFY, READY) and answers an
INTERACTION_CREATE pushed over it through the interaction callback.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.app import run_bot
from domain import users
from domain.models import Role, Signal, Subscription, User
from domain.providers import create_provider
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.discord_api import EPHEMERAL, FakeDiscordApi
from tests.support.discord import (
    ALICE,
    BOB,
    CANDLES,
    CHANNEL,
    GUILD,
    MANAGE_GUILD,
    TOKEN,
    opt,
    payload,
)
from tests.support.servers import wait_until
from tests.support.setups import BTC_1H


async def test_bot_process_answers_a_slash_command_from_the_gateway(clean_db, settings
                                                                     ) -> None:  # noqa: ANN001
    owner = await users.create_user("gw-owner", Role.PROVIDER)
    await create_provider(owner, "gw-free", "Gateway Free", monthly_price="0")
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscordApi(token=TOKEN) as api:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(api.gateway_url)
        configured = settings.model_copy(update={"discord_bot_token": TOKEN,
                                                 "discord_api_base": api.api_base})
        prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[2500].close_ts)
        services = await bootstrap(configured, prices=prices, init_database=False)
        task = asyncio.create_task(run_bot(configured, services))
        try:
            await asyncio.wait_for(api.identified.wait(), timeout=20)
            assert api.identify is not None
            assert api.identify["intents"] == discord.Intents(guilds=True).value
            assert {c["name"] for c in api.commands} >= {"subscribe", "alerts", "roles"}

            await api.dispatch("INTERACTION_CREATE",
                               payload("subscribe", [opt("provider", "gw-free")]))
            await wait_until(lambda: api.callbacks)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
            await shutdown(services, close_database=False)
    [callback] = api.callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    assert "Subscribed to **Gateway Free**" in callback["data"]["content"]
    user = await User.get(discord_user_id=ALICE)
    assert await Subscription.filter(user=user, provider__slug="gw-free").exists()


def message_create(content: str, message_id: int, author: int = BOB) -> dict:
    """MESSAGE_CREATE data of a post in the server channel, as the gateway sends it."""
    return {"id": str(message_id), "channel_id": str(CHANNEL), "guild_id": str(GUILD),
            "type": 0, "content": content, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, "flags": 0, "components": [],
            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None,
            "author": {"id": str(author), "username": "poster", "discriminator": "0",
                       "global_name": "Poster", "avatar": None},
            "member": {"roles": [], "joined_at": datetime(2025, 1, 5, tzinfo=UTC).isoformat(),
                       "deaf": False, "mute": False, "flags": 0, "nick": None}}


async def test_channel_posts_become_drafts_confirmed_by_dm(clean_db, settings
                                                           ) -> None:  # noqa: ANN001
    owner = await users.create_user("source-owner", Role.PROVIDER)
    owner.discord_user_id = ALICE
    await owner.save()
    await create_provider(owner, "gw-source", "Gateway Source", monthly_price="0")
    candle = CANDLES[2500]
    later_high = max(c.high for c in CANDLES[2501:2520])
    assert later_high != candle.high
    signal_post = (f"#BTC/USDT LONG\nEntry: {candle.close}\nTP1: {candle.high}\n"
                   f"SL: {candle.low}")
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscordApi(token=TOKEN) as api:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(api.gateway_url)
        configured = settings.model_copy(update={"discord_bot_token": TOKEN,
                                                 "discord_api_base": api.api_base,
                                                 "discord_read_channels": True})
        prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=candle.close_ts)
        services = await bootstrap(configured, prices=prices, init_database=False)
        task = asyncio.create_task(run_bot(configured, services))
        try:
            await asyncio.wait_for(api.identified.wait(), timeout=20)
            assert api.identify is not None
            wanted = discord.Intents(guilds=True, guild_messages=True, message_content=True)
            assert api.identify["intents"] == wanted.value

            await api.dispatch("INTERACTION_CREATE", payload(
                "source", [{"type": 1, "name": "add", "options": [
                    opt("provider", "gw-source"), opt("mode", "confirm")]}],
                permissions=MANAGE_GUILD))
            await wait_until(lambda: api.callbacks)
            assert "sent to you by DM" in api.callbacks[0]["data"]["content"]

            await api.dispatch("MESSAGE_CREATE", message_create("gm everyone", 4001))
            await api.dispatch("MESSAGE_CREATE", message_create(signal_post, 4002))
            await wait_until(lambda: api.dms_to(ALICE))
            [dm] = api.dms_to(ALICE)
            assert dm["content"] == f"📥 Your post in <#{CHANNEL}> reads as a signal. Publish it?"
            assert dm["embeds"][0]["title"] == "🟢 BUY BTC/USDT · #1"

            edited = message_create(signal_post.replace(str(candle.high), str(later_high)),
                                    4002)
            edited["edited_timestamp"] = datetime.now(UTC).isoformat()
            await api.dispatch("MESSAGE_UPDATE", edited)  # fixed before publishing
            await wait_until(lambda: api.calls_to("edit_message"))
            [patch] = api.calls_to("edit_message")
            dm_channel = api.dm_channels[ALICE]
            assert patch.path == f"/api/v10/channels/{dm_channel}/messages/{dm['id']}"
            [dm] = api.dms_to(ALICE)  # the same DM, edited in place
            assert dm["edited_timestamp"] is not None
            targets = {f["name"]: f["value"] for f in dm["embeds"][0]["fields"]}["Targets"]
            assert targets == f"TP1 {format(later_high.normalize(), 'f')}"
            publish = dm["components"][0]["components"][0]
            assert publish["label"] == "Publish"

            api.delete_message(dm_channel, int(dm["id"]))  # the provider deleted the DM
            edited["content"] += "\nLeverage: 3x"
            await api.dispatch("MESSAGE_UPDATE", edited)
            await wait_until(lambda: api.dms_to(ALICE))
            [dm] = api.dms_to(ALICE)  # sent again, as a new message
            assert {f["name"]: f["value"] for f in dm["embeds"][0]["fields"]}["Leverage"] \
                == "3x"
            publish = dm["components"][0]["components"][0]

            await api.dispatch("INTERACTION_CREATE", payload(
                "", kind=3, in_dm=True, data={"custom_id": publish["custom_id"],
                                              "component_type": 2}))
            await wait_until(lambda: len(api.callbacks) == 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
            await shutdown(services, close_database=False)
    signal = await Signal.get(provider__slug="gw-source")
    assert f"📣 Published: **Gateway Source** signal #1 · BUY `BTC/USDT` (id `{signal.id}`)" \
        in api.callbacks[1]["data"]["content"]
    assert signal.entry_low == candle.close and signal.stop_loss == candle.low
    assert [str(t) for t in signal.targets] == [str(later_high)]  # the edited post
    assert len(api.dms_to(ALICE)) == 1  # "gm everyone" was not a signal: ignored


async def test_auto_mode_channel_posts_publish_at_once(clean_db, settings
                                                       ) -> None:  # noqa: ANN001
    owner = await users.create_user("auto-owner", Role.PROVIDER)
    owner.discord_user_id = ALICE
    await owner.save()
    await create_provider(owner, "gw-auto", "Gateway Auto", monthly_price="0")
    candle = CANDLES[2500]  # entry its close, TP1 its high, SL its low
    signal_post = (f"#BTC/USDT LONG\nEntry: {candle.close}\nTP1: {candle.high}\n"
                   f"SL: {candle.low}")
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscordApi(token=TOKEN) as api:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(api.gateway_url)
        configured = settings.model_copy(update={"discord_bot_token": TOKEN,
                                                 "discord_api_base": api.api_base,
                                                 "discord_read_channels": True})
        prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=candle.close_ts)
        services = await bootstrap(configured, prices=prices, init_database=False)
        task = asyncio.create_task(run_bot(configured, services))
        try:
            await asyncio.wait_for(api.identified.wait(), timeout=20)
            await api.dispatch("INTERACTION_CREATE", payload(
                "source", [{"type": 1, "name": "add", "options": [
                    opt("provider", "gw-auto"), opt("mode", "auto")]}],
                permissions=MANAGE_GUILD))
            await wait_until(lambda: api.callbacks)
            assert "published at once" in api.callbacks[0]["data"]["content"]

            await api.dispatch("MESSAGE_CREATE", message_create(signal_post, 4101))
            await wait_until(lambda: api.dms_to(ALICE))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
            await shutdown(services, close_database=False)
    signal = await Signal.get(provider__slug="gw-auto")
    assert (signal.seq, signal.entry_low, signal.stop_loss) == (1, candle.close, candle.low)
    [dm] = api.dms_to(ALICE)  # told, with the id the manage commands take; no buttons
    assert dm["content"].startswith(f"📣 Published from <#{CHANNEL}>: **Gateway Auto** "
                                    f"signal #1 · BUY `BTC/USDT` (id `{signal.id}`).")
    assert f"`/close signal:{signal.id}`" in dm["content"] and not dm["components"]

"""The Discord bot process end to end: ``run_bot`` over a fake gateway and REST API.

``run_bot`` (what ``signalhub bot discord`` runs) logs in over REST, registers the
commands, connects to the fake gateway (HELLO, IDENTIFY, READY) and answers an
INTERACTION_CREATE pushed over it through the interaction callback.
"""

from __future__ import annotations

import asyncio
import contextlib

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.app import run_bot
from domain import users
from domain.models import Role, Subscription, User
from domain.providers import create_provider
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.discord_api import EPHEMERAL, FakeDiscordApi
from tests.support.discord import ALICE, CANDLES, TOKEN, opt, payload
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

"""Quiet hours silence Discord DMs too: the worker sends them with SUPPRESS_NOTIFICATIONS.

Real PostgreSQL and Redis, an arq burst worker, discord.py's HTTPClient against the fake
Discord REST API on loopback, which records each message's ``flags``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from discord.http import Route

from domain import users
from domain.discord_accounts import discord_account
from domain.models import Delivery, DeliveryStatus, Role
from domain.notifications import format_clock, set_quiet_hours
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import subscribe
from integrations.discord_rest import DiscordRest
from integrations.prices import ReplayPriceSource
from integrations.ratelimit import RedisRateLimiter
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.discord_api import FakeDiscordApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.settings import make_worker

TOKEN = "discord-bot-token-for-tests"
SUPPRESS_NOTIFICATIONS = 1 << 12
LOUD, QUIET = 930000000000000001, 930000000000000002
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)  # a real BTC/USDT 1h entry, stop and target


@pytest.fixture
async def world(clean_db, settings, redis, namespace):  # noqa: ANN001
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    saved_base = Route.BASE
    async with FakeDiscordApi(token=TOKEN) as api:
        rest = await DiscordRest(TOKEN, api.api_base).start()
        services.extras["discord_rest"] = rest
        services.extras["discord_limiter"] = RedisRateLimiter(  # test speed
            services.redis, f"{namespace}:ratelimit:discord:", global_rate=500,
            per_chat_rate=500)
        yield services, api
        await rest.aclose()
    Route.BASE = saved_base
    await shutdown(services, close_database=False)


def window_around_now() -> tuple[str, str]:
    """Quiet hours from an hour ago to an hour ahead (UTC), whatever the time is."""
    now = datetime.now(UTC)
    minute = now.hour * 60 + now.minute
    return format_clock((minute - 60) % 1440), format_clock((minute + 60) % 1440)


async def test_dms_in_quiet_hours_are_sent_without_a_notification(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await users.create_user("quiet-owner", Role.PROVIDER)
    await create_provider(owner, "quiet-dc", "Quiet Discord", monthly_price="0")
    fans = {d: await discord_account(d, f"fan {d}") for d in (LOUD, QUIET)}
    for fan in fans.values():
        await subscribe(fan, "quiet-dc")
    await set_quiet_hours(fans[QUIET], *window_around_now(), "UTC")
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target])
    await publish_signal(owner, "quiet-dc", draft, services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    worker = make_worker(services, burst=True, poll_delay=0.01)
    await worker.main()
    await worker.close()

    [loud] = api.dms_to(LOUD)
    [quiet] = api.dms_to(QUIET)
    assert quiet["flags"] & SUPPRESS_NOTIFICATIONS
    assert not loud["flags"] & SUPPRESS_NOTIFICATIONS
    assert quiet["embeds"] == loud["embeds"]  # the same message, only without a sound
    sent = {c.body.get("flags") for c in api.calls_to("create_message")}
    assert sent == {None, SUPPRESS_NOTIFICATIONS}  # the flag is omitted outside quiet hours
    statuses = await Delivery.filter(channel="discord").values_list("status", flat=True)
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]

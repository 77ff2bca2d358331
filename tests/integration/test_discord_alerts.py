"""Discord channel alerts and DMs through the worker, against the fake Discord REST API.

Real PostgreSQL and Redis, arq burst workers, discord.py's HTTPClient with
``Route.BASE`` on the loopback fake, replayed real BTC/USDT candles.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from arq import Retry
from discord.http import Route

from domain import alerts, users
from domain.discord_accounts import discord_account
from domain.discord_models import DiscordAlert, DiscordAlertMessage
from domain.errors import PermanentError, RetryableError
from domain.models import Delivery, DeliveryStatus, Role, SignalEvent, User
from domain.providers import create_provider
from domain.publishing import close_signal, publish_signal
from domain.signals import make_draft
from domain.subscriptions import subscribe
from integrations.discord_rest import DiscordRest
from integrations.prices import ReplayPriceSource
from integrations.ratelimit import RedisRateLimiter
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.discord_api import FakeDiscordApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.discord_jobs import post_discord_alerts
from workers.jobs import fan_out_signal
from workers.monitor import process_candle
from workers.settings import make_worker

TOKEN = "discord-bot-token-for-tests"
GUILD, CHANNEL, OTHER_CHANNEL, ADMIN = 900000000000000001, 900000000000000011, \
    900000000000000012, 900000000000000100
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)


@pytest.fixture
async def world(clean_db, settings, redis, namespace):  # noqa: ANN001
    """Services on a manual replay at the setup's entry candle; a logged-in DiscordRest."""
    start = CANDLES[SETUP.index].close_ts
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=start)
    services = await bootstrap(settings, prices=prices, init_database=False)
    saved_base = Route.BASE
    async with FakeDiscordApi(token=TOKEN) as api:
        rest = await DiscordRest(TOKEN, api.api_base).start()
        services.extras["discord_rest"] = rest
        # Test speed: the same shared Redis limiter, with room for the few sends here.
        services.extras["discord_limiter"] = RedisRateLimiter(
            services.redis, f"{namespace}:ratelimit:discord:", global_rate=500,
            per_chat_rate=500)
        yield services, api
        await rest.aclose()  # the test's own DiscordRest, even if a test removed it
    Route.BASE = saved_base
    await shutdown(services, close_database=False)


async def _provider() -> User:
    owner = await users.create_user("alert-owner", Role.PROVIDER)
    await create_provider(owner, "free-alerts", "Free Alerts", monthly_price="0")
    return owner


def _draft(leverage: int | None = None) -> Any:
    return make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                      stop_loss=SETUP.stop, targets=[SETUP.target], leverage=leverage)


async def _run_worker(services) -> None:  # noqa: ANN001
    worker = make_worker(services, burst=True, poll_delay=0.01)
    await worker.main()
    await worker.close()


def _fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_signal_is_posted_as_embed_and_edited_in_place_on_target(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    signal = await publish_signal(owner, "free-alerts", _draft(leverage=5), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    await _run_worker(services)

    [message] = api.channel_messages(CHANNEL)
    [embed] = message["embeds"]
    assert embed["title"] == f"🟢 BUY BTC/USDT · #{signal.seq}"
    assert embed["color"] == 0x2ECC71
    assert embed["author"] == {"name": "Free Alerts"}
    assert embed["description"] == "⏳ **Waiting for entry**"
    assert [f["name"] for f in embed["fields"]] == ["Entry", "Stop-loss", "Leverage", "Targets"]
    assert _fields(embed) == {
        "Entry": format(SETUP.entry.normalize(), "f"),
        "Stop-loss": format(SETUP.stop.normalize(), "f"),
        "Leverage": "5x",
        "Targets": f"TP1 {format(SETUP.target.normalize(), 'f')}",
    }
    assert embed["footer"]["text"].startswith("free-alerts · hash ")
    create = api.calls_to("create_message")[0]
    assert create.body["allowed_mentions"] == {"parse": []}
    assert create.body["enforce_nonce"] is True
    row = await DiscordAlertMessage.get(signal_id=signal.id)
    assert row.message_id == int(message["id"])

    deps = WorkerDeps(services, None, None)
    for _ in range(SETUP.target_index - SETUP.index):
        for candle in services.prices.advance():
            await process_candle(deps, candle)
    await _run_worker(services)

    [edited] = api.channel_messages(CHANNEL)  # still one message: edited, not re-posted
    assert edited["id"] == message["id"] and edited["edited_timestamp"] is not None
    [embed] = edited["embeds"]
    target = format(SETUP.target.normalize(), "f")
    assert embed["description"].startswith("🎯 **Target 1 of 1 hit** at ")
    assert _fields(embed)["Targets"] == f"TP1 {target} ✅"
    assert len(api.calls_to("edit_message")) >= 2  # activation, then the target


async def test_sell_signal_is_red_and_close_edits_status(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    draft = make_draft(symbol="BTC/USDT", side="SELL", entry_low=SETUP.target,
                       entry_high=None, stop_loss=SETUP.target * Decimal("1.01"),
                       targets=[SETUP.entry], note="Short *the* top")
    signal = await publish_signal(owner, "free-alerts", draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    await _run_worker(services)
    [embed] = api.channel_messages(CHANNEL)[0]["embeds"]
    assert embed["color"] == 0xE74C3C and embed["title"].startswith("🔴 SELL BTC/USDT")
    assert _fields(embed)["Note"] == "Short \\*the\\* top"

    await close_signal(owner, signal.id, "taking profit early", services.queue, services.bus)
    await _run_worker(services)
    [message] = api.channel_messages(CHANNEL)
    assert message["embeds"][0]["description"].startswith("🔒 **Closed by provider**")
    assert "taking profit early" in message["embeds"][0]["description"]


async def test_429_is_waited_out_and_the_post_goes_through(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    api.fail_next("create_message", 429, retry_after=0.05)
    api.fail_next("create_message", 429, retry_after=0.05, is_global=True)
    await publish_signal(owner, "free-alerts", _draft(), services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    await _run_worker(services)

    assert [c.status for c in api.calls_to("create_message")] == [429, 429, 200]
    assert len(api.channel_messages(CHANNEL)) == 1


@pytest.mark.parametrize("break_channel", ["delete", "revoke"])
async def test_dead_channel_disables_the_alert_and_tells_the_admin(
        world, break_channel: str) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=OTHER_CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    if break_channel == "delete":
        api.delete_channel(CHANNEL)
    else:
        api.revoke_permission(CHANNEL)
    await publish_signal(owner, "free-alerts", _draft(), services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    await _run_worker(services)

    dead = await DiscordAlert.get(channel_id=CHANNEL)
    expected = "10003" if break_channel == "delete" else "50013"
    assert dead.enabled is False and f"code {expected}" in dead.disabled_reason
    assert len(api.channel_messages(OTHER_CHANNEL)) == 1  # the other channel still works
    [dm] = api.dms_to(ADMIN)
    assert "stopped posting Free Alerts (free-alerts) signals" in dm["content"]
    assert f"<#{CHANNEL}>" in dm["content"]

    attempts = len(api.calls_to("create_message"))
    await publish_signal(owner, "free-alerts", _draft(), services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    await _run_worker(services)
    # The disabled alert is not tried again; only the live channel gets the new signal.
    assert len(api.calls_to("create_message")) == attempts + 1
    assert len(api.dms_to(ADMIN)) == 1


async def test_job_run_twice_posts_once(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    signal = await publish_signal(owner, "free-alerts", _draft(), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    await _run_worker(services)
    event = await SignalEvent.get(signal_id=signal.id, kind="PUBLISHED")
    result = await post_discord_alerts({"deps": WorkerDeps(services, None, None)}, event.id)
    assert result == {"skipped": 1}
    assert len(api.channel_messages(CHANNEL)) == 1


async def test_deleted_message_is_posted_again_on_the_next_event(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    signal = await publish_signal(owner, "free-alerts", _draft(), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    await _run_worker(services)
    [first] = api.channel_messages(CHANNEL)
    api.delete_message(CHANNEL, int(first["id"]))

    await close_signal(owner, signal.id, "", services.queue, services.bus)
    await _run_worker(services)
    assert [c.status for c in api.calls_to("edit_message")] == [404]
    [again] = api.channel_messages(CHANNEL)
    assert again["embeds"][0]["description"].startswith("🔒 **Closed by provider**")
    assert (await DiscordAlertMessage.get(signal_id=signal.id)).message_id == int(again["id"])
    assert (await DiscordAlert.get(channel_id=CHANNEL)).enabled


async def test_admin_who_refuses_dms_still_gets_the_alert_disabled(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    api.revoke_permission(CHANNEL, code=50001)
    api.refuse_dms(ADMIN)
    await publish_signal(owner, "free-alerts", _draft(), services.queue, services.bus,
                         market_ts=services.prices.now_ms())
    await _run_worker(services)

    alert = await DiscordAlert.get(channel_id=CHANNEL)
    assert not alert.enabled and "Missing Access" in alert.disabled_reason
    assert api.dms_to(ADMIN) == []


async def test_a_wrong_bot_token_is_a_permanent_error(world) -> None:  # noqa: ANN001
    _, api = world
    rest = DiscordRest("not-the-token", api.api_base)
    with pytest.raises(PermanentError, match="DISCORD_BOT_TOKEN"):
        await rest.start()
    await rest.aclose()


async def test_linked_subscribers_get_signals_as_discord_dms(world) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    fan, closed_dms = 920000000000000001, 920000000000000002
    for discord_id in (fan, closed_dms):
        await subscribe(await discord_account(discord_id, f"fan {discord_id}"), "free-alerts")
    api.refuse_dms(closed_dms)
    signal = await publish_signal(owner, "free-alerts", _draft(leverage=3), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    await _run_worker(services)

    [dm] = api.dms_to(fan)
    assert dm["content"] == f"📣 New signal from Free Alerts · #{signal.seq} BTC/USDT"
    [embed] = dm["embeds"]
    assert embed["title"] == f"🟢 BUY BTC/USDT · #{signal.seq}"
    assert _fields(embed)["Leverage"] == "3x"
    rows = {d.user_id: d for d in await Delivery.filter(channel="discord")}
    fan_user = await User.get(discord_user_id=fan)
    closed_user = await User.get(discord_user_id=closed_dms)
    assert rows[fan_user.id].status is DeliveryStatus.SENT
    assert rows[closed_user.id].status is DeliveryStatus.UNREACHABLE
    assert "code 50007" in rows[closed_user.id].error

    await close_signal(owner, signal.id, "", services.queue, services.bus)
    await _run_worker(services)
    ctx = {"deps": WorkerDeps(services, None, None)}
    await fan_out_signal(ctx, signal.id)  # the fan-out again, e.g. after a crash
    await _run_worker(services)
    dms = api.dms_to(fan)
    assert len(dms) == 2 and dms[1]["content"].startswith("🔒 **Closed by provider**")


async def test_a_429_longer_than_the_limit_becomes_a_retry_with_discords_wait(world) -> None:  # noqa: ANN001
    services, api = world
    rest: DiscordRest = services.extras["discord_rest"]
    api.fail_next("create_message", 429, retry_after=120.0)
    with pytest.raises(RetryableError) as caught:
        await rest.send_embed(CHANNEL, {"title": "x", "description": "y"})
    assert caught.value.retry_after == 120.0
    assert [c.status for c in api.calls_to("create_message")] == [429]  # not slept on

    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    signal = await publish_signal(owner, "free-alerts", _draft(), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    api.fail_next("create_message", 429, retry_after=120.0)
    event = await SignalEvent.get(signal_id=signal.id, kind="PUBLISHED")
    with pytest.raises(Retry) as retry:
        await post_discord_alerts({"deps": WorkerDeps(services, None, None), "job_try": 1},
                                  event.id)
    assert retry.value.defer_score == 120_000  # arq defers the job by Discord's wait (ms)
    assert not await DiscordAlertMessage.exists(signal_id=signal.id)


async def test_a_refused_token_skips_discord_instead_of_failing_jobs(world, caplog) -> None:  # noqa: ANN001
    services, api = world
    owner = await _provider()
    await alerts.add_alert("free-alerts", guild_id=GUILD, channel_id=CHANNEL,
                           discord_user_id=ADMIN, permissions=alerts.MANAGE_GUILD)
    signal = await publish_signal(owner, "free-alerts", _draft(), services.queue,
                                  services.bus, market_ts=services.prices.now_ms())
    services.extras.pop("discord_rest")  # this worker logs in itself, with a wrong token
    services.settings = services.settings.model_copy(update={
        "discord_bot_token": "revoked-token", "discord_api_base": api.api_base})
    event = await SignalEvent.get(signal_id=signal.id, kind="PUBLISHED")
    result = await post_discord_alerts({"deps": WorkerDeps(services, None, None)}, event.id)
    assert result == {"skipped": 1}
    assert "Discord is off in this worker" in caplog.text
    assert api.channel_messages(CHANNEL) == []


async def test_the_fake_answers_like_discord(world) -> None:  # noqa: ANN001
    _, api = world
    async with aiohttp.ClientSession() as http:
        async with http.get(api.api_base + "/users/@me",
                            headers={"Authorization": f"Bot {TOKEN}"}) as ok:
            assert ok.headers["Content-Type"] == "application/json"  # exactly: no charset
            assert (await ok.json())["bot"] is True
        async with http.get(api.api_base + "/users/@me") as denied:
            assert denied.status == 401
        api.fail_next("create_message", 429, retry_after=0.5, is_global=True)
        async with http.post(api.api_base + f"/channels/{CHANNEL}/messages",
                             json={"content": "x"},
                             headers={"Authorization": f"Bot {TOKEN}"}) as limited:
            body = await limited.json()
            assert limited.status == 429 and limited.headers["X-RateLimit-Global"] == "true"
            assert body == {"message": "You are being rate limited.", "retry_after": 0.5,
                            "global": True, "code": 0}
        async with http.post(api.api_base + f"/channels/{CHANNEL}/messages",
                             json={"embeds": [{"title": "t" * 257}]},
                             headers={"Authorization": f"Bot {TOKEN}"}) as invalid:
            assert invalid.status == 400 and (await invalid.json())["code"] == 50035

"""The Discord bot's slash commands, driven by real Interaction payloads.

The client logs in against the fake Discord REST API (``Route.BASE`` on loopback:
``GET /users/@me``, ``GET /oauth2/applications/@me``, then ``setup_hook`` registers
the commands with ``PUT /applications/{id}/commands``). Each command is a
``discord.Interaction`` built from a dict shaped like Discord's INTERACTION_CREATE data
and run through the bot's own ``CommandTree``; the answer is read back from the
interaction callback the fake received. The gateway itself is not exercised.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from bots.discord.commands import answer
from bots.discord.replies import Reply
from domain import linking, users
from domain.billing_models import ConnectAccount
from domain.discord_models import DiscordAlert
from domain.linking_models import Platform
from domain.models import (
    CopySettings,
    Role,
    Signal,
    SignalEvent,
    SignalState,
    SignalStatus,
    Subscription,
    User,
)
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from signalhub.billing import close_gateway
from tests.fakes.stripe_api import running_stripe
from tests.support.billing import billing_settings
from tests.support.discord import (
    ALICE,
    BOB,
    CANDLES,
    CHANNEL,
    GUILD,
    MANAGE_GUILD,
    discord_bot,
    ephemeral,
    opt,
    payload,
    run,
)
from tests.support.servers import wait_until


@pytest.fixture
async def bot(clean_db, settings):  # noqa: ANN001
    """A logged-in SignalHubBot on the fake API, and the fake."""
    async with discord_bot(settings) as pair:
        yield pair


async def _provider(price: str = "0", slug: str = "bot-free") -> User:
    owner = await users.create_user("prov-owner", Role.PROVIDER)
    await create_provider(owner, slug, "Bot Free Signals", "Swing trades on BTC",
                          monthly_price=price)
    return owner


async def test_login_registers_every_command(bot) -> None:  # noqa: ANN001
    client, api = bot
    assert [c.route for c in api.calls[:2]] == ["get_me", "app_info"]
    by_name = {c["name"]: c for c in api.commands}
    assert set(by_name) == {"providers", "subscribe", "unsubscribe", "subscriptions", "copy",
                            "positions", "pnl", "link", "publish", "close", "movesl",
                            "cancel", "alerts", "roles", "source"}
    alerts = by_name["alerts"]
    assert alerts["default_member_permissions"] == int(MANAGE_GUILD)
    assert alerts["dm_permission"] is False
    assert {o["name"] for o in alerts["options"]} == {"add", "list", "remove"}
    copy_options = {o["name"]: o for o in by_name["copy"]["options"]}
    assert copy_options["on"]["type"] == 5 and copy_options["max_open"]["max_value"] == 100


async def test_providers_is_public_and_personal_replies_are_ephemeral(bot) -> None:  # noqa: ANN001
    client, api = bot
    await _provider()
    listing = await run(client, api, payload("providers"))
    assert listing["type"] == 4 and not ephemeral(listing)
    assert "**Bot Free Signals** · `bot-free` · free" in listing["data"]["content"]

    sub = await run(client, api, payload("subscribe", [opt("provider", "bot-free")]))
    assert ephemeral(sub) and "Subscribed to **Bot Free Signals**" in sub["data"]["content"]
    user = await User.get(discord_user_id=ALICE)
    assert user.name == f"User {ALICE}"
    assert await Subscription.filter(user=user, provider__slug="bot-free").exists()

    copy = await run(client, api, payload("copy", [opt("provider", "bot-free"),
                                                   opt("on", True, 5), opt("scale", "0.5"),
                                                   opt("max_open", 3, 4)]))
    assert ephemeral(copy) and "Copy trading for `bot-free` is on" in copy["data"]["content"]
    settings = await CopySettings.get(subscription__user=user)
    assert settings.enabled and str(settings.scale_factor) == "0.500"
    assert settings.max_open_positions == 3

    for name in ("subscriptions", "positions", "pnl"):
        reply = await run(client, api, payload(name))
        assert ephemeral(reply), name
    assert "copy on" in api.callbacks[-3]["data"]["content"]
    assert "10,000.00" in api.callbacks[-2]["data"]["content"]
    assert "Realized: `+0.00` on 0 closed trade(s)" in api.callbacks[-1]["data"]["content"]


async def test_bad_input_gets_a_specific_ephemeral_error_and_changes_nothing(bot) -> None:  # noqa: ANN001
    client, api = bot
    await _provider()
    unknown = await run(client, api, payload("subscribe", [opt("provider", "nope")]))
    assert ephemeral(unknown)
    assert unknown["data"]["content"] == "⚠️ no provider with slug 'nope'"
    bad_scale = await run(client, api, payload("copy", [opt("provider", "bot-free"),
                                                        opt("on", True, 5)]))
    assert "subscribe first" in bad_scale["data"]["content"]
    assert not await Subscription.all().exists()


async def test_alerts_add_needs_manage_server(bot) -> None:  # noqa: ANN001
    client, api = bot
    await _provider()
    add = [{"type": 1, "name": "add", "options": [opt("provider", "bot-free")]}]

    refused = await run(client, api, payload("alerts", add, permissions="0"))
    assert ephemeral(refused) and "Manage Server" in refused["data"]["content"]
    assert not await DiscordAlert.all().exists()

    in_dm = await run(client, api, payload("alerts", add, permissions=MANAGE_GUILD,
                                           in_dm=True))
    assert "not in a direct message" in in_dm["data"]["content"]

    added = await run(client, api, payload("alerts", add, permissions=MANAGE_GUILD))
    assert not ephemeral(added) and "will be posted in this channel" in added["data"]["content"]
    alert = await DiscordAlert.get(channel_id=CHANNEL)
    assert (alert.guild_id, alert.created_by, alert.enabled) == (GUILD, ALICE, True)

    listed = await run(client, api, payload("alerts", [{"type": 1, "name": "list"}],
                                            permissions=MANAGE_GUILD))
    assert ephemeral(listed) and f"<#{CHANNEL}> · **Bot Free Signals**" in \
        listed["data"]["content"]
    removed = await run(client, api, payload(
        "alerts", [{"type": 1, "name": "remove", "options": [opt("provider", "bot-free")]}],
        permissions=MANAGE_GUILD))
    assert "no longer posted" in removed["data"]["content"]
    assert not await DiscordAlert.all().exists()


async def test_paid_provider_alerts_only_by_its_owner(bot) -> None:  # noqa: ANN001
    client, api = bot
    owner = await _provider(price="25.00", slug="bot-paid")
    add = [{"type": 1, "name": "add", "options": [opt("provider", "bot-paid")]}]
    refused = await run(client, api, payload("alerts", add, permissions=MANAGE_GUILD,
                                             user_id=BOB))
    assert "only its owner" in refused["data"]["content"]
    owner.discord_user_id = BOB
    await owner.save()
    await run(client, api, payload("alerts", add, permissions=MANAGE_GUILD, user_id=BOB))
    assert await DiscordAlert.filter(provider__slug="bot-paid", enabled=True).exists()


async def test_link_issues_a_code_and_redeems_one_from_telegram(bot) -> None:  # noqa: ANN001
    client, api = bot
    issued = await run(client, api, payload("link"))
    assert ephemeral(issued) and "Your link code: `" in issued["data"]["content"]

    telegram = await users.telegram_user(5550001, 5550001, "tg-person")
    code = await linking.issue_code(telegram, Platform.TELEGRAM)
    linked = await run(client, api, payload("link", [opt("code", code)], user_id=BOB))
    assert ephemeral(linked) and "✅ Linked" in linked["data"]["content"]
    assert (await User.get(id=telegram.id)).discord_user_id == BOB

    again = await run(client, api, payload("link", [opt("code", code)], user_id=BOB))
    assert "already used" in again["data"]["content"]


async def test_publish_previews_then_the_button_publishes(bot) -> None:  # noqa: ANN001
    client, api = bot
    owner = await _provider()
    owner.discord_user_id = ALICE
    await owner.save()
    candle = CANDLES[2500]
    text = (f"#BTC/USDT LONG Entry: {candle.close} TP1: {candle.high} "
            f"SL: {candle.low}")
    preview = await run(client, api, payload("publish", [opt("text", text)]))
    assert ephemeral(preview)
    [embed] = preview["data"]["embeds"]
    assert embed["title"] == "🟢 BUY BTC/USDT · #1"
    buttons = preview["data"]["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Publish", "Edit", "Cancel"]
    publish_id = buttons[0]["custom_id"]

    press = payload("", kind=3, data={"custom_id": publish_id, "component_type": 2})
    done = await run(client, api, press)
    signal = await Signal.get(provider__slug="bot-free")
    assert ephemeral(done) and done["data"]["content"] == (
        f"📣 Published: **Bot Free Signals** signal #1 · BUY `BTC/USDT` (id `{signal.id}`). "
        f"Subscribers are being notified.\nManage it: `/movesl signal:{signal.id} "
        f"price:<price>` · `/close signal:{signal.id}` · `/cancel signal:{signal.id}`")
    twice = await run(client, api, payload("", kind=3, data={"custom_id": publish_id,
                                                             "component_type": 2}))
    assert "Already published" in twice["data"]["content"]
    assert await Signal.filter(provider__slug="bot-free").count() == 1


async def test_publish_without_text_opens_a_form_and_non_providers_are_told(bot) -> None:  # noqa: ANN001
    client, api = bot
    owner = await _provider()
    owner.discord_user_id = ALICE
    await owner.save()
    modal = await run(client, api, payload("publish"))
    assert modal["type"] == 9 and modal["data"]["title"] == "Publish a signal"
    assert modal["data"]["custom_id"] == "sh:form:bot-free"
    for text in (None, "#BTC/USDT LONG"):
        refused = await run(client, api, payload(
            "publish", [opt("text", text)] if text else [], user_id=BOB))
        assert ephemeral(refused) and "you do not run a provider yet" in \
            refused["data"]["content"]


async def test_priced_provider_answers_with_a_checkout_link_button(bot) -> None:  # noqa: ANN001
    client, api = bot
    _, provider = await _paid("bot-paid-sub")
    no_stripe = await run(client, api, payload("subscribe", [opt("provider", "bot-paid-sub")]))
    assert ephemeral(no_stripe) and "payments are not" in no_stripe["data"]["content"]

    async with running_stripe() as stripe:
        saved = client.services.settings
        client.services.settings = billing_settings(saved, stripe.url)
        try:
            await ConnectAccount.create(provider=provider, account_id="acct_discord_test",
                                        charges_enabled=True, payouts_enabled=True,
                                        details_submitted=True)
            offer = await run(client, api, payload("subscribe",
                                                   [opt("provider", "bot-paid-sub")]))
        finally:
            await close_gateway(client.services)
            client.services.settings = saved
    assert ephemeral(offer) and "costs $25.00/month" in offer["data"]["content"]
    [button] = offer["data"]["components"][0]["components"]
    [session] = stripe.sessions.values()
    assert button["style"] == 5 and button["url"] == session["url"]
    sub = await Subscription.get(provider=provider)
    assert sub.status.value == "PENDING_PAYMENT"  # starts when Stripe confirms payment


async def _paid(slug: str) -> tuple[User, Any]:
    owner = await users.create_user("paid-owner", Role.PROVIDER)
    provider = await create_provider(owner, slug, "Paid Desk", monthly_price="25.00")
    return owner, provider


async def test_a_slow_handler_is_deferred_then_answered_by_follow_up(bot) -> None:  # noqa: ANN001
    client, api = bot
    finish = asyncio.Event()

    async def slow_handler(services, caller) -> Reply:  # noqa: ANN001
        await finish.wait()  # e.g. a payment provider taking its time
        return Reply(f"done for {caller.discord_user_id}")

    interaction = discord.Interaction(data=payload("positions"), state=client._connection)
    job = asyncio.create_task(answer(client.services, interaction, slow_handler,
                                     defer_after_s=0.01))
    await wait_until(lambda: api.callbacks)
    assert api.callbacks[0]["type"] == 5 and ephemeral(api.callbacks[0])  # "thinking…"
    finish.set()
    await job
    [followup] = api.followups
    assert followup["content"] == f"done for {ALICE}"


async def test_close_movesl_and_cancel_create_signal_events(bot) -> None:  # noqa: ANN001
    client, api = bot
    owner = await _provider()
    owner.discord_user_id = ALICE
    await owner.save()
    services = client.services
    candle = CANDLES[2500]
    drafts = [make_draft(symbol="BTC/USDT", side="BUY", entry_low=candle.close,
                         entry_high=None, stop_loss=candle.low, targets=[candle.high])
              for _ in range(2)]
    first, second = [await publish_signal(owner, "bot-free", d, services.queue, services.bus)
                     for d in drafts]
    lower = min(c.low for c in CANDLES[2400:2500])

    too_early = await run(client, api, payload("movesl", [opt("signal", first.id, 4),
                                                          opt("price", "entry")]))
    assert ephemeral(too_early) and too_early["data"]["content"].startswith("⚠️")
    moved = await run(client, api, payload("movesl", [opt("signal", first.id, 4),
                                                      opt("price", str(lower))]))
    assert moved["data"]["content"].startswith(
        f"🔧 Stop-loss of signal #1 `BTC/USDT` (id `{first.id}`) moved to "
        f"`{format(lower.normalize(), 'f')}`")
    cancelled = await run(client, api, payload("cancel", [opt("signal", first.id, 4)]))
    assert cancelled["data"]["content"].startswith(
        f"🚫 Signal #1 `BTC/USDT` (id `{first.id}`) cancelled")
    closed = await run(client, api, payload("close", [opt("signal", second.id, 4),
                                                      opt("note", "done")]))
    assert closed["data"]["content"].startswith(
        f"🔒 Signal #2 `BTC/USDT` (id `{second.id}`) closed at `")
    not_mine = await run(client, api, payload("close", [opt("signal", first.id, 4)],
                                              user_id=BOB))
    assert not_mine["data"]["content"].startswith("⚠️")
    kinds = await SignalEvent.filter(signal_id__in=[first.id, second.id]).order_by(
        "id").values_list("kind", flat=True)
    assert [str(k) for k in kinds] == ["PUBLISHED", "PUBLISHED", "STOP_MOVED", "CANCELLED",
                                       "CLOSED"]


async def test_movesl_be_moves_an_active_signals_stop_to_its_entry(bot) -> None:  # noqa: ANN001
    client, api = bot
    owner = await _provider()
    owner.discord_user_id = ALICE
    await owner.save()
    candle = CANDLES[2500]  # entry its close, stop its low, target its high
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=candle.close,
                       entry_high=None, stop_loss=candle.low, targets=[candle.high])
    signal = await publish_signal(owner, "bot-free", draft, client.services.queue,
                                  client.services.bus)
    # the entry filled (what the monitor records when a candle trades through it)
    await SignalState.filter(signal_id=signal.id).update(status=SignalStatus.ACTIVE)

    wrong = await run(client, api, payload("movesl", [opt("signal", signal.id, 4),
                                                      opt("price", "lower")]))
    assert ephemeral(wrong) and wrong["data"]["content"] == (
        "⚠️ price: type the new stop-loss price (e.g. 85146.64), or entry, be or "
        "breakeven to move it to the entry")
    assert not await SignalEvent.filter(signal_id=signal.id, kind="STOP_MOVED").exists()

    moved = await run(client, api, payload("movesl", [opt("signal", signal.id, 4),
                                                      opt("price", "be")]))
    assert "Stop-loss of signal" in moved["data"]["content"]
    assert f"moved to `{format(candle.close.normalize(), 'f')}`" in moved["data"]["content"]
    assert (await SignalState.get(signal_id=signal.id)).stop_loss == candle.close

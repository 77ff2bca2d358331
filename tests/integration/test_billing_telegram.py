"""Billing in the Telegram bot: the bot (aiogram, unmodified) polls the local Bot API;
Stripe is the local fake (SDK unmodified); payments arrive as signed webhooks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.telegram.app import run_polling
from bots.telegram.billing_ui import BillingAction
from bots.telegram.callbacks import SubscribeCallback
from domain.models import Delivery, Role, Subscription, SubscriptionStatus, User
from domain.providers import create_provider
from domain.users import create_user
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage
from tests.support.billing import BillingWorld, billing_world

TOKEN = "123456:TEST-token-abcdefghijklmnop"
USER, OWNER = 5201, 5202
S = SubscriptionStatus


@contextlib.asynccontextmanager
async def polling(api: FakeTelegramApi, settings: Settings, services: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(run_polling(settings, services))
    await api.wait_for(lambda: api.calls_to("getMe") or task.done())
    assert not task.done(), task.exception()
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def bot(clean_db, settings, redis) -> AsyncIterator[  # noqa: ANN001
        tuple[BillingWorld, FakeTelegramApi]]:
    async with FakeTelegramApi() as api, billing_world(
            settings, telegram_bot_token=TOKEN, telegram_api_base=api.base_url) as world, \
            polling(api, world.services.settings, world.services):
        yield world, api


async def ask(api: FakeTelegramApi, text: str, user_id: int = USER) -> SentMessage:
    before = len(api.sent_messages(user_id))
    api.push_update(api.message_update(user_id, text))
    return (await api.wait_for(lambda: api.sent_messages(user_id)[before:]))[-1]


async def press(api: FakeTelegramApi, data: str, user_id: int = USER) -> dict[str, Any]:
    before = len(api.calls_to("answerCallbackQuery"))
    api.push_update(api.callback_update(user_id, data))
    answers = await api.wait_for(lambda: api.calls_to("answerCallbackQuery")[before:])
    return answers[-1].params


def buttons(sent: SentMessage) -> list[dict[str, Any]]:
    return [b for row in (sent.reply_markup or {}).get("inline_keyboard", []) for b in row]


async def test_button_link_payment_then_subscriptions_with_pause_resume_cancel(
        bot: tuple[BillingWorld, FakeTelegramApi]) -> None:
    world, api = bot
    await world.paid_provider()
    await ask(api, "/start")  # the user exists

    answer = await press(api, SubscribeCallback(slug="btc-desk").pack())
    offer = (await api.wait_for(lambda: [m for m in api.sent_messages(USER)
                                         if "costs $3.00/month" in str(m.message["text"])]))[0]
    [pay] = buttons(offer)
    assert answer["text"] == "Payment link for Btc-Desk sent"
    assert pay["text"] == "💳 Pay $3.00/month" and pay["url"].startswith(
        "https://checkout.stripe.com/c/pay/cs_test_")
    [session] = [s for s in world.stripe.sessions.values() if s["url"] == pay["url"]]
    for event in world.stripe.complete_checkout(session["id"]):
        assert (await world.deliver(event)).status_code == 200
    await world.run_worker()

    listing = await ask(api, "/subscriptions")
    user = await User.get(telegram_user_id=USER)
    sub = await Subscription.get(user=user)
    renews = sub.current_period_end.strftime("%Y-%m-%d")
    assert f"Btc-Desk · btc-desk · copy off · ✅ active · renews {renews} · $3.00/month" in \
        str(listing.message["text"])
    assert [b["text"] for b in buttons(listing)] == [
        "🛑 Cancel · Btc-Desk", "⏸ Pause · Btc-Desk", "💳 Manage billing (cards, invoices)"]
    assert buttons(listing)[2]["url"].startswith("https://billing.stripe.com/p/session/")

    paused = await press(api, BillingAction(action="pause", slug="btc-desk").pack())
    assert paused["text"] == "Paused Btc-Desk: no signals and no charges until you resume"
    assert (await Subscription.get(id=sub.id)).status is S.PAUSED
    resumed = await press(api, BillingAction(action="resume", slug="btc-desk").pack())
    assert resumed["text"] == "Resumed Btc-Desk"
    cancelled = await press(api, BillingAction(action="cancel", slug="btc-desk").pack())
    assert cancelled["text"] == f"Cancelled Btc-Desk: signals continue until {renews}"
    again = await press(api, BillingAction(action="cancel", slug="btc-desk").pack())
    assert again == {**again, "text": "this subscription is already cancelled",
                     "show_alert": True}
    sub = await Subscription.get(id=sub.id)
    assert sub.status is S.CANCELLED and sub.cancel_at_period_end
    # The handler answers the press, then edits the listing: wait for that edit.
    [edited] = (await api.wait_for(lambda: [
        c.params for c in api.calls_to("editMessageText")
        if "🛑 cancelled" in c.params["text"]]))[-1:]
    assert f"🛑 cancelled · signals until {renews}" in edited["text"]


async def test_payouts_gives_the_owner_an_onboarding_link(
        bot: tuple[BillingWorld, FakeTelegramApi]) -> None:
    world, api = bot
    owner = await create_user("Desk", Role.PROVIDER, telegram_user_id=OWNER)
    await create_provider(owner, "owner-desk", "Owner Desk")

    reply = await ask(api, "/payouts", OWNER)
    stranger = await ask(api, "/payouts owner-desk")
    usage = await ask(api, "/payouts a b", OWNER)

    [button] = buttons(reply)
    assert button["text"] == "🏦 Set up payouts"
    assert button["url"].startswith("https://connect.stripe.com/setup/e/acct_")
    assert "you do not own the provider 'owner-desk'" in str(stranger.message["text"])
    assert "/payouts takes at most one provider slug" in str(usage.message["text"])


async def test_without_a_stripe_key_priced_providers_say_so_and_free_ones_subscribe(
        clean_db, settings, redis) -> None:  # noqa: ANN001
    configured = settings.model_copy(update={"telegram_bot_token": TOKEN})
    async with FakeTelegramApi() as api:
        configured = configured.model_copy(update={"telegram_api_base": api.base_url})
        services = await bootstrap(configured, prices=ReplayPriceSource(PACKAGE_DATA, speed=None),
                                   init_database=False)
        owner = await create_user("Desk", Role.PROVIDER, telegram_user_id=OWNER)
        await create_provider(owner, "paid-desk", "Paid Desk", monthly_price="3.00")
        await create_provider(owner, "free-desk", "Free Desk", monthly_price="0")
        try:
            async with polling(api, configured, services):
                priced = await ask(api, "/subscribe paid-desk")
                free = await ask(api, "/subscribe free-desk")
                listing = await ask(api, "/subscriptions")
        finally:
            await shutdown(services, close_database=False)

    assert str(priced.message["text"]) == (
        "⚠️ Paid Desk costs $3.00/month, and payments are not set up on this SignalHub "
        "(no Stripe key): it cannot be subscribed to yet")
    assert str(free.message["text"]).startswith("✅ Subscribed to Free Desk")
    assert "Free Desk · free-desk · copy off · ✅ active · free" in str(listing.message["text"])
    assert [b["text"] for b in buttons(listing)] == ["🛑 Cancel · Free Desk"]
    assert not await Subscription.exists(provider__slug="paid-desk")
    [notice] = await Delivery.filter(user=owner)  # sent by the sweep of pending deliveries
    assert notice.text == f"New subscriber: User{USER} subscribed to Free Desk (free)."

"""The paid-subscription journey end to end.

A user sends /subscribe to the bot (aiogram, unmodified, polling the local Bot API),
gets a Stripe Checkout link (the SDK, unmodified, against the local Stripe), "pays"
(Stripe's signed events arrive at /webhooks/stripe over real HTTP), receives the next
signal, the next invoice fails, signals keep coming in the grace period, the grace
period passes (the worker's clock is moved, nothing sleeps), and the next signal is
not delivered. The ledger shows the 70/30 split of the one payment. Real PostgreSQL,
Redis, arq workers; signal prices are real BTC/USDT candles.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bots.telegram.app import run_polling
from domain.billing_models import LedgerEntry, SubscriptionTransition
from domain.models import Delivery, SignalEvent, Subscription, SubscriptionStatus, User
from domain.publishing import publish_signal
from domain.signals import make_draft
from integrations.telegram import TelegramSender, make_bot
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.billing import BillingWorld, billing_world, expected_ledger, ledger_fields
from tests.support.setups import btc_candles, winning_buy

TOKEN = "123456:TEST-token-abcdefghijklmnop"
USER, OWNER = 5101, 5102
SETUP = winning_buy(btc_candles(), 2000)


@pytest.fixture
async def journey(clean_db, settings, redis) -> AsyncIterator[  # noqa: ANN001
        tuple[BillingWorld, FakeTelegramApi, TelegramSender]]:
    async with FakeTelegramApi() as api, billing_world(
            settings, telegram_bot_token=TOKEN, telegram_api_base=api.base_url) as world:
        bot = asyncio.create_task(run_polling(world.services.settings, world.services))
        await api.wait_for(lambda: api.calls_to("getMe") or bot.done())
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        try:
            yield world, api, sender
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
            await sender.aclose()


def texts(api: FakeTelegramApi, chat: int) -> list[str]:
    return [str(m.message["text"]) for m in api.sent_messages(chat)]


async def publish(world: BillingWorld, owner: User) -> int:
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target])
    signal = await publish_signal(owner, "btc-desk", draft, world.services.queue,
                                  world.services.bus, market_ts=world.services.prices.now_ms())
    return signal.id


async def deliver(world: BillingWorld, events: list[dict[str, Any]], sender: Any) -> None:
    for event in events:
        response = await world.deliver(event)
        assert response.status_code == 200, response.text
    await world.run_worker(sender)


async def test_subscribe_pay_receive_fail_lapse(journey) -> None:  # noqa: ANN001, PLR0915
    world, api, sender = journey
    owner, provider = await world.paid_provider()
    owner.telegram_user_id = owner.telegram_chat_id = OWNER
    await owner.save()

    # /subscribe answers with a Checkout link (URL button)
    api.push_update(api.message_update(USER, "/subscribe btc-desk"))
    [offer] = await api.wait_for(lambda: api.sent_messages(USER))
    assert "Btc-Desk costs $3.00/month" in str(offer.message["text"])
    url = offer.reply_markup["inline_keyboard"][0][0]["url"]
    [session] = [s for s in world.stripe.sessions.values() if s["url"] == url]
    user = await User.get(telegram_user_id=USER)
    assert session["client_reference_id"] == str(user.id)
    sub = await Subscription.get(user=user, provider=provider)
    assert sub.status is SubscriptionStatus.PENDING_PAYMENT

    # the user pays: Stripe's events arrive signed, over HTTP
    paid_events = world.stripe.complete_checkout(session["id"])
    await deliver(world, paid_events, sender)
    sub = await Subscription.get(user=user, provider=provider)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.current_period_end is not None
    await api.wait_for(lambda: [t for t in texts(api, USER) if "Payment received" in t])
    await api.wait_for(lambda: [t for t in texts(api, OWNER)
                                if "New subscriber: " in t and user.name in t])

    # the next signal reaches the subscriber
    first = await publish(world, owner)
    await world.run_worker(sender)
    await api.wait_for(lambda: [t for t in texts(api, USER) if "new signal #1" in t])

    # the renewal fails: PAST_DUE, and signals keep coming during the grace period
    world.stripe.clock += 31 * 86400
    await deliver(world, world.stripe.fail_renewal(str(sub.stripe_subscription_id)), sender)
    sub = await Subscription.get(user=user, provider=provider)
    assert sub.status is SubscriptionStatus.PAST_DUE and sub.grace_until is not None
    await api.wait_for(lambda: [t for t in texts(api, USER) if "failed" in t])
    await publish(world, owner)
    await world.run_worker(sender)
    await api.wait_for(lambda: [t for t in texts(api, USER) if "new signal #2" in t])

    # the grace period passes (the worker's clock moves past it): EXPIRED, told
    later = sub.grace_until + timedelta(minutes=1)
    await world.services.queue.enqueue("expire_subscriptions", job_id="expire:journey")
    await world.run_worker(sender, clock=lambda: later)
    sub = await Subscription.get(user=user, provider=provider)
    assert sub.status is SubscriptionStatus.EXPIRED
    await api.wait_for(lambda: [t for t in texts(api, USER) if "has ended" in t])

    # the next signal is not delivered
    before = len(texts(api, USER))
    third = await publish(world, owner)
    await world.run_worker(sender)
    event = await SignalEvent.get(signal_id=third, kind="PUBLISHED")
    assert not await Delivery.exists(event=event, user=user)
    assert len(texts(api, USER)) == before
    assert not [t for t in texts(api, USER) if "new signal #3" in t]
    assert await Delivery.exists(event__signal_id=first, user=user, status="SENT")

    # the ledger: one payment, split 70/30, Stripe's fee recorded
    [entry] = await LedgerEntry.all()
    assert (entry.gross, entry.platform_fee, entry.provider_net) == (
        Decimal("3.00"), Decimal("0.90"), Decimal("2.10"))
    assert entry.stripe_fee == Decimal("0.39") and entry.currency == "usd"
    assert entry.provider_id == provider.id and entry.user_id == user.id
    expected = expected_ledger(paid_events, world.stripe)
    assert ledger_fields(entry, expected) == expected
    assert entry.period_end - entry.period_start == timedelta(days=30)
    assert entry.stripe_subscription_id == sub.stripe_subscription_id
    assert entry.fee_pct == Decimal("30")
    causes = [(t.from_status, t.to_status, t.cause.split(":")[0])
              for t in await SubscriptionTransition.filter(subscription=sub).order_by("id")]
    assert causes == [("NEW", "PENDING_PAYMENT", "user"), ("PENDING_PAYMENT", "ACTIVE", "stripe"),
                      ("ACTIVE", "PAST_DUE", "stripe"), ("PAST_DUE", "EXPIRED", "schedule")]

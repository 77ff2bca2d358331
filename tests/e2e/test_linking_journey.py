"""One identity across channels, end to end.

A user subscribes in Telegram, runs /link there, enters the code with /link in Discord,
switches copy trading on in Discord, and the provider's next signal reaches them in
both apps and is copied once. Everything runs unmodified: the Telegram bot long-polls
the fake Bot API, the Discord bot (``SignalHubBot``) handles real Interaction payloads
against the fake Discord REST API (``Route.BASE`` moved), and an arq burst worker fans
out, sends (Telegram HTML, Discord DM) and paper-fills. Real PostgreSQL and Redis; the
signal's prices are real BTC/USDT 1h candles.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bots.telegram.app import run_polling
from domain import users
from domain.models import CopyOrder, OrderStatus, Role, User
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from integrations.telegram import TelegramSender, make_bot
from signalhub.settings import Settings
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage
from tests.support.discord import ALICE, discord_bot, opt, payload, run
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
TG_USER = 8101
SLUG = "journey-desk"


async def ask(api: FakeTelegramApi, text: str) -> str:
    before = len(api.sent_messages(TG_USER))
    api.push_update(api.message_update(TG_USER, text, first_name="Ada"))
    replies: list[SentMessage] = await api.wait_for(lambda: api.sent_messages(TG_USER)[before:])
    return str(replies[-1].message["text"])


def content(callback: dict[str, Any]) -> str:
    data = callback["data"]
    return str(data.get("content") or "") + " ".join(
        str(e.get("description") or "") for e in data.get("embeds") or [])


async def test_subscribe_in_telegram_link_discord_copy_there_and_receive_in_both(
        clean_db: str, redis: Any, settings: Settings) -> None:
    async with FakeTelegramApi() as telegram:
        configured = settings.model_copy(update={"telegram_bot_token": TOKEN,
                                                 "telegram_api_base": telegram.base_url})
        async with discord_bot(configured) as (client, discord_api):
            services = client.services
            polling = asyncio.create_task(run_polling(services.settings, services))
            await telegram.wait_for(lambda: telegram.calls_to("getMe") or polling.done())
            try:
                owner = await users.create_user("Desk", Role.PROVIDER)
                await create_provider(owner, SLUG, "Journey Desk", monthly_price="0")

                subscribed = await ask(telegram, f"/subscribe {SLUG}")
                link_reply = await ask(telegram, "/link")
                code = link_reply.split("Your link code: ", 1)[1].split("\n", 1)[0]
                linked = await run(client, discord_api, payload(
                    "link", [opt("code", code)], user_id=ALICE))
                copying = await run(client, discord_api, payload(
                    "copy", [opt("provider", SLUG), opt("on", True, 5)], user_id=ALICE))

                account = await User.get(telegram_user_id=TG_USER)
                assert subscribed.startswith("✅ Subscribed to Journey Desk")
                assert account.discord_user_id == ALICE  # one account, both identities
                assert content(linked).startswith(
                    "✅ Linked: this Discord account now uses **")
                assert content(copying).startswith(f"🤖 Copy trading for `{SLUG}` is on")
                assert linked["data"]["flags"] & 64 and copying["data"]["flags"] & 64

                window = services.prices.history("BTC/USDT", 24)  # type: ignore[union-attr]
                close = window[-1].close
                draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=close,
                                   entry_high=None, stop_loss=min(c.low for c in window),
                                   targets=[max(c.high for c in window)])
                signal = await publish_signal(owner, SLUG, draft, services.queue,
                                              services.bus,
                                              market_ts=services.prices.now_ms())  # type: ignore[union-attr]
                sender = TelegramSender(make_bot(TOKEN, telegram.base_url))
                worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
                await worker.main()
                await worker.close()
            finally:
                polling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling

    cards = [m for m in telegram.sent_messages(TG_USER) if "new signal #1" in m.text]
    assert len(cards) == 1 and "BTC/USDT" in cards[0].text
    [dm] = [m for m in discord_api.dms_to(ALICE) if m.get("embeds")]
    assert "BTC/USDT" in dm["embeds"][0]["title"]
    [order] = await CopyOrder.filter(signal_id=signal.id)
    assert order.user_id == account.id and order.status is OrderStatus.FILLED

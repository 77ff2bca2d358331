"""One account across Telegram and Discord: subscribe in Telegram, link Discord, switch
copy trading on in Discord; the next signal reaches both apps and is copied once.

Real PostgreSQL and Redis, the bot's command tree with real Interaction payloads, the
worker in burst mode, aiogram against the fake Bot API, discord.py against the fake
Discord API, prices from the shipped BTC/USDT candles.
"""

from __future__ import annotations

from domain import linking, users
from domain.linking_models import Platform
from domain.models import CopyOrder, Delivery, DeliveryStatus, Role, User
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import subscribe
from integrations.telegram import TelegramSender, make_bot
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.discord import BOB, CANDLES, discord_bot, ephemeral, opt, payload, run
from workers.context import WorkerDeps
from workers.discord_jobs import close_discord
from workers.settings import make_worker

TG_TOKEN = "123456:TEST-token-abcdefghijklmnop"


async def test_linked_account_gets_both_apps_and_one_copy(clean_db, settings, redis
                                                         ) -> None:  # noqa: ANN001
    owner = await users.create_user("link-owner", Role.PROVIDER)
    await create_provider(owner, "link-free", "Link Free", monthly_price="0")
    telegram = await users.telegram_user(7770001, 7770001, "tg-carol")
    await subscribe(telegram, "link-free")

    async with discord_bot(settings) as (client, api), FakeTelegramApi() as tg:
        services = client.services
        code = await linking.issue_code(telegram, Platform.TELEGRAM)
        linked = await run(client, api, payload("link", [opt("code", code)], user_id=BOB))
        assert ephemeral(linked) and "✅ Linked" in linked["data"]["content"]
        copy = await run(client, api, payload("copy", [opt("provider", "link-free"),
                                                       opt("on", True, 5)], user_id=BOB))
        assert "Copy trading for `link-free` is on" in copy["data"]["content"]

        candle = CANDLES[2500]
        draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=candle.close,
                           entry_high=None, stop_loss=candle.low, targets=[candle.high])
        await publish_signal(owner, "link-free", draft, services.queue, services.bus,
                             market_ts=services.prices.now_ms())
        sender = TelegramSender(make_bot(TG_TOKEN, tg.base_url))
        worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
        await worker.main()
        await worker.close()
        await sender.aclose()
        await close_discord(WorkerDeps(services, None, None))

        account = await User.get(id=telegram.id)
        assert account.discord_user_id == BOB and account.telegram_user_id == 7770001
        signal_messages = [m for m in tg.sent_messages()
                           if m.chat_id == 7770001 and "BTC/USDT" in m.text]
        assert signal_messages  # the signal (and the fill notice) in Telegram
        [dm] = api.dms_to(BOB)
        assert dm["embeds"][0]["title"] == "🟢 BUY BTC/USDT · #1"
    channels = sorted(await Delivery.filter(user_id=telegram.id, event_id__not_isnull=True,
                                            status=DeliveryStatus.SENT
                                            ).values_list("channel", flat=True))
    assert channels == ["discord", "telegram"]
    assert await CopyOrder.filter(user_id=telegram.id).count() == 1

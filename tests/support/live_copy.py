"""Live copy trading on the fake Binance: followers with sealed live accounts, services
around a replay, and a burst worker. Shared by the ``test_copy_live*`` modules.

    async with live_world(settings, prices) as (services, fake, api, sender, box):
        user = await live_follower(1, box, fake, "slug", market_type=MarketType.LINEAR)
        await run_worker(services, sender)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain import users
from domain.copy_settings import set_copy_trading
from domain.exchange_models import ExchangeAccount, MarketType, TradingMode
from domain.models import User
from domain.subscriptions import subscribe
from integrations.prices import ReplayPriceSource
from integrations.secrets import ExchangeCredentials, SecretBox
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.binance_api import FakeBinance
from tests.fakes.telegram_api import FakeTelegramApi
from workers.context import WorkerDeps
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
# The last 400 Binance USDⓈ-M BTCUSDT perpetual 1h candles (2026-02-03 .. 2026-02-19)
# of /work/shared/data/futures/BTC_USDT_USDT-1h.csv, copied unchanged.
BTC_PERP_1H = Path(__file__).resolve().parents[1] / "data" / "BTC_USDT_USDT-1h.csv"


def live_key(i: int) -> tuple[str, str]:
    """API key and secret of follower ``i`` (Binance-shaped, used only on the fake)."""
    return f"LiveKey{i:057d}", f"LiveSecret{i:054d}"


async def live_follower(i: int, box: SecretBox, fake: FakeBinance, slug: str, *,
                        confirmed: bool = True, usdt: str = "10000",
                        market_type: MarketType = MarketType.SPOT, **limits: object) -> User:
    """A Telegram user (chat 4000+i) copying ``slug`` with a live binance account of
    ``market_type`` on the fake (``usdt`` USDT spot, or in the futures wallet for
    linear), credentials sealed under ``box``; ``limits`` are copy settings by name
    (``domain.copy_settings.set_copy_trading``)."""
    user = await users.telegram_user(4000 + i, 4000 + i, f"live{i}")
    await subscribe(user, slug)
    await set_copy_trading(user, slug, True, **limits)
    key, secret = live_key(i)
    if market_type is MarketType.LINEAR:
        fake.add_account(key, secret, futures_usdt=usdt)
    else:
        fake.add_account(key, secret, spot={"USDT": usdt})
    sealed = box.encrypt(ExchangeCredentials(key, secret), user.id)
    await ExchangeAccount.create(
        user=user, exchange_id="binance", market_type=market_type,
        api_base_url=fake.base_url, mode=TradingMode.LIVE, api_key_hint=key[-4:],
        live_confirmed_at=datetime.now(UTC) if confirmed else None,
        credentials_ciphertext=sealed.ciphertext, credentials_nonce=sealed.nonce,
        credentials_key_id=sealed.key_id)
    return user


@asynccontextmanager
async def live_world(settings: Any, prices: ReplayPriceSource, *, hang_s: float = 2.0
                     ) -> AsyncIterator[tuple[Any, FakeBinance, FakeTelegramApi,
                                              TelegramSender, SecretBox]]:
    """Services on ``prices`` (exchange limits lifted for the fake, 1 s exchange
    timeout), a started fake Binance (accepted-then-hung orders answer after
    ``hang_s``), a fake Bot API with its sender, and the settings' secret box."""
    settings = settings.model_copy(update={"exchange_rate": 10_000.0,
                                           "exchange_account_rate": 1_000.0,
                                           "exchange_timeout_ms": 1_000})
    services = await bootstrap(settings, prices=prices, init_database=False)
    try:
        async with FakeBinance(hang_s=hang_s) as fake, FakeTelegramApi() as api:
            sender = TelegramSender(make_bot(TOKEN, api.base_url))
            try:
                yield services, fake, api, sender, SecretBox(settings.signalhub_secret_key)
            finally:
                await sender.aclose()
    finally:
        await shutdown(services, close_database=False)


async def run_worker(services: Any, sender: Any) -> None:
    """Run a burst worker (no monitor) until the queue is empty, then close it."""
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()


def job_ctx(services: Any, sender: Any) -> dict[str, Any]:
    """The context a job function gets from the worker, for calling jobs directly."""
    return {"deps": WorkerDeps(services, sender, None)}

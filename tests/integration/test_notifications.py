"""Notification preferences through the worker: quiet hours deliver silently
(``disable_notification`` in the recorded sendMessage), switched-off event kinds are not
delivered (but still copied). Real PostgreSQL, Redis, arq burst worker, aiogram against
the fake Bot API; the signal's prices are real BTC/USDT candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import users
from domain.errors import InvalidInput
from domain.models import CopyOrder, Delivery, EventKind, Role, User
from domain.notifications import (
    format_clock,
    in_quiet_hours,
    preferences,
    set_quiet_hours,
    silent_now,
    toggle_kind,
)
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import set_copy_trading, subscribe
from integrations.prices import ReplayPriceSource
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)
LOUD, QUIET, MUTED = 3001, 3002, 3003


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    async with FakeTelegramApi() as api:
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        yield services, api, sender
        await sender.aclose()
    await shutdown(services, close_database=False)


def window_around_now() -> tuple[str, str]:
    """Quiet hours from an hour ago to an hour ahead (UTC), whatever the time is."""
    now = datetime.now(UTC)
    minute = now.hour * 60 + now.minute
    return format_clock((minute - 60) % 1440), format_clock((minute + 60) % 1440)


async def test_quiet_hours_are_silent_and_switched_off_kinds_are_not_delivered(
        world) -> None:  # noqa: ANN001
    services, api, sender = world
    owner = await users.create_user("desk", Role.PROVIDER)
    await create_provider(owner, "quiet-desk", "Quiet desk", monthly_price="0")
    people: dict[int, User] = {}
    for telegram_id in (LOUD, QUIET, MUTED):
        people[telegram_id] = await users.telegram_user(telegram_id, telegram_id, "x")
        await subscribe(people[telegram_id], "quiet-desk")
    await set_quiet_hours(people[QUIET], *window_around_now(), "UTC")
    await toggle_kind(people[MUTED], EventKind.PUBLISHED)
    await set_copy_trading(people[MUTED], "quiet-desk", True)
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target])

    signal = await publish_signal(owner, "quiet-desk", draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()

    cards = [m for m in api.sent_messages() if "new signal #1" in m.text]
    assert sorted(m.chat_id for m in cards) == [LOUD, QUIET]
    flags = {m.chat_id: m.params.get("disable_notification") for m in cards}
    assert flags == {LOUD: None, QUIET: True}
    assert not await Delivery.exists(user_id=people[MUTED].id, event__kind=EventKind.PUBLISHED)
    copied = await CopyOrder.get(signal_id=signal.id)  # muted, yet still copied
    assert copied.user_id == people[MUTED].id


@pytest.mark.parametrize(("start", "end", "zone", "at", "quiet"), [
    ("22:00", "07:00", "UTC", datetime(2026, 1, 5, 23, 30, tzinfo=UTC), True),
    ("22:00", "07:00", "UTC", datetime(2026, 1, 5, 6, 59, tzinfo=UTC), True),
    ("22:00", "07:00", "UTC", datetime(2026, 1, 5, 7, 0, tzinfo=UTC), False),
    ("09:00", "17:00", "UTC", datetime(2026, 1, 5, 12, 0, tzinfo=UTC), True),
    ("09:00", "17:00", "UTC", datetime(2026, 1, 5, 17, 0, tzinfo=UTC), False),
    # Berlin is UTC+1 in January and UTC+2 in July: 21:30 UTC is 22:30 / 23:30 local.
    ("23:00", "07:00", "Europe/Berlin", datetime(2026, 1, 5, 21, 30, tzinfo=UTC), False),
    ("23:00", "07:00", "Europe/Berlin", datetime(2026, 7, 5, 21, 30, tzinfo=UTC), True),
])
def test_quiet_hours_are_local_time_and_wrap_past_midnight(
        start: str, end: str, zone: str, at: datetime, quiet: bool) -> None:
    first = int(start[:2]) * 60 + int(start[3:])
    last = int(end[:2]) * 60 + int(end[3:])
    assert in_quiet_hours(first, last, zone, at) is quiet


def test_no_window_means_never_quiet() -> None:
    at = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    assert not in_quiet_hours(None, None, "UTC", at)
    assert not in_quiet_hours(600, 600, "UTC", at)


async def test_preferences_reject_bad_input_and_change_nothing(clean_db) -> None:  # noqa: ANN001
    user = await users.create_user("ada")
    await set_quiet_hours(user, "22:00", "07:00", "Asia/Tokyo")

    for start, end, zone in (("24:00", "07:00", None), ("22:00", "22:00", None),
                             ("22:00", "07:00", "Nowhere/City")):
        with pytest.raises(InvalidInput):
            await set_quiet_hours(user, start, end, zone)
    with pytest.raises(InvalidInput):
        await toggle_kind(user, "LUNCH")

    prefs = await preferences(user)
    assert (prefs.quiet_start, prefs.quiet_end, prefs.time_zone) == (1320, 420, "Asia/Tokyo")
    assert prefs.muted_kinds == []
    tokyo_night = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo
    assert await silent_now(user.id, tokyo_night)
    assert not await silent_now(user.id, tokyo_night + timedelta(hours=9))

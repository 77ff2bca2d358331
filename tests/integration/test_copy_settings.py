"""Copy settings, copy orders with reasons, positions' unrealized PnL and PnL summaries,
through GraphQL over real HTTP (uvicorn on loopback) and the unmodified Telegram bot
long-polling the fake Bot API; real PostgreSQL and Redis.

Every bad value is checked to change nothing: the stored settings row is compared
before and after. Prices: the bundled real candles on a manual replay; signal levels
are real lows/highs of the replay's last candles.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bots.telegram.app import run_polling
from bots.telegram.commands import PNL_USAGE
from bots.telegram.risk_texts import RiskCallback
from domain import models
from domain.copying import execute_copy_orders
from domain.fanout import fan_out
from domain.monitor import close_positions_for_event
from domain.portfolio import day_pnl
from domain.providers import create_provider
from domain.publishing import close_signal, publish_signal
from domain.signals import make_draft
from domain.subscriptions import subscribe
from domain.users import create_user
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage
from tests.integration import test_graphql_api as graphql
from tests.integration.test_graphql_api import Api, user_with_token

api, services = graphql.api, graphql.services  # the GraphQL tests' fixtures
SLUG = "btc-swing"
TOKEN = "123456:TEST-token-abcdefghijklmnop"
USER = 7001
SETTINGS = """copySettings { enabled scaleFactor maxPositionPct maxOpenPositions
  maxDailyLossPct slippageGuardPct slippageAction leverageCap allowedSymbols deniedSymbols
  exitLadder moveStopToBreakeven }"""
SET_COPY = f"""mutation($slug: String!, $enabled: Boolean, $scale: Decimal, $maxPct: Decimal,
  $maxOpen: Int, $loss: Decimal, $guard: Decimal, $action: String, $lev: Int,
  $allow: [String!], $deny: [String!], $ladder: [Decimal!], $be: Boolean) {{
  setCopyTrading(providerSlug: $slug, enabled: $enabled, scaleFactor: $scale,
    maxPositionPct: $maxPct, maxOpenPositions: $maxOpen, maxDailyLossPct: $loss,
    slippageGuardPct: $guard, slippageAction: $action, leverageCap: $lev,
    allowedSymbols: $allow, deniedSymbols: $deny, exitLadder: $ladder,
    moveStopToBreakeven: $be) {{
  __typename ... on ProviderSubscription {{ {SETTINGS} }}
  ... on ValidationError {{ field message }} ... on NotAllowed {{ message }}
  ... on NotFound {{ message }} }} }}"""
ORDERS = """query($first: Int!, $after: String, $slug: String) {
  myCopyOrders(first: $first, after: $after, providerSlug: $slug) {
  edges { cursor node { id signalId providerSlug leg mode status symbol side reason reasons
  orderType exchange amount filled price limitPrice stopPrice notional fee } }
  pageInfo { hasNextPage endCursor } } }"""


async def follower(slug: str = SLUG) -> tuple[models.User, str, models.User]:
    """A free provider ``slug`` (its owner returned last) and a subscribed follower."""
    owner = await create_user(f"owner of {slug}", role="provider")
    await create_provider(owner, slug, slug.title(), monthly_price="0")
    user, token = await user_with_token("Follower")
    await subscribe(user, slug)
    return user, token, owner


async def stored(user: models.User) -> dict[str, Any]:
    [row] = await models.CopySettings.filter(subscription__user_id=user.id).values()
    return row


async def copy_signal(owner: models.User, prices: ReplayPriceSource, slug: str = SLUG
                      ) -> models.Signal:
    """Publish a BUY at the last real BTC/USDT close; run the copy engine on it.

    Stop and target are the lowest low and highest high of the last 24 real candles.
    """
    window = prices.history("BTC/USDT", 24)
    close = window[-1].close
    stop, target = min(c.low for c in window), max(c.high for c in window)
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=close, entry_high=None,
                       stop_loss=stop, targets=[target])
    signal = await publish_signal(owner, slug, draft, NoQueue(), NoBus(),
                                  market_ts=prices.now_ms())
    event = await models.SignalEvent.get(signal=signal, kind=models.EventKind.PUBLISHED)
    await execute_copy_orders((await fan_out(event.id)).copy_order_ids, prices)
    return signal


class NoQueue:
    """A ``JobQueue`` whose jobs are run by the test itself (fan-out, execution)."""

    async def enqueue(self, function: str, *args: Any, job_id: str) -> bool:
        return True


class NoBus:
    """An ``EventBus`` nobody listens to in these tests."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        return None


# -- GraphQL: settings -------------------------------------------------------------------


async def test_set_copy_trading_stores_every_limit_and_my_copy_settings_reads_them(
        api: Api) -> None:
    user, token, _ = await follower()
    values = {"slug": SLUG, "enabled": True, "scale": "0.5", "maxPct": "8", "maxOpen": 3,
              "loss": "3", "guard": "0.25", "action": "LIMIT", "lev": 5,
              "allow": ["btc/usdt", "ETH/USDT"], "deny": ["doge/usdt"],
              "ladder": ["50", "30", "20"], "be": True}

    result = (await api.data(SET_COPY, values, token))["setCopyTrading"]
    read = (await api.data('{ myCopySettings(providerSlug: "btc-swing") { enabled '
                           'slippageAction allowedSymbols exitLadder leverageCap } }',
                           token=token))["myCopySettings"]

    assert result == {"__typename": "ProviderSubscription", "copySettings": {
        "enabled": True, "scaleFactor": "0.5", "maxPositionPct": "8", "maxOpenPositions": 3,
        "maxDailyLossPct": "3", "slippageGuardPct": "0.25", "slippageAction": "limit",
        "leverageCap": 5, "allowedSymbols": ["BTC/USDT", "ETH/USDT"],
        "deniedSymbols": ["DOGE/USDT"], "exitLadder": ["50", "30", "20"],
        "moveStopToBreakeven": True}}
    assert read == {"enabled": True, "slippageAction": "limit",
                    "allowedSymbols": ["BTC/USDT", "ETH/USDT"],
                    "exitLadder": ["50", "30", "20"], "leverageCap": 5}
    row = await stored(user)
    assert (row["max_daily_loss_pct"], row["denied_symbols"]) == (Decimal(3), ["DOGE/USDT"])


async def test_omitted_values_keep_theirs_and_old_clients_still_work(api: Api) -> None:
    user, token, _ = await follower()
    await api.data(SET_COPY, {"slug": SLUG, "loss": "2", "deny": ["SOL/USDT"]}, token)

    old_style = (await api.data(
        'mutation { setCopyTrading(providerSlug: "btc-swing", enabled: true, scaleFactor: '
        f'"1.5") {{ __typename ... on ProviderSubscription {{ {SETTINGS} }} }} }}',
        token=token))["setCopyTrading"]["copySettings"]
    cleared = (await api.data(SET_COPY, {"slug": SLUG, "deny": [], "ladder": []}, token)
               )["setCopyTrading"]["copySettings"]

    assert (old_style["enabled"], old_style["scaleFactor"]) == (True, "1.5")
    assert (old_style["maxDailyLossPct"], old_style["deniedSymbols"]) == ("2", ["SOL/USDT"])
    assert cleared["deniedSymbols"] == [] and cleared["enabled"] is True
    assert (await stored(user))["max_daily_loss_pct"] == Decimal(2)


BAD_VALUES: list[tuple[dict[str, Any], str, str]] = [
    ({"scale": "2.5"}, "scaleFactor", "must be between 0.1 and 2.0"),
    ({"scale": "0.1234"}, "scaleFactor", "at most 3 decimal places"),
    ({"guard": "0.0001"}, "slippageGuardPct", "at most 3 decimal places"),
    ({"maxPct": "0"}, "maxPositionPct", "must be above 0 and at most 100 (percent)"),
    ({"maxOpen": 101}, "maxOpenPositions", "must be between 1 and 100"),
    ({"loss": "0"}, "maxDailyLossPct", "must be above 0 and at most 100 (percent)"),
    ({"loss": "100.5"}, "maxDailyLossPct", "must be above 0 and at most 100 (percent)"),
    ({"guard": "25"}, "slippageGuardPct", "must be between 0 and 20 (percent)"),
    ({"guard": "-0.1"}, "slippageGuardPct", "must be between 0 and 20 (percent)"),
    ({"action": "market"}, "slippageAction", "must be skip or limit, got 'market'"),
    ({"lev": 0}, "leverageCap", "must be between 1 and 125 (x)"),
    ({"lev": 126}, "leverageCap", "must be between 1 and 125 (x)"),
    ({"allow": ["BTCUSDT"]}, "allowedSymbols", "'BTCUSDT' is not a ccxt unified symbol"),
    ({"deny": ["BTC/"]}, "deniedSymbols", "'BTC/' is not a ccxt unified symbol"),
    ({"ladder": ["50", "30"]}, "exitLadder", "steps must sum to 100 (percent), got 80"),
    ({"ladder": ["110", "-10"]}, "exitLadder", "every step must be a percent above 0"),
    ({"ladder": ["10"] * 11}, "exitLadder", "has 11 steps; at most 10"),
    ({"enabled": False, "scale": "0.5", "lev": 500}, "leverageCap", "must be between 1"),
]


async def test_each_bad_value_is_a_validation_error_naming_it_and_changes_nothing(
        api: Api) -> None:
    user, token, _ = await follower()
    await api.data(SET_COPY, {"slug": SLUG, "enabled": True}, token)
    before = await stored(user)

    for values, field, rule in BAD_VALUES:  # one server and database for every case
        result = (await api.data(SET_COPY, {"slug": SLUG, **values}, token))["setCopyTrading"]

        assert result["__typename"] == "ValidationError" and result["field"] == field, values
        assert result["message"].startswith(rule), values
        assert await stored(user) == before, values


async def test_settings_need_a_subscription_a_provider_and_a_caller(api: Api) -> None:
    _, token, _ = await follower()
    _, stranger = await user_with_token("Stranger")

    not_subscribed = (await api.data(SET_COPY, {"slug": SLUG, "loss": "2"}, stranger)
                      )["setCopyTrading"]
    unknown = (await api.data(SET_COPY, {"slug": "nope", "loss": "2"}, token))["setCopyTrading"]
    anonymous = (await api.data(SET_COPY, {"slug": SLUG, "loss": "2"}))["setCopyTrading"]
    read = await api.post('{ myCopySettings(providerSlug: "btc-swing") { enabled } }',
                          token=stranger)

    assert not_subscribed == {"__typename": "NotAllowed",
                              "message": "you are not subscribed to 'btc-swing'; subscribe "
                                         "first"}
    assert unknown == {"__typename": "NotFound", "message": "no provider with slug 'nope'"}
    assert anonymous["__typename"] == "NotAllowed" and anonymous["message"].startswith("sign in")
    assert read["errors"][0]["extensions"]["code"] == "NOT_ALLOWED"
    assert await models.CopySettings.filter(max_daily_loss_pct=2).count() == 0


# -- GraphQL: copy orders, positions, PnL ------------------------------------------------


async def test_copy_orders_page_newest_first_with_the_reasons(api: Api,
                                                              services: Services) -> None:
    assert isinstance(services.prices, ReplayPriceSource)
    user, token, owner = await follower()
    await api.data(SET_COPY, {"slug": SLUG, "enabled": True, "maxOpen": 1}, token)
    first = await copy_signal(owner, services.prices)
    second = await copy_signal(owner, services.prices)

    page1 = (await api.data(ORDERS, {"first": 1}, token))["myCopyOrders"]
    page2 = (await api.data(ORDERS, {"first": 1, "after": page1["pageInfo"]["endCursor"]},
                            token))["myCopyOrders"]
    other = (await api.data(ORDERS, {"first": 5, "slug": "other"}, token))["myCopyOrders"]

    [skipped], [filled] = ([e["node"] for e in page1["edges"]],
                           [e["node"] for e in page2["edges"]])
    assert (skipped["signalId"], skipped["status"]) == (second.id, "SKIPPED")
    assert skipped["reasons"][-1].endswith("max open positions reached (1 of 1)")
    assert skipped["amount"] is None and skipped["providerSlug"] == SLUG
    assert (filled["signalId"], filled["status"]) == (first.id, "FILLED")
    # The decision line is kept after the fill, the execution outcome follows it.
    placed, outcome = filled["reasons"]
    assert placed.startswith(f"placed: market BUY {filled['amount']} BTC/USDT at ~")
    assert placed.endswith(" USDT, 1x") and outcome == "filled at market (paper)"
    assert filled["reason"] == f"{placed}; {outcome}" and Decimal(filled["amount"]) > 0
    assert skipped["reasons"] == ["skipped: max open positions reached (1 of 1)"]
    assert (filled["orderType"], filled["exchange"], filled["mode"], filled["leg"]) == (
        "market", "paper", "paper", "entry")
    assert filled["limitPrice"] is None and filled["stopPrice"] is None
    assert page1["pageInfo"]["hasNextPage"] and not page2["pageInfo"]["hasNextPage"]
    assert other["edges"] == []


@pytest.mark.parametrize(("variables", "field"), [
    ({"first": 0}, "first"), ({"first": 101}, "first"),
    ({"first": 5, "after": "bm90LWEtY3Vyc29y"}, "after"),
])
async def test_copy_orders_paging_errors(api: Api, variables: dict[str, Any],
                                         field: str) -> None:
    _, token = await user_with_token("Follower")

    body = await api.post(ORDERS, variables, token)

    assert body["errors"][0]["extensions"] == {"code": "VALIDATION", "field": field}


async def test_positions_carry_unrealized_pnl_and_pnl_sums_closed_ones(
        api: Api, services: Services) -> None:
    prices = services.prices
    assert isinstance(prices, ReplayPriceSource)
    user, token, owner = await follower()
    await api.data(SET_COPY, {"slug": SLUG, "enabled": True}, token)
    signal = await copy_signal(owner, prices)
    prices.advance(1)
    query = """{ myPositions { status entryPrice remainingAmount markPrice unrealizedPnl
                 realizedPnl } }"""

    [opened] = (await api.data(query, token=token))["myPositions"]
    day_open = await day_pnl(user.id, datetime.now(UTC), prices)
    exit_price = prices.last_price("BTC/USDT")
    event = await close_signal(owner, signal.id, "done", NoQueue(), NoBus(), price=exit_price)
    await close_positions_for_event(event.id, exit_price)
    [closed] = (await api.data(query, token=token))["myPositions"]
    pnl = (await api.data("{ myPnl(days: 7) { days trades wins losses realizedPnl winRate "
                          "profitFactor grossProfit grossLoss } }", token=token))["myPnl"]
    bad = await api.post("{ myPnl(days: 0) { trades } }", token=token)
    day = await day_pnl(user.id, datetime.now(UTC), prices)
    account = await models.PaperAccount.get(user=user)

    mark = Decimal(opened["markPrice"])
    assert mark == exit_price
    assert Decimal(opened["unrealizedPnl"]) == (
        (mark - Decimal(opened["entryPrice"])) * Decimal(opened["remainingAmount"]))
    assert (closed["status"], closed["unrealizedPnl"]) == ("CLOSED", "0")
    realized = Decimal(closed["realizedPnl"])
    assert (pnl["days"], pnl["trades"], pnl["realizedPnl"]) == (7, 1, closed["realizedPnl"])
    assert (pnl["wins"], pnl["losses"]) == ((1, 0) if realized > 0 else (0, 1))
    assert pnl["winRate"] == ("1" if realized > 0 else "0")
    assert bad["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "days"}
    assert (day.day, day.realized, day.unrealized) == (datetime.now(UTC).date(), realized, 0)
    assert day_open.realized == Decimal(opened["realizedPnl"]) < 0  # the entry fee
    assert day_open.unrealized == Decimal(opened["unrealizedPnl"])
    assert day.start_equity == account.balance - realized


# -- Telegram: /copy, /risk, /pnl --------------------------------------------------------


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as server:
        yield server


@pytest.fixture
async def bot(telegram: FakeTelegramApi, settings: Settings, clean_db: str, redis: Any
              ) -> AsyncIterator[Services]:
    """The bot polling the fake Bot API; stopped by cancelling its task."""
    settings = settings.model_copy(update={"telegram_bot_token": TOKEN,
                                           "telegram_api_base": telegram.base_url})
    own = await bootstrap(settings, prices=ReplayPriceSource(PACKAGE_DATA, speed=None),
                          init_database=False)
    task = asyncio.create_task(run_polling(settings, own))
    await telegram.wait_for(lambda: telegram.calls_to("getMe") or task.done())
    assert not task.done(), task.exception()
    yield own
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await shutdown(own, close_database=False)


async def ask(fake: FakeTelegramApi, text: str) -> SentMessage:
    """Send ``text`` as the user in the private chat; the bot's last reply."""
    before = len(fake.sent_messages(USER))
    fake.push_update(fake.message_update(USER, text))
    return (await fake.wait_for(lambda: fake.sent_messages(USER)[before:]))[-1]


async def press(fake: FakeTelegramApi, data: str) -> dict[str, Any]:
    """Press the button ``data`` under the bot's last message; the callback answer."""
    before = len(fake.calls_to("answerCallbackQuery"))
    fake.push_update(fake.callback_update(USER, data))
    return (await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery")[before:]))[-1].params


async def bot_follower(fake: FakeTelegramApi) -> tuple[models.User, models.User]:
    """A free provider and the Telegram user subscribed to it (via /start)."""
    owner = await create_user("Desk", role="provider")
    await create_provider(owner, SLUG, "BTC Swing", monthly_price="0")
    await ask(fake, "/start")
    user = await models.User.get(telegram_user_id=USER)
    await subscribe(user, SLUG)
    return user, owner


def text(sent: SentMessage) -> str:
    return str(sent.message["text"])


async def test_copy_on_takes_every_limit_and_bad_ones_change_nothing(
        telegram: FakeTelegramApi, bot: Services) -> None:
    user, _ = await bot_follower(telegram)

    reply = text(await ask(telegram, f"/copy on {SLUG} max_loss=3 on_slippage=limit "
                                     "leverage=4x deny=doge/usdt ladder=50/50 breakeven=on"))
    before = await stored(user)
    bad = text(await ask(telegram, f"/copy off {SLUG} scale=0.5 max_loss=lots"))
    unknown = text(await ask(telegram, f"/copy on {SLUG} stop=1"))

    assert reply.startswith("🤖 Copy trading for btc-swing is on")
    assert ("Daily loss limit 3% · slippage guard 0.5% → limit order at the entry · "
            "leverage cap 4x") in reply
    assert (before["max_daily_loss_pct"], before["slippage_action"], before["leverage_cap"],
            before["denied_symbols"], before["exit_ladder"],
            before["move_stop_to_breakeven"]) == (Decimal(3), "limit", 4, ["DOGE/USDT"],
                                                  ["50", "50"], True)
    assert bad == "⚠️ maxDailyLossPct: must be a number, got 'lots'"
    assert unknown.startswith("✍️ unknown option 'stop=1'; use scale=0.5")
    assert await stored(user) == before


async def test_risk_shows_limits_with_buttons_that_step_them(
        telegram: FakeTelegramApi, bot: Services) -> None:
    user, _ = await bot_follower(telegram)

    shown = await ask(telegram, f"/risk {SLUG}")
    shown_text = text(shown)  # the fake edits the stored message in place
    datas = [b["callback_data"] for row in shown.reply_markup["inline_keyboard"] for b in row]
    answer = await press(telegram, RiskCallback(slug=SLUG, code="sf", op="+").pack())
    edited = telegram.calls_to("editMessageText")[-1].params
    toggled = await press(telegram, RiskCallback(slug=SLUG, code="sa", op="t").pack())

    assert shown_text.startswith("🛡 Risk limits for btc-swing · copy trading off")
    assert "Daily loss limit 5% (new signals pause until 00:00 UTC)" in shown_text
    assert "Slippage guard 0.5% past the entry → skip the signal" in shown_text
    assert "Leverage cap 10x" in shown_text and "Exits: even split" in shown_text
    assert RiskCallback(slug=SLUG, code="dl", op="-").pack() in datas
    assert RiskCallback(slug=SLUG, code="on", op="t").pack() in datas
    assert answer["text"] == "Saved" and toggled["text"] == "Saved"
    assert "Scale <code>1.1</code>×" in edited["text"]
    row = await stored(user)
    assert (row["scale_factor"], row["slippage_action"]) == (Decimal("1.1"), "limit")


async def test_a_button_past_a_bound_is_refused_and_changes_nothing(
        telegram: FakeTelegramApi, bot: Services) -> None:
    user, _ = await bot_follower(telegram)
    await ask(telegram, f"/risk {SLUG} max_open=1 leverage=125")
    before = await stored(user)

    low = await press(telegram, RiskCallback(slug=SLUG, code="mo", op="-").pack())
    high = await press(telegram, RiskCallback(slug=SLUG, code="lc", op="+").pack())

    assert low["text"] == "maxOpenPositions: must be between 1 and 100"
    assert high["text"] == "leverageCap: must be between 1 and 125 (x)"
    assert await stored(user) == before


async def test_risk_typed_changes_are_validated_all_or_nothing(
        telegram: FakeTelegramApi, bot: Services) -> None:
    user, _ = await bot_follower(telegram)
    before = await stored(user)

    bad = text(await ask(telegram, f"/risk {SLUG} max_loss=2 ladder=50/30"))
    usage = text(await ask(telegram, "/risk"))
    changed = text(await ask(telegram, f"/risk {SLUG} max_loss=2 allow=btc/usdt,eth/usdt"))

    assert bad == "⚠️ exitLadder: steps must sum to 100 (percent), got 80"
    assert usage.startswith("✍️ /risk needs a provider slug, e.g. /risk rsi-demo")
    assert "Daily loss limit 2%" in changed and "Allowed: BTC/USDT, ETH/USDT" in changed
    after = await stored(user)
    assert after["allowed_symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert {k: v for k, v in after.items() if k not in {"max_daily_loss_pct",
                                                        "allowed_symbols"}} == {
        k: v for k, v in before.items() if k not in {"max_daily_loss_pct", "allowed_symbols"}}


async def test_risk_without_a_subscription_says_subscribe_first(
        telegram: FakeTelegramApi, bot: Services) -> None:
    owner = await create_user("Desk", role="provider")
    await create_provider(owner, SLUG, "BTC Swing", monthly_price="0")

    reply = text(await ask(telegram, f"/risk {SLUG}"))

    assert reply == "⚠️ you are not subscribed to 'btc-swing'; subscribe first"
    assert not await models.CopySettings.exists()


async def test_pnl_summarises_closed_positions_of_the_period(
        telegram: FakeTelegramApi, bot: Services) -> None:
    prices = bot.prices
    assert isinstance(prices, ReplayPriceSource)
    user, owner = await bot_follower(telegram)
    empty = text(await ask(telegram, "/pnl"))
    await ask(telegram, f"/copy on {SLUG}")
    signal = await copy_signal(owner, prices)
    prices.advance(1)
    exit_price = prices.last_price("BTC/USDT")
    event = await close_signal(owner, signal.id, "done", NoQueue(), NoBus(), price=exit_price)
    await close_positions_for_event(event.id, exit_price)

    reply = text(await ask(telegram, "/pnl 7"))
    bad = [text(await ask(telegram, f"/pnl {days}")) for days in ("0", "x", "3651")]

    position = await models.Position.get(user=user)
    assert empty.startswith("📈 PnL, last 30 days") and "No position closed" in empty
    assert reply.startswith("📈 PnL, last 7 days")
    assert f"Realized: {'+' if position.realized_pnl > 0 else ''}" \
           f"{position.realized_pnl:.2f} USDT over 1 trades" in reply
    won = position.realized_pnl > 0
    assert f"Win rate: {'100.0%' if won else '0.0%'} ({int(won)} won, {int(not won)} lost)" \
        in reply
    assert bad == [f"✍️ {PNL_USAGE}"] * 3

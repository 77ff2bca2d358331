"""End to end: publish through GraphQL, reach three subscribers, paper-copy one follower.

uvicorn on loopback serves the real app; a gql websocket client listens; an arq burst
worker fans out, delivers to the fake Bot API (aiogram unmodified) and fills the paper
order; replayed real BTC/USDT candles drive the monitor until the target is reached.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from domain import users
from domain.models import Position, PositionStatus, Role, User
from domain.providers import create_provider
from domain.subscriptions import set_copy_trading, subscribe
from graphql_api.app import build_app
from integrations.prices import ReplayPriceSource
from integrations.telegram import TelegramSender, make_bot
from signalhub.bootstrap import bootstrap, shutdown
from tests.fakes.telegram_api import FakeTelegramApi
from tests.support.servers import serve
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.monitor import process_candle
from workers.settings import make_worker

TOKEN = "123456:TEST-token-abcdefghijklmnop"
CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 5000)
PUBLISH = """mutation($input: PublishSignalInput!) { publishSignal(input: $input) {
  __typename ... on Signal { id status } ... on ValidationError { field message } } }"""
LISTEN = gql("""subscription($slugs: [String!]!) { signalEvents(providerSlugs: $slugs) {
  kind targetIndex price signal { id symbol side status } } }""")


async def _listen(url: str, token: str, events: list[dict]) -> None:
    transport = WebsocketsTransport(url=f"ws://{url}/graphql",
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                                    init_payload={"Authorization": f"Bearer {token}"})
    async with Client(transport=transport) as session:
        agen = session.subscribe(LISTEN, variable_values={"slugs": ["e2e"]})
        try:
            async for result in agen:
                events.append(result["signalEvents"])
        finally:
            await agen.aclose()


async def _until(predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@pytest.fixture
async def world(clean_db, settings, redis):  # noqa: ANN001
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    async with FakeTelegramApi() as api, serve(build_app(services)) as base:
        url = base.removeprefix("http://")
        sender = TelegramSender(make_bot(TOKEN, api.base_url))
        yield services, api, sender, url
        await sender.aclose()
    await shutdown(services, close_database=False)


async def _burst(services, sender) -> None:  # noqa: ANN001
    worker = make_worker(services, burst=True, sender=sender, poll_delay=0.01)
    await worker.main()
    await worker.close()


async def test_publish_reaches_everyone_and_the_copy_closes_at_target(world) -> None:  # noqa: ANN001
    services, api, sender, url = world
    owner = await users.create_user("provider", Role.PROVIDER)
    await create_provider(owner, "e2e", "End to end", monthly_price="0")
    subs: list[User] = []
    for i in range(3):
        sub = await users.telegram_user(2000 + i, 2000 + i, f"s{i}")
        await subscribe(sub, "e2e")
        subs.append(sub)
    await set_copy_trading(subs[2], "e2e", True)
    events: list[dict] = []
    listener = asyncio.create_task(_listen(url, await users.issue_token(subs[0]), events))
    await _until(lambda: services.hub.listener_count() == 1)

    headers = {"Authorization": f"Bearer {await users.issue_token(owner)}"}
    variables = {"input": {"providerSlug": "e2e", "symbol": "BTC/USDT", "side": "BUY",
                           "entryLow": str(SETUP.entry), "stopLoss": str(SETUP.stop),
                           "targets": [str(SETUP.target)]}}
    async with httpx.AsyncClient(base_url=f"http://{url}") as http:
        reply = (await http.post("/graphql", json={"query": PUBLISH, "variables": variables},
                                 headers=headers)).json()
    signal = reply["data"]["publishSignal"]
    assert signal["__typename"] == "Signal" and signal["status"] == "PENDING"
    await _until(lambda: len(events) == 1)
    assert events[0]["kind"] == "PUBLISHED" and events[0]["signal"]["id"] == signal["id"]

    await _burst(services, sender)
    signal_messages = [m for m in api.sent_messages() if "New signal" in m.text
                       or "BUY" in m.text and "Paper copy" not in m.text]
    assert sorted(m.chat_id for m in signal_messages) == [2000, 2001, 2002]
    notices = [m for m in api.sent_messages() if "Paper copy" in m.text]
    assert [m.chat_id for m in notices] == [2002]
    position = await Position.get(user_id=subs[2].id)
    assert position.status is PositionStatus.OPEN

    deps = WorkerDeps(services, sender, None)
    for _ in range(SETUP.target_index - SETUP.index):
        for candle in services.prices.advance():
            await process_candle(deps, candle)
    await position.refresh_from_db()
    assert position.status is PositionStatus.CLOSED and position.close_reason == "target 1"
    await _until(lambda: [e["kind"] for e in events][:3] == ["PUBLISHED", "ACTIVATED",
                                                          "TARGET_HIT"])
    assert events[-1]["price"] == str(SETUP.target) or events[-1]["price"].rstrip(
        "0").rstrip(".") == str(SETUP.target).rstrip("0").rstrip(".")
    sent_before = len(api.sent_messages())
    await _burst(services, sender)
    later = api.sent_messages()[sent_before:]
    assert sorted(m.chat_id for m in later if "arget" in m.text and "Paper" not in m.text
                  ) == [2000, 2001, 2002]
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener

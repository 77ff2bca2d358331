"""``myTradeEvents`` over real websockets: each follower receives its own copy-order
events (filled, skipped) and nobody else's; anonymous listeners are refused.

The API app runs on uvicorn on loopback, the copy engine runs as the worker job does
(``workers.copy_jobs.execute_copy_orders``), events cross Redis pub/sub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql import Client
from gql.graphql_request import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from domain.fanout import fan_out
from domain.models import CopyOrder, OrderStatus, Role, SignalEvent
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import make_draft
from domain.subscriptions import set_copy_trading, subscribe
from domain.users import create_user, issue_token
from graphql_api.app import build_app
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from tests.support.servers import serve, wait_until
from tests.support.setups import BTC_1H, btc_candles, winning_buy
from workers.context import WorkerDeps
from workers.copy_jobs import execute_copy_orders

CANDLES = btc_candles()
SETUP = winning_buy(CANDLES, 2000)
QUERY = """subscription { myTradeEvents { kind orderId signalId leg mode exchange symbol
  side status reason clientOrderId amount price fee positionId realizedPnl at } }"""


@pytest.fixture
async def services(clean_db: str, redis: Any, settings: Any) -> AsyncIterator[Services]:
    prices = ReplayPriceSource([BTC_1H], speed=None, start_ms=CANDLES[SETUP.index].close_ts)
    services = await bootstrap(settings, prices=prices, init_database=False)
    yield services
    await shutdown(services, close_database=False)


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(build_app(services)) as base:
        yield base.replace("http", "ws") + "/graphql"


async def _listen(url: str, token: str | None, count: int) -> list[dict[str, Any]]:
    init = {"Authorization": f"Bearer {token}"} if token else {}
    transport = WebsocketsTransport(url=url, init_payload=init,
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    results: list[dict[str, Any]] = []
    async with Client(transport=transport) as session:
        agen = session.subscribe(GraphQLRequest(QUERY))
        try:
            async for result in agen:
                results.append(result["myTradeEvents"])
                if len(results) == count:
                    break
        finally:
            await agen.aclose()
    return results


async def test_each_follower_gets_only_its_own_trade_events(services: Services,
                                                            url: str) -> None:
    owner = await create_user("events-owner", Role.PROVIDER)
    await create_provider(owner, "events", "Events", monthly_price="0")
    filler, skipper = await create_user("filler"), await create_user("skipper")
    for user in (filler, skipper):
        await subscribe(user, "events")
        await set_copy_trading(user, "events", True)
    before = services.hub.listener_count()
    tasks = [asyncio.create_task(_listen(url, await issue_token(u), 1))
             for u in (filler, skipper)]
    await wait_until(lambda: services.hub.listener_count() >= before + 2)

    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low=SETUP.entry, entry_high=None,
                       stop_loss=SETUP.stop, targets=[SETUP.target])
    signal = await publish_signal(owner, "events", draft, services.queue, services.bus,
                                  market_ts=services.prices.now_ms())
    event = await SignalEvent.get(signal_id=signal.id)
    ids = (await fan_out(event.id)).copy_order_ids
    await set_copy_trading(skipper, "events", False)
    await execute_copy_orders({"deps": WorkerDeps(services, None, None)}, ids)
    [filled], [skipped] = await asyncio.wait_for(asyncio.gather(*tasks), 15)

    order = await CopyOrder.get(user_id=filler.id)
    assert order.status is OrderStatus.FILLED
    assert filled | {"at": ""} == {
        "kind": "ORDER_FILLED", "orderId": order.id, "signalId": signal.id, "leg": "entry",
        "mode": "paper", "exchange": "paper", "symbol": "BTC/USDT", "side": "BUY",
        "status": "FILLED", "reason": order.reason, "clientOrderId": order.client_order_id,
        "amount": format(order.amount.normalize(), "f"),
        "price": format(order.price.normalize(), "f"),
        "fee": format(order.fee.normalize(), "f"), "positionId": None, "realizedPnl": None,
        "at": ""}
    assert filled["at"].endswith("+00:00")
    assert (skipped["kind"], skipped["status"], skipped["reason"]) == (
        "ORDER_SKIPPED", "SKIPPED", "skipped: copy trading was switched off")
    assert skipped["orderId"] != order.id


async def test_anonymous_listener_is_refused(services: Services, url: str) -> None:
    with pytest.raises(TransportQueryError) as refused:
        await asyncio.wait_for(_listen(url, None, 1), 15)
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_ALLOWED"  # type: ignore[index]


async def test_schema_describes_trade_events(services: Services, url: str) -> None:
    http = url.replace("ws", "http")
    async with httpx.AsyncClient() as client:
        response = await client.post(http, json={"query": '{ __type(name: "TradeEvent") '
                                                          '{ fields { name description } } }'})
    fields = response.json()["data"]["__type"]["fields"]
    assert {f["name"] for f in fields} >= {"kind", "reason", "clientOrderId", "realizedPnl"}
    assert all(f["description"] for f in fields)

"""GraphQL queries and mutations over real HTTP (uvicorn on loopback), PostgreSQL and Redis.

Every typed error is checked to store nothing (signals and outbox rows are counted).
The helpers at the top (``Api``, ``services`` set-up) are reused by
``test_graphql_subscriptions``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq.jobs import Job
from redis.asyncio import Redis
from starlette.applications import Starlette

from domain import models
from domain.copying import execute_copy_orders
from domain.fanout import fan_out
from domain.monitor import close_positions_for_event
from domain.users import create_user, issue_token
from graphql_api.app import build_app
from integrations.arq_queue import queue_name
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import PACKAGE_DATA, Settings
from tests.support.servers import serve

SIGNAL_FIELDS = """id seq providerSlug symbol side entryLow entryHigh stopLoss targets leverage
                   note status outcome targetsHit contentHash createdAt"""
PUBLISH = f"""mutation($input: PublishSignalInput!) {{ publishSignal(input: $input) {{
  __typename ... on Signal {{ {SIGNAL_FIELDS} }}
  ... on ValidationError {{ field message }} ... on NotAllowed {{ message }}
  ... on NotFound {{ message }} }} }}"""
CREATE_PROVIDER = """mutation($input: CreateProviderInput!) { createProvider(input: $input) {
  __typename ... on Provider { id slug name description monthlyPrice createdAt }
  ... on ValidationError { field message } ... on NotAllowed { message } } }"""


async def start_services(settings: Settings) -> Services:
    """Services of one "process": manual replay prices, the run's database already open."""
    return await bootstrap(settings, prices=ReplayPriceSource(PACKAGE_DATA, speed=None),
                           init_database=False)


class Api:
    """A GraphQL client over HTTP."""

    def __init__(self, url: str, client: httpx.AsyncClient, app: Starlette) -> None:
        self.url, self.client, self.app = url, client, app

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", headers=headers,
                                          json={"query": query, "variables": variables or {}})
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        body = await self.post(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def services(clean_db: str, redis: Any, settings: Settings) -> AsyncIterator[Services]:
    services = await start_services(settings)
    yield services
    await shutdown(services, close_database=False)


@pytest.fixture
async def api(services: Services) -> AsyncIterator[Api]:
    app = build_app(services)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Api(url, client, app)


async def user_with_token(name: str, role: str = "user") -> tuple[models.User, str]:
    user = await create_user(name, role=role)
    return user, await issue_token(user)


async def provider_of(api: Api, slug: str = "btc-swing") -> tuple[models.User, str]:
    owner, token = await user_with_token(f"owner of {slug}", "provider")
    result = await api.data(CREATE_PROVIDER, {"input": {"slug": slug, "name": slug.title(),
                                                        "monthlyPrice": "0"}},
                            token)
    assert result["createProvider"]["__typename"] == "Provider"
    return owner, token


# Real Binance BTC/USDT 1h prices (signalhub/data): the candle of 2025-04-10 08:00 UTC
# (low 81420.29, close 81549.99, high 81853.2), the lowest low of the 24 candles before
# it (75756.86), and highs of the 24 after it (82079.57, 82466.35). Trailing zeros in
# the input check that decimals come back normalised.
def btc_signal(slug: str = "btc-swing", **changes: Any) -> dict[str, Any]:
    values = {"providerSlug": slug, "symbol": "BTC/USDT", "side": "BUY",
              "entryLow": "81420.29", "entryHigh": "81853.20", "stopLoss": "75756.86",
              "targets": ["82079.57", "82466.350"], "leverage": 5, "note": "breakout"}
    return {**values, **changes}


async def stored_counts() -> tuple[int, int]:
    return await models.Signal.all().count(), await models.OutboxMessage.all().count()


async def test_healthz_reports_ok(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_healthz_names_a_failed_check(services: Services) -> None:
    dead_redis = Redis.from_url("redis://127.0.0.1:1")
    app = build_app(dataclasses.replace(services, redis=dead_redis))
    try:
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/healthz")
    finally:
        await dead_redis.aclose()

    assert (response.status_code, response.json()) == (503, {"status": "error",
                                                             "failed": ["redis"]})


async def test_graphiql_is_served_on_get(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_me_is_the_token_owner_or_null(api: Api) -> None:
    user, token = await user_with_token("Ada")

    assert (await api.data("{ me { id name role } }", token=token))["me"] == {
        "id": user.id, "name": "Ada", "role": "USER"}
    assert (await api.data("{ me { id } }"))["me"] is None
    assert (await api.data("{ me { id } }", token="shk_not-a-token"))["me"] is None


async def test_create_provider_then_list_and_get_it(api: Api) -> None:
    _, token = await user_with_token("Pro", "provider")
    created = await api.data(CREATE_PROVIDER, {"input": {
        "slug": "eth-daily", "name": "ETH Daily", "description": "swing trades",
        "monthlyPrice": "9.90"}}, token)

    assert created["createProvider"] | {"id": 0, "createdAt": ""} == {
        "__typename": "Provider", "id": 0, "slug": "eth-daily", "name": "ETH Daily",
        "description": "swing trades", "monthlyPrice": "9.9", "createdAt": ""}
    listed = await api.data("{ providers { slug } provider(slug: \"eth-daily\") { name } "
                            "missing: provider(slug: \"nope\") { name } }")
    assert listed == {"providers": [{"slug": "eth-daily"}], "provider": {"name": "ETH Daily"},
                      "missing": None}


@pytest.mark.parametrize(("role", "changes", "expected"), [
    ("user", {}, {"__typename": "NotAllowed"}),
    (None, {}, {"__typename": "NotAllowed"}),
    ("provider", {"slug": "No Spaces"}, {"__typename": "ValidationError", "field": "slug"}),
    ("provider", {"monthlyPrice": "1.005"},
     {"__typename": "ValidationError", "field": "monthlyPrice"}),
])
async def test_create_provider_errors_store_nothing(api: Api, role: str | None,
                                                    changes: dict[str, Any],
                                                    expected: dict[str, str]) -> None:
    token = (await user_with_token("Someone", role))[1] if role else None
    result = await api.data(CREATE_PROVIDER, {"input": {"slug": "ok-slug", "name": "Ok",
                                                        **changes}}, token)

    assert result["createProvider"].items() >= expected.items()
    assert result["createProvider"]["message"]
    if role is None:
        assert result["createProvider"]["message"].startswith("sign in")
    assert await models.Provider.all().count() == 0


async def test_publish_signal_stores_it_writes_outbox_and_enqueues_fan_out(
        api: Api, services: Services, namespace: str) -> None:
    _, token = await provider_of(api)
    result = (await api.data(PUBLISH, {"input": btc_signal()}, token))["publishSignal"]

    assert result | {"id": 0, "createdAt": "", "contentHash": ""} == {
        "__typename": "Signal", "id": 0, "seq": 1, "providerSlug": "btc-swing",
        "symbol": "BTC/USDT", "side": "BUY", "entryLow": "81420.29", "entryHigh": "81853.2",
        "stopLoss": "75756.86", "targets": ["82079.57", "82466.35"], "leverage": 5,
        "note": "breakout",
        "status": "PENDING", "outcome": None, "targetsHit": 0, "createdAt": "",
        "contentHash": ""}
    assert result["createdAt"].endswith("+00:00") and len(result["contentHash"]) == 64
    outbox = await models.OutboxMessage.get(ref_id=result["id"])
    assert outbox.topic == "signal.published"
    job = Job(f"{namespace}:fan_out_signal:{result['id']}", services.arq,
              _queue_name=queue_name(namespace))
    info = await job.info()
    assert info is not None and (info.function, info.args) == ("fan_out_signal",
                                                               (result["id"],))


async def test_publish_signal_without_entry_high_is_a_single_price(api: Api) -> None:
    _, token = await provider_of(api)
    single = btc_signal(entryHigh=None, leverage=None)
    result = (await api.data(PUBLISH, {"input": single}, token))["publishSignal"]

    assert (result["entryLow"], result["entryHigh"], result["leverage"]) == ("81420.29", "81420.29",
                                                                         None)


@pytest.mark.parametrize(("changes", "field"), [
    ({"stopLoss": "81549.99"}, "stopLoss"),                 # BUY stop above entry
    ({"side": "SELL", "stopLoss": "81549.99", "targets": ["75756.86"]}, "stopLoss"),  # mirror
    # SELL targets not descending; 77085 is the low of 2025-04-09 08:00 UTC
    ({"side": "SELL", "stopLoss": "82079.57", "targets": ["75756.86", "77085"]},
     "targets[1]"),
    ({"targets": ["82466.35", "82079.57"]}, "targets[1]"),  # BUY targets not ascending
    ({"entryLow": "0"}, "entryLow"),
    ({"stopLoss": "-1"}, "stopLoss"),
    ({"symbol": "BTCUSDT"}, "symbol"),
    ({"leverage": 0}, "leverage"),
    ({"leverage": 126}, "leverage"),
    ({"targets": ["82079.57"] * 11}, "targets"),
    ({"targets": []}, "targets"),
    ({"entryLow": "NaN"}, "entryLow"),
])
async def test_invalid_signals_are_validation_errors_and_store_nothing(
        api: Api, changes: dict[str, Any], field: str) -> None:
    _, token = await provider_of(api)
    before = await stored_counts()
    result = (await api.data(PUBLISH, {"input": btc_signal(**changes)}, token))["publishSignal"]

    assert (result["__typename"], result["field"]) == ("ValidationError", field)
    assert result["message"]
    assert await stored_counts() == before


async def test_publish_errors_for_provider_and_caller_store_nothing(api: Api) -> None:
    await provider_of(api, "btc-swing")
    _, other_token = await provider_of(api, "eth-swing")
    before = await stored_counts()

    unknown = await api.data(PUBLISH, {"input": btc_signal("no-such")}, other_token)
    foreign = await api.data(PUBLISH, {"input": btc_signal("btc-swing")}, other_token)
    anonymous = await api.data(PUBLISH, {"input": btc_signal("btc-swing")})

    assert unknown["publishSignal"]["__typename"] == "NotFound"
    assert foreign["publishSignal"] == {"__typename": "NotAllowed",
                                        "message": "you do not publish for provider 'btc-swing'"}
    assert anonymous["publishSignal"]["__typename"] == "NotAllowed"
    assert anonymous["publishSignal"]["message"].startswith("sign in")
    assert await stored_counts() == before


async def test_signals_are_paginated_newest_first(api: Api) -> None:
    _, token = await provider_of(api)
    for n in range(5):
        await api.data(PUBLISH, {"input": btc_signal(note=f"n{n}")}, token)
    query = """query($after: String) { signals(providerSlug: "btc-swing", first: 2,
      after: $after) { edges { cursor node { seq note } } pageInfo { hasNextPage endCursor } } }"""

    pages, after = [], None
    while True:
        page = (await api.data(query, {"after": after}, token))["signals"]
        pages.append(([e["node"]["seq"] for e in page["edges"]],
                      page["pageInfo"]["hasNextPage"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]

    assert pages == [([5, 4], True), ([3, 2], True), ([1], False)]


async def test_signals_query_errors(api: Api) -> None:
    _, token = await provider_of(api)
    _, stranger = await user_with_token("Stranger")
    query = """query($s: String!, $a: String) { signals(providerSlug: $s, after: $a) {
      edges { cursor } } }"""
    cases = [({"s": "btc-swing"}, stranger, "NOT_ALLOWED"),
             ({"s": "btc-swing"}, None, "NOT_ALLOWED"),
             ({"s": "nope"}, token, "NOT_FOUND"),
             ({"s": "btc-swing", "a": "xyz"}, token, "VALIDATION")]
    for variables, caller, code in cases:
        body = await api.post(query, variables, caller)
        assert body["errors"][0]["extensions"]["code"] == code, (variables, body)


async def test_close_signal_at_market_price_and_errors(api: Api, services: Services,
                                                       namespace: str) -> None:
    _, token = await provider_of(api)
    _, stranger = await user_with_token("Stranger", "provider")
    signal_id = (await api.data(PUBLISH, {"input": btc_signal()}, token))["publishSignal"]["id"]
    close = """mutation($id: Int!, $note: String!) { closeSignal(signalId: $id, note: $note) {
      __typename ... on SignalEvent { eventId kind price note signal { id status outcome } }
      ... on UserError { message } ... on ValidationError { field } } }"""

    foreign = (await api.data(close, {"id": signal_id, "note": "x"}, stranger))["closeSignal"]
    closed = (await api.data(close, {"id": signal_id, "note": "done"}, token))["closeSignal"]
    again = (await api.data(close, {"id": signal_id, "note": "x"}, token))["closeSignal"]
    missing = (await api.data(close, {"id": 999999, "note": "x"}, token))["closeSignal"]

    assert foreign["__typename"] == "NotAllowed"
    price = services.prices.last_price("BTC/USDT") if services.prices else None
    assert price is not None and Decimal(closed["price"]) == price
    assert closed | {"eventId": 0, "price": ""} == {
        "__typename": "SignalEvent", "eventId": 0, "kind": "CLOSED", "price": "",
        "note": "done", "signal": {"id": signal_id, "status": "CLOSED",
                                   "outcome": "CLOSED_BY_PROVIDER"}}
    assert (again["__typename"], again["field"]) == ("ValidationError", "signalId")
    assert missing["__typename"] == "NotFound"
    job = Job(f"{namespace}:fan_out_event:{closed['eventId']}", services.arq,
              _queue_name=queue_name(namespace))
    assert (await job.info()).function == "fan_out_event"  # type: ignore[union-attr]


SUB_FIELDS = """__typename ... on ProviderSubscription { provider { slug } status
  copySettings { enabled scaleFactor maxPositionPct maxOpenPositions } }
  ... on UserError { message } ... on ValidationError { field }"""


async def test_subscribe_copy_trading_and_unsubscribe(api: Api) -> None:
    await provider_of(api)
    _, token = await user_with_token("Follower")
    copy = f"""mutation($scale: Decimal) {{ setCopyTrading(providerSlug: "btc-swing",
      enabled: true, scaleFactor: $scale, maxPositionPct: "5", maxOpenPositions: 3)
      {{ {SUB_FIELDS} }} }}"""

    early = (await api.data(copy, {"scale": "0.5"}, token))["setCopyTrading"]
    subscribed = (await api.data(f'mutation {{ subscribe(providerSlug: "btc-swing") '
                                 f'{{ {SUB_FIELDS} }} }}', token=token))["subscribe"]
    too_big = (await api.data(copy, {"scale": "2.5"}, token))["setCopyTrading"]
    copying = (await api.data(copy, {"scale": "0.5"}, token))["setCopyTrading"]
    mine = (await api.data("{ mySubscriptions { status provider { slug } "
                           "copySettings { enabled scaleFactor } } }", token=token))
    cancelled = (await api.data(f'mutation {{ unsubscribe(providerSlug: "btc-swing") '
                                f'{{ {SUB_FIELDS} }} }}', token=token))["unsubscribe"]
    twice = (await api.data(f'mutation {{ unsubscribe(providerSlug: "btc-swing") '
                            f'{{ {SUB_FIELDS} }} }}', token=token))["unsubscribe"]
    unknown = (await api.data(f'mutation {{ subscribe(providerSlug: "nope") '
                              f'{{ {SUB_FIELDS} }} }}', token=token))["subscribe"]

    assert early["__typename"] == "NotAllowed"
    assert subscribed["status"] == "ACTIVE" and subscribed["copySettings"]["enabled"] is False
    assert (too_big["__typename"], too_big["field"]) == ("ValidationError", "scaleFactor")
    assert copying["copySettings"] == {"enabled": True, "scaleFactor": "0.5",
                                       "maxPositionPct": "5", "maxOpenPositions": 3}
    assert mine["mySubscriptions"] == [{"status": "ACTIVE", "provider": {"slug": "btc-swing"},
                                        "copySettings": {"enabled": True, "scaleFactor": "0.5"}}]
    assert cancelled["status"] == "CANCELLED" and cancelled["copySettings"]["enabled"] is False
    assert twice["__typename"] == "NotFound" and unknown["__typename"] == "NotFound"


async def test_my_queries_need_a_signed_in_caller(api: Api) -> None:
    for query in ("{ mySubscriptions { id } }", "{ myPositions { id } }"):
        body = await api.post(query)
        assert body["errors"][0]["extensions"]["code"] == "NOT_ALLOWED"
        assert body["errors"][0]["message"].startswith("sign in")


async def test_my_positions_follow_a_copied_signal(api: Api, services: Services) -> None:
    _, provider_token = await provider_of(api)
    _, token = await user_with_token("Follower")
    await api.data('mutation { subscribe(providerSlug: "btc-swing") { __typename } }',
                   token=token)
    await api.data('mutation { setCopyTrading(providerSlug: "btc-swing", enabled: true) '
                   '{ __typename } }', token=token)
    assert services.prices is not None
    price = services.prices.last_price("BTC/USDT")
    assert price is not None
    # Real levels from the replay: the lowest low of the last 24 candles and the highest
    # high of the last 200, around the current close.
    stop = min(c.low for c in services.prices.history("BTC/USDT", 24))  # type: ignore[attr-defined]
    target = max(c.high for c in services.prices.history("BTC/USDT", 200))  # type: ignore[attr-defined]
    assert stop < price < target
    signal = btc_signal(entryLow=str(price), entryHigh=None, stopLoss=str(stop),
                        targets=[str(target)])
    signal_id = (await api.data(PUBLISH, {"input": signal}, provider_token))["publishSignal"]["id"]
    published = await models.SignalEvent.get(signal_id=signal_id)
    await execute_copy_orders((await fan_out(published.id)).copy_order_ids, services.prices)
    query = """query($s: PositionStatus) { myPositions(status: $s) { symbol side entryPrice amount
      remainingAmount stopLoss targets targetsHit status realizedPnl fees closeReason exitPrice
      openedAt closedAt mode exchangeAccountId stopOnExchange signal { id providerSlug } } }"""

    opened = (await api.data(query, {"s": "OPEN"}, token))["myPositions"]
    closed_event = (await api.data('mutation($id: Int!) { closeSignal(signalId: $id) '
                                   '{ ... on SignalEvent { eventId } } }', {"id": signal_id},
                                   provider_token))["closeSignal"]
    await close_positions_for_event(closed_event["eventId"], price)
    closed = (await api.data(query, {"s": "CLOSED"}, token))["myPositions"]

    assert len(opened) == 1 and opened[0]["status"] == "OPEN"
    assert opened[0]["signal"] == {"id": signal_id, "providerSlug": "btc-swing"}
    assert (opened[0]["mode"], opened[0]["exchangeAccountId"], opened[0]["stopOnExchange"]) == (
        "paper", None, False)  # no exchange account: the paper account, stop watched by us
    assert Decimal(opened[0]["amount"]) > 0 and opened[0]["remainingAmount"] == opened[0]["amount"]
    assert (opened[0]["closedAt"], opened[0]["exitPrice"], opened[0]["closeReason"]) == (
        None, None, "")
    assert len(closed) == 1 and closed[0]["status"] == "CLOSED"
    assert Decimal(closed[0]["exitPrice"]) == price and closed[0]["closeReason"]
    assert closed[0]["closedAt"].endswith("+00:00") and Decimal(closed[0]["remainingAmount"]) == 0
    assert Decimal(closed[0]["fees"]) > 0

"""GraphQL subscriptions over real websockets (gql client), PostgreSQL and Redis pub/sub.

Listeners are started as tasks; the test waits until the app's hub has registered
them (``BusHub.listener_count``) before publishing, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gql import Client
from gql.graphql_request import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from domain.publishing import publish_signal
from domain.signals import make_draft
from graphql_api.app import build_app
from signalhub.bootstrap import Services, shutdown
from signalhub.settings import Settings
from tests.integration.test_graphql_api import (
    PUBLISH,
    Api,
    btc_signal,
    provider_of,
    start_services,
    user_with_token,
)
from tests.support.servers import serve, wait_until

EVENTS = """subscription($slugs: [String!]!) { signalEvents(providerSlugs: $slugs) {
  eventId kind targetIndex price note createdAt
  signal { id seq providerSlug symbol side entryLow entryHigh stopLoss targets status } } }"""
EVENT_KINDS = """subscription($slugs: [String!]!) { signalEvents(providerSlugs: $slugs) {
  kind signal { id } } }"""
TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL


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


async def listen(api: Api, token: str | None, count: int, slugs: list[str],
                 query: str = EVENTS, protocol: str = TRANSPORT_WS) -> list[dict[str, Any]]:
    """The first ``count`` results of a ``signalEvents`` subscription over websocket."""
    init = {"Authorization": f"Bearer {token}"} if token else {}
    transport = WebsocketsTransport(url=api.url.replace("http", "ws") + "/graphql",
                                    subprotocols=[protocol], init_payload=init)
    results: list[dict[str, Any]] = []
    async with Client(transport=transport) as session:
        agen = session.subscribe(GraphQLRequest(query, variable_values={"slugs": slugs}))
        try:
            async for result in agen:
                results.append(result)
                if len(results) == count:
                    break
        finally:
            await agen.aclose()
    return results


async def start_listeners(services: Services, *listeners: Any) -> list[asyncio.Task[Any]]:
    """Run ``listen(...)`` coroutines as tasks; returns once the hub holds all of them."""
    before = services.hub.listener_count()
    tasks = [asyncio.create_task(listener) for listener in listeners]
    await wait_until(lambda: services.hub.listener_count() >= before + len(tasks)
                     or any(t.done() for t in tasks))
    return tasks


async def subscriber_token(api: Api, slug: str = "btc-swing") -> str:
    _, token = await user_with_token("Subscriber")
    result = await api.data(f'mutation {{ subscribe(providerSlug: "{slug}") '
                            '{ __typename } }', token=token)
    assert result["subscribe"]["__typename"] == "ProviderSubscription"
    return token


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscriber_receives_published_events(api: Api, services: Services,
                                                    protocol: str) -> None:
    _, owner_token = await provider_of(api)
    token = await subscriber_token(api)
    [task] = await start_listeners(services, listen(api, token, 1, ["btc-swing"],
                                                    protocol=protocol))

    published = (await api.data(PUBLISH, {"input": btc_signal()}, owner_token))["publishSignal"]
    [result] = await asyncio.wait_for(task, 15)

    event = result["signalEvents"]
    assert event | {"eventId": 0, "createdAt": ""} == {
        "eventId": 0, "kind": "PUBLISHED", "targetIndex": 0, "price": None, "note": "",
        "createdAt": "", "signal": {
            "id": published["id"], "seq": 1, "providerSlug": "btc-swing",
            "symbol": "BTC/USDT", "side": "BUY", "entryLow": "81420.29",
            "entryHigh": "81853.2", "stopLoss": "75756.86", "targets": ["82079.57", "82466.35"],
            "status": "PENDING"}}
    assert event["createdAt"].endswith("+00:00")


async def test_event_published_by_another_process_reaches_the_listener(
        api: Api, services: Services, settings: Settings) -> None:
    owner, owner_token = await provider_of(api)
    token = await subscriber_token(api)
    [task] = await start_listeners(services, listen(api, token, 2, ["btc-swing"]))
    other = await start_services(settings)
    try:
        # Real ETH/USDT 1h prices: close of 2025-04-10 08:00 UTC, the highest high of the
        # 24 candles before it, lows of the 24 after it.
        draft = make_draft(symbol="ETH/USDT", side="SELL", entry_low="1592.71",
                           entry_high=None, stop_loss="1689",
                           targets=["1487.78", "1471.02"])
        signal = await publish_signal(owner, "btc-swing", draft, other.queue, other.bus)
    finally:
        await shutdown(other, close_database=False)
    closing = await api.data('mutation($id: Int!) { closeSignal(signalId: $id, note: "tp") '
                             '{ __typename } }', {"id": signal.id}, owner_token)
    results = await asyncio.wait_for(task, 15)

    assert closing["closeSignal"]["__typename"] == "SignalEvent"
    kinds = [(r["signalEvents"]["kind"], r["signalEvents"]["signal"]["id"]) for r in results]
    assert kinds == [("PUBLISHED", signal.id), ("CLOSED", signal.id)]
    first = results[0]["signalEvents"]["signal"]
    assert (first["side"], first["entryLow"], first["targets"]) == (
        "SELL", "1592.71", ["1487.78", "1471.02"])
    assert Decimal(results[1]["signalEvents"]["price"]) > 0


@pytest.mark.parametrize(("who", "slugs", "message"), [
    ("stranger", ["btc-swing"], "subscribe to 'btc-swing'"),
    ("subscriber", ["btc-swing", "eth-swing"], "subscribe to 'eth-swing'"),
    ("subscriber", ["no-such"], "no provider with slug 'no-such'"),
    ("anonymous", ["btc-swing"], "sign in"),
    ("subscriber", [], "give 1 to 50 provider slugs"),
])
async def test_listening_is_refused_before_any_event(api: Api, services: Services, who: str,
                                                      slugs: list[str], message: str) -> None:
    await provider_of(api, "btc-swing")
    await provider_of(api, "eth-swing")
    token = {"stranger": (await user_with_token("Stranger"))[1],
             "subscriber": await subscriber_token(api), "anonymous": None}[who]

    with pytest.raises(TransportQueryError) as refused:
        await asyncio.wait_for(listen(api, token, 1, slugs), 15)

    assert message in str(refused.value)
    assert services.hub.listener_count() == 0


async def test_owner_may_listen_to_own_provider(api: Api, services: Services) -> None:
    _, owner_token = await provider_of(api)
    [task] = await start_listeners(services, listen(api, owner_token, 1, ["btc-swing"]))

    await api.data(PUBLISH, {"input": btc_signal()}, owner_token)

    [result] = await asyncio.wait_for(task, 15)
    assert result["signalEvents"]["kind"] == "PUBLISHED"


async def test_listeners_of_one_query_share_one_execution_per_event(
        api: Api, services: Services) -> None:
    _, owner_token = await provider_of(api)
    tokens = [await subscriber_token(api) for _ in range(3)]
    schema = api.app.state.schema
    tasks = await start_listeners(
        services,
        listen(api, tokens[0], 2, ["btc-swing"]),
        listen(api, tokens[1], 2, ["btc-swing"]),
        listen(api, tokens[2], 2, ["btc-swing"], protocol=LEGACY_WS),
        listen(api, tokens[0], 2, ["btc-swing"], query=EVENT_KINDS),
    )
    executions_before = schema.event_results.executions

    for note in ("first", "second"):
        await api.data(PUBLISH, {"input": btc_signal(note=note)}, owner_token)
    same_query = [await asyncio.wait_for(task, 15) for task in tasks[:3]]
    other_query = await asyncio.wait_for(tasks[3], 15)

    assert same_query[0] == same_query[1] == same_query[2]
    assert [r["signalEvents"]["kind"] for r in other_query] == ["PUBLISHED", "PUBLISHED"]
    assert [r["signalEvents"]["signal"]["id"] for r in other_query] == [
        r["signalEvents"]["signal"]["id"] for r in same_query[0]]
    # two events x two groups (EVENTS, EVENT_KINDS): four executions for four listeners
    assert schema.event_results.executions - executions_before == 4
    await wait_until(lambda: services.hub.listener_count() == 0)  # closed streams unregister


async def test_grouped_listeners_are_written_by_one_fan_out_per_group(
        api: Api, services: Services) -> None:
    _, owner_token = await provider_of(api)
    tokens = [await subscriber_token(api) for _ in range(2)]
    schema = api.app.state.schema
    tasks = await start_listeners(
        services,
        listen(api, tokens[0], 1, ["btc-swing"]),
        listen(api, tokens[1], 1, ["btc-swing"], protocol=LEGACY_WS),
    )

    assert [len(fanout) for fanout in schema.fanouts.values()] == [2]
    await api.data(PUBLISH, {"input": btc_signal()}, owner_token)
    results = [await asyncio.wait_for(task, 15) for task in tasks]

    assert results[0] == results[1]
    assert results[0][0]["signalEvents"]["kind"] == "PUBLISHED"
    await wait_until(lambda: not schema.fanouts and services.hub.listener_count() == 0)


class Frames:
    """Stand-in websocket ``send_text``: records frames, optionally fails or stalls."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.frames: list[str] = []
        self.release = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.mode == "fail":
            raise RuntimeError("socket closed")
        if self.mode == "stall":
            await self.release.wait()
        self.frames.append(text)


async def test_fan_out_drops_failing_sockets_and_never_waits_for_slow_ones() -> None:
    from graphql_api.grouping import DIRECT, Direct, GroupedSchema, shared_result
    from integrations.redis_bus import BusHub

    class Stub(GroupedSchema):
        def __init__(self) -> None:  # no strawberry schema needed for the fan-out
            self.event_results, self.fanouts = type("Counter", (), {"executions": 0})(), {}

        def _execute_event(self, executor: Any, event: Any) -> Any:
            from graphql import ExecutionResult
            return shared_result(ExecutionResult({"n": event["n"]}, None))

    hub = BusHub(None, "ns")  # type: ignore[arg-type] - only attach/dispatch are used
    source = hub.stream(["t"], lambda message: message)
    schema = Stub()
    ok, slow, failing = Frames(), Frames("stall"), Frames("fail")

    async def operation(frames: Frames, op_id: str) -> None:
        DIRECT.set(Direct(frames.send_text, f'{{"id":"{op_id}","payload":'))
        await schema._fan_out(source, "group", None, DIRECT.get())  # noqa: SLF001

    tasks = [asyncio.create_task(operation(f, i)) for i, f in
             (("1", ok), ("2", slow), ("3", failing))]
    await wait_until(lambda: hub.listener_count() == 3)

    hub._dispatch("t", '{"n": 1}')  # noqa: SLF001
    hub._dispatch("t", '{"n": 2}')  # noqa: SLF001
    assert ok.frames == ['{"id":"1","payload":{"data":{"n":1}}}',
                         '{"id":"1","payload":{"data":{"n":2}}}']
    assert schema.event_results.executions == 2
    await asyncio.wait_for(tasks[2], 5)  # the failing socket's operation ended
    assert hub.listener_count() == 2 and slow.frames == []

    slow.release.set()
    await wait_until(lambda: len(slow.frames) == 2)
    assert slow.frames == [f.replace('"1"', '"2"') for f in ok.frames]

    for task in tasks[:2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert hub.listener_count() == 0 and not schema.fanouts

"""The GraphQL schema without I/O: descriptions, the published SDL, scalars, cursors,
and execute-once-per-group on a small schema fed from memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    StringValueNode,
    parse_value,
)
from strawberry.types.execution import PreExecutionError

from domain.errors import InvalidInput
from graphql_api.grouping import GroupedSchema, SharedResult
from graphql_api.queries import decode_cursor, encode_cursor
from graphql_api.schema import build_schema, schema_sdl
from graphql_api.types import parse_decimal, parse_decimal_literal, serialize_decimal

SDL_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"


def test_every_type_field_and_argument_has_a_description() -> None:
    schema = build_schema()._schema
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "Float", "ID"):
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")

    assert missing == []


def test_docs_schema_graphql_is_the_current_schema() -> None:
    assert SDL_FILE.read_text() == schema_sdl(), "regenerate docs/schema.graphql"


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("64000.500000000000"), "64000.5"), (Decimal("100.000"), "100"),
    (Decimal("0E-12"), "0"), (Decimal("1E+3"), "1000"), (Decimal("-0.00100"), "-0.001"),
])
def test_decimals_serialise_as_plain_strings(value: Decimal, text: str) -> None:
    assert serialize_decimal(value) == text


def test_decimal_literals_keep_their_exact_digits() -> None:
    assert parse_decimal_literal(parse_value("0.1")) == Decimal("0.1")
    assert parse_decimal_literal(StringValueNode(value="64000.5")) == Decimal("64000.5")
    assert parse_decimal("12") == Decimal(12)
    for bad in ("abc", True, None, [1]):
        with pytest.raises(ValueError):
            parse_decimal(bad)


def test_cursors_round_trip_and_foreign_ones_are_rejected() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    for foreign in ("xyz", encode_cursor(1).replace("c2", "zz"), "c2lnbmFsOng="):
        with pytest.raises(InvalidInput) as error:
            decode_cursor(foreign)
        assert error.value.field == "after"


# --- execute once per group ------------------------------------------------------


class Broadcast:
    """In-memory stand-in for the bus hub: every listener gets every event."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[Any]] = []

    async def listen(self) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.queues.remove(queue)

    def send(self, event: Any) -> None:
        for queue in self.queues:
            queue.put_nowait(event)


@strawberry.type
class Tick:
    message: strawberry.Private[dict[str, Any]]
    resolved: strawberry.Private[list[int]]

    def event_key(self) -> tuple[int, dict[str, Any]]:
        return self.message["eventId"], self.message

    @strawberry.field
    def value(self, times: int = 1) -> int:
        self.resolved.append(self.message["eventId"])
        return self.message["value"] * times


@strawberry.type
class TickQuery:
    ok: bool = True


def tick_schema(broadcast: Broadcast, resolved: list[int]) -> GroupedSchema:
    @strawberry.type
    class TickSubscription:
        @strawberry.subscription
        async def ticks(self, allowed: bool = True) -> AsyncIterator[Tick]:
            if not allowed:
                raise PermissionError("not allowed")
            return (Tick(message=m, resolved=resolved) async for m in broadcast.listen())

        @strawberry.subscription
        async def plain(self) -> AsyncIterator[Tick]:
            return (Tick(message=m, resolved=resolved) async for m in broadcast.listen())

    return GroupedSchema(query=TickQuery, subscription=TickSubscription,
                         grouped_fields=["ticks"])


async def first_results(schema: GroupedSchema, query: str, count: int,
                        variables: dict[str, Any] | None = None) -> list[Any]:
    stream = await schema.subscribe(query, variable_values=variables)
    results = []
    async for result in stream:
        results.append(result)
        if len(results) == count or isinstance(result, PreExecutionError):
            break
    await stream.aclose()
    return results


async def started(broadcast: Broadcast, *listeners: Any) -> list[asyncio.Task[Any]]:
    tasks = [asyncio.create_task(listener) for listener in listeners]
    async with asyncio.timeout(5):
        while len(broadcast.queues) < len(tasks):
            await asyncio.sleep(0)
    return tasks


async def test_one_execution_per_event_per_group() -> None:
    broadcast, resolved = Broadcast(), []
    schema = tick_schema(broadcast, resolved)
    query = "subscription($t: Int!) { ticks { value(times: $t) } }"
    tasks = await started(broadcast, *(first_results(schema, query, 2, {"t": 2})
                                       for _ in range(3)),
                          first_results(schema, query, 2, {"t": 3}))

    for event_id in (1, 2):
        broadcast.send({"eventId": event_id, "value": 10 * event_id})
    same, other = [await t for t in tasks[:3]], await tasks[3]

    assert [r.data for r in same[0]] == [{"ticks": {"value": 20}}, {"ticks": {"value": 40}}]
    assert all(isinstance(r, SharedResult) for r in same[0])
    assert all(a is b is c for a, b, c in zip(*same, strict=True))
    assert same[0][0].payload_json == '{"data":{"ticks":{"value":20}}}'
    assert [r.data for r in other] == [{"ticks": {"value": 30}}, {"ticks": {"value": 60}}]
    assert schema.event_results.executions == 4 and sorted(resolved) == [1, 1, 2, 2]


async def test_a_new_message_with_a_reused_id_is_executed_again() -> None:
    broadcast, resolved = Broadcast(), []
    schema = tick_schema(broadcast, resolved)
    [task] = await started(broadcast, first_results(schema, "subscription { ticks { value } }", 2))

    broadcast.send({"eventId": 7, "value": 1})
    broadcast.send({"eventId": 7, "value": 2})

    assert [r.data["ticks"]["value"] for r in await task] == [1, 2]


async def test_source_errors_come_before_any_result_and_other_fields_are_stock() -> None:
    broadcast, resolved = Broadcast(), []
    schema = tick_schema(broadcast, resolved)

    [refused] = await first_results(schema, "subscription { ticks(allowed: false) { value } }", 1)
    [task] = await started(broadcast, first_results(schema, "subscription { plain { value } }", 1))
    broadcast.send({"eventId": 1, "value": 5})
    [plain] = await task

    assert isinstance(refused, PreExecutionError)
    assert refused.errors and refused.errors[0].message == "not allowed"
    assert plain.data == {"plain": {"value": 5}} and not isinstance(plain, SharedResult)
    assert schema.event_results.executions == 0

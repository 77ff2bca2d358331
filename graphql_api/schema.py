"""The SignalHub GraphQL schema: roots, scalars, caches and grouped subscriptions."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from graphql_api.errors import is_expected
from graphql_api.grouping import GroupedSchema
from graphql_api.mutations import Mutation
from graphql_api.queries import Query
from graphql_api.subscriptions import Subscription
from graphql_api.types import SCALARS

GROUPED_FIELDS = ("signalEvents",)
DOCUMENT_CACHE_SIZE = 256


class SignalHubSchema(GroupedSchema):
    """Logs only unexpected errors: a caller's mistake (``extensions.code``) is not one."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([e for e in errors if not is_expected(e)], execution_context)


def build_schema() -> SignalHubSchema:
    """A new schema; each app builds its own (its group memo is per schema)."""
    return SignalHubSchema(
        query=Query, mutation=Mutation, subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
                    lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE)],
        grouped_fields=GROUPED_FIELDS, cache_size=DOCUMENT_CACHE_SIZE,
    )


def schema_sdl(schema: Any = None) -> str:
    """The schema in SDL (what ``docs/schema.graphql`` holds)."""
    return print_schema(schema or build_schema()) + "\n"

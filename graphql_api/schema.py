"""The SignalHub GraphQL schema: roots, scalars, caches and grouped subscriptions."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.execution import ExecutionContext

from graphql_api.billing import BillingMutation, BillingQuery
from graphql_api.copy_trading import CopyTradingMutation, CopyTradingQuery
from graphql_api.errors import is_expected
from graphql_api.exchange import ExchangeMutation, ExchangeQuery
from graphql_api.grouping import GroupedSchema
from graphql_api.linking import LinkingMutation
from graphql_api.mutations import Mutation as CoreMutation
from graphql_api.queries import Query as CoreQuery
from graphql_api.subscriptions import Subscription as CoreSubscription
from graphql_api.trade_events import TradeEventsSubscription
from graphql_api.types import SCALARS

# Each feature module contributes its own root classes; they are merged into one root.
# Register a new feature's classes here (one line each), nowhere else.
QUERY_PARTS: tuple[type, ...] = (CoreQuery, CopyTradingQuery, ExchangeQuery, BillingQuery)
MUTATION_PARTS: tuple[type, ...] = (CoreMutation, CopyTradingMutation, ExchangeMutation,
                                    BillingMutation, LinkingMutation)
SUBSCRIPTION_PARTS: tuple[type, ...] = (CoreSubscription, TradeEventsSubscription)

GROUPED_FIELDS = ("signalEvents",)
DOCUMENT_CACHE_SIZE = 256


class SignalHubSchema(GroupedSchema):
    """Logs only unexpected errors: a caller's mistake (``extensions.code``) is not one."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([e for e in errors if not is_expected(e)], execution_context)


def _root(name: str, description: str, parts: tuple[type, ...]) -> type:
    """One root type from the feature parts (a single part is used as it is)."""
    if len(parts) == 1:
        return parts[0]
    merged = merge_types(name, parts)
    merged.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return merged


def build_schema() -> SignalHubSchema:
    """A new schema; each app builds its own (its group memo is per schema)."""
    return SignalHubSchema(
        query=_root("Query", "Read operations.", QUERY_PARTS),
        mutation=_root("Mutation", "Write operations; each returns its result or a typed "
                       "error.", MUTATION_PARTS),
        subscription=_root("Subscription", "Live updates over websocket "
                           "(graphql-transport-ws or graphql-ws).", SUBSCRIPTION_PARTS),
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
                    lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE)],
        grouped_fields=GROUPED_FIELDS, cache_size=DOCUMENT_CACHE_SIZE,
    )


def schema_sdl(schema: Any = None) -> str:
    """The schema in SDL (what ``docs/schema.graphql`` holds)."""
    return print_schema(schema or build_schema()) + "\n"

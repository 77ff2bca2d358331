"""Query root: the caller, providers, a provider's signals, the caller's subscriptions
and copied positions (paper and live).

Failures are GraphQL errors with ``extensions.code`` (see ``graphql_api.errors``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import strawberry

from domain import models
from domain.errors import InvalidInput, NotAllowed
from domain.providers import get_provider, list_providers
from domain.subscriptions import may_listen, user_subscriptions
from graphql_api.errors import raising_api_errors
from graphql_api.loaders import signal_views
from graphql_api.types import (
    PageInfo,
    Position,
    Provider,
    ProviderSubscription,
    SignalConnection,
    SignalEdge,
    User,
)

MAX_PAGE = 100
CURSOR_PREFIX = "signal:"

SlugArg = Annotated[str, strawberry.argument(description="Provider slug, e.g. `btc-swing`.")]


def encode_cursor(seq: int) -> str:
    """Opaque cursor of the signal with sequence number ``seq`` of a provider."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{seq}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The sequence number in ``cursor``; raises ``InvalidInput("after")``."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(CURSOR_PREFIX):
            return int(text.removeprefix(CURSOR_PREFIX))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput("after", "is not a cursor returned by this connection")


@strawberry.type(description="Read operations.")
class Query:
    @strawberry.field(description="The signed-in user; null without a valid token.")
    def me(self, info: strawberry.Info) -> User | None:
        user = info.context.user
        return User.from_model(user) if user else None

    @strawberry.field(description="Every provider, ordered by slug. Public.")
    async def providers(self) -> list[Provider]:
        return [Provider.from_model(p) for p in await list_providers()]

    @strawberry.field(description="The provider with this slug; null if there is none. Public.")
    async def provider(self, slug: SlugArg) -> Provider | None:
        row = await models.Provider.get_or_none(slug=slug.strip().lower())
        return Provider.from_model(row) if row else None

    @strawberry.field(description=(
        "A provider's signals, newest first, as a Relay cursor connection. Readable by "
        "its ACTIVE subscribers, its owner and admins. Errors (extensions.code): "
        "NOT_ALLOWED (not signed in, not subscribed), NOT_FOUND (no such provider), "
        "VALIDATION (`first` outside 1–100, a foreign `after` cursor)."))
    async def signals(
        self, info: strawberry.Info, provider_slug: SlugArg,
        first: Annotated[int, strawberry.argument(
            description="Page size, 1–100.")] = 20,
        after: Annotated[str | None, strawberry.argument(
            description="`pageInfo.endCursor` of the previous page; null for the newest "
                        "signals.")] = None,
    ) -> SignalConnection:
        with raising_api_errors():
            user = info.context.require_user()
            if not 1 <= first <= MAX_PAGE:
                raise InvalidInput("first", f"must be between 1 and {MAX_PAGE}")
            before_seq = decode_cursor(after) if after else None
            provider = await get_provider(provider_slug)
            if not await may_listen(user, provider):
                raise NotAllowed(f"subscribe to {provider.slug!r} to read its signals")
        query = models.Signal.filter(provider_id=provider.id)
        if before_seq is not None:
            query = query.filter(seq__lt=before_seq)
        rows = await query.order_by("-seq").limit(first + 1)
        for row in rows:
            row.provider = provider
        views = await signal_views(rows[:first])
        edges = [SignalEdge(cursor=encode_cursor(v.seq), node=v) for v in views]
        return SignalConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description=(
        "The caller's subscriptions (ACTIVE and CANCELLED) with provider and copy "
        "settings, oldest first. Error: NOT_ALLOWED when not signed in."))
    async def my_subscriptions(self, info: strawberry.Info) -> list[ProviderSubscription]:
        with raising_api_errors():
            user = info.context.require_user()
        subs = await user_subscriptions(user)
        return [ProviderSubscription.from_model(s, s.provider, _copy_settings(s)) for s in subs]

    @strawberry.field(description=(
        "The caller's copied positions, paper and live (see Position.mode), newest "
        "first. Error: NOT_ALLOWED when not signed in."))
    async def my_positions(
        self, info: strawberry.Info,
        status: Annotated[models.PositionStatus | None, strawberry.argument(
            description="Only positions with this status; null for all.")] = None,
    ) -> list[Position]:
        with raising_api_errors():
            user = info.context.require_user()
        query = models.Position.filter(user_id=user.id)
        if status is not None:
            query = query.filter(status=status)
        return [Position.from_model(p) for p in await query.order_by("-id")]


def _copy_settings(sub: models.Subscription) -> models.CopySettings | None:
    try:
        return sub.copy_settings  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        return None

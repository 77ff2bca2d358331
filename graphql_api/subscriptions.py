"""Subscription root: live signal events of providers, fed by the process's ``BusHub``.

Events published by any process (API, worker, bot) on Redis pub/sub reach every API
process's hub, which hands them to the listeners registered here. Authorization runs
when the subscription starts, before anything is yielded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from domain.errors import InvalidInput, NotAllowed
from domain.events import topic_for
from domain.models import User
from domain.providers import get_provider
from domain.subscriptions import may_listen
from graphql_api.errors import raising_api_errors
from graphql_api.types import SignalEvent

if TYPE_CHECKING:
    from integrations.redis_bus import BusHub

MAX_PROVIDERS = 50


async def authorized_topics(user: User, slugs: list[str]) -> list[str]:
    """Bus topics of ``slugs`` if ``user`` may listen to each of them.

    Raises ``InvalidInput`` (no slug / more than 50), ``NotFound`` (unknown slug),
    ``NotAllowed`` (neither ACTIVE subscriber, owner nor admin).
    """
    unique = list(dict.fromkeys(slug.strip().lower() for slug in slugs))
    if not 1 <= len(unique) <= MAX_PROVIDERS:
        raise InvalidInput("providerSlugs", f"give 1 to {MAX_PROVIDERS} provider slugs")
    topics = []
    for slug in unique:
        provider = await get_provider(slug)
        if not await may_listen(user, provider):
            raise NotAllowed(f"subscribe to {provider.slug!r} to receive its signal events")
        topics.append(topic_for(provider.slug))
    return topics


def signal_event(message: dict[str, Any]) -> SignalEvent:
    return SignalEvent(message=message)


def event_stream(hub: BusHub, topics: list[str]) -> AsyncIterator[SignalEvent]:
    """Every bus message of ``topics`` from the first iteration on, until closed.

    A ``BusStream``: the grouped websocket path attaches a fan-out sink to the hub
    instead of iterating it (``graphql_api.grouping``)."""
    return hub.stream(topics, signal_event)


@strawberry.type(description="Live updates over websocket (graphql-transport-ws or graphql-ws).")
class Subscription:
    @strawberry.subscription(description=(
        "Every event of the given providers' signals as it happens: PUBLISHED, "
        "ACTIVATED, TARGET_HIT, STOP_HIT, CLOSED, CANCELLED, EXPIRED. Allowed for each "
        "provider's ACTIVE subscribers, its owner and admins. Fails before any event "
        "(extensions.code): NOT_ALLOWED (not signed in, not subscribed), NOT_FOUND "
        "(unknown slug), VALIDATION (no slug or more than 50)."))
    async def signal_events(
        self, info: strawberry.Info,
        provider_slugs: Annotated[list[str], strawberry.argument(
            description="Slugs of the providers to follow (1–50).")],
    ) -> AsyncIterator[SignalEvent]:
        with raising_api_errors():
            user = info.context.require_user()
            topics = await authorized_topics(user, provider_slugs)
        return event_stream(info.context.services.hub, topics)

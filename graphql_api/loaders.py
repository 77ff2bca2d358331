"""Batch loading for resolvers: bulk reads and the per-request DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from domain import models
from graphql_api.types import Signal


async def signal_views(signals: Sequence[models.Signal]) -> list[Signal]:
    """GraphQL views of ``signals`` (provider loaded), their states read in one query."""
    ids = [s.id for s in signals]
    states = {s.signal_id: s for s in await models.SignalState.filter(  # type: ignore[attr-defined]
        signal_id__in=ids)}
    return [Signal.from_model(s, s.provider, states.get(s.id)) for s in signals]


async def load_signals(ids: list[int]) -> list[Signal | None]:
    """Signals by id in request order (None for an unknown id): two queries per batch."""
    rows = await models.Signal.filter(id__in=ids).select_related("provider")
    by_id = {view.id: view for view in await signal_views(rows)}
    return [by_id.get(i) for i in ids]


@dataclass
class Loaders:
    """DataLoaders of one context. Websocket contexts live as long as the connection,
    so they do not cache (batching only) and never serve stale rows."""

    signal: DataLoader[int, Signal | None]

    @classmethod
    def create(cls, *, cache: bool = True) -> Loaders:
        return cls(signal=DataLoader(load_fn=load_signals, cache=cache))

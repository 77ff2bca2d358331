"""``CopyRuntime.freeze_long_lived``: the heap is frozen after a shard that built live
gateways (the cyclic collector then skips the cached ccxt clients), and only then."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from workers.copy_jobs import REFREEZE_S, CopyRuntime


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_new_gateways_freeze_the_heap_once(unfrozen: None) -> None:  # noqa: ARG001
    runtime = SimpleNamespace(gateways=SimpleNamespace(built=3), frozen_at=0,
                              full_collected_at=-REFREEZE_S)
    kept = [object() for _ in range(10)]

    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]
    frozen = gc.get_freeze_count()
    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]

    assert frozen > 0 and runtime.frozen_at == 3
    assert gc.get_freeze_count() == frozen  # nothing new built: no second freeze
    assert kept


def test_paper_only_gateways_never_freeze(unfrozen: None) -> None:  # noqa: ARG001
    runtime = SimpleNamespace(gateways=SimpleNamespace(), frozen_at=0,  # no ``built``
                              full_collected_at=-REFREEZE_S)

    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]

    assert gc.get_freeze_count() == 0


class Node:
    """A cycle of one object (what ccxt clients and ORM rows hold many of)."""

    def __init__(self) -> None:
        self.me = self


def test_cycles_frozen_while_alive_are_freed_by_the_next_late_freeze(
        unfrozen: None) -> None:  # noqa: ARG001
    gateways = SimpleNamespace(built=1)
    runtime = SimpleNamespace(gateways=gateways, frozen_at=0, full_collected_at=-REFREEZE_S)
    node = Node()
    gone = weakref.ref(node)
    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]
    del node  # garbage now, but frozen: the collector does not look at it

    gateways.built = 2  # a soon freeze keeps it
    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]
    gc.collect()
    assert gone() is not None

    runtime.full_collected_at = time.monotonic() - REFREEZE_S  # an hour later
    gateways.built = 3
    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]
    assert gone() is None

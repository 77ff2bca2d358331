"""``CopyRuntime.freeze_long_lived``: the heap is frozen after a shard that built live
gateways (the cyclic collector then skips the cached ccxt clients), and only then."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from workers.copy_jobs import CopyRuntime


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_new_gateways_freeze_the_heap_once(unfrozen: None) -> None:  # noqa: ARG001
    runtime = SimpleNamespace(gateways=SimpleNamespace(built=3), frozen_at=0)
    kept = [object() for _ in range(10)]

    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]
    frozen = gc.get_freeze_count()
    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]

    assert frozen > 0 and runtime.frozen_at == 3
    assert gc.get_freeze_count() == frozen  # nothing new built: no second freeze
    assert kept


def test_paper_only_gateways_never_freeze(unfrozen: None) -> None:  # noqa: ARG001
    runtime = SimpleNamespace(gateways=SimpleNamespace(), frozen_at=0)  # no ``built``

    CopyRuntime.freeze_long_lived(runtime)  # type: ignore[arg-type]

    assert gc.get_freeze_count() == 0

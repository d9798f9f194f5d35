"""The API's garbage collection once started: what it built is out of the collector's sight."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from agency.gc_tuning import THRESHOLDS, freeze_startup_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_what_the_process_built_is_frozen_and_young_collections_are_rarer(
    restored_gc: None,
) -> None:
    kept = [Built() for _ in range(1000)]
    assert id(kept[0]) in walked_by_the_collector()
    freeze_startup_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == THRESHOLDS
    assert id(kept[0]) not in walked_by_the_collector()


class Built:
    """An object the process keeps (instances are tracked by the collector)."""


def walked_by_the_collector() -> set[int]:
    """Ids of the objects in the generations the collector walks (frozen ones are not)."""
    return {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}

"""A worker freezes its built premises out of the cyclic GC, after collecting setup's garbage."""

from __future__ import annotations

import gc
import weakref

from hil.fleet.traffic import settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_setup_garbage_is_collected_before_the_rest_is_frozen() -> None:
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = _Node()
    try:
        frozen = settle_heap()
        assert gone() is None  # collected, not frozen with the live objects
        assert frozen == gc.get_freeze_count() > 0
        assert gc.collect() >= 0 and kept.me is kept
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0

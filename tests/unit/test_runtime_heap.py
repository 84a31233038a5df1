"""A started process freezes what it holds out of the garbage collector's reach (bot.runtime.settle_heap)."""

from __future__ import annotations

import gc

from bot.runtime import settle_heap


def test_what_a_started_process_holds_is_frozen_and_a_full_collection_walks_only_what_came_after():
    held = [[i] for i in range(10_000)]  # what the process built before it serves
    try:
        settle_heap()
        assert gc.get_freeze_count() >= len(held)
        after = [[i] for i in range(10)]
        gc.collect()
        walked = gc.get_objects(generation=2)  # the oldest generation: only what came after the freeze
        assert any(o is after[0] for o in walked)
        assert not any(o is held[0] for o in walked)
    finally:
        gc.unfreeze()

"""StampedCache: values with their age; the reader says how old is too old, and the last value outlives it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from outreach.cache import StampedCache


class Ticking:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_fresh_while_younger_than_the_cache_age():
    clock = Ticking()
    cache = StampedCache[str, int](60, monotonic=clock)
    cache.put("a", 1)
    clock.now += 59.9
    assert cache.fresh("a") == 1
    clock.now += 0.1
    assert cache.fresh("a") is None


def test_the_last_value_outlives_its_age_until_replaced():
    clock = Ticking()
    cache = StampedCache[str, int](60, monotonic=clock)
    assert cache.last("a") is None
    cache.put("a", 1)
    clock.now += 3600
    assert (cache.fresh("a"), cache.last("a")) == (None, 1)
    cache.put("a", 2)
    assert (cache.fresh("a"), cache.last("a")) == (2, 2)


def test_a_reader_may_accept_older_or_only_younger_values():
    clock = Ticking()
    cache = StampedCache[str, int](600, monotonic=clock)
    cache.put("a", 1)
    clock.now += 700
    assert cache.fresh("a") is None
    assert cache.fresh("a", max_age=86_400) == 1
    assert cache.fresh("a", max_age=0) is None


def test_a_value_stamped_when_it_was_asked_for_is_as_old_as_the_question():
    clock = Ticking()
    cache = StampedCache[str, int](60, monotonic=clock)
    asked = cache.now()
    clock.now += 50  # the source took its time
    cache.put("a", 1, at=asked)
    clock.now += 10
    assert cache.fresh("a") is None


def test_values_without_an_age_never_grow_old():
    clock = Ticking()
    cache = StampedCache[str, int](None, monotonic=clock)
    cache.put("a", 1)
    clock.now += 10**9
    assert cache.fresh("a") == 1


def test_falsy_values_are_values():
    cache = StampedCache[str, list[str]](60)
    cache.put("team", [])
    assert cache.fresh("team") == []
    assert cache.last("team") == []


def test_beyond_its_bound_the_least_recently_stored_goes_first_reads_do_not_count():
    cache = StampedCache[str, int](60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.fresh("a") == 1
    cache.put("c", 3)
    assert (cache.last("a"), cache.last("b"), cache.last("c")) == (None, 2, 3)
    cache.put("b", 20)  # storing again makes it the newest
    cache.put("d", 4)
    assert (cache.last("b"), cache.last("c"), len(cache)) == (20, None, 2)


def test_with_lru_a_read_keeps_a_value_too():
    cache = StampedCache[str, int](60, max_entries=2, lru=True)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.fresh("a") == 1
    cache.put("c", 3)
    assert (cache.last("a"), cache.last("b"), cache.last("c")) == (1, None, 3)


def test_many_threads_storing_and_reading_keep_the_bound():
    cache = StampedCache[int, int](60, max_entries=100, lru=True)

    def work(n: int) -> None:
        cache.put(n, n)
        cache.fresh(n - 1)
        cache.last(n - 2)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(5000)))
    assert len(cache) == 100

"""Sending accounts' budgets, kept in the database (SQLite and PostgreSQL): each slot is handed out once, in
order, whatever the number of connections asking; the throttle reserves a group's slots in one transaction."""

from __future__ import annotations

import threading

import pytest

from outreach.delivery import Throttle

NOW = 2_147_483_648_000_000  # µs since the epoch
TENTH = 100_000  # µs: 10 a second


def test_an_accounts_slots_follow_each_other_and_start_no_earlier_than_now(uow_factory):
    with uow_factory() as uow:
        budgets = uow.send_budgets
        assert budgets.reserve("smtp", 3, TENTH, NOW) == NOW  # the first ever: now
        assert budgets.reserve("smtp", 2, TENTH, NOW) == NOW + 3 * TENTH  # after those three
        assert budgets.reserve("messages", 1, TENTH, NOW) == NOW  # another account: a budget of its own
        assert budgets.reserve("smtp", 1, TENTH, NOW + 60_000_000) == NOW + 60_000_000  # idle since: now
        uow.commit()
    with uow_factory() as uow:  # kept: another process goes on from there
        assert uow.send_budgets.reserve("smtp", 1, TENTH, NOW) == NOW + 60_000_000 + TENTH


def test_concurrent_reservations_never_get_the_same_slot(uow_factory):
    threads, rounds, size = 6, 20, 2
    firsts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def reserve() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(rounds):
                with uow_factory() as uow:
                    first = uow.send_budgets.reserve("smtp", size, TENTH, NOW)
                    uow.commit()
                firsts.append(first)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=reserve) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert not errors, errors
    slots = sorted(first + i * TENTH for first in firsts for i in range(size))
    assert slots == [NOW + i * TENTH for i in range(threads * rounds * size)]  # each once, none skipped


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_throttle_reserves_a_groups_slots_in_one_transaction_and_waits_for_each(uow_factory):
    wall, slept, transactions = Wall(NOW / 1e6), [], []

    def uow():
        transactions.append(1)
        return uow_factory()

    throttle = Throttle(10, uow, sleep=slept.append, wall=wall)
    slots = throttle.reserve(["smtp", "mailbox:T1:U2", "smtp", "smtp"])
    assert len(transactions) == 1
    t = NOW / 1e6
    assert slots == pytest.approx([t, t, t + 0.1, t + 0.2])
    assert Throttle(10, uow_factory, wall=wall).reserve(["smtp"]) == pytest.approx(
        [t + 0.3]
    )  # another process
    throttle.wait_until(slots[2])
    throttle.wait_until(slots[0])  # passed: at once
    assert slept == pytest.approx([0.1])


def test_without_a_rate_the_throttle_costs_nothing():
    throttle = Throttle(0)  # no database at all
    assert throttle.reserve(["smtp"] * 10) == []

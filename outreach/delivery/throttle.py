"""SEND_RATE_PER_SECOND: at most that many sends a second per sending account, whatever the number of workers.

The accounts, each with a budget of its own: the deployment's SMTP server (:data:`SERVER`), each user's own
mailbox connected with /prospects connect-email (:func:`own_mailbox`), the in-platform messages webhook
(:data:`MESSAGES`), and a workspace's own SMTP server or webhook set in its settings (:func:`workspace_account`).
Every thread and every worker process sending through one account spends its one budget.

The rules:

* Each send of an account takes a *slot*, a time it does not start before; an account's slots are
  ``1 / rate`` apart, and no slot is given out twice. So its sends never go faster than the rate, counted
  over all processes together.
* The slots are handed out by the database (``uow.send_budgets``: each account's next free time, moved on
  atomically). A worker reserves a group's slots in one transaction (a statement per account), once the
  group's messages are built — not a round trip per message, and no slot held by a worker that is not ready
  to send. It reserves before it commits the group in flight, and commits when the first slot comes: a
  database that fails the reservation leaves nothing in flight, and a group waiting for its turn is not in
  flight while it waits.
* A slot that passed while its message waited (a slow send before it) is used at once: a worker holds at most
  one group's slots, so that is the largest catch-up; slots never used (a delivery taken back) are lost.
* Rate 0 is no limit, at no cost: no database, no waiting.
* Slot times are wall-clock time (shared by the processes of one machine, or of NTP-synchronised ones), not
  the worker's :class:`~outreach.ports.Clock`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

from outreach.ports import UnitOfWork

SERVER = "smtp"  # the workspace's SMTP server (SMTP_HOST)
MESSAGES = "messages"  # the in-platform messages webhook (MESSAGES_WEBHOOK_URL)
_US = 1_000_000


def workspace_account(team_id: str, kind: str) -> str:
    """The account of a workspace's own SMTP server (``smtp``) or messages webhook (``messages``), from its
    settings (:mod:`outreach.workspace_settings`)."""
    return f"workspace:{team_id}:{kind}"


def own_mailbox(team_id: str, user_id: str) -> str:
    """The account of a user's own mailbox."""
    return f"mailbox:{team_id}:{user_id}"


class Throttle:
    """The accounts' budgets, as a process's workers see them (safe to share between threads)."""

    def __init__(
        self,
        per_second: float,
        uow: Callable[[], UnitOfWork] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._interval = round(_US / per_second) if per_second > 0 else 0  # µs
        if self._interval and uow is None:
            raise ValueError("a send rate needs the database that keeps the accounts' budgets")
        self._uow = uow
        self._sleep = sleep
        self._wall = wall

    def reserve(self, accounts: Sequence[str]) -> list[float]:
        """A slot for each of these sends, in order (wall-clock seconds); none when there is no limit."""
        if not self._interval or not accounts:
            return []
        assert self._uow is not None
        now = round(self._wall() * _US)
        first: dict[str, int] = {}
        with self._uow() as uow:
            for account, count in sorted(Counter(accounts).items()):  # one order everywhere: no deadlock
                first[account] = uow.send_budgets.reserve(account, count, self._interval, now)
            uow.commit()
        slots = []
        for account in accounts:
            slots.append(first[account] / _US)
            first[account] += self._interval
        return slots

    def wait_until(self, slot: float) -> None:
        """Return at ``slot`` (at once when it passed)."""
        delay = slot - self._wall()
        if delay > 0:
            self._sleep(delay)

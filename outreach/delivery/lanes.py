"""SMTP_CONNECTIONS: one worker sends a group's e-mails to the workspace's server over K connections at once.

A relay answers each command tens of milliseconds late, so one connection carries a message per few round trips
whatever the sender's speed; K connections carry K. A worker holds K sessions of the workspace's mailer (each
connects on its first send and is kept across batches) and a thread for each. The rules:

* A group's e-mails to the server are handed out in order, each to the next free connection, once: each waits
  for its slot of the send budget (:mod:`outreach.delivery.throttle`) before it goes, so the sends of all
  connections together keep to SEND_RATE_PER_SECOND exactly as one connection does.
* Each connection is its own session: a connection dropped before the content went out is reopened and the
  message tried again on it; one lost after the content is reported and never retried (at most once).
* The group is in flight as a whole (committed before its first send), as with one connection; the worker
  rounds its in-flight group up to a multiple of K so that no connection waits idle for the next group.
* A user's own mailbox keeps one connection: its sends go one after another, in the worker's own thread, while
  the connections send the server's.
* K = 1 uses no thread at all: the worker sends on its one connection itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self, TypeVar

from outreach.ports import Mailer, MailSession

__all__ = ["Lanes", "group_size"]

Job = TypeVar("Job")
Result = TypeVar("Result")


def group_size(group: int, connections: int) -> int:
    """The in-flight group for ``connections`` connections: ``group`` rounded up to a multiple of them."""
    connections = max(1, connections)
    return -(-max(1, group) // connections) * connections


class Lanes:
    """A worker's K sessions to the workspace's server, and a thread to send on each."""

    def __init__(self, mailer: Mailer, connections: int = 1) -> None:
        self._mailer = mailer
        self.count = max(1, connections)
        self.sessions: list[MailSession] = [mailer.open() for _ in range(self.count)]
        self._pool = (
            ThreadPoolExecutor(self.count, thread_name_prefix="smtp-connection") if self.count > 1 else None
        )

    @property
    def main(self) -> MailSession:
        """The session messages are built with (any of them would do: building needs no connection)."""
        return self.sessions[0]

    def send(
        self,
        jobs: Sequence[Job],
        send_one: Callable[[MailSession, Job], Result],
        results: dict[int, Result],
        meanwhile: Callable[[], None] = lambda: None,
    ) -> None:
        """``send_one(session, job)`` for each job, in order, each on the next free connection; its result into
        ``results`` at the job's index. ``meanwhile`` runs in this thread while they go. Results come in even
        when a job raises (the first error is raised once every connection has stopped)."""
        if self._pool is None or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                results[index] = send_one(self.main, job)
            meanwhile()
            return
        queue = deque(enumerate(jobs))

        def lane(session: MailSession) -> None:
            while True:
                try:
                    index, job = queue.popleft()
                except IndexError:
                    return
                results[index] = send_one(session, job)

        running = [self._pool.submit(lane, session) for session in self.sessions[: len(jobs)]]
        try:
            meanwhile()
        finally:
            errors = [future.exception() for future in running]  # waits for every connection
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first

    def reopen(self) -> None:
        """Close every connection; the next sends open new ones (after a send failed on one of them)."""
        self._close_sessions()
        self.sessions = [self._mailer.open() for _ in range(self.count)]

    def close(self) -> None:
        self._close_sessions()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _close_sessions(self) -> None:
        for session in self.sessions:
            session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

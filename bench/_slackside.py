"""Shared by list.py, submit.py and open.py: the Slack side of the app as a user's Slack client plays it, timed.

``TimedSim`` is the harness's simulated Slack client (``SlackClientSim`` with the stand-in attached: a user
clicks only what is on screen, submits only an open view), stamping each signed request just before it goes out
and when its HTTP answer comes back. The waits here poll every half millisecond, not every 50 ms as the
scenario harness does, so that they add nothing that counts next to a 100 ms target.

Not a benchmark itself (run_all.py only runs the scripts it lists).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from _sendkit import partners

from bot import ids
from bot.devtools.harness import SIGNING_SECRET, FullApp
from bot.devtools.slack_requests import HttpAnswer, SlackClientSim
from bot.settings import Settings
from bot.wiring import build_services
from storage.db import analyze, make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWork

TEAM, USER, CHANNEL = "T0001", "U0001", "C0001"
POLL = 0.0005


class TimedSim(SlackClientSim):
    """The simulated Slack client; ``sent_at`` (``time.time()``, comparable with the stand-in's ``Call.at``) and
    ``sent`` (``perf_counter``) are stamped just before the last request was sent, ``answered`` when its HTTP
    answer came back."""

    sent_at = 0.0
    sent = 0.0
    answered = 0.0

    def post(self, body: str, **kw: Any) -> HttpAnswer:
        self.sent_at, self.sent = time.time(), time.perf_counter()
        answer = super().post(body, **kw)
        self.answered = time.perf_counter()
        return answer


def slack_client(app: FullApp, team: str = TEAM) -> TimedSim:
    """The user's Slack client in workspace ``team`` (as ``FullApp.team`` makes one), timed."""
    return TimedSim(app.sim.url, SIGNING_SECRET, team_id=team, slack=app.standin)


def wait(
    predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition", step: float = POLL
) -> Any:
    """``predicate()`` once it is true, asked every ``step`` seconds (a database query: use a longer step)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out waiting for {what}")


def acked(answer: HttpAnswer, what: str) -> None:
    if answer.late or answer.status != 200:
        raise AssertionError(f"Slack would show an error for {what}: {answer}")


def shown_after(app: FullApp, before: int, channel: str, user: str, clicked: tuple[str, str] | None) -> Any:
    """The message the user sees change after the stand-in had ``before`` writes: the clicked one replaced, or a
    new one in ``channel`` (an ephemeral one only for ``user``); None while there is none."""
    for key in app.standin.writes[before:]:
        message = app.standin.message(*key)
        if message is None:
            continue
        if key == clicked or (key[0] == channel and (not message.ephemeral or message.user == user)):
            return message.snapshot()
    return None


def _in_background(send: Callable[[], HttpAnswer]) -> Callable[[], HttpAnswer]:
    """Send on a thread of its own; returns a function that waits for the HTTP answer. The app's answer to a
    click can reach the response URL before the HTTP answer does (Bolt notices an ``ack()`` every 10 ms), and the
    user sees it when it reaches Slack: the clock stops there, not at the HTTP answer."""
    answer: list[HttpAnswer] = []
    thread = threading.Thread(target=lambda: answer.append(send()), daemon=True)
    thread.start()

    def join() -> HttpAnswer:
        thread.join(60)
        if not answer:
            raise TimeoutError("no HTTP answer")
        return answer[0]

    return join


def command(client: TimedSim, app: FullApp, text: str = "") -> tuple[float, dict[str, Any]]:
    """/prospects: milliseconds from sending it to the stand-in holding the answer (through its response URL),
    and the message shown."""
    before = len(app.standin.writes)
    answered = _in_background(lambda: client.command(USER, ids.COMMAND, text, channel_id=CHANNEL))
    message = wait(lambda: shown_after(app, before, CHANNEL, USER, None), what="the answer to /prospects")
    elapsed = (time.perf_counter() - client.sent) * 1000
    acked(answered(), "/prospects")
    return elapsed, message


def click(
    client: TimedSim, app: FullApp, message: dict[str, Any], action: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """Use ``action`` on ``message`` as shown now: milliseconds from sending the click to the stand-in holding
    the message that replaces it (or a new one), and that message."""
    before = len(app.standin.writes)
    answered = _in_background(lambda: client.click(USER, message, action))
    clicked = (message["channel"], message["ts"])
    shown = wait(
        lambda: shown_after(app, before, message["channel"], USER, clicked),
        what=f"the answer to {action['action_id']}",
    )
    elapsed = (time.perf_counter() - client.sent) * 1000
    acked(answered(), action["action_id"])
    return elapsed, shown


def opened(app: FullApp, seen: int, timeout: float = 30.0) -> dict[str, Any]:
    """The first view opened with views.open after the stand-in's view log had ``seen`` entries, as opened."""
    found = wait(
        lambda: [v for m, v in app.standin.view_log[seen:] if m == "views.open"], timeout, "views.open"
    )
    view: dict[str, Any] = found[0]
    return view


def filled(app: FullApp, seen: int, timeout: float = 300.0) -> dict[str, Any]:
    """The view opened with views.open after ``seen`` view-log entries, once the app has filled it in (as
    ``FullApp.opened_after``, which gives up after 20 s): the view as it is now."""
    view_id = opened(app, seen)["id"]

    def done() -> dict[str, Any] | None:
        view = app.standin.open_view(view_id)
        return view if view is not None and view.get("callback_id") != ids.CALLBACK_PREPARING else None

    found: dict[str, Any] = wait(done, timeout, "the form, filled in")
    return found


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 (nearest rank)."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def seed(url: str, count: int, team: str = TEAM) -> None:
    """``count`` partners, all prospects, in batches of 5,000 (as an import does), then ANALYZE."""
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    items = list(partners(count, team))
    for start in range(0, len(items), 5000):
        chunk = items[start : start + 5000]
        with SqlUnitOfWork(factory) as uow:
            uow.partners.upsert_many(team, chunk, mark_prospects={p.mpid for p in chunk}, marked_by=USER)
            uow.commit()
    analyze(engine, "partners")  # as `prospects-bot import` does after a bulk load
    engine.dispose()


def tick_all(settings: Settings, count: int, team: str = TEAM, user: str = USER, chunk: int = 5000) -> int:
    """Tick the first ``count`` seeded prospects for ``user`` through the service the tick button calls (Select
    all ticks one page; nobody clicks 10,000 pages), ``chunk`` at a time; before the app is up, so that these
    back-to-back write transactions do not keep its background sender waiting on SQLite's lock. Returns the
    pick count."""
    services = build_services(settings)
    try:
        mpids = [p.mpid for p in partners(count, team)]
        picked = 0
        for start in range(0, len(mpids), chunk):
            picked = services.prospects.set_picked(team, user, mpids[start : start + chunk], True)
        return picked
    finally:
        services.close()

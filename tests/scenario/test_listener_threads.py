"""Slack requests are served LISTENER_THREADS at once. Bolt's own default is five threads, and a request is
acknowledged only once a thread takes it: a sixth click at once waited, and a click behind a slow one could miss
Slack's three seconds (SLACK.md §8)."""

from __future__ import annotations

import threading
import time

from bot.app import build_app, make_client
from bot.devtools.slack_requests import SlackClientSim
from bot.devtools.slack_standin import SlackStandIn
from bot.http import HttpServer, WsgiApp
from bot.settings import Settings

SIGNING_SECRET = "threads-signing-secret"  # a test value, not a secret


def send_together(threads: int, requests: int) -> tuple[list[int], int]:
    """``requests`` slash commands sent at once to an app of ``threads`` listener threads, each listener holding
    its thread until all ``requests`` are inside one (or 4 s passed): the HTTP statuses, highest first (0: no
    answer within Slack's 3 s), and how many listeners met all the others."""
    inside = threading.Barrier(requests, timeout=4)
    met: list[bool] = []

    def register(app):
        @app.command("/probe")
        def probe(ack):
            ack()
            try:
                inside.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)

    with SlackStandIn(bot_token="xoxb-threads") as standin:
        settings = Settings(
            slack_bot_token=standin.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.api_url,
            listener_threads=threads,
        )
        server = HttpServer(WsgiApp(build_app(settings, register, client=make_client(settings)))).start()
        try:
            user = SlackClientSim(server.url + "/slack/events", SIGNING_SECRET)
            answers: list[int] = []
            senders = [
                threading.Thread(target=lambda: answers.append(user.command("U0001", "/probe").status))
                for _ in range(requests)
            ]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(10)
            deadline = time.monotonic() + 10
            while len(met) < requests and time.monotonic() < deadline:
                time.sleep(0.05)
            return sorted(answers, reverse=True), sum(met)
        finally:
            server.stop()


def test_as_many_clicks_as_listener_threads_are_acknowledged_and_served_at_once():
    assert send_together(threads=8, requests=8) == ([200] * 8, 8)


def test_clicks_beyond_the_listener_threads_wait_unacknowledged():
    answers, met = send_together(threads=4, requests=6)
    assert len(answers) == 6
    # Two found no thread within Slack's three seconds: no answer in time (0), or Bolt's own 404 when it stops
    # waiting for their acknowledgement, whichever comes first.
    assert answers.count(200) == 4 and all(a in (0, 404) for a in answers if a != 200)
    assert met == 0

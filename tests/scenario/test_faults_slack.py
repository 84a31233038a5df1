"""Slack answering 429 (rate limited, Retry-After: 1) while a bulk e-mail is being sent: every recipient is
e-mailed exactly once and the author's progress DM still ends with the summary."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bot import ids
from bot.devtools.harness import button, full_app, input_values, wait_for
from outreach.models import DeliveryStatus, DraftStatus, Partner

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

TEAM, AUTHOR, COUNT = "T0001", "U0001", 25


@pytest.fixture
def app(scenario_settings):
    settings = scenario_settings(send_rate_per_second=0)
    with full_app(settings) as running:
        with running.services.uow() as uow:
            partners = [
                Partner(TEAM, f"a{i:03d}", f"Agency {i:02d}", f"First{i}", "Doe", f"p{i}@agency.example")
                for i in range(COUNT)
            ]
            uow.partners.upsert_many(
                TEAM, partners, mark_prospects={p.mpid for p in partners}, marked_by=AUTHOR
            )
            uow.commit()
        yield running


def test_429s_from_slack_during_a_bulk_email_lose_no_email_and_no_summary(app, smtp_server):
    page = app.command(AUTHOR)
    for _ in range(3):  # every page of 10, ticked with "select all"
        page = app.click(AUTHOR, page, button(page, ids.ACTION_SELECT_ALL))
        if ids.ACTION_PAGE_NEXT in json.dumps(page):
            page = app.click(AUTHOR, page, button(page, ids.ACTION_PAGE_NEXT))
    assert f"{COUNT} picked" in json.dumps(page)
    seen = len(app.standin.view_log)
    app.click(AUTHOR, page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)

    app.standin.fail("chat.postMessage", status=429, times=2, retry_after=1)
    app.standin.fail("chat.update", status=429, times=2, retry_after=1)
    answer = app.submit(
        AUTHOR,
        form,
        input_values(
            sender_name="Ann Lee", reply_to="ann@brand.example", subject="Hi {firstName}", content="Hello"
        ),
    )
    assert answer.status == 200 and answer.json()["response_action"] == "update"

    summary = wait_for(
        lambda: [c for c in app.standin.calls_to("chat.update") if "Sent:" in json.dumps(c.args)],
        timeout=60,
        what="the summary DM",
    )[-1]
    assert f"*Sent:* {COUNT}" in json.dumps(summary.args, ensure_ascii=False)

    got = Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert sorted(got) == sorted(f"p{i}@agency.example" for i in range(COUNT))
    assert set(got.values()) == {1}  # exactly once each
    assert app.services.compose.drafts(TEAM, AUTHOR) == []  # no unsent draft left
    with app.services.uow() as uow:
        (sent,) = uow.drafts.for_author(TEAM, AUTHOR)
        assert sent.status is DraftStatus.SENT
        assert uow.queue.counts(TEAM, sent.id)[DeliveryStatus.SENT] == COUNT
    # Slack did answer 429 and the DM's publisher (never the worker) waited and asked again: one DM, posted once
    # it got through.
    posts = app.standin.calls_to("chat.postMessage")
    assert len(posts) == 3
    assert len({(c.args["channel"], c.args.get("ts")) for c in app.standin.calls_to("chat.update")}) == 1

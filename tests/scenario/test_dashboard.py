"""How outreach is going, in Slack: the App Home as a dashboard (sends in progress with their bars, scheduled
sends, the last 30 days as numbers and a chart the app serves as a PNG — the stand-in downloads it as Slack does),
``/prospects stats [--days N]``, and **Download results** on a send's summary (a CSV file in the DM's thread)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import struct
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from bot import ids
from bot.charts import PATH, ChartAsked
from bot.devtools.harness import DEFAULT_USERS, button, full_app, input_values, rows, tick, wait_for
from bot.devtools.slack_standin import SlackUser
from outreach.models import (
    AuditEvent,
    Channel,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    Partner,
    ThreadMessage,
)

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

ADMIN = SlackUser("U0003", "boss", "Bo Ss", "bo@brand.example", is_admin=True)


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings(), (*DEFAULT_USERS, ADMIN)) as running:
        with running.services.uow() as uow:
            uow.partners.upsert_many(
                "T0001",
                [
                    Partner("T0001", f"p{i}", f"Shop {i}", f"Name{i}", "Doe", f"p{i}@shop.example")
                    for i in range(4)
                ],
                mark_prospects={f"p{i}" for i in range(4)},
                marked_by="U0001",
            )
            uow.commit()
        yield running


def _sent(app, author: str, mpids: list[str], *, days_ago: float = 1, template: str = "") -> int:
    """A send of ``author``'s that went out ``days_ago`` (its deliveries written as a worker writes them)."""
    now = app.services.clock.now()
    with app.services.uow() as uow:
        draft = uow.drafts.add(Draft("T0001", author, Channel.EMAIL, subject="Hi"), mpids)
        uow.deliveries.plan("T0001", draft.id, {})
        for mpid in mpids:
            d = uow.deliveries.get("T0001", draft.id, mpid)
            sent_at = now - timedelta(days=days_ago)
            uow.deliveries.save("T0001", dataclasses.replace(d, status=DeliveryStatus.SENT, sent_at=sent_at))
        uow.drafts.set_status("T0001", draft.id, DraftStatus.SENT)
        if template:
            used = AuditEvent(
                "T0001", author, "template.used", now, draft_id=draft.id, detail=f"1: {template}"
            )
            uow.audit.record(used)
        uow.commit()
    return int(draft.id)


def _replied(app, mpid: str) -> None:
    with app.services.uow() as uow:
        thread = uow.threads.open("T0001", mpid, Channel.EMAIL)
        uow.threads.add_message(
            "T0001", thread.id, ThreadMessage(Direction.IN, "Yes!", at=app.services.clock.now())
        )
        uow.commit()


def _home(app, user: str, event_id: str) -> dict:
    before = len(app.standin.calls_to("views.publish"))
    event = {
        "token": "x",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"},
    }
    assert app.sim.post(json.dumps(event), content_type="application/json").status == 200
    calls = wait_for(
        lambda: (c := app.standin.calls_to("views.publish")) and len(c) > before and c, what="the home tab"
    )
    return calls[-1].args["view"]


def _images(view: dict) -> list[str]:
    return [b["image_url"] for b in view["blocks"] if b["type"] == "image"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers.get_content_type(), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read()


def test_the_home_tab_shows_the_last_30_days_with_a_chart_slack_can_download(app):
    _sent(app, "U0001", ["p0", "p1", "p2"], template="Intro FR")
    _sent(app, "U0001", ["p3"], days_ago=45)  # before the window
    _replied(app, "p1")
    view = _home(app, "U0001", "Ev1001")
    text = json.dumps(view, ensure_ascii=False)
    assert "Your outreach, last 30 days" in text
    assert "*Sent:* 3" in text and "*Replied:* 1 (33%)" in text and "*Bounced:* 0" in text
    assert "Intro FR: 33% (1 of 3)" in text
    assert "The whole workspace" not in text  # U0001 is no admin
    (chart,) = _images(view)
    assert chart.startswith(app.settings.public_url + PATH + "?t=")
    # The stand-in downloaded it before taking the view (a URL Slack cannot download refuses the view);
    # here it is again: a PNG of the chart's size.
    status, kind, data = _get(chart)
    assert (status, kind) == (200, "image/png") and _png_size(data) == (900, 260)
    assert app.standin.refused == []


def test_an_admin_sees_the_whole_workspace_too_and_a_chinese_reader_reads_it_in_chinese(app):
    _sent(app, "U0001", ["p0", "p1"])
    _sent(app, "U0002", ["p2"])
    admin = json.dumps(_home(app, "U0003", "Ev1002"), ensure_ascii=False)
    assert "The whole workspace, last 30 days" in admin and "*Sent:* 3" in admin
    assert "Nothing was sent in the last 30 days" in admin  # the admin's own
    chinese = _home(app, "U0002", "Ev1003")
    assert "*已发送：* 1" in json.dumps(chinese, ensure_ascii=False) and len(_images(chinese)) == 1


def test_drafts_waiting_sends_in_progress_with_their_bar_and_scheduled_sends_are_listed(app):
    app.sender.stop()  # the send stays half done while the Home tab is looked at
    with app.services.uow() as uow:
        sending = uow.drafts.add(Draft("T0001", "U0001", Channel.EMAIL, subject="Going out"), ["p0", "p1"])
        uow.deliveries.plan("T0001", sending.id, {})
        d = uow.deliveries.get("T0001", sending.id, "p0")
        now = app.services.clock.now()
        uow.deliveries.save("T0001", dataclasses.replace(d, status=DeliveryStatus.SENT, sent_at=now))
        uow.drafts.set_status("T0001", sending.id, DraftStatus.SENDING)
        later = uow.drafts.add(Draft("T0001", "U0001", Channel.EMAIL, subject="Next week"), ["p2"])
        uow.drafts.add(Draft("T0001", "U0001", Channel.EMAIL, subject="Half written"), ["p1", "p2", "p3"])
        uow.drafts.schedule("T0001", later.id, app.services.clock.now() + timedelta(days=7))
        uow.commit()
    text = json.dumps(_home(app, "U0001", "Ev1004"), ensure_ascii=False)
    assert "Sending now" in text and "Going out" in text and "50%" in text and "1 of 2 sent" in text
    assert "Scheduled" in text and "Next week" in text
    assert "Drafts waiting" in text and "Half written" in text and "3 recipient(s)" in text


def test_a_chart_link_altered_forged_or_for_a_workspace_not_served_shows_nothing(app):
    view = _home(app, "U0001", "Ev1005")
    (chart,) = _images(view)
    assert _get(chart)[0] == 200
    assert _get(chart[:-3] + ("AAA" if not chart.endswith("AAA") else "BBB"))[0] == 404
    assert _get(app.settings.public_url + PATH)[0] == 404
    now = app.services.clock.now()
    stale = app.services.charts.url(ChartAsked("T0001", "U0001", False, 30, "en", now - timedelta(days=8)))
    assert _get(stale)[0] == 404


def test_prospects_stats_gives_the_numbers_as_text_and_refuses_a_window_it_cannot_read(app):
    _sent(app, "U0001", ["p0", "p1"], days_ago=3)
    _sent(app, "U0001", ["p2"], days_ago=10)
    _replied(app, "p0")
    week = app.command("U0001", "stats --days 7")
    assert week["is_ephemeral"] and "last 7 days" in json.dumps(week) and "*Sent:* 2" in json.dumps(week)
    month = app.command("U0001", "stats")
    assert "*Sent:* 3" in json.dumps(month) and "*Replied:* 1 (33%)" in json.dumps(month)
    typed = app.command("U0001", "stats \u2014days 7")  # "--" turned into an em dash by the keyboard
    assert "*Sent:* 2" in json.dumps(typed)
    bad = app.command("U0001", "stats --days 0")
    assert "takes `--days N`" in json.dumps(bad) and "*Sent:*" not in json.dumps(bad)
    admin = json.dumps(app.command("U0003", "stats --days 7"))
    assert "The whole workspace, last 7 days" in admin


def test_download_results_puts_a_csv_of_every_recipient_into_the_summarys_thread(app, smtp_server):
    smtp_server.refuse_data("p1@shop.example")
    page = app.command("U0001")
    page = app.click("U0001", page, tick(rows(page)[0]))
    page = app.click("U0001", page, tick(rows(page)[1]))
    seen = len(app.standin.view_log)
    app.click("U0001", page, button(page, ids.ACTION_EMAIL_PICKED), expect_response=False)
    form = app.opened_after(seen)
    app.submit(
        "U0001",
        form,
        input_values(sender_name="Ann", reply_to="ann@brand.example", subject="Hi", content="Hello"),
    )
    wait_for(lambda: app.message_with(ids.ACTION_DOWNLOAD_RESULTS), what="the summary")
    summary = app.message_with(ids.ACTION_DOWNLOAD_RESULTS)
    app.click("U0001", summary, button(summary, ids.ACTION_DOWNLOAD_RESULTS), expect_response=False)
    shared = wait_for(
        lambda: [m for m in app.standin.thread(summary["channel"], summary["ts"]) if m.files],
        what="the results file in the summary's thread",
    )
    (file_id,) = shared[-1].files
    stored = app.standin.files[file_id]
    assert stored.name.startswith("results-") and stored.name.endswith(".csv")
    table = list(csv.reader(io.StringIO(stored.data.decode("utf-8-sig"))))
    assert table[0][:4] == ["recipient", "mpid", "address", "result"]
    results = {r[1]: (r[2], r[3]) for r in table[1:]}
    assert results == {"p0": ("p0@shop.example", "sent"), "p1": ("p1@shop.example", "failed")}

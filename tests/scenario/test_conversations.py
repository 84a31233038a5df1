"""Conversations with partners in Slack threads, both ways, through the whole app and the strict Slack stand-in:
a partner's reply opens (or continues) the conversation's thread in its author's DM, with the clean files uploaded
byte-identical; what the author writes in that thread goes back to the partner — by e-mail answering the last
e-mail, or as an in-platform message — through the send pipeline, once, with its files scanned; nothing else in
the DM is ever sent to anyone."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from bot.app import make_client
from bot.conversations import GIVE_UP_AFTER, ConversationThreads
from bot.devtools import slack_events
from bot.devtools.harness import WEBHOOK_SECRET, FullApp, full_app, wait_for
from bot.wiring import build_services
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.compose import DraftFields
from outreach.models import Channel, ConversationEvent, DraftStatus, EventKind, Partner
from outreach.webhook_signing import sign
from tests.attachment_samples import pdf, png

pytestmark = [pytest.mark.smtp, pytest.mark.clamd]

TEAM, ANN, WEI = "T0001", "U0001", "U0002"
DM = "D0001"  # Ann's DM with the app


def partners() -> list[Partner]:
    return [
        Partner(TEAM, "m1", "Acme Media", "Ava", "Stone", "ava@acme.example", messaging_enabled=True),
        Partner(TEAM, "m2", "Beta Blog", "Bo", "Lin", "bo@beta.example"),
        *(Partner(TEAM, f"b{i}", f"Bulk {i}", "", "", f"b{i}@bulk.example") for i in range(5)),
        Partner(TEAM, "m9", "Quiet Co", "Q", "", ""),  # no address, no messaging
    ]


@pytest.fixture
def app(scenario_settings):
    with full_app(scenario_settings()) as started:
        seed(started)
        yield started


def seed(app: FullApp) -> None:
    with app.services.uow() as uow:
        people = partners()
        uow.partners.upsert_many(TEAM, people, mark_prospects={p.mpid for p in people}, marked_by=ANN)
        uow.partners.upsert_many("T0002", [Partner("T0002", "x1", "Other Co", email="x1@other.example")])
        uow.commit()


# -- playing the other sides: a send by the author, a partner's answer -------------------------------------------
def send(
    app: FullApp, channel: Channel, mpids: list[str], subject: str = "", content: str = "Hello {firstName}"
) -> int:
    compose = app.services.compose
    state = compose.start(TEAM, ANN, channel, mpids, sender_name="Ann Lee", reply_to="ann@brand.example")
    compose.save(TEAM, ANN, state.draft_id, DraftFields("Ann Lee", "ann@brand.example", subject, content))
    compose.submit(TEAM, ANN, state.draft_id)
    app.services.wake.set()
    wait_for(
        lambda: compose.report(TEAM, ANN, state.draft_id).draft.status is DraftStatus.SENT, what="the send"
    )
    return state.draft_id


def partner_writes(app: FullApp, mpid: str, text: str, files=(), external_id: str = "") -> dict:
    """The messaging platform POSTs a partner's in-platform reply, signed (bot/inbound.py)."""
    payload = {
        "team_id": TEAM,
        "mpid": mpid,
        "text": text,
        "external_id": external_id or f"in-{time.monotonic_ns()}",
        "attachments": [
            {"name": name, "mime": mime, "data": base64.b64encode(data).decode()}
            for name, mime, data in files
        ],
    }
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    request = urllib.request.Request(
        app.server.url + "/messages/inbound",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Outreach-Timestamp": ts,
            "X-Outreach-Signature": sign(WEBHOOK_SECRET, ts, body),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def email_reply_event(mpid: str, text: str, author: str = ANN) -> ConversationEvent:
    """What the e-mail side publishes for a partner's e-mail reply (the shared ConversationEvents contract)."""
    return ConversationEvent(TEAM, mpid, author, EventKind.REPLY, Channel.EMAIL, datetime.now(UTC), text)


# -- reading the DM --------------------------------------------------------------------------------------------
def parents(app: FullApp, channel: str = DM) -> list:
    return [
        m
        for (c, _), m in sorted(app.standin.messages.items())
        if c == channel and not m.thread_ts and m.text.startswith(("Conversation with", "与 "))
    ]


def thread(app: FullApp, replies: int, *, name: str = "", channel: str = DM) -> tuple:
    """The conversation's thread (with ``name``, if given) once it has ``replies`` replies: (parent, replies)."""

    def ready():
        for parent in parents(app, channel):
            if name in parent.text and len(app.standin.thread(channel, parent.ts)) >= replies:
                return parent
        return None

    parent = wait_for(ready, what=f"a conversation with {replies} replies")
    return parent, app.standin.thread(channel, parent.ts)


def shown(message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def write(app: FullApp, text: str, parent=None, *, user: str = ANN, files=None, **kw):
    """Ann writes in her DM (in ``parent``'s thread); Slack sends message.im. The answer must be 200 at once."""
    answer, event = app.sim.write(user, text, thread_ts=parent.ts if parent else "", files=files, **kw)
    assert answer.status == 200 and not answer.late, answer
    return event


def settled(app: FullApp) -> None:
    """Every event published so far is recorded and shown, and every send is done."""
    assert app.services.conversation_events.flush()
    wait_for(lambda: not app.services.conversations.due(), what="every conversation event shown")

    def sends_done() -> bool:
        with app.services.uow() as uow:
            return not uow.queue.sending_drafts()

    wait_for(sends_done, what="every send done")


# -- 1. one thread per conversation ------------------------------------------------------------------------------
def test_a_bulk_send_posts_no_thread_and_a_partners_reply_with_a_pdf_opens_one_with_the_file(app):
    send(app, Channel.EMAIL, [f"b{i}" for i in range(5)], subject="Autumn offer")
    send(app, Channel.MESSAGE, ["m1"], content="Hi {firstName}, shall we talk?")
    settled(app)
    assert parents(app) == []  # a send starts no thread: nothing to show yet
    kit = pdf(b"media kit " * 200)
    answer = partner_writes(app, "m1", "Here is our media kit", [("media-kit.pdf", "application/pdf", kit)])
    assert answer["kept"] == ["media-kit.pdf"]
    parent, (said, shared) = thread(app, 2)
    assert parent.text == "Conversation with Acme Media"
    assert "go to them as a message" in shown(parent)
    assert "Here is our media kit" in shown(said) and "1 file(s), below" in shown(said)
    (file_id,) = shared.files
    stored = app.standin.files[file_id]
    assert (
        stored.name == "media-kit.pdf"
        and hashlib.sha256(stored.data).digest() == hashlib.sha256(kit).digest()
    )
    # Later events of the conversation are replies in the same thread; another conversation has its own.
    partner_writes(app, "m1", "Any news?")
    app.services.conversation_events.publish(email_reply_event("m2", "Count me in"))
    thread(app, 3, name="Acme Media")
    thread(app, 1, name="Beta Blog")
    assert len(parents(app)) == 2


def test_an_infected_file_is_held_back_named_and_never_uploaded(app):
    send(app, Channel.MESSAGE, ["m1"])
    partner_writes(
        app,
        "m1",
        "Two files",
        [("ok.png", "image/png", png()), ("invoice.pdf", "application/pdf", pdf(eicar_test_bytes()))],
    )
    _, (said, shared) = thread(app, 2)
    assert "invoice.pdf: the virus scanner found" in shown(said)
    assert [app.standin.files[f].name for f in shared.files] == ["ok.png"]
    assert "invoice.pdf" not in [f.name for f in app.standin.files.values()]


def test_every_kind_of_event_lands_in_the_conversations_thread_in_order(app):
    send(app, Channel.EMAIL, ["m2"], subject="Partnership {mpname}")
    publish = app.services.conversation_events.publish
    now = datetime.now(UTC)
    publish(
        ConversationEvent(TEAM, "m2", ANN, EventKind.FOLLOWUP_SENT, Channel.EMAIL, now, "Just checking in")
    )
    publish(
        ConversationEvent(
            TEAM,
            "m2",
            ANN,
            EventKind.BOUNCE,
            Channel.EMAIL,
            now,
            "550 5.2.2 full",
            detail="5.2.2 mailbox full",
        )
    )
    publish(
        ConversationEvent(
            TEAM, "m2", ANN, EventKind.FOLLOWUP_SKIPPED, Channel.EMAIL, now, detail="they replied"
        )
    )
    parent, (sent, bounced, skipped) = thread(app, 3)
    assert "Subject: Partnership Beta Blog" in shown(parent)  # the subject as the partner got it
    assert "Follow-up sent to Beta Blog" in shown(sent) and "Just checking in" in shown(sent)
    assert "bounced: 5.2.2 mailbox full" in shown(bounced)
    assert "Follow-up not sent to Beta Blog: they replied" in shown(skipped)


def test_an_unsubscribe_shows_in_the_conversation_and_a_reply_to_it_is_refused(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Tell me more"))
    parent, _ = thread(app, 1)
    link = app.services.unsubscribe.url(TEAM, "bo@beta.example")
    request = urllib.request.Request(link, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    _, (_, unsubscribed) = thread(app, 2)
    assert "bo@beta.example (Beta Blog) unsubscribed" in shown(unsubscribed)
    before = len(smtp_server.messages())
    write(app, "One last offer?", parent)
    _, replies = thread(app, 4)
    assert "unsubscribed or bounced" in shown(replies[-1]) and "Not sent to Beta Blog" in shown(replies[-1])
    settled(app)
    assert len(smtp_server.messages()) == before


def test_the_thread_is_in_its_authors_language(app):
    with app.services.uow() as uow:
        uow.partners.upsert_many(TEAM, [Partner(TEAM, "m5", "北京传媒", email="li@bj.example")])
        uow.commit()
    app.services.conversation_events.publish(email_reply_event("m5", "好的", author=WEI))
    parent, (said,) = thread(app, 1, channel="D0002")
    assert parent.text == "与 北京传媒 的对话" and said.text == "北京传媒 回复了你的消息。"


def test_slack_asking_to_wait_delays_an_event_by_its_retry_after_and_loses_none(app):
    app.standin.fail("chat.postMessage", status=429, times=1, retry_after=2)
    started = time.monotonic()
    app.services.conversation_events.publish(email_reply_event("m2", "Are you there?"))
    _, (said,) = thread(app, 1)
    assert time.monotonic() - started >= 2  # not asked again before Retry-After
    assert "Are you there?" in shown(said)


def test_an_event_slack_keeps_refusing_is_given_up_and_the_next_one_is_shown(app):
    app.threads.stop()
    with ConversationThreads(
        app.services, make_client(app.settings), sweep_seconds=0.1, backoff=lambda n: 0.1
    ):
        app.standin.fail("conversations.open", status=200, error="user_not_found", times=GIVE_UP_AFTER)
        app.services.conversation_events.publish(email_reply_event("m2", "lost in Slack"))
        wait_for(lambda: len(app.standin.calls_to("conversations.open")) >= GIVE_UP_AFTER, what="the tries")
        settled(app)  # given up: no longer due
        assert parents(app) == []
        app.services.conversation_events.publish(email_reply_event("m2", "the next one"))
        _, (said,) = thread(app, 1)
    assert "the next one" in shown(said) and "lost in Slack" not in shown(said)


def test_two_processes_showing_one_conversation_post_one_parent_and_every_event_in_order(app):
    other = build_services(app.settings)  # a second process: its own engine, outbox writer and publisher
    try:
        with ConversationThreads(other, make_client(app.settings), sweep_seconds=0.1):
            for i in range(6):
                side = app.services if i % 2 else other
                side.conversation_events.publish(email_reply_event("m2", f"message {i}"))
            thread(app, 6)
            settled(app)
    finally:
        other.close()
    assert len(parents(app)) == 1
    said = [
        next(i for i in range(6) if f"message {i}" in shown(r))
        for r in app.standin.thread(DM, parents(app)[0].ts)
    ]
    assert sorted(said) == list(range(6))  # each once
    mine, theirs = [i for i in said if i % 2], [i for i in said if not i % 2]
    assert mine == sorted(mine) and theirs == sorted(theirs)  # each process's in the order published


# -- 2. replying from Slack --------------------------------------------------------------------------------------
def test_a_reply_written_in_the_thread_goes_back_by_email_answering_the_last_email(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Partnership with {mpname}", content="Hi {firstName}")
    first = smtp_server.messages()[-1]
    app.services.conversation_events.publish(email_reply_event("m2", "Sounds good, send rates"))
    parent, _ = thread(app, 1)
    rates = app.standin.add_file("rates.pdf", pdf(b"rates"), "application/pdf")
    write(
        app,
        "Thanks {firstName} & welcome: <https://brand.example/rates|our rates>",
        parent,
        files=[rates],
        markup=True,
    )
    sent = wait_for(
        lambda: [m for m in smtp_server.messages() if m["Subject"] != first["Subject"]], what="the reply"
    )
    (mail,) = sent
    assert mail["To"] == "bo@beta.example"
    assert mail["Subject"] == "Re: Partnership with Beta Blog"
    assert mail["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in mail["References"]
    assert "Ann Lee" in mail["From"] and mail["Reply-To"] == "ann@brand.example"
    body = mail.get_body(("plain",)).get_content()
    assert "Thanks Bo & welcome: our rates (https://brand.example/rates)" in body
    (attached,) = [p for p in mail.iter_attachments()]
    assert attached.get_filename() == "rates.pdf" and attached.get_content() == pdf(b"rates")
    # The thread shows the reply on its way, then sent (the send's own notice, updated in place).
    _, replies = thread(app, 3)
    status = replies[-1]
    wait_for(lambda: "*Sent:* 1" in shown(app.standin.message(DM, status.ts)), what="the reply shown as sent")


def test_a_second_reply_answers_the_first_one(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
    parent, _ = thread(app, 1)
    write(app, "First answer", parent)
    first = wait_for(lambda: [m for m in smtp_server.messages() if m["Subject"] == "Re: Hello"], what="one")[
        0
    ]
    write(app, "Second answer", parent)
    second = wait_for(
        lambda: [m for m in smtp_server.messages() if m["Subject"] == "Re: Hello"][1:], what="two"
    )[0]
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split()[-2:] == [first["References"].split()[-1], first["Message-ID"]]


def test_a_reply_in_an_in_platform_conversation_goes_as_a_message_with_its_file(app):
    send(app, Channel.MESSAGE, ["m1"], content="Hello {firstName}")
    partner_writes(app, "m1", "Hi! What are your terms?")
    parent, _ = thread(app, 1)
    terms = app.standin.add_file("terms.png", png(), "image/png")
    write(app, "Our terms, {firstName}", parent, files=[terms])
    message = wait_for(lambda: app.inbox.messages[1:], what="the reply as a message")[0]
    assert (message["mpid"], message["text"]) == ("m1", "Our terms, Ava")
    (attachment,) = message["attachments"]
    assert attachment["name"] == "terms.png" and base64.b64decode(attachment["data"]) == png()


def test_a_reply_with_an_eicar_file_is_refused_in_the_thread_naming_it_and_nothing_is_sent(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Send me the contract"))
    parent, _ = thread(app, 1)
    before = len(smtp_server.messages())
    bad = app.standin.add_file("contract.pdf", pdf(eicar_test_bytes()), "application/pdf")
    write(app, "Here it is", parent, files=[bad])
    _, replies = thread(app, 3)
    assert "contract.pdf" in shown(replies[-1]) and "Not sent to Beta Blog" in shown(replies[-1])
    settled(app)
    assert len(smtp_server.messages()) == before


def test_a_misspelt_token_is_refused_before_anything_is_sent(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "ok"))
    parent, _ = thread(app, 1)
    before = len(smtp_server.messages())
    write(app, "Dear {fristName}", parent)
    _, replies = thread(app, 3)
    assert "{fristName}" in shown(replies[-1]) and "{firstName}" in shown(replies[-1])
    settled(app)
    assert len(smtp_server.messages()) == before


def test_a_partner_without_address_or_messaging_cannot_be_answered_and_the_thread_says_so(app):
    app.services.conversation_events.publish(email_reply_event("m9", "hello"))
    parent, _ = thread(app, 1)
    assert "cannot reach them" in shown(parent)
    write(app, "Hi?", parent)
    _, replies = thread(app, 3)
    assert "Quiet Co has no e-mail address and does not accept messages" in shown(replies[-1])


def test_a_message_outside_a_conversations_thread_is_sent_to_nobody_and_gets_a_hint_once(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
    parent, _ = thread(app, 1)
    before, messages = len(smtp_server.messages()), len(app.inbox.messages)
    first = write(app, "is this thing on?")
    hint = wait_for(lambda: app.standin.thread(DM, first["ts"]), what="a hint")[0]
    assert "Nothing was sent" in shown(hint)
    second = write(app, "hello?")
    progress = app.standin.user_message(ANN, DM, "a thread of another message")  # not a conversation's
    write(app, "and here?", progress)
    settled(app)
    time.sleep(0.5)
    assert app.standin.thread(DM, second["ts"]) == []  # one hint is enough
    assert (len(smtp_server.messages()), len(app.inbox.messages)) == (before, messages)
    assert len(app.standin.thread(DM, parent.ts)) == 1


def test_edits_deletions_joins_and_the_apps_own_messages_are_ignored(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
    parent, _ = thread(app, 1)
    answers = lambda: [c for c in app.standin.calls_to("chat.postMessage") if c.args.get("thread_ts")]  # noqa: E731
    before, posts = len(smtp_server.messages()), len(answers())
    events = [
        slack_events.im_message_changed(ANN, DM, parent.ts, "edited", thread_ts=parent.ts),
        {
            **slack_events.im_message(TEAM, ANN, DM, "9.000001", "gone", thread_ts=parent.ts),
            "subtype": "message_deleted",
        },
        {
            **slack_events.im_message(TEAM, ANN, DM, "9.000002", "joined", thread_ts=parent.ts),
            "subtype": "channel_join",
        },
        slack_events.im_bot_message(DM, "9.000003", "the app's own words", thread_ts=parent.ts),
        {
            **slack_events.im_message(TEAM, ANN, DM, "9.000004", "old bot", thread_ts=parent.ts),
            "subtype": "bot_message",
        },
    ]
    for event in events:
        answer = app.sim.event(event)
        assert answer.status == 200
    settled(app)
    time.sleep(0.5)
    assert len(smtp_server.messages()) == before
    assert len(answers()) == posts  # no answer, no hint: nothing was read as a message


def test_the_same_message_delivered_twice_or_retried_under_a_new_event_id_is_sent_once(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
    parent, _ = thread(app, 1)
    event = write(app, "Only once please", parent, event_id="Ev0ONCE")
    again = app.sim.event(
        event, event_id="Ev0ONCE", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert again.status == 200
    app.sim.event(event, event_id="Ev0OTHER")  # the same message under another event id
    wait_for(lambda: [m for m in smtp_server.messages() if m["Subject"] == "Re: Hello"], what="the reply")
    settled(app)
    time.sleep(0.5)
    assert [m["Subject"] for m in smtp_server.messages()].count("Re: Hello") == 1
    wait_for(lambda: len(app.standin.thread(DM, parent.ts)) == 3, what="one status in the thread")
    time.sleep(0.5)
    assert len(app.standin.thread(DM, parent.ts)) == 3  # the event, Ann's message, one status


def test_a_reply_to_another_workspaces_conversation_is_sent_to_nobody(app, smtp_server):
    send(app, Channel.EMAIL, ["m2"], subject="Hello")
    app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
    parent, _ = thread(app, 1)
    before = len(smtp_server.messages())
    forged = slack_events.im_message("T0002", "U0009", DM, "9.000010", "From elsewhere", thread_ts=parent.ts)
    assert app.sim.event(forged, team_id="T0002").status == 200
    settled(app)
    time.sleep(0.5)
    assert len(smtp_server.messages()) == before
    _, *answered = app.standin.thread(DM, parent.ts)
    assert all("Nothing was sent" in shown(m) for m in answered)  # at most the hint: no conversation there


def test_someone_without_send_permission_is_refused_in_the_thread_saying_why(scenario_settings, smtp_server):
    with full_app(scenario_settings(senders=(WEI,))) as app:
        seed(app)
        send(app, Channel.EMAIL, ["m2"], subject="Hello")
        app.services.conversation_events.publish(email_reply_event("m2", "Yes?"))
        parent, _ = thread(app, 1)
        before = len(smtp_server.messages())
        write(app, "Let me answer", parent)
        _, replies = thread(app, 3)
        assert "only designated senders" in shown(replies[-1])
        settled(app)
        assert len(smtp_server.messages()) == before

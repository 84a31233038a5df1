"""Users' own mailboxes read over IMAP, against a real Dovecot (IMAPS and STARTTLS) on SQLite and PostgreSQL:
real replies and DSNs appended to the mailbox with IMAP APPEND, polled by UID (nothing fetched twice, nothing
marked seen), one poller per mailbox, and a password changed mid-way told once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from imapclient import IMAPClient

from bot.devtools.mail_samples import dsn, reply
from outreach.accounts import AccountService
from outreach.adapters.clamd_local import eicar_test_bytes
from outreach.adapters.fernet_cipher import FernetCipher
from outreach.adapters.imap import ImapReader
from outreach.adapters.imap import login_tester as mailbox_tester
from outreach.clock import FixedClock
from outreach.errors import ValidationFailed
from outreach.mailbox_polling import MailboxPoller
from outreach.models import DeliveryStatus, EventKind, MailAccount
from tests.attachment_samples import pdf
from tests.integration.mail_world import T1, T2, build_world

pytestmark = [pytest.mark.smtp, pytest.mark.clamd, pytest.mark.imap]


class RecordingAlerts:
    def __init__(self) -> None:
        self.told: list[tuple[str, str, str]] = []

    def login_refused(self, team_id: str, user_id: str, mailbox: str) -> None:
        self.told.append((team_id, user_id, mailbox))


@dataclasses.dataclass
class Setup:
    service: object
    events: object
    send: object
    accounts: AccountService
    alerts: RecordingAlerts
    clock: FixedClock
    reader: ImapReader
    uow: object

    def poller(self, holder: str = "p1", **kw) -> MailboxPoller:
        return MailboxPoller(
            uow=self.uow,
            clock=self.clock,
            accounts=self.accounts.get,
            reader=kw.pop("reader", self.reader),
            inbound=self.service,
            alerts=self.alerts,
            holder=holder,
            max_bytes=kw.pop("max_bytes", 10 * 1024 * 1024),
            **kw,
        )


@pytest.fixture
def setup(uow_factory, smtp_server, clamd, dovecot):
    clock = FixedClock(datetime.now(UTC))  # IMAP APPEND dates mail now: the look-back counts from the clock
    service, events, send = build_world(uow_factory, smtp_server, clamd, clock=clock)
    context = dovecot.client_context()
    accounts = AccountService(
        uow=uow_factory,
        clock=clock,
        cipher=FernetCipher("a-test-secret-key-of-enough-length"),
        tester=lambda account: None,  # the SMTP login is not what these tests are about
        mailbox_tester=mailbox_tester(10, context),
    )
    return Setup(
        service, events, send, accounts, RecordingAlerts(), clock, ImapReader(10, context), uow_factory
    )


def connect(setup, mailbox, *, team=T1, user="U_ANN", password=None, security="tls"):
    port = mailbox.server.imaps_port if security == "tls" else mailbox.server.imap_port
    return setup.accounts.connect(
        MailAccount(
            team,
            user,
            "smtp.own.example",
            587,
            "starttls",
            mailbox.user,
            password or mailbox.password,
            "ann@own.example",
            mailbox.server.host,
            port,
            security,
        )
    )


def seen_flags(mailbox) -> list[bool]:
    client = IMAPClient(
        mailbox.server.host, port=mailbox.server.imaps_port, ssl_context=mailbox.server.client_context()
    )
    try:
        client.login(mailbox.user, mailbox.password)
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
        return [b"\\Seen" in f for _, f in sorted(flags.items())]
    finally:
        client.logout()


def test_a_poll_picks_up_replies_and_bounces_and_the_next_one_reads_only_new_mail(
    uow_factory, setup, mailbox
):
    sent = setup.send(T1, "U_ANN", ["m1", "m2"])
    connect(setup, mailbox)
    server = mailbox.server
    deck = pdf()
    files = (
        ("deck.pdf", "application/pdf", deck),
        ("invoice.pdf", "application/pdf", pdf(eicar_test_bytes())),
    )
    server.append(
        mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="Send me the rates", files=files)
    )
    server.append(mailbox.user, reply(subject="Lunch on Friday?"))  # the user's own mail: not ours
    server.append(mailbox.user, dsn("bo@beta.example", original_id=sent["m2"].message_id))
    first = setup.poller().poll(T1, "U_ANN")
    assert (first.looked_at, first.fetched, first.replies, first.bounces) == (3, 2, 1, 1)
    kinds = sorted(e.kind for e in setup.events.events)
    assert kinds == [EventKind.BOUNCE, EventKind.REPLY]
    (got,) = [e for e in setup.events.events if e.kind is EventKind.REPLY]
    assert got.text == "Send me the rates" and [f.data for f in got.files] == [deck]
    assert [name for name, _ in got.held] == ["invoice.pdf"]
    with uow_factory() as uow:
        bounced = uow.deliveries.get(T1, sent["m2"].draft_id, "m2")
        assert uow.suppressions.among(T1, ["bo@beta.example"]) == {"bo@beta.example": "bounced"}
    assert bounced.status is DeliveryStatus.FAILED
    assert seen_flags(mailbox) == [False, False, False]  # read without marking anything seen

    again = setup.poller().poll(T1, "U_ANN")
    assert (again.looked_at, again.fetched) == (0, 0)  # UID-based: nothing old is read again
    server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="And the banners"))
    later = setup.poller().poll(T1, "U_ANN")
    assert (later.looked_at, later.fetched, later.replies) == (1, 1, 1)
    assert [e.text for e in setup.events.events if e.kind is EventKind.REPLY][-1] == "And the banners"


def test_starttls_works_as_well_as_imaps(setup, mailbox):
    sent = setup.send(T1, "U_ANN", ["m1"])
    connect(setup, mailbox, security="starttls")
    mailbox.server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id))
    assert setup.poller().poll(T1, "U_ANN").replies == 1


def test_a_new_mailbox_is_read_from_its_recent_mail_only(setup, mailbox):
    sent = setup.send(T1, "U_ANN", ["m1"])
    server, now = mailbox.server, setup.clock.now()
    server.append(
        mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="old"), now - timedelta(days=30)
    )
    server.append(
        mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="recent"), now - timedelta(days=2)
    )
    connect(setup, mailbox)
    result = setup.poller().poll(T1, "U_ANN")
    assert (result.looked_at, result.replies) == (1, 1)
    assert [e.text for e in setup.events.events] == ["recent"]
    assert setup.poller().poll(T1, "U_ANN").looked_at == 0  # the old one is behind the mark now


def test_a_renumbered_mailbox_is_read_again_from_its_recent_mail_and_nothing_is_stored_twice(
    uow_factory, setup, mailbox
):
    sent = setup.send(T1, "U_ANN", ["m1"])
    connect(setup, mailbox)
    mailbox.server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id))
    assert setup.poller().poll(T1, "U_ANN").replies == 1
    with uow_factory() as uow:  # as if the server had given the folder a new UIDVALIDITY
        now = setup.clock.now()
        state = uow.mailboxes.take(T1, "U_ANN", "test", now, now)
        uow.mailboxes.advance(T1, "U_ANN", "test", uidvalidity=1, last_uid=state.last_uid, until=now)
        uow.mailboxes.release(T1, "U_ANN", "test")
        uow.commit()
    result = setup.poller().poll(T1, "U_ANN")
    assert result.looked_at == 1 and result.fetched == 1 and result.replies == 1
    assert len(setup.events.events) == 1  # the same reply again: stored and told once
    with uow_factory() as uow:
        (thread,) = uow.threads.for_partner(T1, "m1")
        assert len(uow.threads.get(T1, thread.id).messages) == 1


def test_one_poller_at_a_time_holds_a_mailbox_and_a_dead_ones_hold_runs_out(uow_factory, setup, mailbox):
    sent = setup.send(T1, "U_ANN", ["m1"])
    connect(setup, mailbox)
    mailbox.server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id))
    with uow_factory() as uow:  # another process is polling it right now
        now = setup.clock.now()
        assert uow.mailboxes.take(T1, "U_ANN", "p-other", now, now + timedelta(minutes=5)) is not None
        uow.commit()
    blocked = setup.poller("p1").poll(T1, "U_ANN")
    assert not blocked.held and blocked.looked_at == 0 and setup.events.events == []
    setup.clock.set(now + timedelta(minutes=6))  # that process died: its hold ran out
    taken = setup.poller("p1").poll(T1, "U_ANN")
    assert taken.held and taken.replies == 1


def test_a_changed_password_stops_polling_tells_the_user_once_and_a_reconnect_starts_it_again(setup, mailbox):
    sent = setup.send(T1, "U_ANN", ["m1"])
    connect(setup, mailbox)
    server = mailbox.server
    server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="first"))
    assert setup.poller().poll(T1, "U_ANN").replies == 1
    server.set_password(mailbox.user, "a new password")
    server.append(mailbox.user, reply(in_reply_to=sent["m1"].message_id, text="while refused"))
    refused = setup.poller().poll(T1, "U_ANN")
    assert refused.refused and refused.looked_at == 0
    assert setup.alerts.told == [(T1, "U_ANN", f"{mailbox.user}@{server.host}")]
    assert setup.poller("p2").poll_all() == []  # no longer polled by anyone, and not told again
    assert len(setup.alerts.told) == 1

    with pytest.raises(ValidationFailed) as failed:  # the old password: the IMAP login is tried before saving
        connect(setup, mailbox)
    assert [p.field for p in failed.value.problems] == ["imap_host"]
    connect(setup, mailbox, password="a new password")
    (result,) = setup.poller().poll_all()
    assert result.replies == 1 and setup.events.events[-1].text == "while refused"  # nothing lost meanwhile


def test_a_message_too_large_is_not_fetched(setup, mailbox):
    sent = setup.send(T1, "U_ANN", ["m1"])
    connect(setup, mailbox)
    big = reply(
        in_reply_to=sent["m1"].message_id, files=(("big.pdf", "application/pdf", pdf(b"x" * 200_000)),)
    )
    mailbox.server.append(mailbox.user, big)
    result = setup.poller(max_bytes=100_000).poll(T1, "U_ANN")
    assert (result.looked_at, result.too_large, result.fetched) == (1, 1, 0)


def test_mail_about_another_workspaces_send_in_this_mailbox_is_ignored(uow_factory, setup, mailbox):
    theirs = setup.send(T1, "U_ANN", ["m1"])["m1"]
    connect(setup, mailbox, team=T2, user="U_ZED")  # a user of the other workspace
    mailbox.server.append(mailbox.user, reply(in_reply_to=theirs.message_id))
    result = setup.poller().poll(T2, "U_ZED")
    assert result.looked_at == 1 and result.fetched == 0 and result.replies == 0
    assert setup.events.events == []
    with uow_factory() as uow:
        assert uow.threads.for_partner(T1, "m1") == [] and uow.threads.for_partner(T2, "m9") == []


def test_the_connect_form_defaults_the_imap_side_and_none_connects_for_sending_only(setup, mailbox):
    account = connect(setup, mailbox)
    assert (account.imap_host, account.imap_security) == (mailbox.server.host, "tls")
    only_send = setup.accounts.connect(
        dataclasses.replace(account, password=mailbox.password, imap_host="none", imap_port=0)
    )
    assert not only_send.reads_mail and setup.accounts.get(T1, "U_ANN").imap_host == ""


def test_a_poll_that_cannot_reach_the_server_tries_again_next_time(setup, mailbox, uow_factory):
    connect(setup, mailbox)
    untrusting = ImapReader(5, None)  # a client that does not trust the server's certificate: TLS fails
    result = setup.poller(reader=untrusting).poll(T1, "U_ANN")
    assert result.trouble and not result.refused and setup.alerts.told == []
    assert setup.poller().poll_all()[0].held  # still polled

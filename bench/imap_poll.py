"""An IMAP poll of a 50,000-message mailbox: a private Dovecot (bot/devtools/dovecot.py) whose user's INBOX holds
50,000 older messages (written straight into its Maildir, received 60 days ago, a third of them replies to
e-mails of others), connected as a user's own mailbox; then rounds of 20 new partners' replies to our e-mails and
5 unrelated messages (IMAP APPEND), each followed by a poll (``MailboxPoller.poll``: UID search above the mark,
headers, the wanted messages fetched, matched and threaded on a SQLite file).

Figures: the first poll (Dovecot indexes the folder; the look-back keeps the old mail out), the time per poll
with new mail (median and worst of the rounds), an empty poll, and how many old messages a poll read again (0:
UID-based). Prints ``name value unit [target]``.

    .venv/bin/python bench/imap_poll.py [--messages 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import text

from bot.devtools.dovecot import DovecotUnavailable, LocalDovecot, start_local_dovecot
from bot.devtools.mail_samples import reply
from outreach.accounts import AccountService
from outreach.adapters.fernet_cipher import FernetCipher
from outreach.adapters.imap import ImapReader
from outreach.adapters.imap import login_tester as mailbox_tester
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache
from outreach.bounce_address import BounceAddresses
from outreach.clock import SystemClock
from outreach.compose import ComposeService, DraftFields
from outreach.layouts import Layouts
from outreach.mail_inbound import MailInboundService
from outreach.mailbox_polling import MailboxPoller
from outreach.models import Channel, ConversationEvent, MailAccount, Partner, ScanStatus, ScanVerdict
from outreach.rendering import TrackingConfig
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.unit_of_work import make_uow_factory

TEAM, AUTHOR, USER, PASSWORD = "TBENCH", "UBENCH", "bench", "bench password"
NEW_REPLIES, NEW_OTHERS = 20, 5


class CleanScanner:
    def scan(self, data: bytes) -> ScanVerdict:
        return ScanVerdict(ScanStatus.CLEAN)


class Events:
    def publish(self, event: ConversationEvent) -> None:
        pass


class Alerts:
    def login_refused(self, team_id: str, user_id: str, mailbox: str) -> None:
        raise AssertionError("the bench mailbox refused the login")


def fill_maildir(maildir: Path, count: int, owner: str) -> None:
    """``count`` messages received 60 days ago, written as Dovecot keeps them (one file each in cur/)."""
    for folder in ("cur", "new", "tmp"):
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    received = time.time() - 60 * 86400
    date = format_datetime(datetime.fromtimestamp(received, UTC))
    for i in range(count):
        refs = f"In-Reply-To: <old-{i - 1}@elsewhere.example>\r\n" if i % 3 == 0 and i else ""
        raw = (
            f"From: Someone {i} <someone{i}@elsewhere.example>\r\nTo: bench@own.example\r\n"
            f"Subject: Message {i}\r\nDate: {date}\r\nMessage-ID: <old-{i}@elsewhere.example>\r\n{refs}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello, this is message {i}.\r\n"
        ).encode()
        path = maildir / "cur" / f"{int(received)}.M{i}P1.bench,S={len(raw)}:2,S"
        path.write_bytes(raw)
        os.utime(path, (received, received))
    if owner:
        for path in [maildir, *maildir.rglob("*")]:
            shutil.chown(path, owner, owner)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dovecot-"))
    try:
        try:
            server = start_local_dovecot(workdir, users={USER: PASSWORD})
        except DovecotUnavailable as exc:
            print(f"dovecot unavailable: {exc}", file=sys.stderr)
            return 1
        with server, tempfile.TemporaryDirectory() as tmp:
            fill_maildir(server.maildir(USER), args.messages, server.mail_user)
            return run(server, Path(tmp), args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(server: LocalDovecot, tmp: Path, args: argparse.Namespace) -> int:
    url = f"sqlite:///{tmp / 'poll.db'}"
    upgrade(url)
    engine = make_engine(url)
    uow = make_uow_factory(make_session_factory(engine))
    clock = SystemClock()
    partners = [
        Partner(TEAM, f"m{i}", f"Media {i}", "Al", email=f"al{i}@partner.example") for i in range(200)
    ]
    with uow() as unit:
        unit.partners.upsert_many(TEAM, partners)
        unit.commit()
    parts = dict(
        sniffer=MagicSniffer(),
        scanner=CleanScanner(),
        scan_cache=InMemoryScanCache(),
        policy=AttachmentPolicy(),
    )
    compose = ComposeService(
        uow=uow,
        clock=clock,
        tracking=TrackingConfig("https://t.example/{mpid}", "1"),
        layouts=Layouts(),
        **parts,
    )
    state = compose.start(TEAM, AUTHOR, Channel.EMAIL, [p.mpid for p in partners])
    compose.save(
        TEAM, AUTHOR, state.draft_id, DraftFields("Ann", "ann@brand.example", "A partnership", "Hello")
    )
    compose.submit(TEAM, AUTHOR, state.draft_id)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE deliveries SET status = 'sent', sent_at = created_at, "
                "provider_message_id = '<' || id || '.bench@brand.example>' WHERE draft_id = :d"
            ),
            {"d": state.draft_id},
        )
        ids = [row[0] for row in conn.execute(text("SELECT provider_message_id FROM deliveries ORDER BY id"))]
    context = server.client_context()
    accounts = AccountService(
        uow=uow,
        clock=clock,
        cipher=FernetCipher("a-bench-secret-key-long-enough"),
        tester=lambda a: None,
        mailbox_tester=mailbox_tester(60, context),
    )
    accounts.connect(
        MailAccount(
            TEAM,
            AUTHOR,
            "smtp.own.example",
            587,
            "starttls",
            USER,
            PASSWORD,
            "bench@own.example",
            server.host,
            server.imaps_port,
            "tls",
        )
    )
    service = MailInboundService(
        uow=uow,
        clock=clock,
        events=Events(),
        bounces=BounceAddresses(b"k", "outreach@brand.example"),
        **parts,
    )
    poller = MailboxPoller(
        uow=uow,
        clock=clock,
        accounts=accounts.get,
        reader=ImapReader(300, context),
        inbound=service,
        alerts=Alerts(),
        holder="bench",
        max_bytes=35 * 1024 * 1024,
    )

    started = time.perf_counter()
    first = poller.poll(TEAM, AUTHOR)
    first_s = time.perf_counter() - started
    assert first.held and not first.trouble, first
    assert first.looked_at == 0, first  # the old mail is behind the look-back
    account = accounts.get(TEAM, AUTHOR)
    assert account is not None
    with ImapReader(60, context).open(account) as box:
        assert box.select()[1] - 1 == args.messages  # every old message is in the folder, numbered

    times, reread = [], 0
    for r in range(args.rounds):
        for i in range(NEW_REPLIES):
            server.append(
                USER, reply(in_reply_to=ids[(r * NEW_REPLIES + i) % len(ids)], text=f"Round {r}, reply {i}")
            )
        for i in range(NEW_OTHERS):
            server.append(USER, reply(subject=f"Not about us {r}.{i}"))
        t0 = time.perf_counter()
        result = poller.poll(TEAM, AUTHOR)
        times.append(time.perf_counter() - t0)
        assert result.replies == NEW_REPLIES and result.fetched == NEW_REPLIES, result
        reread += result.looked_at - (NEW_REPLIES + NEW_OTHERS)
    t0 = time.perf_counter()
    empty = poller.poll(TEAM, AUTHOR)
    empty_s = time.perf_counter() - t0
    assert empty.looked_at == 0
    engine.dispose()
    n = args.messages
    print(f"imap_first_poll_{n} {first_s:.1f} s")
    print(
        f"imap_poll_{NEW_REPLIES + NEW_OTHERS}_new_of_{n}_median {statistics.median(times) * 1000:.0f} ms <1000"
    )
    print(f"imap_poll_{NEW_REPLIES + NEW_OTHERS}_new_of_{n}_max {max(times) * 1000:.0f} ms")
    print(f"imap_poll_empty_of_{n} {empty_s * 1000:.0f} ms <500")
    print(f"imap_poll_old_messages_read_again {reread} messages =0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

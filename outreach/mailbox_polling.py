"""Reading users' own mailboxes (IMAP) for replies and bounces: one poller per mailbox, never old mail twice.

:meth:`MailboxPoller.poll_all` runs on a schedule in every process (``run``, ``serve``, ``worker``); for each
connected account with a mailbox to read it :meth:`~MailboxPoller.poll`\\ s it. The rules:

* **One poller per mailbox**, across processes: a poll first *holds* the mailbox in the database (a lease of
  ``lease``, renewed as it moves on); a mailbox another process holds is skipped; a hold whose time ran out was
  left by a process that died and may be taken.
* **UID-based.** The mailbox's INBOX UIDVALIDITY and the last UID read are kept. A poll asks only for UIDs
  above it, reads their headers first and fetches a whole message only when it may be ours
  (:meth:`~outreach.mail_inbound.MailInboundService.worth_reading`: a DSN, or naming an e-mail this workspace
  sent, or sent to our VERP address), hands each to the inbound service restricted to the mailbox's
  workspace, and records the last UID after every chunk: old mail is never fetched again, and a poll cut short
  goes on where it stopped (a message handled twice is stored once anyway).
* **Where it starts.** A mailbox never read, or whose UIDVALIDITY changed (the server renumbered it), is read
  from the mail of the last ``lookback`` (14 days) only, then from the last UID on.
* **A message too large** (more than ``max_bytes``) is not fetched: it could not be accepted by
  ``/mail/inbound`` either.
* **A refused login** (the password changed): the mailbox is no longer polled, and the user is told once (the
  process whose write marks it refused tells them); connecting again (``/prospects connect-email``) starts it
  again. Any other trouble (unreachable server, timeout) is logged; the next poll tries again.
* Nothing is ever marked seen, moved or deleted in the user's mailbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from outreach.errors import MailboxRefused
from outreach.mail_inbound import MailInboundService, Outcome
from outreach.mail_parsing import SUMMARY_HEADERS, header_summary
from outreach.models import MailAccount
from outreach.ports import Clock, MailboxAlerts, MailboxReader, MailboxSession, UnitOfWork

log = logging.getLogger(__name__)

CHUNK = 500  # UIDs whose headers are read, and whose position is recorded, at a time


@dataclass
class PollResult:
    team_id: str
    user_id: str
    held: bool = True  # False: another process holds it (or it is refused): not polled
    looked_at: int = 0  # messages whose headers were read
    fetched: int = 0  # messages fetched whole
    replies: int = 0
    bounces: int = 0
    ignored: int = 0
    too_large: int = 0
    refused: bool = False  # the login was refused now
    trouble: str = ""  # a passing trouble; tried again at the next poll


class MailboxPoller:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        accounts: Callable[[str, str], MailAccount | None],
        reader: MailboxReader,
        inbound: MailInboundService,
        alerts: MailboxAlerts,
        holder: str,
        max_bytes: int,
        lease: timedelta = timedelta(minutes=5),
        lookback: timedelta = timedelta(days=14),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._accounts = accounts
        self._reader = reader
        self._inbound = inbound
        self._alerts = alerts
        self._holder = holder
        self._max_bytes = max_bytes
        self._lease = lease
        self._lookback = lookback

    def poll_all(self) -> list[PollResult]:
        with self._uow() as uow:
            mailboxes = uow.mailboxes.readable()
        return [self.poll(team_id, user_id) for team_id, user_id in mailboxes]

    def poll(self, team_id: str, user_id: str) -> PollResult:
        result = PollResult(team_id, user_id)
        now = self._clock.now()
        with self._uow() as uow:
            state = uow.mailboxes.take(team_id, user_id, self._holder, now, now + self._lease)
            uow.commit()
        if state is None:
            result.held = False
            return result
        account: MailAccount | None = None
        try:
            account = self._accounts(team_id, user_id)
            if account is None or not account.reads_mail:
                result.held = False
                return result
            with self._reader.open(account) as box:
                self._read(box, result, state.uidvalidity, state.last_uid)
        except MailboxRefused as refused:
            if refused.login:
                self._refused(result, account)
            else:
                result.trouble = refused.reason
                log.warning("mailbox of %s/%s not read: %s", team_id, user_id, refused.reason)
        finally:
            with self._uow() as uow:
                uow.mailboxes.release(team_id, user_id, self._holder)
                uow.commit()
        return result

    # -- steps ---------------------------------------------------------------------------------------------
    def _read(
        self, box: MailboxSession, result: PollResult, known_validity: int | None, last_uid: int
    ) -> None:
        validity, uidnext = box.select()
        since = None
        if validity != known_validity:  # never read, or renumbered: start from the recent mail
            last_uid, since = 0, (self._clock.now() - self._lookback).date()
        uids = box.uids(last_uid, since)
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start : start + CHUNK]
            self._chunk(box, result, chunk)
            if not self._advance(result, validity, chunk[-1]):
                return
        if since is not None:  # the rest of the mailbox is older than the look-back: never read
            self._advance(result, validity, max(uidnext - 1, uids[-1] if uids else 0))

    def _chunk(self, box: MailboxSession, result: PollResult, uids: Sequence[int]) -> None:
        heads = box.headers(uids, SUMMARY_HEADERS)
        result.looked_at += len(heads)
        fits = {uid: header_summary(raw) for uid, (size, raw) in heads.items() if size <= self._max_bytes}
        result.too_large += len(heads) - len(fits)
        wanted = sorted(self._inbound.worth_reading(fits, result.team_id))
        if not wanted:
            return
        messages = box.messages(wanted)
        result.fetched += len(messages)
        for uid in wanted:
            raw = messages.get(uid)
            if raw is None:  # expunged in the meantime
                continue
            try:
                outcome = self._inbound.receive(raw, team_id=result.team_id).outcome
            except Exception:  # one message we cannot handle must not stop its mailbox for good
                log.exception(
                    "mailbox of %s/%s: message %s could not be handled", result.team_id, result.user_id, uid
                )
                outcome = Outcome.IGNORED
            if outcome is Outcome.REPLY:
                result.replies += 1
            elif outcome is Outcome.BOUNCE:
                result.bounces += 1
            else:
                result.ignored += 1

    def _advance(self, result: PollResult, validity: int, last_uid: int) -> bool:
        now = self._clock.now()
        with self._uow() as uow:
            ours = uow.mailboxes.advance(
                result.team_id,
                result.user_id,
                self._holder,
                uidvalidity=validity,
                last_uid=last_uid,
                until=now + self._lease,
            )
            uow.commit()
        if not ours:
            log.warning("mailbox of %s/%s: the hold was lost; stopping", result.team_id, result.user_id)
        return ours

    def _refused(self, result: PollResult, account: MailAccount | None) -> None:
        result.refused = True
        with self._uow() as uow:
            first = uow.mailboxes.refused(result.team_id, result.user_id, self._clock.now())
            uow.commit()
        log.warning("mailbox of %s/%s refused the login; polling stops", result.team_id, result.user_id)
        if first and account is not None:
            self._alerts.login_refused(
                result.team_id, result.user_id, f"{account.username}@{account.imap_host}"
            )

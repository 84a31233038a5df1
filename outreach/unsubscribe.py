"""One-click unsubscribe (RFC 8058) links: signed, so nobody can unsubscribe an address they do not receive at.

Every e-mail carries ``List-Unsubscribe: <https://…/unsubscribe?t=TOKEN>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (mail clients POST to it), and the same link in its footer (a person opens a page
that asks them to confirm, so link scanners that GET it unsubscribe nobody). The token names the workspace and
the address and is signed with HMAC-SHA256; unsubscribing (:class:`Unsubscriber`) puts the address on the
workspace's suppression list and records it in the audit log, once: a second click, or a mail client's POST
after the person's, changes nothing. The first time, each partner at that address gets an ``UNSUBSCRIBED``
conversation event (shown in the e-mail conversation's Slack thread of whoever e-mailed them last, else of whoever
marked them as a prospect).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from outreach.models import AuditEvent, Channel, ConversationEvent, EventKind
from outreach.ports import Clock, ConversationEvents, UnitOfWork
from outreach.signed_tokens import SignedTokens

log = logging.getLogger(__name__)


class UnsubscribeLinks:
    def __init__(self, key: bytes, base_url: str) -> None:
        if len(key) < 16:
            raise ValueError("the unsubscribe signing key must be at least 16 bytes")
        self._tokens = SignedTokens(key)
        self._base = base_url.rstrip("/")

    def token(self, team_id: str, email: str) -> str:
        return self._tokens.dumps([team_id, email.strip().lower()])

    def url(self, team_id: str, email: str) -> str:
        return f"{self._base}/unsubscribe?t={quote(self.token(team_id, email))}"

    def verify(self, token: str) -> tuple[str, str] | None:
        """(team, address) for a genuine token, None for anything else."""
        try:
            team_id, email = self._tokens.loads(token)
        except (ValueError, TypeError):  # not genuine (None), or not a pair
            return None
        return (str(team_id), str(email)) if team_id and email else None

    def headers(self, team_id: str, email: str) -> tuple[tuple[str, str], ...]:
        return one_click_headers(self.url(team_id, email))


def one_click_headers(url: str) -> tuple[tuple[str, str], ...]:
    """The RFC 8058 one-click unsubscribe headers for a link made by :meth:`UnsubscribeLinks.url`."""
    return (("List-Unsubscribe", f"<{url}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))


class Unsubscriber:
    """The use case behind the link: which address a token names, and unsubscribing it."""

    def __init__(
        self,
        links: UnsubscribeLinks,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        events: ConversationEvents | None = None,
    ) -> None:
        self._links = links
        self._uow = uow
        self._clock = clock
        self._events = events

    def address(self, token: str) -> str | None:
        """The address a genuine token names (to ask its owner to confirm); None for anything else."""
        found = self._links.verify(token)
        return found[1] if found else None

    def unsubscribe(self, token: str, *, one_click: bool) -> str | None:
        """Suppress the address a genuine token names (``one_click``: a mail client's RFC 8058 POST, else the
        page's button); returns it, or None for a token that is not genuine (nothing changes)."""
        found = self._links.verify(token)
        if found is None:
            return None
        team_id, email = found
        now = self._clock.now()
        told: list[ConversationEvent] = []
        with self._uow() as uow:
            if uow.suppressions.add(team_id, email, "unsubscribed", "one-click" if one_click else "page"):
                uow.audit.record(AuditEvent(team_id, "", "email.unsubscribed", now, detail=email))
                told = [
                    ConversationEvent(
                        team_id,
                        p.mpid,
                        _who_to_tell(uow, team_id, p.mpid),
                        EventKind.UNSUBSCRIBED,
                        Channel.EMAIL,
                        now,
                        detail=email,
                    )
                    for p in (uow.partners.with_email(team_id, email) if self._events is not None else ())
                ]
            uow.commit()
        log.info("an address of %s unsubscribed", team_id)
        if self._events is not None:
            for event in told:
                self._events.publish(event)
        return email


def _who_to_tell(uow: UnitOfWork, team_id: str, mpid: str) -> str:
    """Whoever e-mailed the partner last, else whoever marked them as a prospect ("" when nobody is known)."""
    sent = uow.conversation_replies.sent_emails(team_id, mpid, limit=1)
    if sent:
        return sent[-1].author_id
    prospect = uow.prospects.get(team_id, mpid)
    return prospect.marked_by if prospect is not None else ""

"""The dashboard's counts (:class:`outreach.ports.OutreachStats`), made by the database in a few queries.

* Sent, bounced and replied come from one grouped query over the window's deliveries (index
  ``ix_deliveries_team_sent``, migration 0021), grouped by the send's first draft and by week (a CASE over the
  week starts, which reads the same on SQLite and PostgreSQL).
* A reply counts for the last delivery sent to its partner before it: a scalar subquery per inbound message of
  the window (few, beside the deliveries) picks that delivery's id, and the deliveries of the window are counted
  ``IN`` that set.
* The template of a send is read from the audit log (``template.used`` on the send's first draft, last one wins;
  its detail is ``"<id>: <name>"``), the name taken from the template when it still exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, func, literal, select
from sqlalchemy.orm import Session

from outreach.models import DeliveryStatus, Direction, ResultRow, SentGroup
from storage.models import (
    AuditEventRow,
    DeliveryRow,
    DraftRecipientRow,
    DraftRow,
    PartnerRow,
    SuppressionRow,
    TemplateRow,
    ThreadMessageRow,
    ThreadRow,
)

_D = cast(Table, DeliveryRow.__table__)
_DR = cast(Table, DraftRow.__table__)
_M = cast(Table, ThreadMessageRow.__table__)
_TH = cast(Table, ThreadRow.__table__)
_P = cast(Table, PartnerRow.__table__)
_S = cast(Table, SuppressionRow.__table__)
_A = cast(Table, AuditEventRow.__table__)
_TPL = cast(Table, TemplateRow.__table__)
_R = cast(Table, DraftRecipientRow.__table__)

BOUNCED = "bounced:"  # how a hard bounce marks its delivery (outreach/mail_inbound.py)
GONE = (DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value)  # a delivery with sent_at went out


class SqlOutreachStats:
    def __init__(self, session: Session) -> None:
        self._session = session

    def sent_groups(
        self,
        team_id: str,
        author_id: str | None,
        since: datetime,
        until: datetime,
        weeks: Sequence[datetime],
    ) -> list[SentGroup]:
        root = func.coalesce(_DR.c.parent_id, _DR.c.id)
        week: ColumnElement[Any] = literal(0)
        if len(weeks) > 1:
            week = case(
                *((_D.c.sent_at >= start, i) for i, start in reversed(list(enumerate(weeks))) if i),
                else_=0,
            )
        replied = case((_D.c.id.in_(self._replied_ids(team_id, since)), 1), else_=0)
        bounced = case((_D.c.last_error.startswith(BOUNCED) & (_D.c.status == "failed"), 1), else_=0)
        stmt = (
            select(
                root.label("root"),
                week.label("week"),
                func.count().label("sent"),
                func.sum(replied).label("replied"),
                func.sum(bounced).label("bounced"),
            )
            .select_from(_D.join(_DR, _DR.c.id == _D.c.draft_id))
            .where(
                _D.c.team_id == team_id,
                _D.c.sent_at >= since,
                _D.c.sent_at <= until,
                _D.c.status.in_(GONE),
                *self._by(author_id),
            )
            .group_by(root, week)
        )
        return [
            SentGroup(int(r.root), int(r.week), int(r.sent), int(r.replied or 0), int(r.bounced or 0))
            for r in self._session.execute(stmt)
        ]

    def failed(self, team_id: str, author_id: str | None, since: datetime, until: datetime) -> int:
        stmt = (
            select(func.count())
            .select_from(_D.join(_DR, _DR.c.id == _D.c.draft_id))
            .where(
                _D.c.team_id == team_id,
                _D.c.status == DeliveryStatus.FAILED.value,
                _D.c.sent_at.is_(None),
                _D.c.updated_at >= since,
                _D.c.updated_at <= until,
                *self._by(author_id),
            )
        )
        return int(self._session.execute(stmt).scalar_one())

    def unsubscribed(self, team_id: str, author_id: str | None, since: datetime, until: datetime) -> int:
        window = (
            _S.c.team_id == team_id,
            _S.c.reason == "unsubscribed",
            _S.c.created_at >= since,
            _S.c.created_at <= until,
        )
        if author_id is None:
            return int(
                self._session.execute(select(func.count()).select_from(_S).where(*window)).scalar_one()
            )
        # An author's: the addresses of the window (few) whose partner they had e-mailed before — three small
        # queries, not a join of every suppression with every delivery.
        found = self._session.execute(select(_S.c.email, _S.c.created_at).where(*window))
        unsubscribed: dict[str, datetime] = {str(email): at for email, at in found}
        if not unsubscribed:
            return 0
        owners: dict[str, list[str]] = {}
        emails = sorted(unsubscribed)
        for start in range(0, len(emails), 500):
            chunk = emails[start : start + 500]
            stmt = select(_P.c.mpid, func.lower(_P.c.email)).where(
                _P.c.team_id == team_id, func.lower(_P.c.email).in_(chunk)
            )
            for mpid, email in self._session.execute(stmt):
                owners.setdefault(str(mpid), []).append(str(email))
        first: dict[str, datetime] = {}
        mpids = sorted(owners)
        for start in range(0, len(mpids), 500):
            stmt = (
                select(_D.c.mpid, func.min(_D.c.sent_at))
                .select_from(_D.join(_DR, _DR.c.id == _D.c.draft_id))
                .where(
                    _D.c.team_id == team_id,
                    _D.c.mpid.in_(mpids[start : start + 500]),
                    _D.c.sent_at.is_not(None),
                    _DR.c.author_id == author_id,
                )
                .group_by(_D.c.mpid)
            )
            first.update({str(m): at for m, at in self._session.execute(stmt)})
        emailed = {e for m, at in first.items() for e in owners[m] if at <= unsubscribed[e]}
        return len(emailed)

    def templates_of(self, team_id: str, root_ids: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        ids: dict[int, int] = {}
        for start in range(0, len(root_ids), 500):
            chunk = list(root_ids[start : start + 500])
            stmt = (
                select(_A.c.draft_id, _A.c.detail)
                .where(_A.c.team_id == team_id, _A.c.action == "template.used", _A.c.draft_id.in_(chunk))
                .order_by(_A.c.id)
            )
            for draft_id, detail in self._session.execute(stmt):  # the last one used wins
                number, _, name = str(detail).partition(": ")
                found[int(draft_id)] = name
                if number.isdigit():
                    ids[int(draft_id)] = int(number)
        if ids:
            rows = self._session.execute(
                select(_TPL.c.id, _TPL.c.name).where(
                    _TPL.c.team_id == team_id, _TPL.c.id.in_(sorted(set(ids.values())))
                )
            )
            names = {int(r.id): str(r.name) for r in rows}
            for draft_id, template_id in ids.items():
                found[draft_id] = names.get(template_id, found[draft_id])
        return {k: v for k, v in found.items() if v}

    def results(self, team_id: str, draft_id: int) -> Iterator[ResultRow]:
        replied_at = (
            select(func.min(_M.c.created_at))
            .select_from(_M.join(_TH, _TH.c.id == _M.c.thread_id))
            .where(
                _TH.c.team_id == team_id,
                _TH.c.mpid == _R.c.mpid,
                _M.c.direction == Direction.IN.value,
                _M.c.created_at >= _D.c.sent_at,
            )
            .scalar_subquery()
        )
        stmt = (
            select(
                _R.c.mpid,
                _P.c.name,
                _P.c.first_name,
                _P.c.last_name,
                _P.c.email,
                _DR.c.channel,
                _D.c.status,
                _D.c.last_error,
                _D.c.sent_at,
                case((_D.c.sent_at.is_not(None), replied_at), else_=None).label("replied_at"),
            )
            .select_from(
                _R.join(_DR, _DR.c.id == _R.c.draft_id)
                .outerjoin(_D, and_(_D.c.draft_id == _R.c.draft_id, _D.c.mpid == _R.c.mpid))
                .outerjoin(_P, and_(_P.c.team_id == _R.c.team_id, _P.c.mpid == _R.c.mpid))
            )
            .where(_R.c.draft_id == draft_id, _R.c.team_id == team_id)
            .order_by(_R.c.position)
            .execution_options(yield_per=1000)
        )
        for r in self._session.execute(stmt):
            status, error = r.status or "pending", r.last_error or ""
            if status == DeliveryStatus.FAILED.value and error.startswith(BOUNCED):
                status, error = "bounced", error[len(BOUNCED) :].strip()
            elif status in (DeliveryStatus.CLAIMED.value, DeliveryStatus.IN_FLIGHT.value):
                status = "pending"
            contact = " ".join(x for x in (r.first_name, r.last_name) if x)
            name = (r.name or "") + (f" ({contact})" if contact and contact != r.name else "")
            yield ResultRow(
                mpid=r.mpid,
                name=name,
                address=(r.email or "") if r.channel == "email" else "",
                result=status,
                detail=error,
                sent_at=r.sent_at,
                replied_at=r.replied_at,
            )

    # -- helpers ------------------------------------------------------------------------------------------
    @staticmethod
    def _by(author_id: str | None) -> list[ColumnElement[bool]]:
        return [] if author_id is None else [_DR.c.author_id == author_id]

    @staticmethod
    def _replied_ids(team_id: str, since: datetime) -> Any:
        """The deliveries answered since ``since``: for each inbound message, the last one sent before it."""
        d2 = _D.alias("answered")
        last_sent = (
            select(d2.c.id)
            .where(
                d2.c.team_id == _TH.c.team_id,
                d2.c.mpid == _TH.c.mpid,
                d2.c.sent_at.is_not(None),
                d2.c.sent_at <= _M.c.created_at,
            )
            .order_by(d2.c.sent_at.desc(), d2.c.id.desc())
            .limit(1)
            .correlate(_M, _TH)
            .scalar_subquery()
        )
        return (
            select(last_sent)
            .select_from(_M.join(_TH, _TH.c.id == _M.c.thread_id))
            .where(
                _M.c.team_id == team_id,
                _M.c.direction == Direction.IN.value,
                _M.c.created_at >= since,
            )
        )

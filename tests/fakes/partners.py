"""In-memory partners, prospects, ads and suppressions, as the SQL repositories behave (storage/)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from outreach.models import Ad, Partner, Prospect, UpsertCounts
from tests.fakes.tables import PartnerRow, Transaction


class FakePartnerRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def upsert_many(
        self,
        team_id: str,
        partners: Sequence[Partner],
        *,
        mark_prospects: Collection[str] = (),
        marked_by: str = "",
    ) -> UpsertCounts:
        rows, now = self._tx.tables.partners, self._tx.clock.now()
        counts = UpsertCounts()
        for given in partners:
            partner = dataclasses.replace(given, team_id=team_id)
            old = rows.get((team_id, partner.mpid))
            newly_marked = partner.mpid in mark_prospects and (old is None or old.marked_at is None)
            if old is None:
                counts += UpsertCounts(inserted=1)
                row = PartnerRow(partner)
            elif newly_marked or old.partner != partner:
                counts += UpsertCounts(updated=1)
                row = dataclasses.replace(old, partner=partner)
            else:
                counts += UpsertCounts(unchanged=1)
                continue
            if newly_marked:
                row = dataclasses.replace(row, marked_at=now, marked_by=marked_by, prospect_status="new")
            rows[(team_id, partner.mpid)] = row
        return counts

    def get(self, team_id: str, mpid: str) -> Partner | None:
        row = self._tx.tables.partners.get((team_id, mpid))
        return None if row is None else row.partner

    def get_many(self, team_id: str, mpids: Collection[str]) -> dict[str, Partner]:
        rows = self._tx.tables.partners
        return {m: rows[(team_id, m)].partner for m in sorted(set(mpids)) if (team_id, m) in rows}

    def with_email(self, team_id: str, email: str) -> list[Partner]:
        address = email.strip().lower()
        rows = sorted(self._tx.tables.partners.items())
        return [
            r.partner
            for (team, _), r in rows
            if team == team_id and address and r.partner.email.lower() == address
        ]

    def known(self, team_id: str, mpids: Collection[str]) -> set[str]:
        return {m for m in mpids if (team_id, m) in self._tx.tables.partners}

    def countries(self, team_id: str) -> list[str]:
        rows = self._tx.tables.partners.items()
        return sorted({r.partner.country for (team, _), r in rows if team == team_id and r.partner.country})


class FakeProspectRepository:
    """Prospects are partner rows with ``marked_at`` set (lists and counts are not faked: the core's
    compose and delivery do not page prospects)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def get(self, team_id: str, mpid: str) -> Prospect | None:
        row = self._tx.tables.partners.get((team_id, mpid))
        if row is None or row.marked_at is None:
            return None
        return Prospect(
            row.partner, row.prospect_status or "new", row.marked_at, row.marked_by, row.last_contacted_at
        )

    def mark(self, team_id: str, mpids: Collection[str], *, by: str, at: datetime) -> int:
        def mark(row: PartnerRow) -> PartnerRow | None:
            if row.marked_at is not None:
                return None
            return dataclasses.replace(row, marked_at=at, marked_by=by, prospect_status="new")

        return self._update(team_id, mpids, mark)

    def mark_contacted(self, team_id: str, mpids: Collection[str], at: datetime, by: str = "") -> int:
        def contacted(row: PartnerRow) -> PartnerRow | None:
            if row.last_contacted_at is not None and row.last_contacted_at >= at:
                return None  # contacted later already
            return dataclasses.replace(row, last_contacted_at=at, last_contacted_by=by)

        return self._update(team_id, mpids, contacted)

    def contacts(self, team_id: str, mpids: Collection[str]) -> dict[str, tuple[datetime, str]]:
        rows = self._tx.tables.partners
        return {
            m: (row.last_contacted_at, row.last_contacted_by)
            for m in sorted(set(mpids))
            if (row := rows.get((team_id, m))) is not None and row.last_contacted_at is not None
        }

    def _update(
        self, team_id: str, mpids: Collection[str], change: Callable[[PartnerRow], PartnerRow | None]
    ) -> int:
        rows, changed = self._tx.tables.partners, 0
        for mpid in set(mpids):
            row = rows.get((team_id, mpid))
            new = change(row) if row is not None else None
            if new is not None:
                rows[(team_id, mpid)] = new
                changed += 1
        return changed


class FakeAdRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def upsert_many(self, team_id: str, ads: Sequence[Ad]) -> UpsertCounts:
        rows, counts = self._tx.tables.ads, UpsertCounts()
        for given in ads:
            ad = dataclasses.replace(given, team_id=team_id)
            old = rows.get((team_id, ad.adid))
            if old == ad:
                counts += UpsertCounts(unchanged=1)
                continue
            counts += UpsertCounts(inserted=1) if old is None else UpsertCounts(updated=1)
            rows[(team_id, ad.adid)] = ad
        return counts

    def get(self, team_id: str, adid: str) -> Ad | None:
        return self._tx.tables.ads.get((team_id, adid))

    def get_many(self, team_id: str, adids: Collection[str]) -> dict[str, Ad]:
        rows = self._tx.tables.ads
        return {a: rows[(team_id, a)] for a in sorted(set(adids)) if (team_id, a) in rows}

    def all(self, team_id: str) -> list[Ad]:
        ads = [ad for (team, _), ad in self._tx.tables.ads.items() if team == team_id]
        return sorted(ads, key=lambda ad: (ad.name, ad.adid))


class FakeSuppressionRepository:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(self, team_id: str, email: str, reason: str, detail: str = "") -> bool:
        key = (team_id, email.strip().lower())
        rows = self._tx.tables.suppressions
        if key in rows:
            return False  # the first reason is kept
        rows[key] = (reason, detail)
        return True

    def among(self, team_id: str, emails: Collection[str]) -> dict[str, str]:
        rows = self._tx.tables.suppressions
        wanted = {e.strip().lower() for e in emails if e}
        return {e: rows[(team_id, e)][0] for e in sorted(wanted) if (team_id, e) in rows}

    def emails(self, team_id: str) -> frozenset[str]:
        return frozenset(email for team, email in self._tx.tables.suppressions if team == team_id)


class FakeSendBudgets:
    """Each sending account's next free send time (storage/send_budgets.py keeps it in the database)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def reserve(self, account: str, slots: int, interval_us: int, now_us: int) -> int:
        rows = self._tx.tables.send_budgets
        first = max(rows.get(account, now_us), now_us)
        rows[account] = first + slots * interval_us
        return first

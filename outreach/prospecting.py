"""Browsing prospects and the marketplace, and the recipients a user has picked.

Pages use keyset cursors (opaque strings made by storage): a page is asked for ``at`` a cursor (inclusive,
to show the same page again), ``after`` one (the next page) or ``before`` one (the previous page).
Picks are kept server-side per (workspace, user), so ticks survive paging, searching and filtering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from outreach.models import PartnerKind, Prospect

PAGE_SIZE = 10  # Slack's checkbox limit (SLACK.md §1.3)
MAX_SEARCH = 200  # characters of search text kept; longer text is cut and the user is told


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list shows. ``messaging``: None any, True enabled only, False disabled only."""

    text: str = ""
    kind: PartnerKind | None = None
    messaging: bool | None = None
    country: str = ""
    not_contacted: bool = False

    def normalised(self) -> ListFilter:
        return ListFilter(
            text=" ".join(self.text.split())[:MAX_SEARCH],
            kind=self.kind,
            messaging=self.messaging,
            country=self.country.strip().upper()[:2],
            not_contacted=self.not_contacted,
        )


@dataclass(frozen=True, slots=True)
class PageRequest:
    at: str | None = None
    after: str | None = None
    before: str | None = None
    number: int = 1  # 1-based page number shown to the user


@dataclass(frozen=True, slots=True)
class ProspectPage:
    items: tuple[Prospect, ...]
    total: int
    number: int
    picked_on_page: frozenset[str]  # mpids ticked on this page
    picked_count: int  # all ticks of this user, on any page
    first_cursor: str | None
    last_cursor: str | None
    has_prev: bool
    has_next: bool
    filter: ListFilter = field(default_factory=ListFilter)
    search_cut: bool = False  # the search text was longer than MAX_SEARCH and was cut

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0

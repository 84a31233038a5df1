"""The recent-contact window: how long a teammate's contact with a partner counts as recent (the form warns about
it, the "select all" confirmation counts it). One window for every workspace (RECENT_CONTACT_DAYS), or each
workspace's own (its settings, :mod:`outreach.workspace_settings`); None: not watched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

RecentWindow = Callable[[str], timedelta | None]  # team id -> its window (None: off)


def recent_window(
    value: timedelta | Callable[[str], timedelta | None] | None,
) -> Callable[[str], timedelta | None]:
    """A recent-contact window per workspace: one for all (a value), or a workspace's own (a function)."""
    if callable(value):
        return value
    return lambda _team_id: value

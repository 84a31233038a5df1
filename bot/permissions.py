"""Who may send. Like the web platform's messaging permission: every member may browse, and only members of the
Slack user group ``SENDERS_USERGROUP`` (its id, ``S0123…``) or the users listed in ``SENDERS`` may send. When
neither is set, everyone may. A workspace's own sender user group (its settings, set on the App Home) takes
the place of ``SENDERS_USERGROUP`` for that workspace (``usergroup_for``).
Group members are read with usergroups.users.list and kept for a few minutes.
The lookup never waits on Slack (it may run before a submission is answered, within Slack's 3 seconds): a
429 or an error answers with the members last read, however old; a group never read refuses — sending fails
closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_budget import no_wait_client
from outreach.cache import StampedCache

log = logging.getLogger(__name__)


class SenderPolicy:
    def __init__(
        self,
        senders: tuple[str, ...] = (),
        usergroup: str = "",
        ttl_seconds: float = 300.0,
        *,
        usergroup_for: Callable[[str], str] | None = None,
    ) -> None:
        """``usergroup_for(team)``: the workspace's sender user group (its settings, else ``usergroup``)."""
        self._senders = frozenset(senders)
        self._usergroup_for = usergroup_for or (lambda _team: usergroup)
        self._members = StampedCache[tuple[str, str], frozenset[str]](ttl_seconds)  # by team and group

    def usergroup(self, team_id: str) -> str:
        """The user group whose members may send in ``team_id`` (empty: none)."""
        return self._usergroup_for(team_id)

    def may_send(self, client: WebClient, team_id: str, user_id: str) -> bool:
        usergroup = self._usergroup_for(team_id)
        if (not self._senders and not usergroup) or user_id in self._senders:
            return True
        if not usergroup:
            return False
        return user_id in self._group(client, team_id, usergroup)

    def _group(self, client: WebClient, team_id: str, usergroup: str) -> frozenset[str]:
        key = (team_id, usergroup)
        now = self._members.now()
        fresh = self._members.fresh(key)
        if fresh is not None:
            return fresh
        try:
            users = no_wait_client(client).usergroups_users_list(usergroup=usergroup)["users"]
        except SlackApiError as err:
            log.warning("cannot read user group %s: %s", usergroup, err.response.get("error"))
            known = self._members.last(key)
            return known if known is not None else frozenset()
        return self._members.put(key, frozenset(str(u) for u in users), at=now)

"""Who may send. Like the web platform's messaging permission: every member may browse, and only members of the
Slack user group ``SENDERS_USERGROUP`` (its id, ``S0123…``) or the users listed in ``SENDERS`` may send. When
neither is set, everyone may. Group members are read with usergroups.users.list and kept for a few minutes.
The lookup never waits on Slack (it may run before a submission is answered, within Slack's 3 seconds): a
429 or an error answers with the members last read, however old; a group never read refuses — sending fails
closed.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_budget import no_wait_client
from outreach.cache import StampedCache

log = logging.getLogger(__name__)


class SenderPolicy:
    def __init__(
        self, senders: tuple[str, ...] = (), usergroup: str = "", ttl_seconds: float = 300.0
    ) -> None:
        self._senders = frozenset(senders)
        self._usergroup = usergroup
        self._members = StampedCache[str, frozenset[str]](ttl_seconds)  # by team

    @property
    def open_to_all(self) -> bool:
        return not self._senders and not self._usergroup

    def may_send(self, client: WebClient, team_id: str, user_id: str) -> bool:
        if self.open_to_all or user_id in self._senders:
            return True
        if not self._usergroup:
            return False
        return user_id in self._group(client, team_id)

    def _group(self, client: WebClient, team_id: str) -> frozenset[str]:
        now = self._members.now()
        fresh = self._members.fresh(team_id)
        if fresh is not None:
            return fresh
        try:
            users = no_wait_client(client).usergroups_users_list(usergroup=self._usergroup)["users"]
        except SlackApiError as err:
            log.warning("cannot read user group %s: %s", self._usergroup, err.response.get("error"))
            known = self._members.last(team_id)
            return known if known is not None else frozenset()
        return self._members.put(team_id, frozenset(str(u) for u in users), at=now)

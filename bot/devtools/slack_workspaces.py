"""Many workspaces, for the stand-in (bot/devtools/slack_standin.py): whose each object is, and what a token may
reach.

* Each workspace (``add_team``; an Enterprise Grid org's workspaces name their org) has its own users and bot
  token (bot/devtools/slack_oauth.py); rate tiers are counted per workspace and app (SLACK.md §5.1, so per
  token's install here).
* A token acts in its install's workspaces only — its own, or every workspace of its org for an org-wide install
  (https://api.slack.com/authentication/token-types: a bot token acts in the workspace that installed the app;
  https://api.slack.com/enterprise/apps for an org-wide install: "a single token that represents the
  permissions for the app on multiple workspaces"). A call naming another
  workspace's object gets the error the method gives for an object it does not find: a user
  ``user_not_found`` (users.info, conversations.open, chat.postEphemeral, views.publish), a channel or DM
  ``channel_not_found``, a modal ``not_found``, a trigger ``invalid_trigger_id``, a file ``file_not_found``, a
  user group ``no_such_subteam`` (each method's error table). An object whose workspace is not known (a channel
  never seen) is not refused: no source says what Slack answers there, and the app never names one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.devtools.slack_oauth import Grant


@dataclass
class SlackTeam:
    """A workspace (``enterprise_id``: the Enterprise Grid org it belongs to, if any)."""

    id: str
    name: str
    enterprise_id: str = ""


class _HasTeam(Protocol):
    team_id: str


class Workspaces:
    """The workspaces, who belongs where, and the calls refused for naming another workspace's object."""

    def __init__(
        self,
        first: SlackTeam,
        *,
        users: Mapping[str, _HasTeam],
        files: Mapping[str, _HasTeam],
        usergroups: Mapping[str, list[str]],
        trigger_user: Callable[[str], str | None],
        view_team: Callable[[str], str | None],
    ) -> None:
        self.teams: dict[str, SlackTeam] = {first.id: first}
        self.channel_teams: dict[str, set[str]] = {}  # channel -> the workspaces it was seen in
        self.refused: list[tuple[str, str, str]] = []  # (method, error, token's workspace or org)
        self._users = users
        self._files = files
        self._usergroups = usergroups
        self._trigger_user = trigger_user
        self._view_team = view_team

    def add(self, team_id: str, name: str, enterprise_id: str = "") -> SlackTeam:
        team = self.teams[team_id] = SlackTeam(team_id, name, enterprise_id)
        if enterprise_id and enterprise_id not in self.teams:
            self.teams[enterprise_id] = SlackTeam(enterprise_id, f"{enterprise_id} org", enterprise_id)
        return team

    def name(self, team_id: str) -> str:
        team = self.teams.get(team_id)
        return team.name if team else team_id

    def enterprise_of(self, team_id: str) -> str:
        team = self.teams.get(team_id)
        return team.enterprise_id if team else ""

    def of(self, grant: Grant) -> set[str]:
        """The workspaces a token acts in: its own, or every workspace of its org."""
        if grant.team_id:
            return {grant.team_id}
        return {t.id for t in self.teams.values() if t.enterprise_id == grant.enterprise_id}

    def user_team(self, user_id: str) -> str:
        user = self._users.get(user_id)
        return user.team_id if user else ""

    def seen(self, channel: str, team_id: str) -> None:
        """A user of ``team_id`` acted in ``channel`` (a slash command, a click)."""
        self.channel_teams.setdefault(channel, set()).add(team_id)

    def refusal(self, method: str, args: dict[str, Any], grant: Grant) -> str:
        """The error Slack answers when the call names another workspace's object ("" when it names none)."""
        error = self._error(args, self.of(grant))
        if error:
            self.refused.append((method, error, grant.key))
        return error

    def _error(self, args: dict[str, Any], teams: set[str]) -> str:
        users = [str(args.get(k, "")) for k in ("user", "user_id") if args.get(k)]
        users += [u for u in str(args.get("users", "")).split(",") if u]
        if any(u in self._users and self.user_team(u) not in teams for u in users):
            return "user_not_found"
        channel = str(args.get("channel", ""))
        if channel.startswith("D") and self.user_team("U" + channel[1:]) not in ("", *teams):
            return "channel_not_found"  # a DM: "D" + the user's id without its "U" (SlackMessages.open_dm)
        seen = self.channel_teams.get(channel)
        if channel and seen and not seen & teams:
            return "channel_not_found"
        trigger_user = self._trigger_user(str(args.get("trigger_id", "")))
        if trigger_user is not None and self.user_team(trigger_user) not in ("", *teams):
            return "invalid_trigger_id"
        view_team = self._view_team(str(args.get("view_id", "")))
        if view_team is not None and view_team not in teams:
            return "not_found"
        stored = self._files.get(str(args.get("file", "")))
        if stored is not None and stored.team_id not in teams:
            return "file_not_found"
        known = {self.user_team(u) for u in self._usergroups.get(str(args.get("usergroup", "")), [])} - {""}
        if known and not known & teams:  # a group of another workspace's people
            return "no_such_subteam"
        return ""

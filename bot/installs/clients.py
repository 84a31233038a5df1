"""The Web API client of a workspace, with that workspace's own bot token, for work done without a request.

A listener gets its client from Bolt, holding the token of the request's workspace. Background work — the
progress DM, the digest, a partner's reply DMed to its author — has only a ``team_id``: it asks a
:data:`ClientFor` for that workspace's client, and skips the workspace when there is none (not installed, or
uninstalled since: its tokens are gone, and nothing is sent to Slack for it).

* One workspace (SLACK_BOT_TOKEN): :class:`SingleToken` hands the one client to every workspace, as before.
* Installs from a link: :class:`InstalledClients` reads the workspace (the org's install for a workspace of an
  org installed org-wide), then its bot token from the encrypted store — rotated first, and saved, when it
  expires within Bolt's window (the same ``TokenRotator`` Bolt's authorize uses). Read on every call, never
  kept: an uninstall in any process is seen at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.installs.store import EncryptedInstallationStore
from outreach.workspaces import WorkspaceService

log = logging.getLogger(__name__)

ClientFor = Callable[[str], WebClient | None]


class SingleToken:
    """One bot token for every workspace (SLACK_BOT_TOKEN)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def __call__(self, team_id: str) -> WebClient | None:
        return self._client


def clients_for(clients: WebClient | ClientFor) -> ClientFor:
    """A :data:`ClientFor` from either one client (every workspace's) or a :data:`ClientFor` already."""
    return SingleToken(clients) if isinstance(clients, WebClient) else clients


class InstalledClients:
    def __init__(
        self,
        workspaces: WorkspaceService,
        store: EncryptedInstallationStore,
        make_client: Callable[[str], WebClient],
        rotator: TokenRotator,
        rotate_within_minutes: int,
    ) -> None:
        self._workspaces = workspaces
        self._store = store
        self._make = make_client
        self._rotator = rotator
        self._minutes = rotate_within_minutes

    def __call__(self, team_id: str) -> WebClient | None:
        token = self.token(team_id)
        return self._make(token) if token else None

    def token(self, team_id: str) -> str | None:
        """The workspace's bot token (rotated first when it expires soon), or None when it is not installed.

        Read as Bolt's authorize reads it (the bot, ``installation_store_bot_only``) and rotated and saved the
        same way, so a request and background work never hold two different tokens of one install."""
        workspace = self._workspaces.find(team_id)
        if workspace is None or not workspace.installed:
            return None
        org = workspace.org_install
        bot = self._store.find_bot(
            enterprise_id=workspace.enterprise_id or None,
            team_id=None if org else team_id,
            is_enterprise_install=org,
        )
        if bot is None:
            return None
        if bot.bot_refresh_token:
            try:
                refreshed = self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=self._minutes
                )
            except SlackTokenRotationError as err:
                log.error("the bot token of %s could not be rotated: %s", team_id, err)
                return None
            if refreshed is not None:
                self._store.save_bot(refreshed)
                bot = refreshed
        return bot.bot_token

"""Installs in many workspaces (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set): Bolt's OAuth flow on our encrypted
token store (:mod:`bot.installs.store`), which workspaces are served (:mod:`bot.installs.oauth`), uninstalls
(:mod:`bot.installs.uninstall`) and each workspace's own client for background work
(:mod:`bot.installs.clients`). Built once by the composition root (:func:`bot.wiring.build_services`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Engine, delete

from bot.installs import oauth, uninstall
from bot.installs.clients import InstalledClients
from bot.installs.store import EncryptedInstallationStore, TokenCipher
from bot.settings import Settings
from outreach.workspaces import WorkspaceService

if TYPE_CHECKING:  # slack_sdk's SQLAlchemy stores need greenlet: imported only where installs are built
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

__all__ = ["Installs"]


@dataclass
class Installs:
    settings: Settings
    store: EncryptedInstallationStore
    state_store: SQLAlchemyOAuthStateStore
    workspaces: WorkspaceService

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        cipher: TokenCipher,
        unreadable: tuple[type[Exception], ...],
        workspaces: WorkspaceService,
    ) -> Installs:
        """The stores on the app's own engine (tables made by migration 0017)."""
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        return cls(
            settings=settings,
            store=EncryptedInstallationStore(settings.slack_client_id, engine, cipher, unreadable=unreadable),
            state_store=SQLAlchemyOAuthStateStore(
                expiration_seconds=oauth.STATE_SECONDS, engine=engine, logger=oauth.log
            ),
            workspaces=workspaces,
        )

    def app_options(self, client: WebClient) -> dict[str, Any]:
        """``App(**options)``: the OAuth flow, the store, the authorize and the gate (``client``: the app's own,
        without a token)."""
        return oauth.oauth_app_options(self.settings, self.store, self.state_store, self.workspaces, client)

    def register(self, app: App) -> None:
        """The uninstall listeners."""
        uninstall.register(app, self.workspaces)

    def forget_expired_states(self) -> int:
        """Delete the install links' states that expired unused; returns how many."""
        table = self.state_store.oauth_states
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as slack_sdk writes expire_at
        with self.state_store.engine.begin() as conn:
            result = conn.execute(delete(table).where(table.c.expire_at < now))
        return int(getattr(result, "rowcount", 0) or 0)

    def clients(self, make_client: Callable[[str], WebClient], base: WebClient) -> InstalledClients:
        """Each workspace's client (``make_client(token)``), rotating tokens through ``base`` (no token)."""
        rotator = TokenRotator(
            client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret,
            client=base,
        )
        return InstalledClients(
            self.workspaces, self.store, make_client, rotator, oauth.TOKEN_ROTATION_MINUTES
        )

"""slack_sdk's SQLAlchemy installation store on our database, with every token encrypted at rest.

:class:`EncryptedInstallationStore` is an ``InstallationStore`` (what Bolt's OAuth flow saves to, its authorize
reads from, and its token-revocation listeners delete from) wrapping slack_sdk's
``SQLAlchemyInstallationStore`` on the app's own engine — tables ``slack_installations`` and ``slack_bots``, made
by our migration 0017, not by ``create_tables()``. The rules:

* **Encrypted at rest.** Bot and user tokens and their refresh tokens are written as Fernet ciphertexts under
  SECRET_KEY and decrypted when read; nothing else is encrypted (ids, names, scopes, times).
* **Key rotation.** The cipher decrypts with SECRET_KEY or SECRET_KEY_PREVIOUS and encrypts with SECRET_KEY; a
  row is written again under the new key whenever it is saved (an install, a token rotation), and
  ``prospects-bot secrets rotate`` rewrites every row at once. A row under neither key cannot be read: it is
  treated as no install at all (logged as an error, naming the workspace) — the workspace gets no answer from
  the app until it is installed again from ``/slack/install``, which writes a fresh row under SECRET_KEY.
* **Latest wins.** slack_sdk keeps a row per install and reads the latest; deleting (uninstall, revocation)
  deletes every row of the workspace or org.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from logging import Logger
from typing import Protocol, TypeVar

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from sqlalchemy import Engine, select, update

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
BOT_TOKEN_FIELDS = ("bot_token", "bot_refresh_token")

Stored = TypeVar("Stored", Installation, Bot)


class TokenCipher(Protocol):
    def encrypt(self, text: str) -> str: ...

    def decrypt(self, token: str) -> str: ...

    def rotate(self, token: str) -> str: ...


class EncryptedInstallationStore(InstallationStore):
    def __init__(
        self,
        client_id: str,
        engine: Engine,
        cipher: TokenCipher,
        *,
        unreadable: tuple[type[Exception], ...] = (ValueError,),
    ) -> None:
        """``unreadable``: what ``cipher.decrypt`` raises for a value under an unknown key."""
        # Imported here: slack_sdk's SQLAlchemy module needs greenlet (it imports sqlalchemy.ext.asyncio for its
        # async twin), which only installs from a link need.
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

        self._inner = SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self._cipher = cipher
        self._unreadable = unreadable
        self.client_id = client_id

    @property
    def logger(self) -> Logger:
        return log

    # -- writes: encrypted --------------------------------------------------------------------------------
    def save(self, installation: Installation) -> None:
        # slack_sdk's save() also writes installation.to_bot(): the bot row gets the same ciphertexts.
        self._inner.save(self._sealed(installation, TOKEN_FIELDS, Installation))

    def save_bot(self, bot: Bot) -> None:
        self._inner.save_bot(self._sealed(bot, BOT_TOKEN_FIELDS, Bot))

    # -- reads: decrypted -----------------------------------------------------------------------------------
    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        bot = self._inner.find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return self._opened(bot, BOT_TOKEN_FIELDS, enterprise_id, team_id)

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        installation = self._inner.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(installation, TOKEN_FIELDS, enterprise_id, team_id)

    # -- deletes -----------------------------------------------------------------------------------------
    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self._inner.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    # -- key rotation -------------------------------------------------------------------------------------
    def rotate_keys(self) -> tuple[int, int]:
        """Rewrite every stored token under the first key (SECRET_KEY); returns (rows rewritten, rows that
        could not be read and were left as they are)."""
        rewritten = unreadable = 0
        engine = self._inner.engine
        for table, fields in (
            (self._inner.installations, TOKEN_FIELDS),
            (self._inner.bots, BOT_TOKEN_FIELDS),
        ):
            with engine.begin() as conn:
                rows = conn.execute(select(table.c.id, *(table.c[f] for f in fields))).mappings().all()
                for row in rows:
                    try:
                        values = {f: self._cipher.rotate(row[f]) for f in fields if row[f]}
                    except self._unreadable:
                        unreadable += 1
                        continue
                    conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
                    rewritten += 1
        return rewritten, unreadable

    # -- the cipher ---------------------------------------------------------------------------------------
    def _sealed(self, value: Stored, fields: tuple[str, ...], kind: Callable[..., Stored]) -> Stored:
        copy = kind(**value.to_dict_for_copying())
        for name in fields:
            plain = getattr(copy, name)
            if plain:
                setattr(copy, name, self._cipher.encrypt(plain))
        return copy

    def _opened(
        self, value: Stored | None, fields: tuple[str, ...], enterprise_id: str | None, team_id: str | None
    ) -> Stored | None:
        if value is None:
            return None
        try:
            for name in fields:
                sealed = getattr(value, name)
                if sealed:
                    setattr(value, name, self._cipher.decrypt(sealed))
        except self._unreadable:
            log.error(
                "the Slack tokens of workspace %s (org %s) are under an unknown key (not SECRET_KEY or "
                "SECRET_KEY_PREVIOUS): it is treated as not installed until it is installed again",
                team_id,
                enterprise_id,
            )
            return None
        return value

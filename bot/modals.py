"""Writing modals the way Slack lets us (../shared/SLACK.md §2.2 and §8.4–5).

* **Open first, fill after.** A ``trigger_id`` works once, within 3 seconds of the click. :meth:`Modals.open`
  opens (or pushes) a small "Preparing…" view at once — before any users.info, user-group lookup or pass over
  recipients — in the language of the profile already known, if any (no Web API call); the caller then fills
  it with :meth:`Modals.show`. When Slack refuses the trigger (it expired, or was used), the user is told in a
  DM and nothing else happens.
* **A closed modal is gone.** ``views.update`` on a view the user closed answers ``not_found``. What the view
  was going to say that matters — a verdict on files, "Sending to 30 recipients" — is then posted in the user's
  DM (``dm``: its notification text and blocks); whatever was decided (a send planned, files refused) was
  decided before the view was written, so nothing is lost and nothing happens twice.
* **hash_conflict** (the view changed since the hash we hold): written once more without the hash, onto the
  view as it is now.
* **At most 3 views in a modal.** Only two moves push: a partner card → its e-mail form, and a form → its
  preview. Everything else replaces the view it comes from, so no flow stacks more than 3 views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.common import Block
from bot.blocks.compose import build_preparing_view
from bot.i18n import Translator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Opened:
    view_id: str
    hash: str


@dataclass(frozen=True, slots=True)
class Dm:
    """What goes to the user's DM when the modal was closed: the notification text and the blocks."""

    text: str
    blocks: list[Block]


class Modals:
    def __init__(self, known: Callable[[str, str], Translator | None], translator: Callable[..., Translator]):
        """``known(team, user)``: the user's translator when their profile is already known (no Web API call);
        ``translator(client, team, user)``: the user's translator, asking Slack if need be."""
        self._known = known
        self._translator = translator

    def open(
        self, client: WebClient, trigger_id: str, team_id: str, user_id: str, *, push: bool = False
    ) -> Opened | None:
        """Open (``push``: push) the "Preparing…" view now; None when Slack refused the trigger."""
        view = build_preparing_view(self._known(team_id, user_id) or Translator())
        try:
            answer = (
                client.views_push(trigger_id=trigger_id, view=view)
                if push
                else client.views_open(trigger_id=trigger_id, view=view)
            )
        except SlackApiError as err:
            error = err.response.get("error")
            log.warning("could not open a modal for %s: %s", user_id, error)
            self._tell(client, team_id, user_id, "modal.not_opened")
            return None
        return Opened(str(answer["view"]["id"]), str(answer["view"].get("hash", "")))

    def show(
        self,
        client: WebClient,
        view_id: str,
        view: dict[str, Any],
        *,
        user_id: str,
        hash: str | None = None,
        dm: Dm | None = None,
    ) -> bool:
        """Write ``view`` into the open view ``view_id``; True when it is shown. When the user closed it, ``dm``
        (if any) goes to their DM instead."""
        try:
            client.views_update(view_id=view_id, view=view, **({"hash": hash} if hash else {}))
            return True
        except SlackApiError as err:
            error = err.response.get("error")
            if error == "hash_conflict":
                return self.show(client, view_id, view, user_id=user_id, dm=dm)  # the view as it is now
            if error != "not_found":
                raise
        log.info(
            "view %s of %s was closed; %s", view_id, user_id, "telling them in a DM" if dm else "dropped"
        )
        if dm is not None:
            self._post(client, user_id, dm.text, dm.blocks)
        return False

    def _tell(self, client: WebClient, team_id: str, user_id: str, key: str) -> None:
        self._post(client, user_id, self._translator(client, team_id, user_id)(key), [])

    @staticmethod
    def _post(client: WebClient, user_id: str, text: str, blocks: list[Block]) -> None:
        try:
            channel = client.conversations_open(users=user_id)["channel"]["id"]
            client.chat_postMessage(channel=channel, text=text, blocks=blocks or None)
        except SlackApiError as err:
            log.warning("could not DM %s: %s", user_id, err.response.get("error"))

"""The workspace's settings, from the Home tab's **Settings** button.

An admin or owner of the workspace (users.info ``is_admin`` / ``is_owner``) gets the form; anyone else the values
read-only, with no submit. A submission is checked, and a new SMTP server's login tried, before it is answered:
every problem comes back as ``response_action: errors`` on its field (the server's own answer for a refused
login). Who is an admin is asked of Slack again on submit (a demoted admin cannot save with an old answer).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import ids
from bot.blocks.compose import build_notice_view
from bot.blocks.workspace_settings import FIELD_BLOCKS, build_settings_view
from bot.modals import Modals
from bot.problems import describe
from bot.users import UserProfiles
from outreach.errors import NotAdmin, ValidationFailed
from outreach.models import Channel, WorkspaceSettings
from outreach.workspace_settings import WorkspaceSettingsService


def read_settings(team_id: str, values: dict[str, Any]) -> WorkspaceSettings:
    """The form's values as settings (a number that is not one: -1, refused by the check)."""

    def value(block: str) -> str:
        field = (values.get(block) or {}).get(ids.ACTION_INPUT) or {}
        chosen = field.get("selected_option") or {}
        return str(field.get("value") or chosen.get("value") or "")

    def number(block: str) -> int | None:
        raw = value(block).strip()
        if not raw:
            return None
        return int(raw) if raw.isdigit() else -1

    return WorkspaceSettings(
        team_id=team_id,
        from_address=value(ids.BLOCK_WS_FROM_ADDRESS),
        from_name=value(ids.BLOCK_WS_FROM_NAME),
        smtp_host=value(ids.BLOCK_WS_SMTP_HOST),
        smtp_port=number(ids.BLOCK_WS_SMTP_PORT) or 0,
        smtp_security=value(ids.BLOCK_WS_SMTP_SECURITY) or "starttls",
        smtp_username=value(ids.BLOCK_WS_SMTP_USERNAME),
        smtp_password=value(ids.BLOCK_WS_SMTP_PASSWORD),
        webhook_url=value(ids.BLOCK_WS_WEBHOOK_URL),
        webhook_secret=value(ids.BLOCK_WS_WEBHOOK_SECRET),
        senders_usergroup=value(ids.BLOCK_WS_USERGROUP),
        recent_contact_days=number(ids.BLOCK_WS_RECENT_DAYS),
        digest_time=value(ids.BLOCK_WS_DIGEST_TIME),
    )


class WorkspaceSettingsHandlers:
    def __init__(self, profiles: UserProfiles, settings: WorkspaceSettingsService, modals: Modals) -> None:
        self._profiles = profiles
        self._settings = settings
        self._modals = modals

    def open(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        opened = self._modals.open(client, body["trigger_id"], team_id, user_id)
        if opened is None:
            return
        profile = self._profiles.get(client, team_id, user_id)
        view = build_settings_view(profile.t, self._settings.shown(team_id), editable=profile.is_admin)
        self._modals.show(client, opened.view_id, view, user_id=user_id, hash=opened.hash)

    def submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        profile = self._profiles.lookup(client, team_id, user_id, max_age=0) or self._profiles.get(
            client, team_id, user_id
        )
        t = profile.t
        form = read_settings(team_id, view.get("state", {}).get("values", {}))
        try:
            _, changed = self._settings.save(form, user_id, is_admin=profile.is_admin)
        except NotAdmin:
            ack(response_action="errors", errors={ids.BLOCK_WS_FROM_ADDRESS: t("ws.not_admin")})
            return
        except ValidationFailed as err:
            errors: dict[str, list[str]] = {}
            for p in err.problems:
                errors.setdefault(FIELD_BLOCKS.get(p.field, ids.BLOCK_WS_FROM_ADDRESS), []).append(
                    describe(p, t)
                )
            ack(response_action="errors", errors={b: " ".join(texts)[:1900] for b, texts in errors.items()})
            return
        text = t("ws.saved") if changed else t("ws.unchanged")
        ack(response_action="update", view=build_notice_view(t("ws.title"), text, 0, Channel.EMAIL, t))


def register(app: App, handlers: WorkspaceSettingsHandlers) -> None:
    app.action(ids.ACTION_HOME_SETTINGS)(handlers.open)
    app.view(ids.CALLBACK_WORKSPACE_SETTINGS)(handlers.submit)

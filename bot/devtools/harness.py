"""The whole app as Slack sees it, on this machine: the real services (database, SMTP, clamd, libmagic), the
Bolt app served over HTTP, a stand-in Slack Web API, a receiver for in-platform messages, a background sender,
and helpers that play the Slack side (commands, clicks, modal submissions). Used by the scenario tests and by
the offline demo."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from bot import ids
from bot.app import build_app, make_client, workspace_clients
from bot.conversations import ConversationThreads
from bot.devtools import install_browser
from bot.devtools.maildir_smtp import free_port
from bot.devtools.slack_requests import HttpAnswer, SlackClientSim
from bot.devtools.slack_standin import SlackStandIn, SlackUser
from bot.devtools.webhook_inbox import WebhookInbox
from bot.handlers.registry import register_all
from bot.http import HttpServer, WsgiApp
from bot.routes import extra_routes
from bot.schedule_dm import ScheduleDM
from bot.sending import BackgroundSender, ProgressDM
from bot.settings import Settings
from bot.wiring import Services, build_services
from outreach.ports import Clock

SIGNING_SECRET = "offline-signing-secret"  # values for the offline stand-ins only, not secrets
BOT_TOKEN = "xoxb-offline"
WEBHOOK_SECRET = "offline-webhook-secret"
SECRET_KEY = "offline-secret-key-for-tokens"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class FullApp:
    standin: SlackStandIn
    sim: SlackClientSim
    services: Services
    inbox: WebhookInbox
    settings: Settings
    server: HttpServer
    sender: BackgroundSender  # the delivery worker in the background (stop it to drive sends by hand)
    threads: ConversationThreads  # shows conversation events in their Slack threads

    def team(self, team_id: str) -> SlackClientSim:
        return SlackClientSim(self.sim.url, SIGNING_SECRET, team_id=team_id, slack=self.standin)

    def install(self, team_id: str = "", user: str = "", *, enterprise_id: str = "") -> install_browser.Page:
        """``user`` installs the app in ``team_id`` (or org-wide in ``enterprise_id``) from its link, through
        Slack's authorize page and the app's OAuth redirect (``full_app(from_a_link=True)``)."""
        page = install_browser.install(
            self.server.url, self.standin, user=user, team_id=team_id, enterprise_id=enterprise_id
        )
        assert page.status == 200 and "Thank you!" in page.body, page
        return page

    # -- reading what the app showed ---------------------------------------------------------------------
    def _shown_after(self, count: int, user: str, channel: str, clicked: tuple[str, str] | None) -> Any:
        """The first message the user sees change after ``count`` writes: the clicked one replaced, or a new
        one in that channel (an ephemeral one only for its user)."""
        for key in self.standin.writes[count:]:
            message = self.standin.message(*key)
            if message is None:
                continue
            if key == clicked or (key[0] == channel and (not message.ephemeral or message.user == user)):
                return message.snapshot()
        return None

    def message_with(self, needle: str) -> dict[str, Any] | None:
        """The newest message (as shown now) whose text or blocks contain ``needle``."""
        for key in reversed(self.standin.writes):
            message = self.standin.message(*key)
            if message is not None and needle in message.text + json.dumps(message.blocks):
                return message.snapshot()
        return None

    @staticmethod
    def _answered(answer: HttpAnswer, what: str) -> None:
        assert not answer.late, f"the app answered {what} after Slack's 3 seconds: Slack dropped the answer"
        assert answer.status == 200, answer

    def command(
        self, user: str, text: str = "", team: str = "T0001", channel: str = "C0001"
    ) -> dict[str, Any]:
        """Run /prospects and return the message it shows (posted through its response_url)."""
        before = len(self.standin.writes)
        self._answered(self.team(team).command(user, ids.COMMAND, text, channel_id=channel), "/prospects")
        found: dict[str, Any] = wait_for(
            lambda: self._shown_after(before, user, channel, None), what="a response to /prospects"
        )
        return found

    def click(
        self,
        user: str,
        message: dict[str, Any],
        action: dict[str, Any],
        team: str = "T0001",
        expect_response: bool = True,
    ) -> dict[str, Any] | None:
        """Use an element of ``message`` as the user sees it now; returns the message shown after, if any."""
        before = len(self.standin.writes)
        self._answered(self.team(team).click(user, message, action, team_id=team), action["action_id"])
        if not expect_response:
            return None
        clicked = (message["channel"], message["ts"])
        found: dict[str, Any] = wait_for(
            lambda: self._shown_after(before, user, message["channel"], clicked),
            what=f"a response to {action['action_id']}",
        )
        return found

    def click_in_view(
        self, user: str, view: dict[str, Any], action: dict[str, Any], team: str = "T0001"
    ) -> HttpAnswer:
        """Use an element of the open view ``view`` (what is typed in it: ``view["state"]["values"]``)."""
        values = (view.get("state") or {}).get("values") or {}
        answer = self.team(team).click_in_view(user, view["id"], action, values, team_id=team)
        self._answered(answer, action["action_id"])
        return answer

    def open_home(self, user: str, team: str = "T0001") -> dict[str, Any]:
        """The user opens the app's Home tab (``app_home_opened``); returns the view the app published."""
        before = len(self.standin.view_log)
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home"}
        self._answered(self.team(team).event(event, team_id=team), "app_home_opened")
        published: list[dict[str, Any]] = wait_for(
            lambda: [v for m, v in self.standin.view_log[before:] if m == "views.publish"],
            what="the Home tab",
        )
        return published[-1]

    def click_in_home(self, user: str, action: dict[str, Any], team: str = "T0001") -> HttpAnswer:
        """Use an element of the Home tab the app published for ``user``."""
        answer = self.team(team).click_in_home(user, action, team_id=team)
        self._answered(answer, action["action_id"])
        return answer

    def opened_after(self, count: int, method: str = "views.open") -> dict[str, Any]:
        """The first modal view opened by ``method`` (views.open or views.push) after the view log had ``count``
        entries, once the app has filled it in (it opens a "Preparing…" view first): the view as it is now."""
        opened: list[dict[str, Any]] = wait_for(
            lambda: [v for m, v in self.standin.view_log[count:] if m == method], what=method
        )
        view_id = opened[0]["id"]

        def filled() -> dict[str, Any] | None:
            view = self.standin.open_view(view_id)
            return view if view is not None and view.get("callback_id") != ids.CALLBACK_PREPARING else None

        found: dict[str, Any] = wait_for(filled, what=f"the view opened by {method}, filled in")
        return found

    def open_form(
        self, user: str, page: dict[str, Any], action: dict[str, Any], team: str = "T0001"
    ) -> dict[str, Any]:
        """Click ``action`` on a /prospects page and return the modal it opens."""
        seen = len(self.standin.view_log)
        self.click(user, page, action, team=team, expect_response=False)
        return self.opened_after(seen)

    def submit(
        self, user: str, view: dict[str, Any], values: dict[str, Any], team: str = "T0001"
    ) -> HttpAnswer:
        """Press Send on the open view ``view`` with ``values`` typed in it; Slack applies the answer."""
        answer = self.team(team).submit(user, view["id"], values, team_id=team)
        self._answered(answer, "the submission")
        return answer

    def close(
        self,
        user: str,
        view: dict[str, Any],
        values: dict[str, Any] | None = None,
        *,
        clear: bool = False,
        team: str = "T0001",
    ) -> HttpAnswer | None:
        """The user closes the open view ``view`` (``clear``: the whole modal) with ``values`` typed in it."""
        return self.team(team).close(user, view["id"], values, clear=clear, team_id=team)


DEFAULT_USERS = (
    SlackUser("U0001", "ann", "Ann Lee", "ann@brand.example", tz="Europe/London"),
    SlackUser("U0002", "wei", "张伟", "wei@brand.example", tz="Asia/Shanghai", locale="zh-CN"),
    SlackUser("U0009", "eve", "Eve Other", "eve@other.example", team_id="T0002"),
)


@contextmanager
def full_app(
    base: Settings,
    users: tuple[SlackUser, ...] = DEFAULT_USERS,
    *,
    clock: Clock | None = None,
    from_a_link: bool = False,
) -> Iterator[FullApp]:
    """The app on ``base`` settings (database, SMTP, clamd …) with Slack and the message webhook stood in.

    ``clock``: the app's clock (a test moves it days ahead for follow-ups and scheduled sends).
    ``from_a_link``: the app installs from a link (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SECRET_KEY set) and serves
    only the workspaces installed through its OAuth redirect (``FullApp.install``); without it, SLACK_BOT_TOKEN
    serves every workspace, as a single-workspace deployment does."""
    inbox = WebhookInbox(WEBHOOK_SECRET).start()
    with SlackStandIn(bot_token=BOT_TOKEN) as standin:
        for user in users:
            standin.add_user(user)
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        settings = replace(
            base,
            public_url=public_url,
            slack_bot_token="" if from_a_link else BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.api_url,
            messages_webhook_url=inbox.url,
            messages_webhook_secret=WEBHOOK_SECRET,
        )
        if from_a_link:
            standin.oauth.redirect_urls = [public_url + ids.OAUTH_REDIRECT_PATH]
            settings = replace(
                settings,
                slack_client_id=standin.oauth.client_id,
                slack_client_secret=standin.oauth.client_secret,
                secret_key=base.secret_key or SECRET_KEY,
            )
        services = build_services(settings, clock=clock)
        clients = workspace_clients(settings, services.installs)
        app = build_app(
            settings,
            lambda a: register_all(a, services),
            client=None if from_a_link else make_client(settings),
            first_delivery=services.redelivery.first_delivery,
            installs=services.installs,
        )
        server = HttpServer(WsgiApp(app, routes=extra_routes(services, clients)), port=port).start()
        sender = BackgroundSender(
            services,
            ProgressDM(services, clients, interval=0.2),
            poll_seconds=0.5,
            schedules=ScheduleDM(services, clients),
        ).start()
        threads = ConversationThreads(services, clients, sweep_seconds=0.3).start()
        try:
            yield FullApp(
                standin,
                SlackClientSim(server.url + "/slack/events", SIGNING_SECRET, slack=standin),
                services,
                inbox,
                settings,
                server,
                sender,
                threads,
            )
            if standin.refused:
                raise AssertionError(f"Slack would have refused what the app sent: {standin.refused}")
        finally:
            threads.stop()
            sender.stop()
            server.stop()
            inbox.stop()
            services.close()


# -- playing the Slack side: what a person clicks and types ---------------------------------------------------
def rows(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The prospect rows of a /prospects page."""
    return [b for b in message["blocks"] if b.get("block_id", "").startswith(ids.BLOCK_PICKS + "~")]


def mpid_of(row: dict[str, Any]) -> str:
    return str(row["elements"][0]["options"][0]["value"])


def row_of(message: dict[str, Any], mpid: str) -> dict[str, Any]:
    """The row of ``mpid`` on a /prospects page as it is shown now."""
    return next(r for r in rows(message) if mpid_of(r) == mpid)


def tick(row: dict[str, Any]) -> dict[str, Any]:
    """Ticking a row's checkbox."""
    return {
        "type": "checkboxes",
        "action_id": ids.ACTION_PICK,
        "block_id": row["block_id"],
        "selected_options": row["elements"][0]["options"],
    }


def more(row: dict[str, Any], verb: str) -> dict[str, Any]:
    """Choosing ``verb`` (message, email, details) in a row's More menu."""
    return {
        "type": "overflow",
        "action_id": ids.ACTION_ROW_MORE,
        "block_id": row["block_id"],
        "selected_option": {"value": f"{verb}:{mpid_of(row)}"},
    }


def button(message: dict[str, Any], action_id: str, value: str | None = None) -> dict[str, Any]:
    """Clicking the button ``action_id`` (the one carrying ``value``, when given) of a message or view."""
    for block in message["blocks"]:
        elements = [*block.get("elements", []), *([block["accessory"]] if block.get("accessory") else [])]
        for element in elements:
            if element.get("action_id") == action_id and value in (None, element.get("value")):
                return {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block["block_id"],
                    "value": element.get("value", ""),
                }
    raise LookupError(f"no {action_id} button")


def choose(message: dict[str, Any], action_id: str, value: str | bool) -> dict[str, Any]:
    """Picking ``value`` in a menu, or ticking (True) / unticking (False) a one-box checkbox, of a message."""
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") != action_id:
                continue
            if element["type"] == "checkboxes":
                return {
                    "type": "checkboxes",
                    "action_id": action_id,
                    "block_id": block["block_id"],
                    "selected_options": element["options"] if value else [],
                }
            return {
                "type": "static_select",
                "action_id": action_id,
                "block_id": block["block_id"],
                "selected_option": {"value": value},
            }
    raise LookupError(action_id)


def input_values(**fields: Any) -> dict[str, Any]:
    """``view.state.values`` of a form: text by block id; a list of Slack file objects for the attachments."""
    values: dict[str, Any] = {}
    for block, value in fields.items():
        if block == ids.BLOCK_ATTACHMENTS:
            values[block] = {ids.ACTION_INPUT: {"type": "file_input", "files": value}}
        else:
            values[block] = {ids.ACTION_INPUT: {"type": "plain_text_input", "value": value}}
    return values


def send_later(when: Any, *, local: bool = False) -> dict[str, Any]:
    """``view.state.values`` of the form's "Send later": the datetimepicker's instant as Slack sends it (a UNIX time
    in seconds, null when nothing is picked), and the "each partner's time zone" box ticked or not."""
    values: dict[str, Any] = {
        ids.BLOCK_SEND_AT: {
            ids.ACTION_INPUT: {
                "type": "datetimepicker",
                "selected_date_time": int(when.timestamp()) if when is not None else None,
            }
        }
    }
    if local:
        values[ids.BLOCK_SEND_LOCAL] = {
            ids.ACTION_INPUT: {"type": "checkboxes", "selected_options": [{"value": "local"}]}
        }
    return values


def followup_values(key: int, days: int, content: str, subject: str | None = None) -> dict[str, Any]:
    """``view.state.values`` of the follow-up step ``key``: a number_input's value is a string (SLACK.md §1.4)."""
    values: dict[str, Any] = {
        ids.followup_block(key, "days"): {ids.ACTION_INPUT: {"type": "number_input", "value": str(days)}},
        ids.followup_block(key, "content"): {
            ids.ACTION_INPUT: {"type": "plain_text_input", "value": content}
        },
    }
    if subject is not None:
        values[ids.followup_block(key, "subject")] = {
            ids.ACTION_INPUT: {"type": "plain_text_input", "value": subject}
        }
    return values

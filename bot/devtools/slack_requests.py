"""Requests exactly as Slack sends them: form-encoded bodies, signed with the signing secret.

``SlackClientSim`` plays the Slack side of a conversation with the app over HTTP: a slash command, a click on a
message or in a modal (``block_actions``), a modal submission (``view_submission``), a modal closed
(``view_closed``). Each request carries ``X-Slack-Request-Timestamp`` and
``X-Slack-Signature: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``. Used by the scenario tests and the offline demo.

With a stand-in attached (``slack=``), it is the user's Slack client: it clicks only what is on screen, and sends
only what Slack sends (../shared/SLACK.md §8):

* a slash command's text HTML-escaped (``&`` → ``&amp;``, ``<`` → ``&lt;``, ``>`` → ``&gt;``;
  https://api.slack.com/reference/surfaces/formatting#escaping);
* an action on an **ephemeral** message with ``container: {type: message, message_ts, channel_id, is_ephemeral:
  true}``, ``channel``, ``response_url``, ``trigger_id``, ``actions`` — and no ``message`` and no ``state`` (a
  payload captured from Slack in 2020 has exactly these keys; the 2020-09 change that added ``state`` is not
  relied on for ephemeral messages: the stricter reading);
* an action on a regular message with ``message`` and ``state`` as well; an action in a modal with ``view``
  (its ``state.values``) and no ``response_url`` (https://api.slack.com/reference/interaction-payloads/block-actions);
* triggers issued by the stand-in (single use, 3 seconds), and Slack's 3-second deadline for the answer: an answer
  that comes later is dropped, as Slack drops it (``HttpAnswer.late``);
* typing in an ``external_select`` (:meth:`SlackClientSim.suggest`): a ``block_suggestion`` with ``type``,
  ``user`` (``id``, ``name``, ``team_id``), ``container`` (``type: view``, ``view_id``), ``api_app_id``, ``token``,
  ``action_id``, ``block_id``, ``value`` (what was typed), ``team``, ``enterprise``, ``is_enterprise_install`` and
  ``view`` — the shape of slack-web-api-client's ``BlockSuggestion`` (seratch, Slack) and bolt-js
  ``BlockSuggestion`` (src/types/options/index.ts) —, sent only once ``min_query_length`` characters (Slack's
  default: 3) are typed; the answer must come within 3 seconds and be options Slack accepts (at most 100), and only
  an option it served can then be picked (:meth:`SlackClientSim.click_in_view`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.devtools import slack_events
from bot.devtools.slack_payloads import options_problems

if TYPE_CHECKING:
    from bot.devtools.slack_standin import SlackStandIn

ACK_SECONDS = 3.0  # Slack shows the user an error when the app answers later (SLACK.md §2.1)


def sign(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def escape_command_text(text: str) -> str:
    """What Slack does to a slash command's text before sending it (the three characters it escapes)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str]
    late: bool = False  # the app took longer than Slack waits: Slack dropped this answer

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackClientSim:
    def __init__(
        self,
        url: str,
        signing_secret: str,
        team_id: str = "T0001",
        team_domain: str = "standin",
        *,
        slack: SlackStandIn | None = None,
        deadline: float = ACK_SECONDS,
    ) -> None:
        self.url = url
        self.secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.slack = slack
        self.deadline = deadline
        self._triggers = itertools.count(1)

    # -- raw ---------------------------------------------------------------------------------------
    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        deadline: float | None = None,
    ) -> HttpAnswer:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = sign(self.secret, ts, body) if signature is None else signature
        request = urllib.request.Request(self.url, data=body.encode(), method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("X-Slack-Request-Timestamp", ts)
        request.add_header("X-Slack-Signature", sig)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=deadline or self.deadline) as resp:
                return HttpAnswer(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            with err:  # its connection is closed with it
                return HttpAnswer(err.code, err.read(), dict(err.headers))
        except TimeoutError:
            return HttpAnswer(0, b"", {}, late=True)
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                return HttpAnswer(0, b"", {}, late=True)
            raise

    def trigger_id(self, user_id: str = "", view_id: str = "") -> str:
        if self.slack is not None:
            return self.slack.new_trigger(user_id, view_id)
        return f"{next(self._triggers)}.{int(time.time())}.standin"

    def _team(self, team_id: str | None) -> dict[str, str]:
        return {"id": team_id or self.team_id, "domain": self.team_domain}

    def _user(self, user_id: str, team_id: str | None) -> dict[str, str]:
        return {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": team_id or self.team_id,
        }

    # -- what Slack sends ----------------------------------------------------------------------------
    def command(
        self,
        user_id: str,
        command: str,
        text: str = "",
        *,
        channel_id: str = "C0001",
        response_url: str = "",
        team_id: str | None = None,
        escape: bool = True,
        **extra: str,
    ) -> HttpAnswer:
        if not response_url and self.slack is not None:
            response_url = self.slack.new_response_url(channel_id, user_id)
        form = {
            "token": "deprecated-verification-token",
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": escape_command_text(text) if escape else text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.trigger_id(user_id),
            **extra,
        }
        return self.post(urllib.parse.urlencode(form))

    def event(
        self, event: dict[str, Any], *, event_id: str = "", team_id: str | None = None, **kw: Any
    ) -> HttpAnswer:
        """An Events API ``event_callback`` around ``event`` (bot/devtools/slack_events.py), POSTed as JSON."""
        payload = slack_events.callback(team_id or self.team_id, event, event_id)
        return self.post(json.dumps(payload), content_type="application/json", **kw)

    def write(
        self,
        user_id: str,
        text: str,
        *,
        thread_ts: str = "",
        files: list[dict[str, Any]] | None = None,
        channel: str = "",
        team_id: str | None = None,
        markup: bool = False,
        event_id: str = "",
        **kw: Any,
    ) -> tuple[HttpAnswer, dict[str, Any]]:
        """The user writes ``text`` in their DM with the app (in the thread ``thread_ts``), with ``files`` (file
        objects the stand-in made with ``add_file``): the message appears there and Slack sends ``message.im``.
        Returns the answer and the event."""
        slack = self._standin()
        channel = channel or slack.dm_channel(user_id)
        ids = tuple(str(f["id"]) for f in files or ())
        message = slack.user_message(user_id, channel, text, thread_ts=thread_ts, files=ids)
        team = team_id or self.team_id
        event = slack_events.im_message(
            team, user_id, channel, message.ts, text, thread_ts=thread_ts, files=files, markup=markup
        )
        return self.event(event, event_id=event_id, team_id=team, **kw), event

    def interaction(self, payload: dict[str, Any], **kw: Any) -> HttpAnswer:
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), **kw)

    def block_actions(
        self,
        user_id: str,
        actions: list[dict[str, Any]],
        *,
        container: dict[str, Any],
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        response_url: str = "",
        channel_id: str = "C0001",
        team_id: str | None = None,
        **kw: Any,
    ) -> HttpAnswer:
        """A raw ``block_actions`` payload, as given (a forged or hand-made one); :meth:`click` is Slack's."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": self._team(team_id),
            "user": self._user(user_id, team_id),
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": container,
            "trigger_id": self.trigger_id(user_id, str(container.get("view_id", ""))),
            "actions": [{"action_ts": f"{time.time():.6f}", **a} for a in actions],
        }
        if state is not None:
            payload["state"] = {"values": state}
        if container.get("type") == "message":
            payload["channel"] = {"id": channel_id, "name": "general"}
            payload["response_url"] = response_url
        if message is not None:
            payload["message"] = message
        if view is not None:
            payload["view"] = view
        return self.interaction(payload, **kw)

    def view_submission(
        self,
        user_id: str,
        view: dict[str, Any],
        values: dict[str, Any],
        team_id: str | None = None,
        **kw: Any,
    ) -> HttpAnswer:
        """A raw ``view_submission`` of ``view`` as given; :meth:`submit` submits what is on screen."""
        submitted = {**view, "state": {"values": values}}
        payload = {
            "type": "view_submission",
            "team": self._team(team_id),
            "user": self._user(user_id, team_id),
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "trigger_id": self.trigger_id(user_id, str(view.get("id", ""))),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.interaction(payload, **kw)

    # -- the user's Slack client (needs the stand-in) --------------------------------------------------
    def _standin(self) -> SlackStandIn:
        if self.slack is None:
            raise RuntimeError("attach the stand-in (slack=) to click, submit or close like a user")
        return self.slack

    def click(
        self, user_id: str, shown: dict[str, Any], action: dict[str, Any], team_id: str | None = None
    ) -> HttpAnswer:
        """Use an element of the message ``shown`` (a snapshot with its channel and ts) as it is on screen now."""
        slack = self._standin()
        message = slack.message(shown["channel"], shown["ts"])
        if message is None or (message.ephemeral and message.user != user_id):
            raise AssertionError(f"{user_id} cannot see message {shown['ts']} (gone, or someone else's)")
        element = _find(message.blocks, action)
        channel = message.channel
        container = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel,
            "is_ephemeral": message.ephemeral,
        }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, team_id),
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": container,
            "trigger_id": slack.new_trigger(user_id),
            "team": self._team(team_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "general"},
            "response_url": slack.new_response_url(channel, user_id, (channel, message.ts)),
            "actions": [_action(element, action)],
        }
        if not message.ephemeral:
            payload["message"] = message.payload(team_id or self.team_id)
            payload["state"] = {"values": _message_state(message.blocks)}
        return self.interaction(payload)

    def click_in_view(
        self,
        user_id: str,
        view_id: str,
        action: dict[str, Any],
        values: dict[str, Any] | None = None,
        team_id: str | None = None,
    ) -> HttpAnswer:
        """Use an element of the open view ``view_id``; ``values``: what the user typed in its inputs."""
        view = self._open(view_id)
        element = _find(view.get("blocks", []), action)
        if element.get("type") == "external_select":  # only what Slack showed can be picked
            key = (view_id, str(action.get("block_id", "")), str(element["action_id"]))
            served = self._standin().menu_options.get(key, [])
            element = {**element, "options": served}
        payload = {
            "type": "block_actions",
            "user": self._user(user_id, team_id),
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self._standin().new_trigger(user_id, view_id),
            "team": self._team(team_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**view, "state": {"values": values or {}}},
            "actions": [_action(element, action)],
        }
        return self.interaction(payload)

    def click_in_home(self, user_id: str, action: dict[str, Any], team_id: str | None = None) -> HttpAnswer:
        """Use an element of the Home tab the app last published for ``user_id`` (as Slack shows it to them)."""
        home = self._standin().modals.homes.get(user_id)
        if home is None:
            raise AssertionError(f"no Home tab was published for {user_id}: nothing to click")
        element = _find(home.get("blocks", []), action)
        payload = {
            "type": "block_actions",
            "user": self._user(user_id, team_id),
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "container": {"type": "view", "view_id": home["id"]},
            "trigger_id": self._standin().new_trigger(user_id),
            "team": self._team(team_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**home, "state": {"values": {}}},
            "actions": [_action(element, action)],
        }
        return self.interaction(payload)

    def suggest(
        self,
        user_id: str,
        view_id: str,
        block_id: str,
        action_id: str,
        value: str = "",
        *,
        team_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Type ``value`` in the external select of the open view ``view_id``: Slack asks the app for its options
        (``block_suggestion``) and shows them; returns what it shows."""
        view = self._open(view_id)
        element = _find(view.get("blocks", []), {"block_id": block_id, "action_id": action_id})
        if element.get("type") != "external_select":
            raise AssertionError(f"{action_id} is a {element.get('type')}, not an external_select")
        if len(value) < int(element.get("min_query_length", 3)):
            raise AssertionError("Slack asks for options only once min_query_length characters are typed")
        user = self._user(user_id, team_id)
        payload = {
            "type": "block_suggestion",
            "user": {"id": user["id"], "name": user["name"], "team_id": user["team_id"]},
            "container": {"type": "view", "view_id": view_id},
            "api_app_id": "A0001",
            "token": "deprecated-verification-token",
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": self._team(team_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**view, "state": {"values": {}}},
        }
        answer = self.interaction(payload)
        if answer.late or answer.status != 200:
            raise AssertionError(f"Slack shows no options: the answer was late or {answer.status}")
        refused = options_problems(answer.json())
        if refused:
            raise AssertionError(f"Slack would show none of these options: {refused}")
        options = list(answer.json().get("options") or [])
        self._standin().menu_options[(view_id, block_id, action_id)] = options
        return options

    def submit(
        self, user_id: str, view_id: str, values: dict[str, Any], team_id: str | None = None
    ) -> HttpAnswer:
        """Press the submit button of the open view ``view_id``; Slack then applies the answer."""
        slack = self._standin()
        view = self._open(view_id)
        if not view.get("submit"):  # Slack shows no submit button: nobody can submit the view
            raise AssertionError(f"view {view_id} has no submit button: nobody can submit it")
        version = slack.view_version(view_id)
        answer = self.view_submission(user_id, view, values, team_id)
        if not answer.late and answer.status == 200:
            refused = slack.answer_submission(view_id, version, answer.json())
            if refused:
                raise AssertionError(f"Slack would refuse the answer to the submission: {refused}")
        return answer

    def close(
        self,
        user_id: str,
        view_id: str,
        values: dict[str, Any] | None = None,
        *,
        clear: bool = False,
        team_id: str | None = None,
    ) -> HttpAnswer | None:
        """Close the open view ``view_id`` (``clear``: the whole modal, its X); ``view_closed`` when asked for."""
        closed = self._standin().close_view(view_id, clear=clear)
        if not closed:
            raise AssertionError(f"view {view_id} is not open")
        answer = None
        for view in closed:
            if not view.get("notify_on_close"):
                continue
            payload = {
                "type": "view_closed",
                "team": self._team(team_id),
                "user": self._user(user_id, team_id),
                "api_app_id": "A0001",
                "token": "deprecated-verification-token",
                "view": {**view, "state": {"values": values or {} if view["id"] == view_id else {}}},
                "is_cleared": clear,
                "is_enterprise_install": False,
                "enterprise": None,
            }
            answer = self.interaction(payload)
        return answer

    def _open(self, view_id: str) -> dict[str, Any]:
        view = self._standin().open_view(view_id)
        if view is None:
            raise AssertionError(f"view {view_id} is not open: nobody can click in it")
        return view


# -- building an action as Slack does, from the element on screen -------------------------------------------
def _find(blocks: list[dict[str, Any]], action: dict[str, Any]) -> dict[str, Any]:
    for block in blocks:
        if block.get("block_id") != action.get("block_id"):
            continue
        elements = list(block.get("elements") or [])
        elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in elements:
            if element.get("action_id") == action.get("action_id"):
                return dict(element)
    raise AssertionError(f"no element {action.get('action_id')} in block {action.get('block_id')} on screen")


def _action(element: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    kind = element.get("type")
    action: dict[str, Any] = {
        "type": kind,
        "action_id": element["action_id"],
        "block_id": chosen["block_id"],
        "action_ts": f"{time.time():.6f}",
    }
    options = element.get("options") or []
    if kind == "button":
        action["text"] = element.get("text")
        if "value" in element:
            if chosen.get("value", element["value"]) != element["value"]:
                raise AssertionError("a button's value is what the app put on it")
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    elif kind == "checkboxes":
        picked = [o.get("value") for o in chosen.get("selected_options") or []]
        action["selected_options"] = [_option(options, v) for v in picked]
    elif kind in ("static_select", "overflow", "radio_buttons", "external_select"):
        action["selected_option"] = _option(options, (chosen.get("selected_option") or {}).get("value"))
        if kind in ("static_select", "external_select") and "placeholder" in element:
            action["placeholder"] = element["placeholder"]
    else:
        raise AssertionError(f"the stand-in does not click {kind} elements yet")
    return action


def _option(options: list[dict[str, Any]], value: Any) -> dict[str, Any]:
    for option in options:
        if option.get("value") == value:
            return dict(option)
    raise AssertionError(f"no option {value!r} on screen")


def _message_state(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """``state.values`` of a message: the current choice of each stateful element."""
    values: dict[str, Any] = {}
    for block in blocks:
        for element in block.get("elements") or []:
            if element.get("type") == "checkboxes":
                chosen = {"type": "checkboxes", "selected_options": element.get("initial_options") or []}
            elif element.get("type") == "static_select":
                chosen = {"type": "static_select", "selected_option": element.get("initial_option")}
            else:
                continue
            values.setdefault(block.get("block_id", ""), {})[element["action_id"]] = chosen
    return values

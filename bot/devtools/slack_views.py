"""Modals and Home tabs as Slack keeps them, for the stand-in (bot/devtools/slack_standin.py).

* A ``trigger_id`` works once and for 3 seconds (``exchanged_trigger_id``, ``expired_trigger_id``; one never issued
  is ``invalid_trigger_id``): https://api.slack.com/interactivity/handling#modal_responses,
  https://api.slack.com/methods/views.open. ``views.push`` needs a trigger from an interaction in an open modal.
* A modal holds at most 3 views (``push_limit_reached``; https://api.slack.com/methods/views.push). A view the user
  closed is gone: ``views.update`` answers ``not_found``; a stale ``hash`` answers ``hash_conflict``
  (https://api.slack.com/methods/views.update; github.com/slackapi/bolt-js/issues/1309).
* A ``view_submission`` answer is applied as Slack applies it (SLACK.md §2.4): ``errors`` keep the view, ``update``
  replaces it, ``push`` stacks one, ``clear`` closes the modal, a plain ack closes the submitted view.
* Every view is checked as Slack checks it (bot/devtools/slack_payloads.py), its images downloaded as Slack
  downloads them (bot/devtools/slack_images.py).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devtools.slack_images import image_problems
from bot.devtools.slack_payloads import view_problems

TRIGGER_SECONDS = 3.0
MAX_VIEWS_IN_A_MODAL = 3
APP_ID, BOT_ID = "A0001", "BBOT"

Answer = dict[str, Any]


@dataclass
class Trigger:
    user: str
    issued: float
    view_id: str = ""  # the open view the interaction came from: views.push stacks onto its modal
    used: bool = False


class SlackViews:
    """The views of one workspace; ``lock`` and ``ids`` are the stand-in's, ``refused`` its list of refusals."""

    def __init__(
        self,
        team_id: str,
        lock: threading.RLock,
        ids: itertools.count[int],
        refused: list[tuple[str, list[str]]],
        known_user: Callable[[str], bool],
    ) -> None:
        self.team_id = team_id  # the workspace of the call being served (the stand-in sets it per call)
        self._lock = lock
        self._ids = ids
        self._refused = refused
        self._known_user = known_user
        self.views: dict[str, dict[str, Any]] = {}  # open views only: view id -> latest view
        self.stacks: dict[str, list[str]] = {}  # root view id -> the modal's views, bottom first
        self.homes: dict[str, dict[str, Any]] = {}  # user -> published Home tab
        # (views.open|push|update|publish, or response_action.update|push: a submission's answer; the view)
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.triggers: dict[str, Trigger] = {}
        self._versions: dict[str, int] = {}  # view id -> how many times it was written

    # -- the user's side ---------------------------------------------------------------------------
    def new_trigger(self, user: str, view_id: str = "") -> str:
        """A trigger for one interaction of ``user`` (from the open view ``view_id``, if any)."""
        trigger = f"{next(self._ids)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        with self._lock:
            self.triggers[trigger] = Trigger(user, time.monotonic(), view_id)
        return trigger

    def open_view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.views.get(view_id)

    def version(self, view_id: str) -> int:
        with self._lock:
            return self._versions.get(view_id, 0)

    def close(self, view_id: str, *, clear: bool = False) -> list[dict[str, Any]]:
        """The user closes the top view of a modal (``clear``: the whole modal); returns the views closed."""
        with self._lock:
            root = self.views.get(view_id, {}).get("root_view_id") or view_id
            stack = self.stacks.get(root, [])
            if view_id not in stack:
                return []
            if not clear and stack[-1] != view_id:
                raise AssertionError("only the top view of a modal can be closed on its own")
            closing = list(stack) if clear else [view_id]
            for vid in closing:
                stack.remove(vid)
            if not stack:
                self.stacks.pop(root, None)
            return [self.views.pop(vid) for vid in reversed(closing)]

    def answer_submission(self, view_id: str, version: int, answer: dict[str, Any] | None) -> list[str]:
        """Slack applying a ``view_submission`` answer; returns why it was refused, if it was.

        ``version``: the view's version when it was submitted. An app that already updated the view
        (``views.update`` after its ack) has the last word: the answer then no longer applies to what is shown.
        """
        action = (answer or {}).get("response_action")
        with self._lock:
            if view_id not in self.views:
                return ["the view was closed before the answer came"]
            if action == "errors":
                errors = (answer or {}).get("errors") or {}
                present = {b.get("block_id") for b in self.views[view_id].get("blocks", [])}
                unknown = [k for k in errors if k not in present]
                return [f"errors for blocks not in the view: {unknown}"] if unknown else []
            if action in ("update", "push"):
                view = (answer or {}).get("view") or {}
                problems = view_problems(view)
                if problems:
                    self._refused.append((f"view_submission {action}", problems))
                    return problems
                if action == "push":
                    return self._push(view_id, view, "response_action.push")
                if self._versions.get(view_id, 0) == version:
                    self._write(view_id, view, "response_action.update")
                return []
            if action == "clear":
                self.close(view_id, clear=True)
                return []
            if action is not None:
                return [f"unknown response_action {action!r}"]
            root = self.views[view_id].get("root_view_id") or view_id
            if self.stacks.get(root, [])[-1:] == [view_id]:
                self.close(view_id)  # a plain ack closes the submitted view
            return []

    # -- the Web API (called holding the stand-in's lock) ------------------------------------------
    def views_open(self, args: dict[str, Any], token: str) -> Answer:
        trigger = self._trigger(args)
        if isinstance(trigger, str):
            return {"ok": False, "error": trigger}
        view = self._checked(args)
        if view.get("ok") is False:
            return view
        vid = f"V{next(self._ids):08d}"
        self.stacks[vid] = [vid]
        return {"ok": True, "view": self._write(vid, view, "views.open")}

    def views_push(self, args: dict[str, Any], token: str) -> Answer:
        trigger = self._trigger(args)
        if isinstance(trigger, str):
            return {"ok": False, "error": trigger}
        if not trigger.view_id or trigger.view_id not in self.views:
            return {"ok": False, "error": "not_found"}  # a push needs an open modal to push onto
        view = self._checked(args)
        if view.get("ok") is False:
            return view
        if self._push(trigger.view_id, view, "views.push"):
            return {"ok": False, "error": "push_limit_reached"}
        return {"ok": True, "view": self.log[-1][1]}

    def views_update(self, args: dict[str, Any], token: str) -> Answer:
        vid = str(args.get("view_id") or "")
        if not vid and args.get("external_id"):
            vid = next((k for k, v in self.views.items() if v.get("external_id") == args["external_id"]), "")
        if vid not in self.views:
            return {"ok": False, "error": "not_found"}
        if args.get("hash") and args["hash"] != self.views[vid]["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = self._checked(args)
        if view.get("ok") is False:
            return view
        return {"ok": True, "view": self._write(vid, view, "views.update")}

    def views_publish(self, args: dict[str, Any], token: str) -> Answer:
        user = str(args.get("user_id", ""))
        if not self._known_user(user):
            return {"ok": False, "error": "user_not_found"}
        current = self.homes.get(user)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = self._checked(args)
        if view.get("ok") is False:
            return view
        vid = current["id"] if current else f"V{next(self._ids):08d}"
        self.homes[user] = self._write(vid, view, "views.publish")
        return {"ok": True, "view": self.homes[user]}

    # -- rules -------------------------------------------------------------------------------------
    def _trigger(self, args: dict[str, Any]) -> Trigger | str:
        trigger = self.triggers.get(str(args.get("trigger_id", "")))
        if trigger is None:
            return "invalid_trigger_id"
        if trigger.used:
            return "exchanged_trigger_id"
        if time.monotonic() - trigger.issued > TRIGGER_SECONDS:
            return "expired_trigger_id"
        trigger.used = True
        return trigger

    def _checked(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        problems = view_problems(view)
        if not problems:
            problems = image_problems(view.get("blocks"))  # type: ignore[union-attr]  # a dict: checked
        if problems:
            self._refused.append(("views", problems))
            error = "view_too_large" if "view_too_large" in problems else "invalid_arguments"
            if problems[0].startswith("invalid_blocks"):
                error = "invalid_blocks"
            return {"ok": False, "error": error, "response_metadata": {"messages": problems}}
        return dict(view)  # type: ignore[arg-type]

    def _write(self, vid: str, view: dict[str, Any], method: str, **extra: Any) -> dict[str, Any]:
        previous = self.views.get(vid, {})
        stored = {
            **view,
            "id": vid,
            # A view stays its workspace's: a submission's answer is applied outside any Web API call (when
            # ``self.team_id`` is the last caller's, maybe another workspace's), so it keeps the view's own.
            "team_id": extra.get("team_id") or previous.get("team_id") or self.team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": extra.get("root_view_id", previous.get("root_view_id", vid)),
            "previous_view_id": extra.get("previous_view_id", previous.get("previous_view_id")),
            "state": {"values": {}},
        }
        if method != "views.publish":
            self.views[vid] = stored
        self._versions[vid] = self._versions.get(vid, 0) + 1
        self.log.append((method, stored))
        return stored

    def _push(self, from_view: str, view: dict[str, Any], method: str) -> list[str]:
        root = self.views[from_view].get("root_view_id") or from_view
        stack = self.stacks.setdefault(root, [from_view])
        if len(stack) >= MAX_VIEWS_IN_A_MODAL:
            return ["push_limit_reached"]
        vid = f"V{next(self._ids):08d}"
        stack.append(vid)
        team = self.views[from_view].get("team_id")
        self._write(vid, view, method, root_view_id=root, previous_view_id=stack[-2], team_id=team)
        return []

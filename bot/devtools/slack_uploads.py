"""Slack's external file upload, for the stand-in (bot/devtools/slack_standin.py): three steps, as strict as Slack.

1. ``files.getUploadURLExternal`` (``filename``, ``length`` in bytes) answers an ``upload_url`` and a ``file_id``
   (https://docs.slack.dev/reference/methods/files.getUploadURLExternal). ``length`` 0 or missing is
   ``missing_argument`` ("Typically only occurs when the length provided is 0"), an ``alt_txt`` over 1,000
   characters ``alt_txt_too_large`` (the same page's errors).
2. A POST of the bytes to the upload URL, "as raw bytes or multipart form encoded"; "Slack will return HTTP 200 if
   the upload is successful; a non-200 response indicates a failure" (the same page). No token is needed: the URL
   is the ticket. The stand-in takes the bytes once: a second POST to the same URL is refused (the stricter
   reading: Slack says nothing of a second upload to one ticket).
3. ``files.completeUploadExternal`` (``files``: a JSON array of ``{"id", "title"}``; ``channel_id``;
   ``thread_ts``; ``initial_comment``) shares the files
   (https://docs.slack.dev/reference/methods/files.completeUploadExternal). An id that is no upload ticket, or
   whose bytes never came, is ``file_not_found`` ("Could not find the file from the upload ticket"); a ticket is
   completed once. Bytes that are not the declared ``length`` — more or fewer — are refused as
   ``file_not_found`` too: Slack documents no error for them, and the stricter reading is that such an upload
   does not become a file. ``thread_ts`` "Never use a reply's ts value; use its parent instead. Also make sure
   to provide only one channel when using 'thread_ts'": a ``thread_ts`` that is no message of ``channel_id`` is
   refused (``thread_not_found``, as for ``chat.postMessage``: bot/devtools/slack_messages.py), a reply's ts
   with ``cannot_reply_to_message``, and ``thread_ts`` without one ``channel_id`` with ``invalid_arguments``. A
   ``channel_id`` that is no channel is ``channel_not_found``. Both methods need ``files:write``
   (SLACK.md §5.1, Tier 4, which bot/devtools/slack_limits.py enforces).

Once complete, each file is a file of the workspace (``files.info`` shows it with its ``size``) and one message in
the channel (or thread) shares them all, with ``initial_comment`` as its text.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from bot.devtools.slack_messages import Message, SlackMessages

Answer = dict[str, Any]
MAX_ALT_TEXT = 1000


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    data: bytes | None = None  # the bytes POSTed to the upload URL, once
    completed: bool = False


class SlackUploads:
    """Upload tickets of one workspace; ``store(file_id, name, data, mimetype)`` keeps a completed file (the
    stand-in's files), ``known_channel(channel)`` says whether a channel exists."""

    def __init__(
        self,
        ids: itertools.count[int],
        chat: SlackMessages,
        store: Callable[[str, str, bytes, str], dict[str, Any]],
        known_channel: Callable[[str], bool],
    ) -> None:
        self._ids = ids
        self._chat = chat
        self._store = store
        self._known_channel = known_channel
        self.tickets: dict[str, Upload] = {}  # upload URL key → ticket
        self.refused_posts: list[tuple[str, int]] = []  # (key, HTTP status) of every refused POST

    def get_upload_url(self, args: dict[str, Any], base_url: str) -> Answer:
        filename = str(args.get("filename") or "")
        try:
            length = int(str(args.get("length") or "0"))
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return {"ok": False, "error": "missing_argument"}
        if len(str(args.get("alt_txt") or "")) > MAX_ALT_TEXT:
            return {"ok": False, "error": "alt_txt_too_large"}
        file_id = f"F{next(self._ids):08d}"
        key = secrets.token_hex(8)
        self.tickets[key] = Upload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{base_url}/upload/v1/{key}", "file_id": file_id}

    def receive(self, key: str, body: bytes, content_type: str) -> int:
        """A POST to the upload URL ``key``: the HTTP status Slack answers."""
        ticket = self.tickets.get(key)
        status = 200
        if ticket is None:
            status = 404
        elif ticket.data is not None or ticket.completed:
            status = 409  # the bytes come once
        else:
            multipart = content_type.startswith("multipart/form-data")
            ticket.data = _file_part(body, content_type) if multipart else body
            if ticket.data is None:
                status = 400
        if status != 200:
            self.refused_posts.append((key, status))
        return status

    def complete(self, args: dict[str, Any]) -> Answer:
        try:
            listed = json.loads(str(args.get("files") or ""))
        except ValueError:
            listed = None
        if not isinstance(listed, list) or not listed or not all(isinstance(f, dict) for f in listed):
            return {"ok": False, "error": "invalid_arguments"}
        channel, thread_ts = str(args.get("channel_id") or ""), str(args.get("thread_ts") or "")
        if thread_ts and (not channel or "," in str(args.get("channels") or "")):
            return {"ok": False, "error": "invalid_arguments"}
        if channel and not self._known_channel(channel):
            return {"ok": False, "error": "channel_not_found"}
        wrong_thread = self._chat.thread_problem(channel, thread_ts) if channel else ""
        if wrong_thread:
            return {"ok": False, "error": wrong_thread}
        found = [self._ticket(str(f.get("id") or "")) for f in listed]
        tickets = [t for t in found if t is not None and not t.completed and t.data is not None]
        if len(tickets) != len(found) or any(len(t.data or b"") != t.length for t in tickets):
            return {"ok": False, "error": "file_not_found"}
        shared = []
        for ticket, listed_file in zip(tickets, listed, strict=True):
            assert ticket.data is not None
            ticket.completed = True
            mimetype = mimetypes.guess_type(ticket.filename)[0] or "application/octet-stream"
            stored = self._store(ticket.file_id, ticket.filename, ticket.data, mimetype)
            shared.append({**stored, "title": str(listed_file.get("title") or ticket.filename)})
        if channel:
            ts = self._chat.new_ts()
            comment = str(args.get("initial_comment") or "")
            self._chat.add(
                Message(
                    channel, ts, comment, [], thread_ts=thread_ts, files=tuple(t.file_id for t in tickets)
                )
            )
        return {"ok": True, "files": shared}

    def _ticket(self, file_id: str) -> Upload | None:
        return next((t for t in self.tickets.values() if t.file_id == file_id), None)


def _file_part(body: bytes, content_type: str) -> bytes | None:
    """The file of a ``multipart/form-data`` body (its first part with a filename), as curl ``-F`` sends it."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_filename() is not None:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None

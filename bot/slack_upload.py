"""Putting files into a Slack thread with Slack's external upload, byte-identical.

Three steps per Slack's reference (https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
https://docs.slack.dev/reference/methods/files.completeUploadExternal; python-slack-sdk's ``files_upload_v2`` does
the same): ``files.getUploadURLExternal`` with the file's name and exact ``length`` gives an upload URL and a file
id; the bytes are POSTed to that URL as they are ("raw bytes", no token: the URL is the ticket), and Slack answers
200 when it has them; ``files.completeUploadExternal`` with every file id, ``channel_id`` and ``thread_ts`` (the
thread's parent) shares them in the thread, in one message. Needs ``files:write``.

The upload URL must be one the app trusts with Slack's data (:meth:`bot.files.SlackFiles.allowed`: Slack's own
hosts, or ``SLACK_API_URL``'s): the partner's file is not sent anywhere else, and no redirect is followed.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient

from outreach.models import Attachment

UPLOAD_TIMEOUT = 60.0


class UploadFailed(Exception):
    """The bytes of ``name`` did not reach Slack (``detail`` is for the log); trying again later may work."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"{name}: {detail}")


class _NoRedirects(urllib.request.HTTPErrorProcessor):
    """Every answer as it is: a redirect is not followed, a status raises nothing."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


_OPENER = urllib.request.build_opener(_NoRedirects)


def upload_into_thread(
    client: WebClient,
    files: Sequence[Attachment],
    channel: str,
    thread_ts: str,
    allowed: Callable[[str], bool],
    *,
    spend: Callable[[], None] = lambda: None,
) -> list[str]:
    """Upload ``files`` into the thread ``thread_ts`` of ``channel``; the Slack file ids. ``spend`` is called
    before each Web API call (a rate budget). Raises ``SlackApiError`` (Slack refused a call) or
    :class:`UploadFailed` (the bytes did not get there)."""
    tickets: list[dict[str, str | None]] = []
    for file in files:
        spend()
        answer = client.files_getUploadURLExternal(filename=file.filename, length=file.size)
        url, file_id = str(answer["upload_url"]), str(answer["file_id"])
        if not allowed(url):
            raise UploadFailed(file.filename, f"upload URL outside Slack: {url}")
        _post(file, url)
        tickets.append({"id": file_id, "title": file.filename})
    spend()
    client.files_completeUploadExternal(files=tickets, channel_id=channel, thread_ts=thread_ts)
    return [str(t["id"]) for t in tickets]


def _post(file: Attachment, url: str) -> None:
    # Only URLs that allowed() accepted: https to Slack, or http to the loopback API host (the stand-in).
    request = urllib.request.Request(  # noqa: S310
        url, data=file.data, method="POST", headers={"Content-Type": "application/octet-stream"}
    )
    try:
        with _OPENER.open(request, timeout=UPLOAD_TIMEOUT) as response:
            status = int(response.status)
            response.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise UploadFailed(file.filename, f"{url}: {err}") from None
    if status != 200:
        raise UploadFailed(file.filename, f"{url}: HTTP {status}")

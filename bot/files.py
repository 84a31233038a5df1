"""Downloading the files a user put in a ``file_input``.

Only from the Web API's own host (``SLACK_API_URL``: Slack, GovSlack, or the local stand-in) or Slack's file
hosts, with the bot token, never following a redirect elsewhere with the token attached. An answer that is not
the file — Slack's sign-in page comes back as a 200 HTML page when the token is wrong (SLACK.md §1.5) — is an
error, and so is a file larger than the limit (read no further than one byte past it).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

SLACK_FILE_HOSTS = ("files.slack.com", "files-edu.slack.com", "files.slack-gov.com", "slack-files.com")


class DownloadFailed(Exception):
    """``reason`` is a catalog key (``files.too_large`` …) for the user; ``detail`` is for the log."""

    def __init__(self, name: str, reason: str, detail: str = "") -> None:
        self.name = name
        self.reason = reason
        self.detail = detail
        super().__init__(f"{name}: {reason} {detail}".strip())


@dataclass(frozen=True)
class Downloaded:
    name: str
    data: bytes
    slack_id: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is answered as an error below, never followed with the token


class SlackFiles:
    def __init__(self, api_url: str, max_bytes: int, timeout: float = 30.0) -> None:
        api_host = urllib.parse.urlsplit(api_url).hostname or ""
        self._hosts = {api_host, *SLACK_FILE_HOSTS}
        self._max = max_bytes
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def allowed(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and loopback)
        return scheme_ok and (parts.hostname or "") in self._hosts

    def download(self, file: dict[str, Any], token: str) -> Downloaded:
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not url or not self.allowed(url):
            raise DownloadFailed(name, "files.bad_host", url)
        if int(file.get("size") or 0) > self._max:
            raise DownloadFailed(name, "files.too_large", str(file.get("size")))
        # The scheme and host were checked by allowed() just above.
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as resp:
                ctype = resp.headers.get("Content-Type", "")
                data = resp.read(self._max + 1)
        except urllib.error.HTTPError as err:
            raise DownloadFailed(name, "files.download_failed", f"HTTP {err.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise DownloadFailed(name, "files.download_failed", str(err)) from None
        if len(data) > self._max:
            raise DownloadFailed(name, "files.too_large", f"> {self._max}")
        expected_html = str(file.get("filetype", "")).lower() in ("html", "htm")
        if not expected_html and (ctype.startswith("text/html") or _looks_like_html(data)):
            raise DownloadFailed(name, "files.not_the_file", ctype)
        return Downloaded(name, data, str(file.get("id", "")))


def _looks_like_html(data: bytes) -> bool:
    head = data[:256].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))

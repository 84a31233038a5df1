"""Downloading the files a user put in a ``file_input``, with the bot token, from Slack and nowhere else.

The rules, in the order they apply:

* The URL is the file's ``url_private_download``, else its ``url_private`` (SLACK.md §1.5).
* Every URL we request — the first one and each redirect target — must be **allowed** before any request is
  made to it: https to one of Slack's own domains (:data:`SLACK_DOMAINS`) or any of their subdomains, or to
  the exact host and port of ``SLACK_API_URL``; plain http only to a loopback host, and then only if it is
  that same API host and port (the local stand-in). Hosts are compared literally, label by label:
  ``files.slack.com`` is Slack's, ``evilslack.com``, ``slack.com.evil.example`` and ``files.slack.com.``
  are not. A URL with anything but a plain host (and port) in its authority — ``user@``, ``\\``, ``%`` — is
  not allowed.
* The bearer token goes with every request, so it only ever reaches allowed hosts.
* Redirects (301, 302, 303, 307, 308) are followed by hand, at most :data:`MAX_REDIRECTS`, a relative
  ``Location`` resolved against the URL that answered it; Slack does redirect bot downloads (Enterprise
  Grid: ``files.slack.com`` → ``files-origin.slack.com``; SLACK.md §8.3). A redirect to a URL that is not
  allowed is ``files.bad_redirect``; one more redirect than the limit, or back to a URL already visited,
  is ``files.too_many_redirects``. Either way the target is never requested.
* The file may be no larger than the limit: the file object's ``size``, the final answer's
  ``Content-Length`` and the bytes read are each checked, and we read no further than one byte past it
  (``files.too_large``).
* An answer that is not the file is an error: any other status is ``files.download_failed``, and Slack's
  sign-in page — a 200 HTML page when the token or the ``files:read`` scope is wrong (SLACK.md §1.5, §8.3)
  — is ``files.not_the_file`` unless the file itself is HTML.

Every refusal is a :class:`DownloadFailed` naming the file; its ``reason`` is a catalog key for the user and
its ``detail`` (URLs, hosts, statuses) is for the log only.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

# Slack's own domains; each is allowed with all its subdomains.
#  * slack.com, slack-gov.com: slack-go v0.30.1 sends the token only to these and their subdomains
#    (https://github.com/slack-go/slack/releases/tag/v0.30.1, GHSA-3q3v-34v2-g88f).
#  * slack-edge.com, slack-files.com: Slack's CDN and file domains (SLACK.md §8.3).
#  * slack-edge-gov.com, slack-files-gov.com: the GovSlack counterparts, as listed by Slack's own desktop app
#    (Slack 4.33.73, src/common/constants/url.ts: SLACK_GOV_DOWNLOAD_DOMAINS = slack-gov.com,
#    slack-files-gov.com; SLACK_IMAGE_DOMAINS includes slack-edge-gov.com, e.g. spellcheck.slack-edge-gov.com).
SLACK_DOMAINS = (
    "slack.com",
    "slack-edge.com",
    "slack-files.com",
    "slack-gov.com",
    "slack-edge-gov.com",
    "slack-files-gov.com",
)
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_PLAIN_AUTHORITY = re.compile(r"(?:[a-z0-9.-]+|\[::1\])(?::[0-9]{1,5})?", re.IGNORECASE)


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


def is_slack_host(host: str) -> bool:
    """True for one of :data:`SLACK_DOMAINS` or a subdomain of one (exact on label boundaries)."""
    host = host.lower()
    return any(host == domain or host.endswith("." + domain) for domain in SLACK_DOMAINS)


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str
    content_type: str
    data: bytes


class _KeepEveryAnswer(urllib.request.HTTPErrorProcessor):
    """Hands back every response as it is: no redirect is followed and no status raises."""

    def http_response(self, request: Any, response: Any) -> Any:
        return response

    https_response = http_response


class SlackFiles:
    def __init__(self, api_url: str, max_bytes: int, timeout: float = 30.0) -> None:
        self._api_origin = _origin(api_url)
        self._max = max_bytes
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_KeepEveryAnswer)

    def allowed(self, url: str) -> bool:
        """May this URL be requested with the bot token? (the rules in the module docstring)"""
        parts = urllib.parse.urlsplit(url)
        if not _PLAIN_AUTHORITY.fullmatch(parts.netloc):
            return False
        host = parts.hostname or ""
        is_api_host = bool(host) and _origin(url) == self._api_origin
        if parts.scheme == "https":
            return is_slack_host(host) or is_api_host
        return parts.scheme == "http" and host in LOOPBACK_HOSTS and is_api_host

    def download(self, file: dict[str, Any], token: str) -> Downloaded:
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not url or not self.allowed(url):
            raise DownloadFailed(name, "files.bad_host", url)
        if int(file.get("size") or 0) > self._max:
            raise DownloadFailed(name, "files.too_large", str(file.get("size")))
        answer = self._follow(name, url, token)
        if answer.status != 200:
            raise DownloadFailed(name, "files.download_failed", f"HTTP {answer.status}")
        expected_html = str(file.get("filetype", "")).lower() in ("html", "htm")
        looks_html = answer.content_type.startswith("text/html") or _looks_like_html(answer.data)
        if looks_html and not expected_html:
            raise DownloadFailed(name, "files.not_the_file", answer.content_type)
        return Downloaded(name, answer.data, str(file.get("id", "")))

    def _follow(self, name: str, url: str, token: str) -> _Answer:
        """GET ``url`` (already allowed), following at most MAX_REDIRECTS redirects to allowed URLs."""
        visited = [url]
        while True:
            answer = self._get(name, url, token)
            if answer.status not in REDIRECT_STATUSES:
                return answer
            if not answer.location:
                raise DownloadFailed(name, "files.download_failed", f"HTTP {answer.status} without Location")
            target = urllib.parse.urljoin(url, answer.location)
            if not self.allowed(target):
                host = urllib.parse.urlsplit(target).hostname
                raise DownloadFailed(name, "files.bad_redirect", f"{url} -> {target} (host {host!r})")
            if target in visited or len(visited) > MAX_REDIRECTS:
                raise DownloadFailed(name, "files.too_many_redirects", " -> ".join([*visited, target]))
            visited.append(target)
            url = target

    def _get(self, name: str, url: str, token: str) -> _Answer:
        # Only called with URLs that allowed() accepted: https, or http to the loopback API host.
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as resp:
                status = int(resp.status)
                location = resp.headers.get("Location", "")
                ctype = resp.headers.get("Content-Type", "")
                if status != 200:
                    return _Answer(status, location, ctype, b"")
                length = resp.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > self._max:
                    raise DownloadFailed(name, "files.too_large", f"Content-Length {length}")
                data = resp.read(self._max + 1)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            raise DownloadFailed(name, "files.download_failed", f"{url}: {err}") from None
        if len(data) > self._max:
            raise DownloadFailed(name, "files.too_large", f"> {self._max}")
        return _Answer(status, location, ctype, data)


def _origin(url: str) -> tuple[str, int | None]:
    """(host, port) with the scheme's default port filled in; ``("", None)`` when there is no host."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return ("", None)
    return ((parts.hostname or "").lower(), port)


def _looks_like_html(data: bytes) -> bool:
    head = data[:256].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))

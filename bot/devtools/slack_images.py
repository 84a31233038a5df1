"""Slack downloads every ``image`` block's ``image_url`` when a message or view is sent, and refuses the whole call
when it cannot: ``invalid_blocks`` with ``downloading image failed [json-pointer:/blocks/N/image_url]`` (captured
from Slack for an ``image_url`` on localhost: github.com/otiai10/amesh-bot/issues/24; intermittently for valid
URLs: github.com/slackapi/python-slack-sdk/issues/1782). Slack takes PNG, JPEG and GIF (not WebP:
github.com/slackapi/node-slack-sdk/issues/1482).

The stand-in does the same download, from loopback only (it plays Slack on this machine, and nothing may reach
any other address): an address elsewhere, an answer other than 200, a type other than ``image/png``, ``image/jpeg``
or ``image/gif``, or bytes that are not that image, is refused as Slack refuses it.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 10.0
MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}


def _loopback(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _downloads(url: str) -> bool:
    if not _loopback(url):
        return False
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=TIMEOUT) as answer:
            kind = answer.headers.get_content_type()
            data = answer.read(5_000_000)
            return answer.status == 200 and kind in MAGIC and data.startswith(MAGIC[kind])
    except (urllib.error.URLError, OSError, ValueError):
        return False


def image_problems(blocks: Any) -> list[str]:
    """The image blocks whose ``image_url`` Slack could not download, as Slack words it."""
    problems: list[str] = []
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict) or block.get("type") != "image" or "image_url" not in block:
            continue
        if not _downloads(str(block["image_url"])):
            problems.append(f"invalid_blocks: downloading image failed [json-pointer:/blocks/{i}/image_url]")
    return problems

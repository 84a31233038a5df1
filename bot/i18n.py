"""Message catalogs (English and Simplified Chinese) and the choice of locale.

Catalogs are JSON files in ``bot/locales/`` mapping a key to a text with ``{named}`` placeholders. The user's
Slack locale (users.info with include_locale) picks the catalog: ``zh-CN``/``zh-Hans``/``zh-SG``/plain ``zh``
get Simplified Chinese, everything else English. A key missing from a catalog falls back to English (a test
keeps both catalogs complete). Token names such as ``{firstName}`` are never translated.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"


def choose_locale(slack_locale: str | None) -> str:
    tag = (slack_locale or "").replace("_", "-").lower()
    if tag in ("zh", "zh-cn", "zh-hans", "zh-sg") or tag.startswith("zh-hans"):
        return "zh-CN"
    return DEFAULT_LOCALE


@cache
def catalog(locale: str) -> dict[str, str]:
    text = resources.files("bot").joinpath("locales", f"{locale}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


class _Safe(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """``t("compose.subject")`` → the text in the user's language, placeholders filled."""

    def __init__(self, locale: str = DEFAULT_LOCALE, tz: str = "UTC") -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        try:
            self.tz = ZoneInfo(tz or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = ZoneInfo("UTC")

    def __call__(self, key: str, **params: object) -> str:
        text = catalog(self.locale).get(key) or catalog(DEFAULT_LOCALE).get(key)
        if text is None:
            raise KeyError(f"no message {key!r} in the catalogs")
        return text.format_map(_Safe(params)) if params else text

    def when(self, at: datetime | None) -> str:
        """A time shown in Slack, in the user's own time zone and language."""
        if at is None:
            return self("common.never")
        babel_locale = "zh_Hans_CN" if self.locale == "zh-CN" else "en_US"
        return format_datetime(at, "medium", tzinfo=self.tz, locale=babel_locale)

    def number(self, n: int) -> str:
        return f"{n:,}"

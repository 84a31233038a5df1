import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.i18n import Translator, catalog, choose_locale

ROOT = Path(__file__).resolve().parents[2]


def test_both_catalogs_have_the_same_keys():
    assert set(catalog("en")) == set(catalog("zh-CN"))


def test_placeholders_agree_between_languages():
    for key, english in catalog("en").items():
        chinese = catalog("zh-CN")[key]
        assert set(re.findall(r"{(\w+)}", english)) == set(re.findall(r"{(\w+)}", chinese)), key


def test_every_key_the_code_asks_for_exists():
    used = set()
    for path in (ROOT / "bot").rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[\w.]*\w)["']""", path.read_text()))
    missing = sorted(k for k in used if k not in catalog("en"))
    assert not missing
    assert len(used) > 20


@pytest.mark.parametrize(
    ("slack_locale", "expected"),
    [
        ("zh-CN", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-US", "en"),
        ("fr-FR", "en"),
        (None, "en"),
        ("zh-TW", "en"),
    ],
)
def test_the_slack_locale_chooses_the_catalog(slack_locale, expected):
    assert choose_locale(slack_locale) == expected


def test_the_help_page_wording_is_used_in_chinese():
    t = Translator("zh-CN")
    assert t("compose.sender_name") == "发件人名称"
    assert t("compose.reply_to") == "回复电子邮件"
    assert t("compose.subject") == "主题"
    assert t("compose.content") == "内容"
    assert t("list.title") == "潜在客户"


def test_times_are_shown_in_the_users_time_zone():
    at = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
    assert "11:14" in Translator("zh-CN", "Asia/Shanghai").when(at)
    assert "10:14" in Translator("en", "America/New_York").when(at)
    assert "Jan 18" in Translator("en", "America/New_York").when(at)


def test_an_unknown_time_zone_falls_back_to_utc():
    at = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
    assert "3:14" in Translator("en", "Mars/Olympus").when(at)


def test_token_names_stay_untranslated_in_chinese_text():
    assert "{firstName}" in Translator("zh-CN")("compose.content_ph").replace("{{", "{")

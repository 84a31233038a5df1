"""Downloading file_input uploads from the (stand-in) Slack file host."""

import pytest

from bot.devtools.slack_standin import SlackStandIn
from bot.files import DownloadFailed, SlackFiles


@pytest.fixture(scope="module")
def standin():
    with SlackStandIn(bot_token="xoxb-files") as s:
        yield s


def test_a_file_is_downloaded_with_the_bot_token(standin):
    obj = standin.add_file("report.pdf", b"%PDF-1.4 data", "application/pdf")
    got = SlackFiles(standin.api_url, 1024).download(obj, "xoxb-files")
    assert got.data == b"%PDF-1.4 data" and got.name == "report.pdf" and got.slack_id == obj["id"]


def test_slacks_sign_in_page_is_not_taken_for_the_file(standin):
    obj = standin.add_file("report.pdf", b"%PDF-1.4 data", "application/pdf")
    with pytest.raises(DownloadFailed) as err:
        SlackFiles(standin.api_url, 1024).download(obj, "xoxb-wrong-token")
    assert err.value.reason == "files.not_the_file"


def test_a_file_over_the_limit_is_refused_without_reading_it_all(standin):
    obj = standin.add_file("big.csv", b"a,b\n" * 1000, "text/csv")
    with pytest.raises(DownloadFailed) as err:
        SlackFiles(standin.api_url, 100).download({**obj, "size": 0}, "xoxb-files")
    assert err.value.reason == "files.too_large"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/files/F1",
        "http://files.slack.com/x",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "",
    ],
)
def test_urls_off_slacks_hosts_are_never_fetched(standin, url):
    with pytest.raises(DownloadFailed) as err:
        SlackFiles(standin.api_url, 1024).download({"name": "x.pdf", "url_private": url}, "xoxb-files")
    assert err.value.reason == "files.bad_host"


def test_slacks_own_file_host_is_allowed():
    files = SlackFiles("https://slack.com/api/", 1024)
    assert files.allowed("https://files.slack.com/files-pri/T1-F1/x.pdf")
    assert not files.allowed("https://files.slack.com.evil.example/x.pdf")

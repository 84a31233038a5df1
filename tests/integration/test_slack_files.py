"""Downloading file_input uploads from the (stand-in) Slack file host, and following Slack's redirects."""

import contextlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.devtools.slack_standin import SlackStandIn
from bot.files import DownloadFailed, SlackFiles, is_slack_host
from bot.i18n import catalog


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


# --- Redirects: a small file host of our own on loopback, so each hop and its token can be seen. ---


class FileHost:
    """An HTTP server on ``address`` answering from ``routes``; it records (path, Authorization) per request."""

    def __init__(self, address: str) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.unsized: set[str] = set()  # paths answered without Content-Length (the body ends at close)
        self.requests: list[tuple[str, str]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests.append((self.path, self.headers.get("Authorization", "")))
                status, headers, body = host.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if self.path not in host.unsized:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may stop reading past its limit
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = (status, {"Location": location}, b"")

    def serve(self, path: str, body: bytes, ctype: str = "application/pdf") -> None:
        self.routes[path] = (200, {"Content-Type": ctype}, body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def api():
    """Stands for Slack: its URL is the SLACK_API_URL host, so the token may go there."""
    host = FileHost("127.0.0.1")
    yield host
    host.close()


@pytest.fixture
def foreign():
    """Another loopback host that is not the API host: the token must never reach it."""
    host = FileHost("127.0.0.2")
    yield host
    host.close()


TOKEN = "xoxb-redirects"
BEARER = f"Bearer {TOKEN}"
PDF = b"%PDF-1.4 the real file"


def _files(api: FileHost, max_bytes: int = 1024) -> SlackFiles:
    return SlackFiles(api.url + "/api/", max_bytes, timeout=5)


def _file(url: str) -> dict[str, object]:
    return {"id": "F1", "name": "report.pdf", "filetype": "pdf", "url_private_download": url}


def test_a_redirect_chain_on_slacks_hosts_is_followed_with_the_token_at_every_hop(api):
    api.redirect("/files/F1/report.pdf", f"{api.url}/origin/F1")  # absolute Location
    api.redirect("/origin/F1", "../edge/F1/report.pdf", status=307)  # relative Location
    api.serve("/edge/F1/report.pdf", PDF)
    got = _files(api).download(_file(f"{api.url}/files/F1/report.pdf"), TOKEN)
    assert got.data == PDF
    assert api.requests == [
        ("/files/F1/report.pdf", BEARER),
        ("/origin/F1", BEARER),
        ("/edge/F1/report.pdf", BEARER),
    ]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_followed(api, status):
    api.redirect("/files/F1", "/origin/F1", status=status)
    api.serve("/origin/F1", PDF)
    assert _files(api).download(_file(f"{api.url}/files/F1"), TOKEN).data == PDF


def _chain(api: FileHost, redirects: int) -> str:
    for hop in range(redirects):
        api.redirect(f"/hop/{hop}", f"/hop/{hop + 1}")
    api.serve(f"/hop/{redirects}", PDF)
    return f"{api.url}/hop/0"


def test_three_redirects_are_followed(api):
    assert _files(api).download(_file(_chain(api, 3)), TOKEN).data == PDF
    assert len(api.requests) == 4


def test_a_fourth_redirect_is_refused_and_not_followed(api):
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(_chain(api, 4)), TOKEN)
    assert (err.value.reason, err.value.name) == ("files.too_many_redirects", "report.pdf")
    assert [path for path, _ in api.requests] == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


def test_a_redirect_loop_is_refused_as_soon_as_it_comes_back(api):
    api.redirect("/loop/a", "/loop/b")
    api.redirect("/loop/b", f"{api.url}/loop/a")
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(f"{api.url}/loop/a"), TOKEN)
    assert err.value.reason == "files.too_many_redirects"
    assert [path for path, _ in api.requests] == ["/loop/a", "/loop/b"]


def test_a_redirect_to_another_host_is_refused_before_any_request_reaches_it(api, foreign):
    foreign.serve("/steal", PDF)
    api.redirect("/files/F1", "/origin/F1")
    api.redirect("/origin/F1", f"{foreign.url}/steal")
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(f"{api.url}/files/F1"), TOKEN)
    assert (err.value.reason, err.value.name) == ("files.bad_redirect", "report.pdf")
    assert "127.0.0.2" in err.value.detail
    assert foreign.requests == []
    assert [path for path, _ in api.requests] == ["/files/F1", "/origin/F1"]


def test_the_api_host_is_matched_exactly_with_its_port(api):
    other_port = FileHost("127.0.0.1")
    try:
        other_port.serve("/steal", PDF)
        port = api.url.rsplit(":", 1)[1]
        for i, location in enumerate([f"{other_port.url}/steal", f"http://localhost:{port}/files/F1"]):
            api.redirect(f"/files/{i}", location)
            with pytest.raises(DownloadFailed) as err:
                _files(api).download(_file(f"{api.url}/files/{i}"), TOKEN)
            assert err.value.reason == "files.bad_redirect", location
        assert other_port.requests == []
        assert [path for path, _ in api.requests] == ["/files/0", "/files/1"]
    finally:
        other_port.close()


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/files/F1",
        "//evil.example/files/F1",  # scheme-relative: the current scheme, another host
        "https://files.slack.com.evil.example/F1",
        "https://files.slack.com@evil.example/F1",
        "http://files.slack.com/F1",  # Slack's host, but not over https
        "ftp://files.slack.com/F1",
        "file:///etc/passwd",
    ],
)
def test_redirects_off_slack_are_refused_without_a_request(api, location):
    api.redirect("/files/F1", location)
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(f"{api.url}/files/F1"), TOKEN)
    # files.download_failed would mean a request was tried; bad_redirect means it was refused first.
    assert err.value.reason == "files.bad_redirect"
    assert len(api.requests) == 1


def test_a_redirect_without_a_location_is_a_failed_download(api):
    api.routes["/files/F1"] = (302, {}, b"")
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(f"{api.url}/files/F1"), TOKEN)
    assert err.value.reason == "files.download_failed"


def test_a_sign_in_page_at_the_end_of_a_redirect_is_not_taken_for_the_file(api):
    api.redirect("/files/F1", "/origin/F1")
    api.serve("/origin/F1", b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html; charset=utf-8")
    with pytest.raises(DownloadFailed) as err:
        _files(api).download(_file(f"{api.url}/files/F1"), TOKEN)
    assert err.value.reason == "files.not_the_file"


def test_the_download_url_is_preferred_over_the_private_url(api):
    api.serve("/files-pri/F1/download/report.pdf", PDF)
    api.serve("/files-pri/F1/report.pdf", b"the inline view")
    obj = {
        "name": "report.pdf",
        "url_private": f"{api.url}/files-pri/F1/report.pdf",
        "url_private_download": f"{api.url}/files-pri/F1/download/report.pdf",
    }
    assert _files(api).download(obj, TOKEN).data == PDF
    assert [path for path, _ in api.requests] == ["/files-pri/F1/download/report.pdf"]


def test_the_private_url_is_used_when_there_is_no_download_url(api):
    api.serve("/files-pri/F1/report.pdf", PDF)
    obj = {"name": "report.pdf", "url_private": f"{api.url}/files-pri/F1/report.pdf"}
    assert _files(api).download(obj, TOKEN).data == PDF


def test_a_file_announced_over_the_limit_is_refused_after_a_redirect(api):
    api.redirect("/files/F1", "/origin/F1")
    api.serve("/origin/F1", b"x" * 200)
    with pytest.raises(DownloadFailed) as err:
        _files(api, max_bytes=100).download(_file(f"{api.url}/files/F1"), TOKEN)
    assert (err.value.reason, err.value.detail) == ("files.too_large", "Content-Length 200")


def test_a_file_without_a_length_is_cut_one_byte_past_the_limit(api):
    api.serve("/files/F1", b"y" * 100_000)
    api.unsized.add("/files/F1")
    with pytest.raises(DownloadFailed) as err:
        _files(api, max_bytes=100).download(_file(f"{api.url}/files/F1"), TOKEN)
    assert err.value.reason == "files.too_large"


@pytest.mark.parametrize(
    ("host", "slack"),
    [
        ("slack.com", True),
        ("files.slack.com", True),
        ("files-origin.slack.com", True),
        ("FILES.Slack.COM", True),
        ("a.slack-edge.com", True),
        ("slack-files.com", True),
        ("slack-gov.com", True),
        ("files.slack-gov.com", True),
        ("a.slack-edge-gov.com", True),
        ("slack-files-gov.com", True),
        ("evilslack.com", False),
        ("notslack-edge.com", False),
        ("slack.com.evil.example", False),
        ("files.slack.com.evil.example", False),
        ("slack-gov.co", False),
        ("xslack-gov.com", False),
        ("slack.co", False),
        ("files.slack.com.", False),  # a trailing dot: never what Slack sends, so refused
        ("", False),
    ],
)
def test_slacks_own_domains_and_their_subdomains_are_slack_hosts(host, slack):
    assert is_slack_host(host) is slack


@pytest.mark.parametrize(
    ("api_url", "url", "allowed"),
    [
        ("https://slack.com/api/", "https://files.slack.com/files-pri/T1-F1/x.pdf", True),
        ("https://slack.com/api/", "https://files-origin.slack.com/files-pri/T1-F1/x.pdf", True),
        ("https://slack.com/api/", "https://files.slack-gov.com/x", True),
        ("https://slack.com/api/", "https://files.slack.com:443/x", True),
        ("https://slack.com/api/", "https://files.slack.com.evil.example/x.pdf", False),
        ("https://slack.com/api/", "https://files.slack.com@evil.example/x", False),
        ("https://slack.com/api/", "https://evil.example\\@files.slack.com/x", False),
        ("https://slack.com/api/", "https://user:pw@files.slack.com/x", False),
        ("https://slack.com/api/", "http://files.slack.com/x", False),
        ("https://slack.com/api/", "http://127.0.0.1:8080/x", False),  # loopback, but not the API host
        ("https://slack-gov.com/api/", "https://files.slack-gov.com/files-pri/T1-F1/x.pdf", True),
        ("https://slack.example.org/api/", "https://slack.example.org/files/x", True),
        ("https://slack.example.org/api/", "https://slack.example.org:8443/files/x", False),
        ("https://slack.example.org/api/", "https://files.example.org/x", False),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/files/x", True),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8081/files/x", False),
        ("http://127.0.0.1:8080/api/", "http://localhost:8080/files/x", False),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.2:8080/files/x", False),
    ],
)
def test_which_urls_may_receive_the_token(api_url, url, allowed):
    assert SlackFiles(api_url, 1024).allowed(url) is allowed


def test_every_reason_a_download_can_fail_for_is_in_both_catalogs():
    source = (Path(__file__).resolve().parents[2] / "bot" / "files.py").read_text()
    reasons = set(re.findall(r'"(files\.[a-z_]+)"', source))
    assert {"files.bad_redirect", "files.too_many_redirects"} <= reasons
    for locale in ("en", "zh-CN"):
        assert reasons <= set(catalog(locale)), locale

"""A real clamd (started by the ``clamd`` fixture with signatures built at run time) and its failure modes."""

from __future__ import annotations

import pytest

from outreach.adapters.clamd import ClamdScanner, parse_reply
from outreach.adapters.clamd_local import TEST_MARKER, eicar_test_bytes
from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache, check_attachments
from outreach.models import ScanStatus
from tests.attachment_samples import CountingScanner, csv_file, pdf, png
from tests.fixtures.clamd import STREAM_MAX_BYTES

pytestmark = pytest.mark.clamd


def eicar_csv() -> bytes:
    return b"id,payload\r\n1," + eicar_test_bytes() + b"\r\n"


def test_clamd_answers_ping_on_both_sockets(clamd):
    assert clamd.scanner().ping()
    assert clamd.scanner(tcp=True).ping()


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_a_clean_file_is_clean(clamd, tcp):
    verdict = clamd.scanner(tcp=tcp).scan(pdf())
    assert verdict.status is ScanStatus.CLEAN
    assert verdict.clean


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
def test_eicar_in_a_csv_is_infected_naming_the_signature(clamd, tcp):
    verdict = clamd.scanner(tcp=tcp).scan(eicar_csv())
    assert verdict.status is ScanStatus.INFECTED
    assert verdict.signature.startswith("Outreach.Test.EICAR")


def test_eicar_inside_a_pdf_is_infected(clamd):
    verdict = clamd.scanner().scan(pdf(eicar_test_bytes()))
    assert verdict.status is ScanStatus.INFECTED
    assert verdict.signature.startswith("Outreach.Test.EICAR")


def test_the_verdict_names_the_signature_that_matched(clamd):
    verdict = clamd.scanner().scan(b"hello " + TEST_MARKER + b" world")
    assert verdict.status is ScanStatus.INFECTED
    assert verdict.signature.startswith("Outreach.Test.Marker")


def test_a_file_over_the_stream_limit_is_unscannable(clamd):
    verdict = clamd.scanner().scan(b"a,b\n" * (STREAM_MAX_BYTES // 4 + 1024))
    assert verdict.status is ScanStatus.UNSCANNABLE
    assert "could not be scanned" in verdict.detail
    assert "size limit" in verdict.detail


def test_a_file_just_under_the_stream_limit_is_scanned(clamd):
    verdict = clamd.scanner().scan(b"x" * (STREAM_MAX_BYTES - 1024))
    assert verdict.status is ScanStatus.CLEAN


def test_a_missing_socket_is_unscannable_not_an_exception(dead_clamd):
    scanner = ClamdScanner(socket_path=dead_clamd.socket_path)
    verdict = scanner.scan(pdf())
    assert verdict.status is ScanStatus.UNSCANNABLE
    assert "could not be scanned" in verdict.detail
    assert dead_clamd.socket_path in verdict.detail
    assert not scanner.ping()


def test_a_refused_tcp_connection_is_unscannable(dead_clamd):
    scanner = ClamdScanner(host=dead_clamd.host, port=dead_clamd.port)
    verdict = scanner.scan(pdf())
    assert verdict.status is ScanStatus.UNSCANNABLE
    assert "not reachable" in verdict.detail
    assert not scanner.ping()


def test_a_server_that_never_answers_is_unscannable_after_the_read_timeout(silent_clamd):
    scanner = ClamdScanner(host=silent_clamd.host, port=silent_clamd.port, read_timeout=0.5)
    verdict = scanner.scan(pdf())
    assert verdict.status is ScanStatus.UNSCANNABLE
    assert "did not answer within 0.5 s" in verdict.detail
    assert not scanner.ping()


def test_a_large_file_to_a_server_that_never_answers_is_unscannable_too(silent_clamd):
    scanner = ClamdScanner(host=silent_clamd.host, port=silent_clamd.port, read_timeout=0.5)
    assert scanner.scan(b"x" * (8 * 1024 * 1024)).status is ScanStatus.UNSCANNABLE


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        ("stream: OK", ScanStatus.CLEAN, ""),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", ScanStatus.INFECTED, ""),
        ("INSTREAM size limit exceeded. ERROR", ScanStatus.UNSCANNABLE, "size limit exceeded"),
        ("stream: Can't allocate memory ERROR", ScanStatus.UNSCANNABLE, "allocate memory"),
        ("UNKNOWN COMMAND", ScanStatus.UNSCANNABLE, "unexpected answer"),
        ("stream:  FOUND", ScanStatus.UNSCANNABLE, "unexpected answer"),
        ("", ScanStatus.UNSCANNABLE, "unexpected answer"),
    ],
)
def test_clamd_answers_are_read_strictly(reply, status, words):
    verdict = parse_reply(reply)
    assert verdict.status is status
    assert words in verdict.detail
    if status is ScanStatus.INFECTED:
        assert verdict.signature == "Win.Test.EICAR_HDB-1"


def test_checking_with_a_real_clamd_rejects_the_infected_file_and_scans_each_content_once(clamd):
    counting = CountingScanner(clamd.scanner())
    cache = InMemoryScanCache()
    files = [
        ("offer.pdf", pdf()),
        ("copy-of-offer.pdf", pdf()),
        ("list.csv", eicar_csv()),
        ("logo.png", png()),
    ]
    result = check_attachments(files, MagicSniffer(), counting, AttachmentPolicy(), cache)
    assert [f.problem.code if f.problem else "ok" for f in result.files] == ["ok", "ok", "infected", "ok"]
    infected = result.files[2].problem
    assert infected is not None
    assert "list.csv" in infected.message
    assert "Outreach.Test.EICAR" in infected.message
    assert counting.scans == 3
    again = check_attachments(files, MagicSniffer(), counting, AttachmentPolicy(), cache)
    assert again.problems == result.problems
    assert counting.scans == 3


def test_checking_with_clamd_down_rejects_every_file_as_could_not_be_scanned(dead_clamd):
    scanner = ClamdScanner(socket_path=dead_clamd.socket_path)
    files = [("offer.pdf", pdf()), ("list.csv", csv_file())]
    result = check_attachments(files, MagicSniffer(), scanner, AttachmentPolicy(), InMemoryScanCache())
    assert [p.code for p in result.problems] == ["unscannable", "unscannable"]
    assert all("could not be scanned" in p.message for p in result.problems)

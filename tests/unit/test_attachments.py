"""The attachment core with fakes for the sniffer and the scanner: limits, order, verdicts and the cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.attachments import (
    AttachmentPolicy,
    InMemoryScanCache,
    check_attachments,
    recheck_for_send,
)
from outreach.models import ScanStatus, ScanVerdict
from tests.attachment_samples import CountingScanner, FakeScanner, FakeSniffer, csv_file, gif, jpeg, pdf, png

POLICY = AttachmentPolicy()


def check(files, scanner=None, policy=POLICY, cache=None):
    return check_attachments(
        files,
        FakeSniffer(),
        scanner or FakeScanner(),
        policy,
        cache if cache is not None else InMemoryScanCache(),
    )


def only_problem(result):
    (problem,) = result.problems
    return problem


def test_each_allowed_type_is_accepted_with_its_mime_type_hash_and_a_clean_verdict():
    files = [("a.png", png()), ("b.gif", gif()), ("c.JPG", jpeg()), ("d.jpeg", jpeg()), ("e.pdf", pdf())]
    files.append(("f.csv", csv_file()))
    result = check(files)
    assert result.ok
    assert [a.mime_type for a in result.accepted] == [
        "image/png",
        "image/gif",
        "image/jpeg",
        "image/jpeg",
        "application/pdf",
        "text/csv",
    ]
    first = result.accepted[0]
    assert first.verdict == ScanVerdict(ScanStatus.CLEAN)
    assert len(first.sha256) == 64
    assert first.data == png()


def test_bad_files_are_returned_with_their_problem_not_raised():
    result = check([("ok.png", png()), ("empty.csv", b"")])
    assert [f.accepted for f in result.files] == [True, False]
    problem = result.files[1].problem
    assert problem is not None
    assert problem.code == "empty_file"
    assert problem.field == "attachments"
    assert problem.message.startswith("empty.csv: ")
    assert problem.param("filename") == "empty.csv"


def test_a_file_over_the_per_file_limit_is_too_large_and_never_sniffed():
    sniffer = FakeSniffer()
    policy = AttachmentPolicy(max_file_bytes=100)
    result = check_attachments([("big.pdf", pdf())], sniffer, FakeScanner(), policy, InMemoryScanCache())
    assert only_problem(result).code == "too_large"
    assert sniffer.calls == 0


def test_files_beyond_the_count_limit_are_rejected_and_the_others_kept():
    policy = AttachmentPolicy(max_files=2)
    result = check([(f"f{i}.png", png(i + 1)) for i in range(3)], policy=policy)
    assert [f.problem.code if f.problem else "ok" for f in result.files] == ["ok", "ok", "too_many_files"]


def test_the_file_that_pushes_the_message_over_its_total_is_rejected():
    size = len(pdf())
    policy = AttachmentPolicy(max_message_bytes=size * 2 + 10)
    files = [("a.pdf", pdf(b"a")), ("b.pdf", pdf(b"b")), ("c.pdf", pdf(b"c"))]
    result = check(files, policy=policy)
    assert [f.problem.code if f.problem else "ok" for f in result.files] == ["ok", "ok", "message_too_large"]


def test_rejected_files_do_not_count_towards_the_message_total():
    size = len(pdf())
    policy = AttachmentPolicy(max_message_bytes=size + 10)
    result = check([("bad.pdf", pdf(b"BAD-CONTENT")), ("good.pdf", pdf(b"good!"))], policy=policy)
    assert [f.problem.code if f.problem else "ok" for f in result.files] == ["infected", "ok"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../etc/report.pdf", "path"),
        ("reports/q1.pdf", "path"),
        ("C:\\temp\\q1.pdf", "path"),
        ("report\n.pdf", "control"),
        ("invoice\u202efdp.pdf", "control"),
        ("   ", "needs a name"),
        ("..", "needs a name"),
        ("x" * 300 + ".pdf", "longer"),
    ],
)
def test_a_file_name_with_a_path_or_control_characters_is_rejected(name, why):
    problem = only_problem(check([(name, pdf())]))
    assert problem.code == "bad_filename"
    assert why in problem.message


def test_the_message_shows_control_characters_escaped():
    problem = only_problem(check([("a\x1b[31m.pdf", pdf())]))
    assert problem.message.startswith("a\\u001b[31m.pdf: ")


def test_a_png_named_pdf_is_an_extension_mismatch():
    problem = only_problem(check([("report.pdf", png())]))
    assert problem.code == "extension_mismatch"
    assert "PNG" in problem.message
    assert ".pdf" in problem.message


def test_a_name_without_an_extension_is_a_mismatch():
    assert only_problem(check([("report", pdf())])).code == "extension_mismatch"


def test_extensions_are_compared_case_insensitively():
    assert check([("A.PNG", png()), ("B.Pdf", pdf()), ("C.CsV", csv_file())]).ok


def test_a_type_off_the_allow_list_names_what_it_is():
    problem = only_problem(check([("tool.pdf", b"\x7fELF" + b"\x00" * 60)]))
    assert problem.code == "type_not_allowed"
    assert problem.param("mime_type") == "application/x-executable"
    assert "application/x-executable" in problem.message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("logo.png", png()),
        ("anim.gif", gif()),
        ("photo.jpg", jpeg()),
        ("doc.pdf", pdf()),
    ],
)
def test_data_after_the_end_marker_is_trailing_data(name, data):
    problem = only_problem(check([(name, data + b"PK\x03\x04" + b"\x00" * 40)]))
    assert problem.code == "trailing_data"
    assert "bytes of other data follow the end" in problem.message


def test_a_little_whitespace_padding_after_the_end_is_accepted():
    assert check([("doc.pdf", pdf() + b"\r\n\n"), ("logo.png", png() + b"\x00" * 16)]).ok


def test_too_much_padding_is_still_trailing_data():
    policy = AttachmentPolicy(max_padding_bytes=8)
    assert only_problem(check([("logo.png", png() + b"\x00" * 9)], policy=policy)).code == "trailing_data"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png()[:-12], "IEND"),
        (gif()[:-1], "trailer"),
        (jpeg()[:-2], "image data"),
    ],
)
def test_an_image_cut_short_is_malformed(data, reason):
    kind = {b"\x89P": "x.png", b"GI": "x.gif", b"\xff\xd8": "x.jpg"}[data[:2]]
    problem = only_problem(check([(kind, data)]))
    assert problem.code == "malformed"
    assert reason in problem.message


def test_a_pdf_without_an_end_marker_is_malformed():
    assert only_problem(check([("doc.pdf", pdf().replace(b"%%EOF", b"%%END"))])).code == "malformed"


def test_a_csv_with_a_bom_or_semicolons_or_one_column_is_accepted():
    files = [
        ("a.csv", csv_file(bom=True)),
        ("b.csv", csv_file(sep=";")),
        ("c.csv", b"email\na@x.io\nb@x.io\n"),
    ]
    assert check(files).ok


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields"),
        ("name,city\nJosé,Zürich\n".encode("latin-1"), "not UTF-8"),
        (b'a,b\n1,"2\n', "unexpected end of data"),
        (b"\n\n\n", "no rows"),
    ],
)
def test_text_that_is_not_a_consistent_csv_is_bad_csv(data, reason):
    problem = only_problem(check([("data.csv", data)]))
    assert problem.code == "bad_csv"
    assert reason in problem.message


def test_an_infected_file_is_rejected_naming_the_signature():
    problem = only_problem(check([("doc.pdf", pdf(b"BAD-CONTENT"))]))
    assert problem.code == "infected"
    assert problem.param("signature") == "Fake.Bad"
    assert "Fake.Bad" in problem.message


def test_an_unscannable_file_is_rejected_as_could_not_be_scanned():
    problem = only_problem(check([("doc.pdf", pdf())], scanner=FakeScanner(down=True)))
    assert problem.code == "unscannable"
    assert "could not be scanned" in problem.message


def test_the_same_content_twice_is_scanned_once():
    scanner = FakeScanner()
    result = check([("a.pdf", pdf()), ("copy.pdf", pdf()), ("b.png", png())], scanner=scanner)
    assert result.ok
    assert scanner.scans == 2


def test_an_infected_verdict_is_cached_too():
    scanner, cache = FakeScanner(), InMemoryScanCache()
    for _ in range(3):
        assert (
            only_problem(check([("doc.pdf", pdf(b"BAD-CONTENT"))], scanner=scanner, cache=cache)).code
            == "infected"
        )
    assert scanner.scans == 1


def test_an_unscannable_verdict_is_not_cached_so_the_next_check_scans_again():
    scanner, cache = FakeScanner(down=True), InMemoryScanCache()
    assert only_problem(check([("doc.pdf", pdf())], scanner=scanner, cache=cache)).code == "unscannable"
    scanner.down = False
    assert check([("doc.pdf", pdf())], scanner=scanner, cache=cache).ok
    assert scanner.scans == 2


def test_a_rejected_file_is_never_scanned():
    scanner = FakeScanner()
    check([("x.pdf", png()), ("y.csv", b""), ("z.png", png() + b"junk")], scanner=scanner)
    assert scanner.scans == 0


def test_the_recheck_before_sending_uses_the_cache_and_keeps_ids():
    scanner, cache = FakeScanner(), InMemoryScanCache()
    first = check([("a.pdf", pdf()), ("b.png", png())], scanner=scanner, cache=cache)
    stored = [
        a.__class__(a.filename, a.mime_type, a.sha256, a.data, a.verdict, id=n)
        for n, a in enumerate(first.accepted, start=1)
    ]
    for _recipient in range(1000):
        again = recheck_for_send(stored, FakeSniffer(), scanner, POLICY, cache)
        assert again.ok
    assert [a.id for a in again.accepted] == [1, 2]
    assert scanner.scans == 2


def test_the_recheck_refuses_content_that_no_longer_matches_its_hash():
    first = check([("a.pdf", pdf())]).accepted[0]
    tampered = first.__class__(first.filename, first.mime_type, first.sha256, pdf(b"other"), first.verdict)
    problem = only_problem(
        recheck_for_send([tampered], FakeSniffer(), FakeScanner(), POLICY, InMemoryScanCache())
    )
    assert problem.code == "content_changed"


def test_the_recheck_rejects_what_is_now_unscannable():
    first = check([("a.pdf", pdf())]).accepted[0]
    result = recheck_for_send([first], FakeSniffer(), FakeScanner(down=True), POLICY, InMemoryScanCache())
    assert only_problem(result).code == "unscannable"


def test_the_cache_forgets_the_least_recently_used_beyond_its_size():
    cache = InMemoryScanCache(max_entries=2)
    clean = ScanVerdict(ScanStatus.CLEAN)
    cache.put("a", clean)
    cache.put("b", clean)
    assert cache.get("a") == clean
    cache.put("c", clean)
    assert cache.get("b") is None
    assert cache.get("a") == clean
    assert len(cache) == 2


def test_cache_entries_expire_after_their_time_to_live():
    now = [0.0]
    cache = InMemoryScanCache(ttl_seconds=60, clock=lambda: now[0])
    cache.put("a", ScanVerdict(ScanStatus.CLEAN))
    now[0] = 59
    assert cache.get("a") is not None
    now[0] = 121
    assert cache.get("a") is None


def test_the_cache_never_keeps_an_unscannable_verdict():
    cache = InMemoryScanCache()
    cache.put("a", ScanVerdict(ScanStatus.UNSCANNABLE, detail="down"))
    assert cache.get("a") is None


def test_the_counting_scanner_counts_scans_from_many_threads():
    counting = CountingScanner(FakeScanner())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(counting.scan, [b"x"] * 400))
    assert counting.scans == 400


@settings(max_examples=300, deadline=None)
@given(
    sample=st.sampled_from([("x.png", png()), ("x.gif", gif()), ("x.jpg", jpeg()), ("x.pdf", pdf())]),
    cut=st.integers(min_value=1, max_value=400),
    noise=st.binary(max_size=64),
    at=st.integers(min_value=0, max_value=400),
)
def test_damaged_files_give_a_problem_never_an_exception(sample, cut, noise, at):
    name, data = sample
    damaged = data[: max(4, len(data) - cut)]
    damaged = damaged[: at % len(damaged)] + noise + damaged[at % len(damaged) + len(noise) :]
    result = check([(name, damaged)])
    assert len(result.files) == 1
    assert result.ok or result.problems[0].code in {
        "malformed",
        "trailing_data",
        "type_not_allowed",
        "extension_mismatch",
        "bad_csv",
    }

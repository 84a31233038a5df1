"""Real libmagic: the allow-list judged by content, with a fake scanner (clamd has its own tests)."""

from __future__ import annotations

import pytest

from outreach.adapters.magic_sniffer import MagicSniffer
from outreach.attachments import AttachmentPolicy, InMemoryScanCache, check_attachments
from tests.attachment_samples import (
    FakeScanner,
    csv_file,
    elf_executable,
    gif,
    html_page,
    jpeg,
    pdf,
    png,
    svg_image,
    zip_archive,
)


@pytest.fixture(scope="module")
def sniffer() -> MagicSniffer:
    return MagicSniffer()


def check(sniffer, *files):
    return check_attachments(files, sniffer, FakeScanner(), AttachmentPolicy(), InMemoryScanCache())


def only_problem(result):
    (problem,) = result.problems
    return problem


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png(), "image/png"),
        (gif(), "image/gif"),
        (jpeg(), "image/jpeg"),
        (pdf(), "application/pdf"),
        (zip_archive(), "application/zip"),
        (svg_image(), "image/svg+xml"),
        (html_page(), "text/html"),
    ],
)
def test_libmagic_names_each_sample_by_its_content(sniffer, data, mime):
    assert sniffer.sniff(data) == mime


def test_a_csv_sniffs_as_csv_or_plain_text(sniffer):
    assert sniffer.sniff(csv_file()) in {"text/csv", "text/plain"}
    assert sniffer.sniff(csv_file(sep=";", bom=True)) in {"text/csv", "text/plain"}


def test_an_empty_buffer_sniffs_as_empty(sniffer):
    assert sniffer.sniff(b"") == "application/x-empty"


def test_the_whole_file_is_sniffed_not_only_its_first_megabyte(sniffer):
    text_then_binary = b"a,b\n" * (3 * 1024 * 1024 // 4) + bytes(range(256)) * 4
    assert sniffer.sniff(text_then_binary) not in {"text/plain", "text/csv"}


def test_every_allowed_type_passes_with_real_libmagic(sniffer):
    result = check(
        sniffer,
        ("logo.png", png()),
        ("anim.gif", gif()),
        ("photo.jpg", jpeg()),
        ("photo2.JPEG", jpeg()),
        ("offer.pdf", pdf()),
        ("partners.csv", csv_file()),
        ("partners-excel.csv", csv_file(sep=";", bom=True)),
    )
    assert result.problems == ()
    assert [a.mime_type for a in result.accepted] == [
        "image/png",
        "image/gif",
        "image/jpeg",
        "image/jpeg",
        "application/pdf",
        "text/csv",
        "text/csv",
    ]


@pytest.mark.parametrize(
    ("name", "data", "code", "words"),
    [
        ("partners.csv", html_page(), "type_not_allowed", "text/html"),
        ("offer.pdf", elf_executable(), "type_not_allowed", "executable"),
        ("logo.svg", svg_image(), "type_not_allowed", "image/svg+xml"),
        ("logo.png", svg_image(), "type_not_allowed", "image/svg+xml"),
        ("logo.png", zip_archive(), "type_not_allowed", "application/zip"),
        ("empty.csv", b"", "empty_file", "empty"),
        ("zero.pdf", b"", "empty_file", "empty"),
        ("offer.pdf", png(), "extension_mismatch", "PNG"),
        ("partners.txt", csv_file(), "extension_mismatch", ".txt"),
        ("logo.png", png() + zip_archive(), "trailing_data", "follow the end of the PNG"),
        ("anim.gif", gif() + zip_archive(), "trailing_data", "follow the end of the GIF"),
        ("photo.jpg", jpeg() + zip_archive(), "trailing_data", "follow the end of the JPEG"),
        ("offer.pdf", pdf() + zip_archive(), "trailing_data", "follow the end of the PDF"),
        ("partners.csv", b"a,b,c\n1,2\n", "bad_csv", "line 2"),
        ("../partners.csv", csv_file(), "bad_filename", "path"),
        ("part\x00ners.csv", csv_file(), "bad_filename", "control"),
    ],
)
def test_each_kind_of_bad_file_is_rejected_naming_the_file_and_the_reason(sniffer, name, data, code, words):
    problem = only_problem(check(sniffer, (name, data)))
    assert problem.code == code
    assert problem.param("filename") == name
    assert words in problem.message
    assert problem.message.startswith(name.replace("\x00", "\\u0000") + ": ")

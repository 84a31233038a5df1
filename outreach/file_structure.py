"""Where an allowed file really ends, and whether a CSV parses: the structural half of attachment checks.

libmagic judges a file by its beginning, so a PNG with a zip appended (a polyglot) still sniffs as PNG.
:func:`content_end` walks the format to its end marker — PNG's IEND chunk, GIF's trailer byte 0x3B,
JPEG's EOI marker (skipping segments and entropy-coded data), PDF's last ``%%EOF`` — and returns the offset
just past it; the caller refuses what follows beyond a little padding. Damaged files raise
:class:`Malformed`.
"""

from __future__ import annotations

import csv
import io
import unicodedata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CSV_DELIMITERS = (",", ";", "\t", "|")


class Malformed(ValueError):
    """The file does not follow its own format far enough to find its end."""


def content_end(label: str, data: bytes) -> int:
    """Offset just past the end marker of a ``PNG``, ``GIF``, ``JPEG`` or ``PDF``."""
    walkers = {"PNG": _png_end, "GIF": _gif_end, "JPEG": _jpeg_end, "PDF": _pdf_end}
    return walkers[label](data)


def _png_end(data: bytes) -> int:
    if not data.startswith(PNG_SIGNATURE):
        raise Malformed("the PNG signature is missing")
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise Malformed("the file ends before the IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise Malformed("a chunk runs past the end of the file")
        if data[pos + 4 : pos + 8] == b"IEND":
            return end
        pos = end


def _gif_end(data: bytes) -> int:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise Malformed("the GIF header is missing")
    pos = 13 + _color_table_size(data[10])
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            return pos + 1
        if block == 0x21:  # extension: introducer, label, sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, local colour table, LZW code size, sub-blocks
            if pos + 10 > len(data):
                break
            pos += 10 + _color_table_size(data[pos + 9]) + 1
            pos = _skip_sub_blocks(data, pos)
        else:
            raise Malformed(f"unexpected block 0x{block:02x} at offset {pos}")
    raise Malformed("the file ends before the GIF trailer")


def _color_table_size(flags: int) -> int:
    return 3 * (2 << (flags & 0x07)) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size
    raise Malformed("the file ends inside a data block")


def _jpeg_end(data: bytes) -> int:
    if not data.startswith(b"\xff\xd8"):
        raise Malformed("the JPEG start marker is missing")
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            raise Malformed(f"expected a marker at offset {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xD9:  # EOI
            return pos + 2
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
        else:
            if pos + 4 > len(data):
                break
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if length < 2:
                raise Malformed(f"bad segment length at offset {pos}")
            pos += 2 + length
            if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
                pos = _skip_entropy_coded(data, pos)
    raise Malformed("the file ends before the JPEG end marker")


def _skip_entropy_coded(data: bytes, pos: int) -> int:
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= len(data):
            raise Malformed("the file ends inside the image data")
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte or restart marker
            pos = found + 2
        elif following == 0xFF:  # fill bytes before a marker
            pos = found + 1
        else:
            return found


def _pdf_end(data: bytes) -> int:
    found = data.rfind(b"%%EOF")
    if found < 0:
        raise Malformed("there is no %%EOF marker")
    return found + len(b"%%EOF")


def csv_problem(data: bytes) -> str | None:
    """Why ``data`` is not a usable CSV (UTF-8, BOM allowed; one column count throughout), or None."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 text (bad byte at offset {exc.start})"
    if "\0" in text:
        return "it contains NUL characters"
    outcomes = [_column_count(text, delimiter) for delimiter in _CSV_DELIMITERS]
    if any(isinstance(outcome, int) and outcome > 1 for outcome in outcomes):
        return None  # some delimiter gives one column count (> 1) throughout
    if all(outcome == 1 for outcome in outcomes):
        return None  # a single column: no delimiter splits any row
    reason = next(outcome for outcome in outcomes if isinstance(outcome, str))
    return f"it does not parse as CSV: {reason}"


def _column_count(text: str, delimiter: str) -> int | str:
    """The number of fields every non-blank row has, or why there is no such number."""
    width: int | None = None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                return f"line {reader.line_num} has {len(row)} fields, the first row has {width}"
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}"
    return "there are no rows" if width is None else width


def is_control(char: str) -> bool:
    """Control, format (bidi overrides …) and line/paragraph separator characters."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def printable(name: str) -> str:
    return "".join(c if not is_control(c) else f"\\u{ord(c):04x}" for c in name)

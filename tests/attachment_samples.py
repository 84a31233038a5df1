"""Small real files built at test time (PNG, GIF, JPEG, PDF, CSV …) and fakes for the Scanner/Sniffer ports
(and a scanner wrapper that counts the scans reaching a real one).

Nothing here is a stored binary: each file is assembled from its format's rules, so a test can say
exactly what it contains.
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
import zlib

from bot.devtools.samples import pdf  # noqa: F401 (re-exported: the tests take every sample from here)
from outreach.models import ScanStatus, ScanVerdict
from outreach.ports import Scanner


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid greyscale PNG: signature, IHDR, one IDAT, IEND (CRCs computed)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + bytes((x * 40) % 256 for x in range(width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def gif() -> bytes:
    """A valid 1×1 GIF89a with a two-colour global table and a graphic-control extension."""
    header = b"GIF89a" + struct.pack("<HH", 1, 1) + bytes([0x80, 0, 0])  # global table of 2 colours
    colours = b"\xff\xff\xff\x00\x00\x00"
    control = b"\x21\xf9\x04\x01\x00\x00\x00\x00"  # extension, 4-byte block, terminator
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00"  # descriptor, no local table
    pixels = b"\x02\x02\x44\x01\x00"  # LZW minimum code size 2, one 2-byte sub-block, terminator
    return header + colours + control + image + pixels + b"\x3b"


def jpeg() -> bytes:
    """A valid baseline 8×8 grey JPEG: one DC and one AC Huffman code, one block of mid-grey."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quant = b"\x00" + bytes([1] * 64)
    frame = bytes([8]) + struct.pack(">HH", 8, 8) + bytes([1, 1, 0x11, 0])
    dc_table = b"\x00" + bytes([1] + [0] * 15) + b"\x00"  # one code of length 1: category 0
    ac_table = b"\x10" + bytes([1] + [0] * 15) + b"\x00"  # one code of length 1: end of block
    scan = bytes([1, 1, 0x00, 0, 63, 0])
    entropy = b"\x3f"  # DC '0', EOB '0', padded with ones
    return (
        b"\xff\xd8"
        + segment(0xE0, jfif)
        + segment(0xDB, quant)
        + segment(0xC0, frame)
        + segment(0xC4, dc_table)
        + segment(0xC4, ac_table)
        + segment(0xDA, scan)
        + entropy
        + b"\xff\xd9"
    )


def csv_file(rows: int = 3, sep: str = ",", bom: bool = False) -> bytes:
    lines = [sep.join(["mpid", "name", "email"])]
    lines += [sep.join([f"{1000 + i}", f"Partner {i}", f"p{i}@example.com"]) for i in range(rows)]
    return (b"\xef\xbb\xbf" if bom else b"") + ("\r\n".join(lines) + "\r\n").encode()


def zip_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("payload.txt", "not what it seems " * 20)
    return buf.getvalue()


def elf_executable() -> bytes:
    """The header of a 64-bit little-endian ELF executable (x86-64), padded: libmagic calls it an ELF."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400078, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 200, 200, 0x1000)
    return ident + header + program + b"\x90" * 80


def html_page() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"
    )


def svg_image() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script><rect width="10" height="10"/></svg>\n'
    )


class FakeSniffer:
    """Names a type from the first bytes, like a tiny libmagic; CSV-ish text is text/plain."""

    PREFIXES = (
        (b"\x89PNG", "image/png"),
        (b"GIF8", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x7fELF", "application/x-executable"),
        (b"<!DOCTYPE html", "text/html"),
    )

    def __init__(self) -> None:
        self.calls = 0

    def sniff(self, data: bytes) -> str:
        self.calls += 1
        for prefix, mime in self.PREFIXES:
            if data.startswith(prefix):
                return mime
        return "application/octet-stream" if b"\0" in data else "text/plain"


class FakeScanner:
    """Reports INFECTED for content containing a bad marker, UNSCANNABLE when told to; counts scans."""

    BAD = b"BAD-CONTENT"

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.scans = 0
        self._lock = threading.Lock()

    def scan(self, data: bytes) -> ScanVerdict:
        with self._lock:
            self.scans += 1
        if self.down:
            return ScanVerdict(ScanStatus.UNSCANNABLE, detail="could not be scanned: scanner down")
        if self.BAD in data:
            return ScanVerdict(ScanStatus.INFECTED, signature="Fake.Bad")
        return ScanVerdict(ScanStatus.CLEAN)


class CountingScanner:
    """Wraps a scanner (clamd, in the bench and the clamd tests) and counts the scans that really reach it
    (thread-safe)."""

    def __init__(self, inner: Scanner) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.scans = 0

    def scan(self, data: bytes) -> ScanVerdict:
        with self._lock:
            self.scans += 1
        return self._inner.scan(data)

"""A :class:`~outreach.ports.Sniffer` backed by libmagic (python-magic).

libmagic looks at no more than ``MAGIC_PARAM_BYTES_MAX`` bytes of a buffer (1 MiB by default) and judges
text encodings on the first ``MAGIC_PARAM_ENCODING_MAX`` bytes (64 KiB); we raise both so the whole file
is examined, up to ``max_bytes``. (python-magic 0.4.27 lacks a name for the second one: 7, from magic.h.)
"""

from __future__ import annotations

import magic

_DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAGIC_PARAM_ENCODING_MAX = 7


class MagicSniffer:
    """The MIME type of some bytes, by content. One libmagic handle, guarded by python-magic's own lock."""

    def __init__(self, max_bytes: int = _DEFAULT_MAX_BYTES) -> None:
        self._magic = magic.Magic(mime=True)
        self._magic.setparam(magic.MAGIC_PARAM_BYTES_MAX, max_bytes)
        self._magic.setparam(MAGIC_PARAM_ENCODING_MAX, max_bytes)

    def sniff(self, data: bytes) -> str:
        if not data:
            return "application/x-empty"
        mime: str = self._magic.from_buffer(data)
        return mime.split(";", 1)[0].strip().lower()

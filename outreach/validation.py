"""Checks of the e-mail header fields a user types: sender name, reply-to and subject.

Pure functions returning :class:`~outreach.errors.Problem` values (every problem at once), so the compose
form can show each one next to its field. :func:`check_email_address` is shared with the partner import.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from outreach.errors import Problem

SENDER_NAME_MAX = 100
SUBJECT_MAX = 250
REPLY_TO_MAX = 254  # RFC 5321 path limit

FIELD_LABELS = {"sender_name": "Sender name", "reply_to": "Reply-to", "subject": "Subject"}

# Characters that break or smuggle header lines: C0/C1 controls (CR, LF, TAB, NUL, DEL …) and the
# Unicode line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_DISPLAY_NAME_FORM = re.compile(r"<[^<>]*>\s*$")
_ADDRESS_SEPARATORS = re.compile(r"[,;\s]")


def control_characters(value: str) -> list[str]:
    """The distinct control characters in ``value``, as ``U+000D``-style names, in order of appearance."""
    found: list[str] = []
    for ch in value:
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            name = f"U+{ord(ch):04X}"
            if name not in found:
                found.append(name)
    return found


def check_headers(sender_name: str, reply_to: str, subject: str) -> list[Problem]:
    """Every problem with the three header fields of an e-mail form (empty list: all good)."""
    problems: list[Problem] = []
    problems += _check_text("sender_name", sender_name, SENDER_NAME_MAX)
    problems += _check_reply_to(reply_to)
    problems += _check_text("subject", subject, SUBJECT_MAX)
    return problems


def check_email_address(addr: str) -> str | None:
    """The normalised form of one e-mail address (internationalised addresses allowed), or None if invalid.

    Surrounding whitespace is ignored; display names (``Ann <a@b.com>``) and lists are not addresses.
    """
    addr = addr.strip()
    if not addr or control_characters(addr) or len(addr) > REPLY_TO_MAX:
        return None
    try:
        return validate_email(addr, check_deliverability=False, allow_smtputf8=True).normalized
    except EmailNotValidError:
        return None


def _check_text(field: str, value: str, limit: int) -> list[Problem]:
    label = FIELD_LABELS[field]
    controls = control_characters(value)
    if controls:
        return [_control_problem(field, controls)]
    if not value.strip():
        return [Problem(field, "required", f"{label} is required.")]
    if len(value) > limit:
        return [
            Problem(
                field,
                "too_long",
                f"{label} is {len(value)} characters long; the limit is {limit}.",
                (("length", str(len(value))), ("max", str(limit))),
            )
        ]
    return []


def _check_reply_to(value: str) -> list[Problem]:
    field = "reply_to"
    controls = control_characters(value)
    if controls:
        return [_control_problem(field, controls)]
    addr = value.strip()
    if not addr:
        return [Problem(field, "required", "Reply-to is required.")]
    if _DISPLAY_NAME_FORM.search(addr):
        return [
            Problem(
                field,
                "display_name",
                "Reply-to must be a bare e-mail address such as ann@example.com, without a name or <>.",
            )
        ]
    if addr.count("@") > 1 and _ADDRESS_SEPARATORS.search(addr):
        return [Problem(field, "multiple_addresses", "Reply-to takes exactly one e-mail address.")]
    if len(addr) > REPLY_TO_MAX:
        return [
            Problem(
                field,
                "too_long",
                f"Reply-to is {len(addr)} characters long; the limit is {REPLY_TO_MAX}.",
                (("length", str(len(addr))), ("max", str(REPLY_TO_MAX))),
            )
        ]
    try:
        validate_email(addr, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return [
            Problem(
                field,
                "invalid_email",
                f"Reply-to {addr!r} is not a valid e-mail address: {exc}",
                (("address", addr), ("reason", str(exc))),
            )
        ]
    return []


def _control_problem(field: str, controls: list[str]) -> Problem:
    label = FIELD_LABELS[field]
    names = ", ".join(controls)
    return Problem(
        field,
        "control_characters",
        f"{label} must be a single line without control characters (found {names}).",
        (("characters", names),),
    )

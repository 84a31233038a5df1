"""Errors a user can act on.

Everything a person can fix (a misspelt token, a rejected attachment, a bad address) is an
:class:`OutreachError`. The Slack adapter catches only these and shows them next to the field
they belong to; anything else is a bug and goes to the global error handler.

    OutreachError
     ├── ValidationFailed      one or more problems with a form; carries every Problem at once
     ├── NotFound              an id that does not exist in the requesting workspace
     ├── AlreadyExists         a row with the same natural key exists (raised by repositories)
     ├── DraftNotEditable      the draft is being sent or was sent: it can no longer change
     ├── ImportFailed          an import file that cannot be read at all (bad rows are reported, not raised)
     └── DeliveryFailed        a send attempt failed; ``permanent`` says whether a retry may help

This tree is the only place errors are defined (tests/unit/test_errors.py keeps it and the classes in step).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from outreach.models import DraftStatus


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with user input.

    ``field`` names the form field it belongs to (``subject``, ``content``, ``reply_to``,
    ``attachments``, ``recipients`` …) so the adapter can put it next to that field.
    ``code`` is a stable machine-readable kind (``unknown_token``, ``infected`` …) and
    ``params`` the values a translated message needs; ``message`` is the English text.
    """

    field: str
    code: str
    message: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


class OutreachError(Exception):
    """Base of every error a user can act on."""


class ValidationFailed(OutreachError):
    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.message for p in self.problems))


class NotFound(OutreachError):
    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} was not found in this workspace")


class AlreadyExists(OutreachError):
    """A row with the same natural key exists (a second delivery of one draft to one recipient …)."""


class DraftNotEditable(OutreachError):
    """The draft is being sent or was sent: it can no longer change."""

    def __init__(self, draft_id: int, status: DraftStatus) -> None:
        self.draft_id = draft_id
        self.status = status
        super().__init__(f"draft {draft_id} is {status.value} and can no longer change")


class ImportFailed(OutreachError):
    pass


class DeliveryFailed(OutreachError):
    """``bounce``: the recipient's address itself was refused for good (the address goes on the suppression list)."""

    def __init__(self, reason: str, *, permanent: bool, bounce: bool = False) -> None:
        self.reason = reason
        self.permanent = permanent
        self.bounce = bounce
        super().__init__(reason)

"""Errors a user can act on.

Everything a person can fix (a misspelt token, a rejected attachment, a bad address) is an
:class:`OutreachError`. The Slack adapter catches only these and shows them next to the field
they belong to; anything else is a bug and goes to the global error handler.

    OutreachError
     ├── ValidationFailed      one or more problems with a form; carries every Problem at once
     ├── NotFound              an id that does not exist in the requesting workspace
     ├── AlreadyExists         a row with the same natural key exists (raised by repositories)
     ├── DraftNotEditable      the draft is being sent or was sent: it can no longer change
     ├── NotYours              a template changed or deleted by someone other than its author or an admin
     ├── NotAdmin              a workspace's settings saved by someone not its admin or owner
     ├── ImportFailed          an import file that cannot be read at all (bad rows are reported, not raised)
     ├── DeliveryFailed        a send attempt failed; its ``Refusal`` says why and whether a retry may help
     └── MailboxRefused        a user's own mailbox could not be read (IMAP); ``login``: the password was refused

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


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one message did not go, as the delivery core acts on it (never by reading ``reason``).

    ``permanent``: sending the same message again will not help (a 5xx, a refused address, an infected file, a
    draft that is gone) or must not happen by itself (the message may already have been delivered); otherwise
    the refusal is *passing* (a 4xx, a dropped connection, a scanner that is down): a later attempt may succeed.
    ``bounce``: the recipient's address itself was refused for good, so it goes on the suppression list (a
    bounce is always permanent). ``reason`` is the English text kept with the delivery for its author.
    """

    reason: str
    permanent: bool
    bounce: bool = False

    def __post_init__(self) -> None:
        if self.bounce and not self.permanent:
            raise ValueError("a bounce is a permanent refusal")


class DeliveryFailed(OutreachError):
    """A send attempt failed; its :class:`Refusal` says why and whether a retry may help."""

    def __init__(self, reason: str, *, permanent: bool, bounce: bool = False) -> None:
        self.refusal = Refusal(reason, permanent, bounce)
        super().__init__(reason)

    @classmethod
    def of(cls, refusal: Refusal) -> DeliveryFailed:
        return cls(refusal.reason, permanent=refusal.permanent, bounce=refusal.bounce)

    @property
    def reason(self) -> str:
        return self.refusal.reason

    @property
    def permanent(self) -> bool:
        return self.refusal.permanent

    @property
    def bounce(self) -> bool:
        return self.refusal.bounce


class MailboxRefused(OutreachError):
    """A user's own mailbox could not be read (IMAP). ``login``: the server refused the user name or password
    (changed since it was connected): polling stops until the user connects again. Otherwise a passing trouble
    (the server unreachable, TLS, a timeout): the next poll tries again."""

    def __init__(self, reason: str, *, login: bool) -> None:
        self.reason = reason
        self.login = login
        super().__init__(reason)


class NotYours(OutreachError):
    """Only a template's author or a workspace admin or owner may change or delete it."""

    def __init__(self, template_id: int, author_id: str) -> None:
        self.template_id = template_id
        self.author_id = author_id
        super().__init__(f"template {template_id} is <@{author_id}>'s; only they or an admin may change it")


class NotAdmin(OutreachError):
    """Only a workspace admin or owner changes its settings."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(f"<@{user_id}> is not an admin or owner of the workspace")

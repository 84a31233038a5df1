"""The fakes of tests/fakes stand for the ports of outreach/ports.py: same methods, same signatures, and every
repository method that ComposeService and DeliveryWorker call is there (what they do is held to the SQL
repositories by tests/repository_contract.py)."""

from __future__ import annotations

import inspect
import re
import sys
from types import ModuleType

import pytest

from outreach import ports
from outreach.compose import ComposeService
from outreach.delivery import DeliveryWorker
from outreach.followups import FollowupService
from outreach.outbox import Outbox
from tests.fakes import FakeMailer, FakeMailSession, FakeStore, FakeTransport, FakeUnitOfWork
from tests.fakes.deliveries import FakeDeliveryQueue, FakeDeliveryRepository
from tests.fakes.drafts import FakeAttachmentRepository, FakeDraftRepository
from tests.fakes.partners import (
    FakeAdRepository,
    FakePartnerRepository,
    FakeProspectRepository,
    FakeSendBudgets,
    FakeSuppressionRepository,
)
from tests.fakes.threads import FakeAuditLog, FakeConversationReplies, FakeThreadRepository

PAIRS = [
    (FakePartnerRepository, ports.PartnerRepository),
    (FakeProspectRepository, ports.ProspectRepository),
    (FakeAdRepository, ports.AdRepository),
    (FakeDraftRepository, ports.DraftRepository),
    (FakeAttachmentRepository, ports.AttachmentRepository),
    (FakeDeliveryRepository, ports.DeliveryRepository),
    (FakeDeliveryQueue, ports.DeliveryQueue),
    (FakeThreadRepository, ports.ThreadRepository),
    (FakeAuditLog, ports.AuditLog),
    (FakeSuppressionRepository, ports.SuppressionRepository),
    (FakeSendBudgets, ports.SendBudgets),
    (FakeConversationReplies, ports.ConversationReplies),
    (FakeMailer, ports.Mailer),
    (FakeMailSession, ports.MailSession),
    (FakeTransport, ports.MessageTransport),
]
TEST_HELPERS = {"refuse", "accept", "cannot_build"}  # what tests set up and read on a fake


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name in ("__enter__", "__exit__"))
    }


def shape(function: object) -> list[tuple[str, object, object, object]]:
    """Each parameter's name, kind, default and annotation (as written: annotations are strings here), and the
    return annotation (a fake may return its own fake: ``FakeMailer.open`` gives a ``FakeMailSession``)."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    returns = str(signature.return_annotation).removeprefix("Fake")
    return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()] + [
        ("return", None, None, returns)
    ]


@pytest.mark.parametrize(("fake", "port"), PAIRS, ids=[fake.__name__ for fake, _ in PAIRS])
def test_every_method_of_a_fake_is_its_ports_with_the_same_signature(fake, port):
    for name, method in public_methods(fake).items():
        if name in TEST_HELPERS or name == "__init__":
            continue
        assert hasattr(port, name), f"{fake.__name__}.{name} is not a method of {port.__name__}"
        assert shape(method) == shape(getattr(port, name)), f"{fake.__name__}.{name}"


def test_each_repository_of_the_fake_unit_of_work_fakes_the_port_the_real_one_names():
    with FakeStore()() as uow:
        repositories = {name: value for name, value in vars(uow).items() if not name.startswith("_")}
    for name, repository in repositories.items():
        declared = inspect.getattr_static(ports.UnitOfWork, name)
        assert isinstance(declared, property), f"the unit of work has no repository {name!r}"
        port = getattr(ports, inspect.signature(declared.fget).return_annotation)
        assert (type(repository), port) in PAIRS, name
    assert public_methods(FakeUnitOfWork).keys() >= {"commit", "rollback", "__enter__", "__exit__"}


def outreach_modules(root: type) -> list[ModuleType]:
    """The module that defines ``root`` and every outreach module it imports, directly or not."""
    seen: dict[str, ModuleType] = {}
    todo = [sys.modules[root.__module__]]
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        for value in vars(module).values():
            name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", "")
            if isinstance(name, str) and name.startswith("outreach.") and name in sys.modules:
                todo.append(sys.modules[name])
    return list(seen.values())


@pytest.mark.parametrize(
    "use_case", [ComposeService, DeliveryWorker, Outbox, FollowupService], ids=lambda c: c.__name__
)
def test_every_repository_method_a_use_case_calls_is_faked(use_case):
    called = {
        (repository, method)
        for module in outreach_modules(use_case)
        for repository, method in re.findall(r"\buow\.(\w+)\.(\w+)\(", inspect.getsource(module))
    }
    assert called, "no repository calls found: has the way use cases reach the unit of work changed?"
    with FakeStore()() as uow:
        missing = sorted(f"{r}.{m}" for r, m in called if not hasattr(getattr(uow, r, None), m))
    assert missing == []

"""outreach/errors.py draws its error tree in its docstring; the tree and the classes stay in step."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import outreach
from outreach import errors


def drawn() -> dict[str, str]:
    """{class name: its parent's name} as the docstring draws them."""
    lines = [
        line for line in (errors.__doc__ or "").splitlines() if re.search(r"[├└]── |^\s+OutreachError$", line)
    ]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        name = re.search(r"(\w+)", line.split("── ")[-1]).group(1)  # type: ignore[union-attr]
        depth = line.find("── ") if "── " in line else -1
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def defined() -> dict[str, str]:
    found = {}
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.OutreachError) and cls is not errors.OutreachError:
            found[name] = cls.__mro__[1].__name__
    return found


def test_the_docstring_draws_every_error_with_its_parent():
    assert drawn() == defined()


def test_every_error_a_user_can_act_on_is_defined_in_errors():
    for info in pkgutil.walk_packages(outreach.__path__, "outreach."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, errors.OutreachError):
                assert cls.__module__ == "outreach.errors", f"{name} is defined in {cls.__module__}"
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, Exception):
            assert issubclass(cls, errors.OutreachError), name

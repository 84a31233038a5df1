"""The layer rule in pyproject's [tool.importlinter] contracts bites: one forbidden import in a copy of the tree
breaks the contract that names it (and `make lint` runs the same check on the real tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bot/, outreach/, storage/ and pyproject.toml, copied: each test adds its one rogue module there."""
    copy = tmp_path_factory.mktemp("tree")
    for package in ("bot", "outreach", "storage"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports run in ``tree`` (which is first on its sys.path), on the named contracts (all if none)."""
    selection = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo", *selection],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("contract", "module", "line"),
    [
        ("layers", "storage/rogue.py", "from bot.settings import Settings"),
        ("layers", "outreach/rogue.py", "from storage.db import make_engine"),
        ("layers", "outreach/adapters/rogue.py", "from bot.i18n import Translator"),
        ("core-libraries", "outreach/rogue.py", "import slack_sdk"),
        ("core-libraries", "outreach/adapters/rogue.py", "from sqlalchemy import select"),
        ("storage-libraries", "storage/rogue.py", "from slack_sdk import WebClient"),
        ("core-ports", "outreach/rogue.py", "from outreach.adapters.smtp import SmtpMailer"),
        ("core-ports", "outreach/rogue.py", "import smtplib"),
        ("core-ports", "outreach/rogue.py", "import magic"),
        ("composition-root", "bot/handlers/rogue.py", "from storage.unit_of_work import SqlUnitOfWork"),
        ("composition-root", "bot/rogue.py", "from outreach.adapters.webhook import WebhookTransport"),
    ],
)
def test_one_forbidden_import_breaks_its_contract(tree: Path, contract: str, module: str, line: str) -> None:
    rogue = tree / module
    rogue.write_text(f"{line}\n", encoding="utf-8")
    try:
        result = lint_imports(tree, contract)
    finally:
        rogue.unlink()

    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout


def test_the_composition_root_may_build_adapters(tree: Path) -> None:
    """bot.wiring imports storage and the adapters today; the same import elsewhere in bot is what breaks."""
    wiring = (tree / "bot" / "wiring.py").read_text(encoding="utf-8")

    assert "from storage." in wiring
    assert "from outreach.adapters." in wiring
    assert lint_imports(tree, "composition-root").returncode == 0

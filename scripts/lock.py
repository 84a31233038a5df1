"""Writes constraints.txt: the exact version of every package that ``pip install -e '.[dev,bench]'`` installs
(``make bench`` adds the bench extra to what ``make run``/``make test`` install).

pip resolves the whole tree without installing anything (``--dry-run --ignore-installed --report``), for the
Python that runs this script. ``make lock`` takes the newest versions pyproject.toml's ranges allow (an upgrade:
run ``make test`` next); ``make lock KEEP=1`` keeps every current pin and only pins what is new (after adding a
dependency to pyproject.toml).

Why a constraints file rather than a requirements lock: pyproject.toml stays the one list of what we depend on,
and a constraint only fixes a version, never installs a package, so a pin that a platform or a Python version
does not need is harmless.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
PROJECT = "prospect-outreach"


def resolve(keep: bool) -> list[tuple[str, str]]:
    """(name, version) of every package the project and its dev extra need, ours excluded."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"]
        command += ["--report", str(report)]
        if keep and CONSTRAINTS.exists():
            command += ["--constraint", str(CONSTRAINTS)]
        command += ["--editable", f"{ROOT}[dev,bench]"]
        # The command line is ours (this Python's pip, our own tree): nothing from outside goes into it.
        subprocess.run(command, check=True)  # noqa: S603
        installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    pins = [(item["metadata"]["name"], item["metadata"]["version"]) for item in installs]
    return sorted((pin for pin in pins if pin[0].lower() != PROJECT), key=lambda pin: pin[0].lower())


def main(argv: list[str]) -> int:
    pins = resolve(keep="--keep" in argv)
    header = [
        "# Exact versions for `make run` and `make test`: pip install --constraint constraints.txt -e '.[dev]'.",
        "# Written by `make lock` (scripts/lock.py) from pyproject.toml's ranges; do not edit by hand.",
        f"# Resolved on Python {platform.python_version()} ({sys.platform}).",
    ]
    CONSTRAINTS.write_text("\n".join([*header, *(f"{name}=={version}" for name, version in pins)]) + "\n")
    print(f"{CONSTRAINTS.name}: {len(pins)} packages pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

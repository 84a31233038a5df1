"""Run every benchmark script in this folder and print one table of their figures.

Each script prints lines ``name value unit [target]``; anything else it prints is passed through to stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "render.py",
    "scan.py",
    "list_db.py",
    "list.py",
    "workspaces.py",
    "submit.py",
    "select_matching.py",
    "templates.py",
    "dashboard.py",
    "open.py",
    "bulk.py",
    "progress.py",
    "memory.py",
    "mail_replies.py",
    "imap_poll.py",
    "peers.py",
    "scale.py",
    "list_load.py",
]


def main() -> int:
    rows: list[tuple[str, str, str, str, str]] = []
    failed = []
    for name in SCRIPTS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            failed.append(name)
            sys.stderr.write(proc.stderr)
        for line in proc.stdout.splitlines():
            parts = line.split(maxsplit=3)
            if len(parts) >= 3:
                rows.append((name, parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
            else:
                print(line, file=sys.stderr)
    table = [("script", "figure", "value", "unit", "target"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

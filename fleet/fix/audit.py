"""The audit log of `wardwatch fix` on the operator's machine: one JSON line per action
(who, when, PC, action, options, result, what changed, the agent's verdict before and after),
in <state dir>/fix.jsonl (mode 0600). It holds only what this module writes: no inventory
variable, no password, no environment."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from pathlib import Path
from typing import Any

from fleet.errors import EXIT_USAGE, FleetError

FILE = "fix.jsonl"


def log_path(state_dir: Path) -> Path:
    return state_dir / FILE


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name for this uid
        return f"uid {os.getuid()}"


def append(state_dir: Path, entry: dict[str, Any]) -> None:
    path = log_path(state_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, sort_keys=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read(state_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The entries, oldest first (the last `limit` of them). A line that is not JSON is an error naming it."""
    path = log_path(state_dir)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise FleetError(f"{path}: cannot read the audit log: {e.strerror}", EXIT_USAGE) from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise FleetError(f"{path}:{n}: not a JSON line / dòng không phải JSON", EXIT_USAGE) from None
        if isinstance(entry, dict):
            out.append(entry)
    return out[-limit:] if limit else out

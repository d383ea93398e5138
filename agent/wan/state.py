"""The WAN counters that must survive an agent restart, kept in the agent's
state_dir as JSON, written atomically (temporary file in the same directory,
fsync, rename, fsync of the directory where the OS allows it).

A missing file starts every counter from zero (logged); a corrupt one is set
aside as <name>.corrupt and every counter starts from zero (logged) -- never a
crash. Only one process writes the file: the one holding the lock file (pid and
process start time, so a stale lock left by a crash or a `check` is taken over).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path

import psutil

from agent.files import write_atomic
from agent.wan.health import Counters

log = logging.getLogger("wardwatch.wan")

FILE_NAME = "wan-state.json"
LOCK_NAME = "wan-state.lock"
VERSION = 1


class StateStore:
    def __init__(self, state_dir: str | os.PathLike[str]):
        self.dir = Path(state_dir)
        self.path = self.dir / FILE_NAME
        self.read_failed = False  # the last load could not read a file that may be there

    def load(self) -> dict[str, Counters]:
        self.read_failed = False
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            log.info("wan: no saved state at %s; outage counters start from zero", self.path)
            return {}
        except OSError as e:
            self.read_failed = True
            log.warning("wan: cannot read %s (%s); outage counters start from zero", self.path, e.strerror or e)
            return {}
        try:
            return _parse(raw)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
            aside = self.path.with_name(FILE_NAME + ".corrupt")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            log.warning("wan: saved state %s is corrupt (%s); set aside as %s, outage counters start from zero",
                        self.path, e, aside.name)
            return {}

    def save(self, counters: dict[str, Counters]) -> None:
        doc = {"version": VERSION, "targets": {
            name: {"outage_seconds_total": c.outage_seconds, "outages_total": c.outages, "down": c.down,
                   "consecutive_failures": c.consecutive_failures}
            for name, c in sorted(counters.items())}}
        data = json.dumps(doc, indent=1).encode()
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, data, mode=None)


def _parse(raw: bytes) -> dict[str, Counters]:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("targets"), dict):
        raise ValueError(f"not a version {VERSION} wardwatch WAN state document")
    out = {}
    for name, t in doc["targets"].items():
        seconds, outages = float(t["outage_seconds_total"]), int(t["outages_total"])
        failures = int(t["consecutive_failures"])
        if not math.isfinite(seconds) or seconds < 0 or outages < 0 or failures < 0:
            raise ValueError(f"target {name!r}: negative or infinite counter")
        out[str(name)] = Counters(seconds, outages, bool(t["down"]), failures)
    return out


class OwnerLock:
    """'This process writes the state file': a lock file holding our pid and start time."""

    def __init__(self, state_dir: str | os.PathLike[str]):
        self.path = Path(state_dir) / LOCK_NAME
        self.held = False

    @staticmethod
    def _me() -> dict[str, float]:
        return {"pid": os.getpid(), "started": psutil.Process().create_time()}

    def holder(self) -> int | None:
        """The pid of a live process holding the lock, or None when free or stale."""
        try:
            doc = json.loads(self.path.read_text())
            pid, started = int(doc["pid"]), float(doc["started"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None  # unreadable: treated as stale
        try:
            if abs(psutil.Process(pid).create_time() - started) < 1.0:
                return pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        return None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is not None and holder != os.getpid():
                    return False
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # stale (or ours from an earlier run in this process)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self._me(), f)
            self.held = True
            return True
        return False

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.held = False

"""What the agent knows about one scanner, from any source (SANE, eSCL, WIA)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The bounded `problem` label of wardwatch_scanner_problem.
UNREACHABLE, MISSING, STOPPED, DOWN, ADF_JAM, ADF_DOOR_OPEN, DEVICE_ERROR, OTHER = (
    "unreachable", "missing", "stopped", "down", "adf_jam", "adf_door_open", "device_error", "other")
PROBLEMS: tuple[str, ...] = (UNREACHABLE, MISSING, STOPPED, DOWN, ADF_JAM, ADF_DOOR_OPEN, DEVICE_ERROR, OTHER)
# A scanner with one of these cannot scan now; an ADF problem still lets the flatbed work.
BLOCKING = frozenset({UNREACHABLE, MISSING, STOPPED, DOWN, DEVICE_ERROR})


@dataclass
class ScannerStatus:
    name: str            # the label: SANE device name, configured eSCL name, WIA device name
    source: str          # sane, escl, wia
    vendor: str = ""
    model: str = ""
    problems: set[str] = field(default_factory=set)
    error: str = ""      # why it could not be read (short; never a secret)

    @property
    def up(self) -> bool:
        return not (self.problems & BLOCKING)

"""Whether the problem an action answers is there, as the PC's own agent says it
(`wardwatch-agent check --format json`, asked over SSH by fleet/diagnose.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agent.report import INFO, PASS
from fleet.diagnose import Diagnosis
from fleet.fix.actions import Action


@dataclass
class Verdict:
    ok: bool | None                 # None: the agent could not be asked
    problems: list[str] = field(default_factory=list)  # "subject: detail" of each failing item concerned
    error: str = ""                 # why the agent could not be asked

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _concerned(item: dict[str, Any], action: Action, printer: str) -> bool:
    if action.areas and item.get("area") not in action.areas:
        return False
    return not (printer and action.takes_printer and item.get("key") != f"printer:{printer}")


def judge(d: Diagnosis, action: Action, printer: str = "") -> Verdict:
    """The failing check items the action concerns (its areas; with --printer, that printer only),
    and for agent-restart the agent's service and collectors."""
    problems = []
    for item in (d.check or {}).get("items", []):
        if _concerned(item, action, printer) and item.get("status") not in (PASS, INFO):
            text = str(item.get("subject") or item.get("key") or "?")
            detail = str(item.get("detail") or item.get("found") or "")
            problems.append(f"{text}: {detail}" if detail else text)
    if action.agent_service:
        if d.service_ok is False:
            problems.append(f"wardwatch-agent: {d.service}")
        for name, c in sorted(((d.check or {}).get("collectors") or {}).items()):
            if isinstance(c, dict) and not c.get("success"):
                problems.append(f"collector {name}: {c.get('error') or 'failed'}")
    return Verdict(not problems, problems)


def unavailable(why: str) -> Verdict:
    return Verdict(None, [], why)

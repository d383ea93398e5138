"""Regenerates the README's config and metric references from their declarations."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.repo_venv import use_repo_venv  # noqa: E402

use_repo_venv()  # `python3 scripts/update-readme.py` runs in the clone's .venv

from agent import config as cfg  # noqa: E402
from agent.devices import printer_rules  # noqa: E402
from exporters import catalogue  # noqa: E402


def put(text: str, tag: str, body: str) -> str:
    begin, end = f"<!-- {tag}:begin -->\n", f"<!-- {tag}:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + body + end + tail


readme = REPO / "README.md"
text = put(readme.read_text(encoding="utf-8"), "config-reference", cfg.reference_markdown())
text = put(text, "metric-reference", catalogue.reference_markdown())
readme.write_text(text, encoding="utf-8")

doc = REPO / "docs" / "printers-scanners.md"
doc.write_text(put(doc.read_text(encoding="utf-8"), "decision-table", printer_rules.markdown_table()), encoding="utf-8")

"""Runs one fuzz target under atheris (coverage-guided), on its committed corpus.

    python3 fuzz/run.py config -runs=1000000
    python3 fuzz/run.py --list
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    import logging

    import atheris

    logging.disable(logging.CRITICAL)  # the parsers' warnings about bad input would only slow the fuzzer down

    # Our own parsers are instrumented for coverage; third-party libraries (PyYAML, prometheus_client,
    # cryptography...) are not: instrumenting them costs seconds at every start and guides nothing of ours.
    with atheris.instrument_imports(include=["agent", "exporters"]):
        from fuzz.targets import TARGETS
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help", "--list"):
        print(__doc__ + "\ntargets: " + ", ".join(TARGETS))
        sys.exit(0)
    name = sys.argv[1]
    if name not in TARGETS:
        sys.exit(f"fuzz/run.py: unknown target {name!r}; targets: {', '.join(TARGETS)}")
    target = TARGETS[name]

    def one(data: bytes) -> None:
        try:
            target.parse(data)
        except target.allowed:
            pass

    corpus = REPO / "fuzz" / "corpus" / name
    # libFuzzer adds what it finds to the first corpus dir: a scratch one, so the committed seeds stay as they are.
    scratch = tempfile.mkdtemp(prefix=f"wardwatch-fuzz-{name}-")
    argv = [sys.argv[0], *sys.argv[2:], scratch, str(corpus)]
    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

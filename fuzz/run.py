"""Runs one fuzz target under atheris (coverage-guided), on its committed corpus.

    python3 fuzz/run.py config -runs=1000000
    python3 fuzz/run.py --list

Crashing inputs are written to fuzz/artifacts/ (ignored by git) unless libFuzzer is given its
own -artifact_prefix. What the fuzzer adds to the corpus, and the files some targets go
through, live in one scratch directory that is removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ARTIFACTS = REPO / "fuzz" / "artifacts"
SCRATCH_ENV = "WARDWATCH_FUZZ_SCRATCH"  # set by the parent for the child that runs libFuzzer


def main() -> None:
    from scripts.repo_venv import use_repo_venv

    use_repo_venv()  # `python3 fuzz/run.py` runs in the clone's .venv, where atheris is
    if os.environ.get(SCRATCH_ENV):
        fuzz(sys.argv[1:], Path(os.environ[SCRATCH_ENV]))
        return
    # libFuzzer ends the process with exit(): Python's clean-up never runs there. So the fuzzer runs in
    # a child and this process removes the scratch directory after it, however the child ended.
    scratch = tempfile.mkdtemp(prefix="wardwatch-fuzz-")
    try:
        p = subprocess.run([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]],
                           env={**os.environ, SCRATCH_ENV: scratch}, check=False)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(p.returncode)


def fuzz(args: list[str], scratch: Path) -> None:
    import logging

    import atheris

    logging.disable(logging.CRITICAL)  # the parsers' warnings about bad input would only slow the fuzzer down

    # Our own parsers are instrumented for coverage; third-party libraries (PyYAML, prometheus_client,
    # cryptography...) are not: instrumenting them costs seconds at every start and guides nothing of ours.
    with atheris.instrument_imports(include=["agent", "exporters"]):
        from fuzz.targets import TARGETS
    if not args or args[0] in ("-h", "--help", "--list"):
        print(__doc__ + "\ntargets: " + ", ".join(TARGETS))
        sys.exit(0)
    name, options = args[0], args[1:]
    if name not in TARGETS:
        sys.exit(f"fuzz/run.py: unknown target {name!r}; targets: {', '.join(TARGETS)}")
    target = TARGETS[name]

    def one(data: bytes) -> None:
        try:
            target.parse(data)
        except target.allowed:
            pass

    if not any(o.startswith("-artifact_prefix=") for o in options):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        options.append(f"-artifact_prefix={ARTIFACTS}/{name}-")
    corpus = REPO / "fuzz" / "corpus" / name
    # libFuzzer adds what it finds to the first corpus dir: a scratch one, so the committed seeds stay as they are.
    found = scratch / "corpus"
    found.mkdir()
    atheris.Setup([sys.argv[0], *options, str(found), str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

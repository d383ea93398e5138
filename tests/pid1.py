"""When pytest is PID 1 (a container, `unshare --pid --fork`, scripts/test.sh ending in `exec`),
every orphan of the namespace becomes its child: a daemon the tests' hosts start in the background
(start-stop-daemon, sshd's sessions) and stop later stays a zombie unless PID 1 reaps it, and
`start-stop-daemon --stop` then says it "refused to die". Waiting for every child from inside pytest
would take the exit statuses subprocess is waiting for; so, as tini or dumb-init do, PID 1 forks:
the child runs the tests, PID 1 only reaps, forwards signals, and exits with the tests' status.

After the tests, PID 1 looks at what is left in its namespace (when /proc is the namespace's own,
`unshare --mount-proc` or a container): a process still there was started by a test that did not
stop it, and a new entry of $TMPDIR (or /tmp) other than pytest's own `pytest-of-*` was made by a
test outside its tmp_path. Each is named on stderr, and the run fails. (On a machine whose /tmp
others write to, point TMPDIR at an empty directory first.)"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
LEFT_BEHIND_EXIT = 3  # the tests passed, but left a process running or a file in the temporary directory


def pytest_configure(config) -> None:  # noqa: ARG001
    """A pytest hook (tests/conftest.py, or `-p pid1`): it runs before any test output, while pytest's
    capture is suspended, so PID 1 keeps the terminal's stdout and stderr."""
    become_reaper_if_pid1()


def become_reaper_if_pid1() -> None:
    """Returns in the child (the test run) only; PID 1 exits with the tests' status."""
    if os.getpid() != 1:
        return
    tmp = tempfile.gettempdir()
    tmp_before = set(os.listdir(tmp))
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        return
    try:
        status = _reap_until(child)
        status = _left_behind(status)
        status = _tmp_left(tmp, tmp_before, status)
    finally:
        os._exit(status if isinstance(status, int) else 70)  # 70: EX_SOFTWARE, the reaper itself failed


def _reap_until(child: int) -> int:
    for sig in FORWARDED:
        signal.signal(sig, lambda s, _f: _forward(child, s))
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            return 70
        except InterruptedError:
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(wait_status)
            return code if code >= 0 else 128 - code  # killed by a signal: 128 + its number, as shells say


def _forward(child: int, sig: int) -> None:
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass


def _own_proc() -> bool:
    """/proc shows this PID namespace (its PID 1 is this process), not the host's."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


def _others() -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            found[int(entry)] = cmd or "?"
    return found


def _left_behind(status: int) -> int:
    if not _own_proc():
        return status
    deadline = time.monotonic() + 5  # a process stopped at the very end of the tests is given a moment to go
    while (left := _others()) and time.monotonic() < deadline:
        _reap_now()
        time.sleep(0.1)
    if not left:
        return status
    for pid, cmd in sorted(left.items()):
        print(f"tests/pid1.py: left running after the tests: pid {pid}: {cmd[:200]}", file=sys.stderr, flush=True)
        try:
            os.kill(pid, signal.SIGKILL)  # in this namespace only: everything here was started by the tests
        except ProcessLookupError:
            pass
    return status or LEFT_BEHIND_EXIT


def _tmp_left(tmp: str, before: set[str], status: int) -> int:
    if not _own_proc():
        return status
    left = sorted(n for n in set(os.listdir(tmp)) - before if not n.startswith("pytest-of-"))
    for name in left:
        print(f"tests/pid1.py: left in {tmp} after the tests: {name}", file=sys.stderr, flush=True)
    return status or (LEFT_BEHIND_EXIT if left else 0)


def _reap_now() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

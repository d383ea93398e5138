"""Runs a command of the tests as an unprivileged user (default `nobody`), as the agent
runs on a PC under its systemd unit (User=wardwatch, no capability but CAP_NET_RAW).

    command(["python3", "-m", "agent", "run", ...], caps=("net_raw",)) -> argv for Popen

The tests' Python may live where that user cannot go (pyenv under /root, mode 0700). The
launcher (this file, run as root under `unshare --mount`) then makes only the paths the
command needs reachable, in the command's own mount namespace: it mounts an empty tmpfs
(mode 0755) over the first directory the user cannot cross and binds the needed trees back
into it. Nothing changes outside that namespace. Then it drops to the user with setpriv:
real and effective uid and gid, no supplementary groups, no capability but the ones asked
for (as ambient capabilities, like the unit's AmbientCapabilities=), no_new_privs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(argv: list[str], user: str = "nobody", caps: tuple[str, ...] = (),
            paths: tuple[str, ...] = (), env: dict[str, str] | None = None) -> list[str]:
    """argv (its first item a Python or any binary) run as `user`; `paths`: more trees it must reach;
    `env`: set for the command only (e.g. LD_PRELOAD, which must not reach the launcher's own steps)."""
    args = [shutil.which("unshare") or "/usr/bin/unshare", "--mount", "--propagation", "private",
            sys.executable, str(Path(__file__).resolve()), "--user", user]
    for c in caps:
        args += ["--cap", c]
    for p in paths:
        args += ["--path", p]
    for k, v in (env or {}).items():
        args += ["--env", f"{k}={v}"]
    return args + ["--", *argv]


def _crossable_by_others(path: Path) -> Path | None:
    """The first directory on the way to `path` that others cannot cross, or None."""
    for d in [*reversed(path.parents), path]:
        try:
            mode = d.stat().st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return d
    return None


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _make_reachable(needed: list[Path]) -> None:
    blockers: dict[Path, list[Path]] = {}
    for p in needed:
        blocker = _crossable_by_others(p)
        if blocker is not None and blocker != p:
            blockers.setdefault(blocker, []).append(p)
    for blocker, inside in blockers.items():
        # the trees under the blocker, held at a staging place before the blocker is covered
        staging = Path(tempfile.mkdtemp(prefix="wardwatch-unpriv-"))
        tops = sorted({blocker / p.relative_to(blocker).parts[0] for p in inside})
        held = []
        for i, top in enumerate(tops):
            spot = staging / str(i)
            spot.mkdir()
            _mount("--bind", str(top), str(spot))
            held.append((top, spot))
        _mount("-t", "tmpfs", "-o", "mode=0755,size=64k", "wardwatch-unpriv", str(blocker))
        for top, spot in held:
            top.mkdir(parents=True, exist_ok=True)
            _mount("--bind", str(spot), str(top))
            subprocess.run(["umount", str(spot)], check=True, capture_output=True)  # the new bind stands alone
            spot.rmdir()
        staging.rmdir()  # nothing left behind outside this namespace


def main() -> None:
    argv = sys.argv[1:]
    user, caps, paths, extra_env = "nobody", [], [], {}
    while argv and argv[0] != "--":
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--user":
            user = value
        elif flag == "--cap":
            caps.append(value)
        elif flag == "--path":
            paths.append(value)
        elif flag == "--env":
            k, _, v = value.partition("=")
            extra_env[k] = v
    argv = argv[1:]
    pw = pwd.getpwnam(user)
    exe = Path(shutil.which(argv[0]) or argv[0]).resolve()
    needed = [Path(sys.prefix), Path(sys.base_prefix), exe.parent, REPO, *map(Path, paths)]
    _make_reachable([p.resolve() for p in needed])
    cap_list = ",".join(f"+{c}" for c in caps) if caps else "-all"
    setpriv = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
               "--clear-groups", f"--inh-caps={cap_list}", f"--bounding-set={cap_list}", "--no-new-privs"]
    if caps:
        setpriv.append(f"--ambient-caps={cap_list}")
    env = {**os.environ, "HOME": "/nonexistent", "USER": user, "LOGNAME": user}
    # The command's own variables are set by env(1), run as the user: setpriv itself never sees them
    # (an LD_PRELOAD in setpriv, still root, would set up state the user's process cannot open).
    with_env = [shutil.which("env") or "/usr/bin/env", *(f"{k}={v}" for k, v in extra_env.items())]
    os.execve(setpriv[0], [*setpriv, "--", *with_env, *argv], env)


if __name__ == "__main__":
    main()

"""Loopback "PCs" for rollout tests: one real sshd per host on its own 127.0.0.x
address and port, each with its own host key and install root.

The test generates the host keys and a client key, writes a known_hosts with the
hosts' real keys (so StrictHostKeyChecking can stay on; `wardwatch rollout
--known-hosts` reads it), and can give a host a key that does not match (a PC whose
key changed) or an address where nothing listens (a PC that is off).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from support import REPO, free_port, need, process


@dataclass
class SshHost:
    name: str
    address: str
    port: int
    root: Path          # the PC's own install root
    host_key: Path      # its private host key (public at .pub)
    agent_port: int

    def known_hosts_line(self, key: Path | None = None) -> str:
        pub = (key or self.host_key).with_suffix(".pub").read_text().split()
        return f"[{self.address}]:{self.port} {pub[0]} {pub[1]}\n"


def keygen(path: Path) -> Path:
    subprocess.run([need("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True)
    return path


SSHD_CONFIG = """\
Port {port}
ListenAddress {address}
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile {root}/sshd.pid
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
Subsystem sftp internal-sftp
MaxStartups 50:30:100
LogLevel VERBOSE
"""


@contextlib.contextmanager
def sshd(host: SshHost, authorized_keys: Path, tmp: Path) -> Iterator[None]:
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    conf = tmp / f"sshd_{host.name}.conf"
    conf.write_text(SSHD_CONFIG.format(port=host.port, address=host.address, host_key=host.host_key,
                                       authorized_keys=authorized_keys, root=host.root))
    with process([need("sshd"), "-D", "-e", "-f", str(conf)], port=host.port, host=host.address,
                 log=tmp / f"sshd_{host.name}.log"):
        yield


@dataclass
class Fleet:
    tmp: Path
    hosts: list[SshHost]
    client_key: Path
    known_hosts: Path


def address(i: int) -> str:
    """127.0.0.<10+i>: each loopback PC its own address."""
    return f"127.0.0.{10 + i}"


@contextlib.contextmanager
def fleet(tmp: Path, names: list[str], *, wrong_key: set[str] = frozenset(),
          down: set[str] = frozenset()) -> Iterator[Fleet]:
    """Start an sshd for every name (except those in `down`, which get a port where nothing
    listens). Hosts in `wrong_key` appear in known_hosts with a key that is not theirs."""
    tmp.mkdir(parents=True, exist_ok=True)
    client = keygen(tmp / "client_key")
    authorized = tmp / "authorized_keys"
    authorized.write_text(client.with_suffix(".pub").read_text())
    impostor = keygen(tmp / "other_host_key")
    hosts = []
    for i, name in enumerate(names):
        addr = address(i)
        root = tmp / "pcs" / name
        root.mkdir(parents=True)
        hosts.append(SshHost(name, addr, free_port(addr), root, keygen(tmp / f"host_key_{name}"), free_port(addr)))
    known = tmp / "known_hosts"
    known.write_text("".join(h.known_hosts_line(impostor if h.name in wrong_key else None) for h in hosts))
    with contextlib.ExitStack() as stack:
        for h in hosts:
            if h.name not in down:
                stack.enter_context(sshd(h, authorized, tmp))
        try:
            yield Fleet(tmp, hosts, client, known)
        finally:
            stop_agents(hosts)


@contextlib.contextmanager
def agent_world(prefix: str) -> Iterator[tuple[Path, str]]:
    """A directory for the PCs' roots that the agent's unprivileged user can traverse (pytest's own
    tmp is private to root), and a user name for the agent (`wardwatch_agent_user`), unique to this
    run; both removed afterwards (the user only if a rollout created it)."""
    # in /tmp, not $TMPDIR: that may sit inside a directory only root can cross (tests/test_pid1.py)
    tmp = Path(tempfile.mkdtemp(prefix=f"wardwatch-{prefix}-{os.getpid()}-", dir="/tmp"))
    tmp.chmod(0o755)
    user = f"ww{prefix[:8]}{os.getpid()}"[:30]
    try:
        yield tmp, user
    finally:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            subprocess.run(["userdel", user], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def stop_agents(hosts: list[SshHost]) -> None:
    """Stop every agent a rollout started under start-stop-daemon on these hosts."""
    for h in hosts:
        pidfile = h.root / "var/lib/wardwatch/agent.pid"
        if pidfile.exists():
            subprocess.run(["start-stop-daemon", "--stop", "--pidfile", str(pidfile), "--retry", "TERM/5/KILL/2",
                            "--remove-pidfile", "--oknodo"], capture_output=True, check=False)


def build_wheelhouse(dest: Path) -> Path:
    """wardwatch from this checkout and its dependencies, as wheels (what the role copies to each PC)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(dest), str(REPO)],
                   check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return dest


def build_deb(dest: Path, name: str = "wardwatch-test-vclient", version: str = "1.2.3") -> Path:
    """A small real .deb standing in for the virtualized client: one script in /opt."""
    pkg = dest / f"{name}_{version}"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: wardwatch tests <tests@example.invalid>\n"
        "Description: stand-in virtualized client for the wardwatch rollout tests\n")
    binary = pkg / "opt/wardwatch-test-vclient/bin/testvc"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexec sleep 3600\n")
    binary.chmod(0o755)
    deb = dest / f"{name}_{version}_all.deb"
    subprocess.run([need("dpkg-deb"), "--root-owner-group", "--build", str(pkg), str(deb)], check=True,
                   capture_output=True)
    return deb


def inventory(f: Fleet, path: Path, *, communes: dict[str, list[str]], group_vars: dict | None = None,
              host_vars: dict[str, dict] | None = None) -> Path:
    """An inventory of the fleet: district_test -> the given communes -> hosts, each with its own
    address, port, install root and agent port."""
    by_name = {h.name: h for h in f.hosts}
    children = {}
    for commune, names in communes.items():
        hosts = {}
        for n in names:
            h = by_name[n]
            hosts[n] = {
                "ansible_host": h.address,
                "ansible_port": h.port,
                "wardwatch_agent_root": str(h.root),
                "wardwatch_agent_listen_address": h.address,
                "wardwatch_agent_port": h.agent_port,
                "virtual_client_dpkg_root": str(h.root),
                **(host_vars or {}).get(n, {}),
            }
        children[f"commune_{commune}"] = {"vars": {"wardwatch_commune_name": commune.replace("_", " ").title()},
                                          "hosts": hosts}
    doc = {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_private_key_file": str(f.client_key),
            **(group_vars or {}),
        },
        "children": {"district_test": {"vars": {"wardwatch_district_name": "Quận Thử"}, "children": children}},
    }}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path

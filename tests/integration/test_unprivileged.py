"""The agent as an unprivileged user (`nobody`, no supplementary group) owning nothing but
its state dir, as under its systemd unit (User=wardwatch): it serves /metrics, keeps its
state, and probes ICMP the three ways a PC may allow it:

- with nothing granted: the ICMP target reports icmp_not_permitted, and the log says how to
  allow it (ping_group_range or CAP_NET_RAW), once;
- with CAP_NET_RAW as an ambient capability (the unit's AmbientCapabilities=CAP_NET_RAW): raw socket;
- in a network namespace whose net.ipv4.ping_group_range includes its group: an unprivileged
  ICMP datagram socket, no capability at all.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from netns import NetNS
from support import REPO, free_port, http_get, parse_metrics, process, wait_for
from unprivileged import command

GATEWAY = (("role", "gateway"), ("target", "gateway"))


@contextmanager
def agent_as_nobody(listen_host: str = "127.0.0.1", caps: tuple[str, ...] = (), ns: NetNS | None = None
                    ) -> Iterator[tuple[str, Path, Path]]:
    """(base URL, state dir, log) of `wardwatch-agent run` as nobody; everything but the state dir is root's."""
    nobody = pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix=f"wardwatch-unpriv-{os.getpid()}-", dir="/tmp"))
    try:
        root.chmod(0o755)
        state = root / "state"
        state.mkdir(mode=0o750)
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        port = free_port()
        conf = root / "agent.yml"
        conf.write_text(yaml.safe_dump({
            "state_dir": str(state),
            "collectors": {"printers": {"enabled": False}, "scanners": {"enabled": False},
                           "wan": {"interval": "1s", "state_save_interval": "1s", "targets": [
                               {"name": "gateway", "role": "gateway", "kind": "icmp", "address": "127.0.0.1",
                                "packets": 2, "packet_interval": "0.1s", "interval": "1s", "timeout": "0.5s"}]}}}))
        conf.chmod(0o644)
        argv = command([sys.executable, "-m", "agent", "run", "--config", str(conf), "--listen",
                        f"{listen_host}:{port}"], caps=caps)
        if ns is not None:
            argv = ns.cmd(*argv)
        log = root / "agent.log"
        with process(argv, port=port, host=listen_host, log=log, timeout=30, cwd=REPO):
            yield f"http://{listen_host}:{port}", state, log
    finally:
        shutil.rmtree(root, ignore_errors=True)


def scrape_until(base: str, predicate) -> dict:
    def ready():
        code, body = http_get(f"{base}/metrics")
        m = parse_metrics(body.decode()) if code == 200 else {}
        return m if predicate(m) else None
    return wait_for(ready, timeout=20, what="the ICMP target's first rounds")


def test_without_privilege_it_serves_and_says_why_icmp_cannot_run():
    with agent_as_nobody() as (base, state, log):
        # the hardware collector runs on its own schedule: its first run may come after the WAN's
        m = scrape_until(base, lambda m: m.get(("wardwatch_wan_probe_error", (("error", "icmp_not_permitted"),
                                                                              *GATEWAY))) == 1
                         and m.get(("wardwatch_collector_success", (("collector", "hardware"),))) == 1)
        assert ("wardwatch_wan_up", GATEWAY) not in m  # nothing said about the link: it was not probed
        text = log.read_text()
        assert text.count("ICMP not permitted") == 1
        assert "ping_group_range" in text and "CAP_NET_RAW" in text
        # the only files it made are its own, in its state dir
        assert sorted(p.name for p in state.iterdir()) == ["wan-state.lock"]
        assert all(p.stat().st_uid == pwd.getpwnam("nobody").pw_uid for p in state.iterdir())


def test_with_cap_net_raw_as_the_systemd_unit_grants_it_icmp_uses_a_raw_socket():
    with agent_as_nobody(caps=("net_raw",)) as (base, _, _):
        m = scrape_until(base, lambda m: m.get(("wardwatch_wan_up", GATEWAY)) == 1)
        assert m[("wardwatch_wan_icmp_socket", (("mode", "raw"),))] == 1


@pytest.mark.parametrize("group_range", ["0 2147483647"])
def test_with_ping_group_range_icmp_needs_no_capability(group_range):
    with NetNS("unpriv") as ns:
        ns.run("sysctl", "-w", f"net.ipv4.ping_group_range={group_range}")
        with agent_as_nobody(listen_host=ns.there, ns=ns) as (base, _, _):
            m = scrape_until(base, lambda m: m.get(("wardwatch_wan_up", GATEWAY)) == 1)
            assert m[("wardwatch_wan_icmp_socket", (("mode", "dgram"),))] == 1

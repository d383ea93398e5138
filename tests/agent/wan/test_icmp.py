import json
import socket
import sys

import pytest
from netns import NetNS
from support import REPO

from agent.wan import icmp
from agent.wan.targets import Target


def target(host: str, packets: int = 5, timeout: float = 1.0, spacing: float = 0.01) -> Target:
    return Target("ping", "gateway", "icmp", host, host, 0, 10.0, timeout, packets=packets, packet_interval=spacing)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_raw_socket_round_on_loopback(host):
    r = icmp.probe(target(host, packets=8), modes=("raw",))
    assert r.ok and r.icmp_mode == "raw"
    assert (r.sent, r.received, len(r.rtts)) == (8, 8, 8)
    assert all(0 < x < 1.0 for x in r.rtts)
    assert r.answered_at is not None and r.started <= r.answered_at < r.finished


def test_echo_packet_and_reply_parsing():
    payload = b"12345678" + bytes(48)
    pkt = icmp.build_echo(socket.AF_INET, 0xBEEF, 7, payload)
    assert icmp.checksum(pkt) == 0  # a correct checksum sums to zero
    reply = bytes([0, 0]) + pkt[2:]  # echo reply carries the same id, sequence and payload
    assert icmp.parse_reply(reply, socket.AF_INET, "dgram") == (0xBEEF, 7, payload)
    ip_header = bytes([0x45]) + bytes(19)
    assert icmp.parse_reply(ip_header + reply, socket.AF_INET, "raw") == (0xBEEF, 7, payload)
    assert icmp.parse_reply(pkt, socket.AF_INET, "dgram") is None  # our own request is not a reply
    assert icmp.parse_reply(b"\x00\x00", socket.AF_INET, "dgram") is None


# Probes run in a child process inside a namespace of their own, where net.ipv4.ping_group_range is
# set by the test; the child may drop to an unprivileged user (nobody) before opening any socket.
CHILD = """
import json, os, sys
sys.path.insert(0, {repo!r})
from agent.wan import icmp
from agent.wan.targets import Target
if {drop}:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
t = Target("lo", "gateway", "icmp", "127.0.0.1", "127.0.0.1", 0, 10.0, 1.0, packets=4, packet_interval=0.01)
r = icmp.probe(t)
print(json.dumps({{"ok": r.ok, "mode": r.icmp_mode, "received": r.received, "sent": r.sent,
                   "error": r.error, "detail": r.detail}}))
"""


def run_in(ns: NetNS, ping_range: str, drop: bool) -> dict:
    ns.run("sh", "-c", f"echo {ping_range} > /proc/sys/net/ipv4/ping_group_range")  # per namespace
    out = ns.run(sys.executable, "-c", CHILD.format(repo=str(REPO), drop=drop)).stdout
    return json.loads(out)


def test_unprivileged_datagram_socket_where_ping_group_range_allows_it():
    with NetNS("icmp") as ns:
        r = run_in(ns, "0 2147483647", drop=True)
    assert r == {"ok": True, "mode": "dgram", "received": 4, "sent": 4, "error": "", "detail": ""}


def test_root_falls_back_to_a_raw_socket_when_datagram_sockets_are_not_allowed():
    with NetNS("icmp") as ns:
        r = run_in(ns, "1 0", drop=False)
    assert (r["ok"], r["mode"], r["received"]) == (True, "raw", 4)


def test_neither_socket_allowed_is_a_clear_status_not_a_loss():
    with NetNS("icmp") as ns:
        r = run_in(ns, "1 0", drop=True)
    assert (r["ok"], r["mode"], r["error"], r["sent"]) == (False, "none", "icmp_not_permitted", 0)
    assert "ping_group_range 1 0" in r["detail"] and "CAP_NET_RAW" in r["detail"]


def test_host_that_drops_echo_requests_times_out_and_loses_every_packet():
    with NetNS("icmp") as ns:
        ns.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
        r = icmp.probe(target(ns.there, packets=3, timeout=0.3), modes=("raw",))
        assert (r.ok, r.error, r.sent, r.received) == (False, "timeout", 3, 0)
        ns.link(False)  # link down: nothing can even be sent
        r = icmp.probe(target(ns.there, packets=3, timeout=0.3), modes=("raw",))
        assert (r.ok, r.error, r.received) == (False, "unreachable", 0)


def test_sockets_by_default_on_linux_the_ip_helper_api_on_windows():
    assert icmp.default_modes("linux") == ("dgram", "raw")
    assert icmp.default_modes("win32") == ("iphlpapi",)
    assert icmp.MODES == (("iphlpapi",) if sys.platform == "win32" else ("dgram", "raw"))


@pytest.mark.skipif(sys.platform == "win32", reason="the Linux default")
def test_on_linux_the_default_round_uses_the_sockets_not_the_ip_helper_api(monkeypatch):
    from agent.wan import icmp_windows

    def not_here(*a, **kw):
        raise AssertionError("the IP Helper API was used on Linux")

    monkeypatch.setattr(icmp_windows, "probe", not_here)
    r = icmp.probe(target("127.0.0.1", packets=3))
    assert r.ok and r.icmp_mode in ("dgram", "raw") and r.received == 3


def test_the_ip_helper_mode_hands_the_round_to_icmp_windows(monkeypatch):
    from agent.wan import icmp_windows
    from agent.wan.result import ProbeResult

    seen = []
    monkeypatch.setattr(icmp_windows, "probe", lambda t: seen.append(t) or ProbeResult(True, 0, 1, icmp_mode="x"))
    t = target("127.0.0.1")
    assert icmp.probe(t, ("iphlpapi",)).icmp_mode == "x" and seen == [t]

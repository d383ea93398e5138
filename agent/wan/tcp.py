"""TCP connect probe, and the connect step the TLS and HTTP probes share.

The round-trip time of a TCP target is its handshake (SYN to SYN-ACK, one
network round trip) as the kernel measured it (agent.wan.timing), or the connect
time where the kernel does not tell; the name resolution is not included.
"""

from __future__ import annotations

import socket
import time

from agent.wan import timing
from agent.wan.resolve import resolve
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def connect(host: str, port: int, deadline: float) -> tuple[socket.socket, float, float, float]:
    """(connected socket, resolve seconds, connect seconds, monotonic time the connect began).
    The connect seconds are as this process saw them; `rtt()` is the network's part."""
    t0 = time.monotonic()
    family, addr = resolve(host, port, deadline)
    t1 = time.monotonic()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(remaining(deadline))
        t2 = time.monotonic()
        sock.connect((addr, port))
        t3 = time.monotonic()
    except BaseException:
        sock.close()
        raise
    return sock, t1 - t0, t3 - t2, t2


def rtt(sock: socket.socket, connect_seconds: float) -> float:
    """The round trip of the handshake: the kernel's measure if it has one, else the connect time."""
    kernel = timing.tcp_handshake_rtt(sock)
    return kernel if kernel is not None and kernel <= connect_seconds else connect_seconds


def probe(target: Target) -> ProbeResult:
    started = time.monotonic()
    deadline = started + target.timeout
    try:
        sock, _, connect_s, connect_at = connect(target.host, target.port, deadline)
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        return failed(started, time.monotonic(), error, detail)
    handshake = rtt(sock, connect_s)
    sock.close()
    return ProbeResult(True, started, time.monotonic(), 1, 1, (handshake,), answered_at=connect_at)

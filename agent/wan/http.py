"""HTTP(S) probe with real phases, measured on our own socket:

    dns         resolving the URL's host
    connect     TCP connect (the target's round-trip time is the handshake's, agent.wan.tcp.rtt)
    tls         TLS handshake (https)
    first_byte  request sent -> first byte of the answer (server time + one round trip)
    transfer    first byte -> the end of the body (read up to MAX_BODY)

One GET, `Connection: close`, redirects not followed: a 301/302 is judged by
`expected_status` like any other status.
"""

from __future__ import annotations

import http.client
import select
import time

from agent import __version__
from agent.wan import tls
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target
from agent.wan.tcp import connect, remaining, rtt

MAX_BODY = 1 << 20
PHASES = ("dns", "connect", "tls", "first_byte", "transfer")


def _host_header(target: Target) -> str:
    host = target.server_name or target.host
    if ":" in host:
        host = f"[{host}]"
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def request_bytes(target: Target) -> bytes:
    return (f"GET {target.path} HTTP/1.1\r\nHost: {_host_header(target)}\r\n"
            f"User-Agent: wardwatch-agent/{__version__}\r\nAccept: */*\r\nConnection: close\r\n\r\n").encode("latin-1")


def _status_ok(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= status <= hi for lo, hi in ranges)


def probe(target: Target) -> ProbeResult:
    started = time.monotonic()
    deadline = started + target.timeout
    phases: dict[str, float] = {}
    sock = None
    expiry = None
    try:
        sock, phases["dns"], connect_s, connect_at = connect(target.host, target.port, deadline)
        phases["connect"] = connect_s
        handshake_rtt = rtt(sock, connect_s)
        if target.scheme == "https":
            sock, phases["tls"], expiry = tls.handshake(sock, target, deadline)
        sock.settimeout(remaining(deadline))
        t_req = time.monotonic()
        sock.sendall(request_bytes(target))
        pending = getattr(sock, "pending", lambda: 0)()
        if not pending and not select.select([sock], [], [], remaining(deadline))[0]:
            raise TimeoutError("no answer before the timeout")
        t_first = time.monotonic()
        phases["first_byte"] = t_first - t_req
        response = http.client.HTTPResponse(sock, method="GET")  # type: ignore[arg-type]
        sock.settimeout(remaining(deadline))
        response.begin()
        body = bytearray()
        while len(body) < MAX_BODY:
            sock.settimeout(remaining(deadline))
            chunk = response.read1(min(65536, MAX_BODY - len(body)))
            if not chunk:
                break
            body += chunk
        phases["transfer"] = time.monotonic() - t_first
        status = response.status
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        if isinstance(e, http.client.HTTPException):
            error, detail = "other", f"not a valid HTTP answer: {type(e).__name__}"
        return failed(started, time.monotonic(), error, detail, phases=phases, cert_expiry=expiry)
    finally:
        if sock is not None:
            sock.close()
    finished = time.monotonic()
    if not _status_ok(status, target.expected_status):
        wanted = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in target.expected_status)
        return failed(started, finished, "http_status", f"HTTP {status} (expected {wanted})",
                      phases=phases, cert_expiry=expiry)
    if target.body_regex is not None and not target.body_regex.search(body.decode("utf-8", "replace")):
        return failed(started, finished, "body_mismatch",
                      f"HTTP {status}, but the body does not match {target.body_regex.pattern!r}",
                      phases=phases, cert_expiry=expiry)
    return ProbeResult(True, started, finished, 1, 1, (handshake_rtt,), answered_at=connect_at, phases=phases,
                       cert_expiry=expiry)

"""TLS probe: connect, handshake, read the peer certificate's expiry.

With `tls_verify` (the default) an untrusted or expired certificate, or one for
another name, fails the probe like blackbox_exporter does; the expiry is read
from the certificate's DER bytes either way (agent.wan.x509).
"""

from __future__ import annotations

import functools
import ssl
import time

from agent.wan import x509
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target
from agent.wan.tcp import connect, remaining, rtt


def context(target: Target) -> ssl.SSLContext:
    return _context(target.ca_file, target.tls_verify)


def clear_contexts() -> None:
    """Forget cached contexts (a reload may come with a renewed CA file)."""
    _context.cache_clear()


@functools.lru_cache(maxsize=64)
def _context(ca_file: str, verify: bool) -> ssl.SSLContext:
    """Built once per (CA file, verify) and shared: loading the system's CA store costs ~20 ms of CPU,
    too much to pay on every round. An SSLContext is safe to share between threads."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def handshake(sock, target: Target, deadline: float) -> tuple[ssl.SSLSocket, float, float | None]:
    """(TLS socket, handshake seconds, certificate expiry or None)."""
    name = target.server_name or target.host
    tls = context(target).wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
    tls.settimeout(remaining(deadline))
    t0 = time.monotonic()
    tls.do_handshake()
    took = time.monotonic() - t0
    der = tls.getpeercert(binary_form=True)
    expiry = None
    if der:
        try:
            expiry = x509.not_after(der)
        except x509.DERError:
            expiry = None
    return tls, took, expiry


def probe(target: Target) -> ProbeResult:
    started = time.monotonic()
    deadline = started + target.timeout
    sock = None
    try:
        sock, _, connect_s, connect_at = connect(target.host, target.port, deadline)
        handshake_rtt = rtt(sock, connect_s)
        sock, tls_s, expiry = handshake(sock, target, deadline)
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        return failed(started, time.monotonic(), error, detail)
    finally:
        if sock is not None:
            sock.close()
    return ProbeResult(True, started, time.monotonic(), 1, 1, (handshake_rtt,), answered_at=connect_at,
                       phases={"connect": connect_s, "tls": tls_s}, cert_expiry=expiry)

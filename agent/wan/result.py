"""What one probe round returns, and the bounded set of reasons a probe fails.

The error class is a label value (`wardwatch_wan_probe_error{error}`), so it is
one of ERRORS; the free-text `detail` goes to logs and `check`, never to labels.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass, field

from agent.wan.resolve import ResolveError

ERRORS = (
    "timeout",             # no answer within the target's timeout
    "refused",             # connection refused / port unreachable
    "unreachable",         # no route, network or host unreachable, link down
    "resolve",             # the target's own host name did not resolve
    "tls",                 # TLS handshake or certificate verification failed
    "http_status",         # HTTP status not in expected_status
    "body_mismatch",       # HTTP body did not match body_regex
    "dns_rcode",           # the DNS server answered with an error code (NXDOMAIN, SERVFAIL, ...)
    "dns_no_answer",       # the DNS server answered without a record of the asked type
    "icmp_not_permitted",  # neither an ICMP datagram socket nor a raw socket may be opened
    "other",
)


@dataclass
class ProbeResult:
    ok: bool
    started: float                 # time.monotonic() when the round began
    finished: float                # time.monotonic() when it ended
    sent: int = 1                  # packets or attempts of the round
    received: int = 0              # of which answered
    rtts: tuple[float, ...] = ()   # seconds, one per answer
    error: str = ""                # one of ERRORS when not ok
    detail: str = ""               # human text for logs and check
    answered_at: float | None = None  # monotonic time the first answered packet/attempt was sent
    phases: dict[str, float] = field(default_factory=dict)  # HTTP: dns, connect, tls, first_byte, transfer
    cert_expiry: float | None = None  # unix time the peer certificate expires (https, tls)
    icmp_mode: str = ""            # ICMP: dgram, raw, or none


def failed(started: float, finished: float, error: str, detail: str, **kw) -> ProbeResult:
    assert error in ERRORS, error
    return ProbeResult(False, started, finished, error=error, detail=detail, **kw)


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.EADDRNOTAVAIL}


def classify(e: BaseException) -> tuple[str, str]:
    """(error class, one-line detail) for an exception raised by a probe."""
    if isinstance(e, ResolveError):
        return "resolve", f"name not resolved: {e}"
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "timeout", "no answer before the timeout"
    if isinstance(e, ssl.SSLError | ssl.CertificateError):
        reason = getattr(e, "verify_message", None) or getattr(e, "reason", None) or str(e)
        return "tls", f"TLS: {reason}"
    if isinstance(e, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(e, OSError) and e.errno in _UNREACHABLE:
        return "unreachable", e.strerror or str(e)
    if isinstance(e, OSError):
        return "other", e.strerror or str(e) or type(e).__name__
    return "other", f"{type(e).__name__}: {e}"

"""DNS probe: one query over UDP to a given server, written with the stdlib
(RFC 1035 4.1): header, one question, answers read with name compression.

Up when the server answers NOERROR with at least one record of the asked type
(a CNAME chain ending in one counts). The round-trip time is query -> answer
(the answer's kernel receive time on Linux, agent.wan.timing).
"""

from __future__ import annotations

import ipaddress
import random
import socket
import struct
import time
from dataclasses import dataclass

from agent.wan import timing
from agent.wan.resolve import resolve
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target
from agent.wan.tcp import remaining

QTYPES = {"A": 1, "AAAA": 28}
CNAME = 5
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DNSFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Answer:
    ident: int
    rcode: int
    truncated: bool
    records: tuple[tuple[int, bytes], ...]  # (type, rdata)

    def addresses(self, qtype: int) -> list[str]:
        size = 4 if qtype == 1 else 16
        return [str(ipaddress.ip_address(rd)) for t, rd in self.records if t == qtype and len(rd) == size]


def encode_name(name: str) -> bytes:
    name = name.rstrip(".")
    raw = name.encode("idna") if name else b""
    out = bytearray()
    for label in raw.split(b".") if raw else []:
        if not 0 < len(label) < 64:
            raise ValueError(f"bad DNS name {name!r}")
        out += bytes([len(label)]) + label
    out += b"\0"
    if len(out) > 255:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def build_query(ident: int, name: str, qtype: int) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # RD set, one question
    return header + encode_name(name) + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, off: int) -> int:
    for _ in range(128):
        if off >= len(data):
            raise DNSFormatError("name runs past the message")
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        if n & 0xC0:
            raise DNSFormatError("bad label type")
        off += 1 + n
    raise DNSFormatError("name too long")


def parse_response(data: bytes) -> Answer:
    if len(data) < 12:
        raise DNSFormatError("shorter than a DNS header")
    ident, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if not flags & 0x8000:
        raise DNSFormatError("not a response")
    off = 12
    for _ in range(qd):
        off = _skip_name(data, off) + 4
    records = []
    for _ in range(an):
        off = _skip_name(data, off)
        if off + 10 > len(data):
            raise DNSFormatError("record runs past the message")
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[off:off + 10])
        off += 10
        if off + rdlen > len(data):
            raise DNSFormatError("record data runs past the message")
        records.append((rtype, data[off:off + rdlen]))
        off += rdlen
    return Answer(ident, flags & 0x000F, bool(flags & 0x0200), tuple(records))


def query(server: str, port: int, name: str, qtype: int, deadline: float) -> tuple[Answer, float, float]:
    """(answer, seconds from query to answer, monotonic send time)."""
    family, addr = resolve(server, port, deadline, socket.SOCK_DGRAM)
    ident = random.getrandbits(16)  # noqa: S311 - a query id, not a secret
    packet = build_query(ident, name, qtype)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((addr, port))
        stamps = timing.enable_rx_timestamps(sock)
        wall, t0 = time.time_ns(), time.monotonic()
        sock.send(packet)
        while True:
            sock.settimeout(remaining(deadline))
            data, _, rx_ns = timing.recv(sock, stamps)
            t1 = time.monotonic()
            try:
                answer = parse_response(data)
            except DNSFormatError:
                continue  # not ours or garbage: keep waiting until the deadline
            if answer.ident == ident:
                return answer, timing.best_rtt(t1 - t0, wall, rx_ns), t0


def probe(target: Target) -> ProbeResult:
    started = time.monotonic()
    deadline = started + target.timeout
    qtype = QTYPES[target.query_type]
    try:
        answer, rtt, sent_at = query(target.host, target.port, target.query, qtype, deadline)
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        return failed(started, time.monotonic(), error, detail)
    finished = time.monotonic()
    if answer.rcode != 0:
        code = RCODES.get(answer.rcode, str(answer.rcode))
        return failed(started, finished, "dns_rcode", f"{target.query}: {code}")
    if not answer.addresses(qtype):
        why = " (answer truncated; TCP not tried)" if answer.truncated else ""
        return failed(started, finished, "dns_no_answer", f"{target.query}: no {target.query_type} record{why}")
    return ProbeResult(True, started, finished, 1, 1, (rtt,), answered_at=sent_at)

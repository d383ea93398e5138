"""SNMP v1/v2c requests over UDP with asyncio: GETNEXT and GETBULK, nothing else.

The agent only ever asks printers for a few table columns, so it needs two requests and
one response out of the whole protocol (RFC 1157, RFC 3416), which BER-encode to a few
nested TLVs. Encoding and decoding them here costs a small fraction of a general SNMP
engine's work (bench/printers.py shows the figures; pysnmp is the oracle the tests
compare with), and keeps pysnmp and pyasn1 out of the agent's install.

Decoded values are plain Python: INTEGER and the unsigned application types (Counter32,
Gauge32, TimeTicks, Counter64) as int; OCTET STRING, IpAddress and Opaque as bytes;
OBJECT IDENTIFIER as a tuple of ints; NULL, noSuchObject, noSuchInstance and
endOfMibView as None. `decode_response` raises `BerError` on anything malformed.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OID = tuple[int, ...]

V1, V2C = 0, 1
GET, GET_NEXT, RESPONSE, GET_BULK, REPORT = 0xA0, 0xA1, 0xA2, 0xA5, 0xA8

_INTEGER, _OCTETS, _NULL, _OID, _SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
_UNSIGNED = frozenset({0x41, 0x42, 0x43, 0x46})  # Counter32 Gauge32 TimeTicks Counter64
_BYTES = frozenset({_OCTETS, 0x40, 0x44})  # OCTET STRING IpAddress Opaque
_NONE = frozenset({_NULL, 0x80, 0x81, 0x82})  # NULL noSuchObject noSuchInstance endOfMibView
MAX_OID_ARCS = 128


class BerError(ValueError):
    """A datagram that is no well-formed SNMP v1/v2c response."""


# --- encoding -----------------------------------------------------------------------

def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(n: int) -> bytes:
    return _tlv(_INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def encode_oid(oid: OID) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or min(oid) < 0:
        raise ValueError(f"not an object identifier: {oid!r}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(_OID, bytes(out))


def encode_pdu(pdu: int, request_id: int, oids: Sequence[OID], max_repetitions: int = 0) -> bytes:
    """A GET, GETNEXT or GETBULK (no non-repeaters) PDU for `oids`."""
    var_binds = b"".join(_tlv(_SEQUENCE, encode_oid(o) + b"\x05\x00") for o in oids)
    fields = _integer(request_id) + _integer(0) + _integer(max_repetitions if pdu == GET_BULK else 0)
    return _tlv(pdu, fields + _tlv(_SEQUENCE, var_binds))


def encode_request(version: int, community: bytes, request_id: int, pdu: int, oids: Sequence[OID],
                   max_repetitions: int = 0) -> bytes:
    """A v1 or v2c message: GETNEXT, or GETBULK (v2c only)."""
    if pdu == GET_BULK and version != V2C:
        raise ValueError("GETBULK needs SNMP v2c")
    return _tlv(_SEQUENCE, _integer(version) + _tlv(_OCTETS, community)
                + encode_pdu(pdu, request_id, oids, max_repetitions))


# --- decoding -----------------------------------------------------------------------

def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The tag at `pos` and where its contents start and stop."""
    if pos + 2 > end:
        raise BerError("truncated")
    tag, n = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-octet tag")
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k <= 4:
            raise BerError("indefinite or oversized length")
        if pos + k > end:
            raise BerError("truncated length")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("length beyond the end of the datagram")
    return tag, pos, pos + n


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    got, start, stop = _header(data, pos, end)
    if got != tag:
        raise BerError(f"tag 0x{got:02x} where 0x{tag:02x} belongs")
    return start, stop


def _int_at(data: bytes, pos: int, end: int) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, _INTEGER)
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_oid(body: bytes) -> OID:
    if not body or body[-1] & 0x80:
        raise BerError("truncated object identifier")
    arcs: list[int] = []
    arc = 0
    for b in body:
        arc = (arc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(arc)
            arc = 0
    if len(arcs) >= MAX_OID_ARCS:
        raise BerError("object identifier too long")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def _value(tag: int, body: bytes) -> Any:
    if tag == _INTEGER:
        return int.from_bytes(body, "big", signed=True)
    if tag in _BYTES:
        return bytes(body)
    if tag in _UNSIGNED:
        return int.from_bytes(body, "big")
    if tag == _OID:
        return decode_oid(body)
    if tag in _NONE:
        return None
    raise BerError(f"unknown value type 0x{tag:02x}")


@dataclass(frozen=True)
class Response:
    version: int
    community: bytes  # v3: the user name
    request_id: int  # v3: the message id (the PDU's request-id may be absent from a report)
    error_status: int
    error_index: int
    var_binds: list[tuple[OID, Any]]
    pdu: int = RESPONSE  # RESPONSE, or REPORT (v3: an error of the security layer)


def decode_pdu(data: bytes, pos: int, stop: int,
               tags: tuple[int, ...] = (RESPONSE,)) -> tuple[int, int, int, int, list[tuple[OID, Any]]]:
    """The PDU that fills data[pos:stop]: its tag, request-id, error-status, error-index, bindings."""
    tag, p_start, p_stop = _header(data, pos, stop)
    if tag not in tags:
        raise BerError(f"tag 0x{tag:02x} where 0x{tags[0]:02x} belongs")
    if p_stop != stop:
        raise BerError("trailing bytes after the PDU")
    request_id, pos = _int_at(data, p_start, p_stop)
    error_status, pos = _int_at(data, pos, p_stop)
    error_index, pos = _int_at(data, pos, p_stop)
    pos, list_stop = _expect(data, pos, p_stop, _SEQUENCE)
    var_binds = []
    while pos < list_stop:
        v_start, v_stop = _expect(data, pos, list_stop, _SEQUENCE)
        o_start, o_stop = _expect(data, v_start, v_stop, _OID)
        value_tag, b_start, b_stop = _header(data, o_stop, v_stop)
        if b_stop != v_stop:
            raise BerError("trailing bytes in a variable binding")
        var_binds.append((decode_oid(data[o_start:o_stop]), _value(value_tag, data[b_start:b_stop])))
        pos = v_stop
    return tag, request_id, error_status, error_index, var_binds


def decode_response(data: bytes) -> Response:
    """A v1/v2c GetResponse-PDU; BerError if `data` is anything else or malformed."""
    end = len(data)
    start, stop = _expect(data, 0, end, _SEQUENCE)
    if stop != end:
        raise BerError("trailing bytes after the message")
    version, pos = _int_at(data, start, stop)
    if version not in (V1, V2C):
        raise BerError(f"SNMP version {version} is not v1 or v2c")
    c_start, c_stop = _expect(data, pos, stop, _OCTETS)
    _, request_id, error_status, error_index, var_binds = decode_pdu(data, c_stop, stop)
    return Response(version, bytes(data[c_start:c_stop]), request_id, error_status, error_index, var_binds)


# --- asking -------------------------------------------------------------------------

class NoAnswerError(Exception):
    """No answer to a request within its timeout, after every retry."""


class UnreachableError(Exception):
    """The host said no (ICMP port or host unreachable): nothing listens for SNMP there."""


class _Endpoint(asyncio.DatagramProtocol):
    """A connected UDP socket to one agent; answers go to the request waiting for their id."""

    def __init__(self, decode: Callable[[bytes], Response]) -> None:
        self.decode = decode
        self.waiting: dict[int, asyncio.Future[Response]] = {}
        self.malformed = ""

    def datagram_received(self, data: bytes, addr: Any) -> None:  # noqa: ARG002 - connected: the agent's
        try:
            response = self.decode(data)
        except BerError as e:
            self.malformed = str(e)
            return
        future = self.waiting.get(response.request_id)
        if future is not None and not future.done():
            future.set_result(response)

    def error_received(self, exc: Exception) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(UnreachableError(str(exc)))


_request_ids = itertools.count(1 + secrets.randbelow(1 << 30))


def next_request_id() -> int:
    return next(_request_ids) & 0x7FFFFFFF


class Agent:
    """One SNMP agent behind one socket; requests may overlap. `decode` reads its answers
    (v3: agent.devices.snmp_usm.Security.decode, which checks and opens them)."""

    def __init__(self, transport: asyncio.DatagramTransport, endpoint: _Endpoint, version: int,
                 community: bytes, timeout: float, retries: int):
        self._transport, self._endpoint = transport, endpoint
        self.version, self.community, self.timeout, self.retries = version, community, timeout, retries

    @classmethod
    async def open(cls, host: str, port: int, version: int, community: bytes, timeout: float,
                   retries: int, decode: Callable[[bytes], Response] = decode_response) -> Agent:
        transport, endpoint = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Endpoint(decode), remote_addr=(host, port))
        return cls(transport, endpoint, version, community, timeout, retries)

    def close(self) -> None:
        self._transport.close()

    async def request(self, pdu: int, oids: Sequence[OID], max_repetitions: int = 0) -> Response:
        """The answer to one v1/v2c request."""
        request_id = next_request_id()
        message = encode_request(self.version, self.community, request_id, pdu, oids, max_repetitions)
        return await self.exchange(request_id, message)

    async def exchange(self, request_id: int, message: bytes) -> Response:
        """The answer to `message` (whose id is `request_id`), sent again up to `retries` times;
        NoAnswerError or UnreachableError if none."""
        future = asyncio.get_running_loop().create_future()
        self._endpoint.waiting[request_id] = future
        try:
            for _ in range(self.retries + 1):
                self._transport.sendto(message)
                done, _ = await asyncio.wait((future,), timeout=self.timeout)
                if done:
                    return future.result()
        finally:
            del self._endpoint.waiting[request_id]
        malformed = f"; malformed answers ({self._endpoint.malformed})" if self._endpoint.malformed else ""
        raise NoAnswerError(f"no answer in {self.timeout:g} s × {self.retries + 1}{malformed}")

"""A small IPP/1.1 client (RFC 8010 encoding, RFC 8011 operations) over HTTP,
using only the standard library.

It speaks to CUPS (over its UNIX socket or TCP) and to network printers
(ipp://, ipps://). Only what wardwatch needs: Get-Printer-Attributes, Get-Jobs
and CUPS-Get-Printers. The decoder is strict about lengths (a truncated or
malformed answer raises `IppError`, never an IndexError) and bounded in size.
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import ssl
import struct
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

# --- tags (RFC 8010 §3.5) -----------------------------------------------------
OPERATION_ATTRIBUTES = 0x01
JOB_ATTRIBUTES = 0x02
END_OF_ATTRIBUTES = 0x03
PRINTER_ATTRIBUTES = 0x04
UNSUPPORTED_ATTRIBUTES = 0x05

INTEGER = 0x21
BOOLEAN = 0x22
ENUM = 0x23
OCTET_STRING = 0x30
DATE_TIME = 0x31
RESOLUTION = 0x32
RANGE_OF_INTEGER = 0x33
BEG_COLLECTION = 0x34
TEXT_WITH_LANGUAGE = 0x35
NAME_WITH_LANGUAGE = 0x36
END_COLLECTION = 0x37
TEXT = 0x41
NAME = 0x42
KEYWORD = 0x44
URI = 0x45
URI_SCHEME = 0x46
CHARSET = 0x47
NATURAL_LANGUAGE = 0x48
MIME_MEDIA_TYPE = 0x49
MEMBER_ATTR_NAME = 0x4A
EXTENSION = 0x7F

_STRING_TAGS = frozenset({TEXT, NAME, KEYWORD, URI, URI_SCHEME, CHARSET, NATURAL_LANGUAGE, MIME_MEDIA_TYPE,
                          MEMBER_ATTR_NAME})

# --- operations ---------------------------------------------------------------
GET_JOBS = 0x000A
GET_PRINTER_ATTRIBUTES = 0x000B
CUPS_GET_PRINTERS = 0x4002

# --- status codes ---------------------------------------------------------------
SUCCESSFUL_OK = 0x0000
CLIENT_ERROR_NOT_FOUND = 0x0406

# printer-state (RFC 8011 §5.4.11) and job-state (§5.3.7)
PRINTER_STATES = {3: "idle", 4: "processing", 5: "stopped"}
JOB_STATE_PENDING, JOB_STATE_HELD, JOB_STATE_PROCESSING, JOB_STATE_STOPPED = 3, 4, 5, 6

MAX_RESPONSE_BYTES = 4 * 2**20
USER_AGENT = "wardwatch"


class IppError(Exception):
    """The printer could not be reached, or answered something that is not valid IPP."""


@dataclass
class Response:
    version: tuple[int, int]
    status: int
    request_id: int
    groups: list[tuple[int, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status < 0x0100

    def group(self, tag: int) -> dict[str, list[Any]]:
        """The first group with this tag (empty when there is none)."""
        return next((attrs for t, attrs in self.groups if t == tag), {})

    def all_groups(self, tag: int) -> list[dict[str, list[Any]]]:
        return [attrs for t, attrs in self.groups if t == tag]

    @property
    def status_message(self) -> str:
        msg = self.group(OPERATION_ATTRIBUTES).get("status-message") or [""]
        return str(msg[0])


# --- encoding -------------------------------------------------------------------

def _encode_value(tag: int, value: Any) -> bytes:
    if tag in (INTEGER, ENUM):
        return struct.pack(">i", int(value))
    if tag == BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in _STRING_TAGS or tag in (OCTET_STRING,):
        return value if isinstance(value, bytes) else str(value).encode("utf-8")
    raise ValueError(f"cannot encode IPP value tag 0x{tag:02x}")


def encode_request(operation: int, request_id: int,
                   attributes: list[tuple[int, str, list[Any]]], version: tuple[int, int] = (1, 1)) -> bytes:
    """An IPP request with one operation-attributes group.

    `attributes` is a list of (value tag, name, values); the first two must be
    attributes-charset and attributes-natural-language (RFC 8011 §4.1.4)."""
    out = bytearray(struct.pack(">bbhi", version[0], version[1], operation, request_id))
    out.append(OPERATION_ATTRIBUTES)
    for tag, name, values in attributes:
        for i, value in enumerate(values):
            raw_name = name.encode("ascii") if i == 0 else b""
            raw = _encode_value(tag, value)
            if len(raw) > 0x7FFF:
                raise ValueError(f"IPP value of {name} too long")
            out += struct.pack(">bh", tag, len(raw_name)) + raw_name + struct.pack(">h", len(raw)) + raw
    out.append(END_OF_ATTRIBUTES)
    return bytes(out)


def operation_attributes(printer_uri: str, requested: list[str] | None = None,
                         extra: list[tuple[int, str, list[Any]]] | None = None) -> list[tuple[int, str, list[Any]]]:
    attrs: list[tuple[int, str, list[Any]]] = [
        (CHARSET, "attributes-charset", ["utf-8"]),
        (NATURAL_LANGUAGE, "attributes-natural-language", ["en"]),
        (URI, "printer-uri", [printer_uri]),
        (NAME, "requesting-user-name", [USER_AGENT]),
    ]
    if requested:
        attrs.append((KEYWORD, "requested-attributes", list(requested)))
    return attrs + list(extra or [])


# --- decoding -------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise IppError(f"IPP message truncated at byte {self.pos} (wanted {n} more)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _decode_value(tag: int, raw: bytes) -> Any:
    if tag in (INTEGER, ENUM):
        if len(raw) != 4:
            raise IppError(f"integer value of {len(raw)} bytes")
        return struct.unpack(">i", raw)[0]
    if tag == BOOLEAN:
        if len(raw) != 1:
            raise IppError(f"boolean value of {len(raw)} bytes")
        return raw != b"\x00"
    if tag in _STRING_TAGS:
        return _text(raw)
    if tag in (TEXT_WITH_LANGUAGE, NAME_WITH_LANGUAGE):
        r = _Reader(raw)
        r.take(r.u16())  # the language
        return _text(r.take(r.u16()))
    if tag == DATE_TIME:
        if len(raw) != 11:
            raise IppError(f"dateTime value of {len(raw)} bytes")
        year, month, day, hour, minute, second, _deci, sign, off_h, off_m = struct.unpack(">HBBBBBBcBB", raw)
        offset = dt.timedelta(hours=off_h, minutes=off_m) * (-1 if sign == b"-" else 1)
        try:
            return dt.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=dt.timezone(offset))
        except ValueError:
            return None  # an impossible date some firmwares send: unknown, not an error
    if tag == RESOLUTION:
        if len(raw) != 9:
            raise IppError(f"resolution value of {len(raw)} bytes")
        return struct.unpack(">iib", raw)
    if tag == RANGE_OF_INTEGER:
        if len(raw) != 8:
            raise IppError(f"rangeOfInteger value of {len(raw)} bytes")
        return struct.unpack(">ii", raw)
    if 0x10 <= tag <= 0x1F:  # out-of-band: unsupported, unknown, no-value
        return None
    return raw  # octetString and anything unknown: the bytes as sent


def _decode_collection(r: _Reader, depth: int) -> dict[str, list[Any]]:
    if depth > 8:
        raise IppError("IPP collections nested too deep")
    out: dict[str, list[Any]] = {}
    member: str | None = None
    while True:
        tag = r.u8()
        r.take(r.u16())  # member values carry no name
        raw = r.take(r.u16())
        if tag == END_COLLECTION:
            return out
        if tag == MEMBER_ATTR_NAME:
            member = _text(raw)
            out.setdefault(member, [])
            continue
        if member is None:
            raise IppError("IPP collection value without a member name")
        value = _decode_collection(r, depth + 1) if tag == BEG_COLLECTION else _decode_value(tag, raw)
        out[member].append(value)


def decode_response(data: bytes) -> Response:
    r = _Reader(data)
    major, minor = r.u8(), r.u8()
    status = r.u16()
    request_id = struct.unpack(">i", r.take(4))[0]
    resp = Response((major, minor), status, request_id)
    current: dict[str, list[Any]] | None = None
    last_name: str | None = None
    while True:
        tag = r.u8()
        if tag == END_OF_ATTRIBUTES:
            return resp
        if tag < 0x10:  # a delimiter: a new group starts
            current = {}
            resp.groups.append((tag, current))
            last_name = None
            continue
        if current is None:
            raise IppError("IPP attribute before any group")
        name = _text(r.take(r.u16()))
        if tag == EXTENSION:
            raise IppError("IPP extension tags are not supported")
        raw = r.take(r.u16())
        value = _decode_collection(r, 1) if tag == BEG_COLLECTION else _decode_value(tag, raw)
        if name:
            last_name = name
            current[name] = [value]
        elif last_name is None:
            raise IppError("IPP additional value without an attribute")
        else:
            current[last_name].append(value)


# --- transport --------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """Where an IPP request goes: a TCP host and port (TLS or not) or a UNIX socket."""

    host: str
    port: int
    path: str
    tls: bool = False
    unix_socket: str = ""
    tls_verify: bool = True

    @property
    def printer_uri(self) -> str:
        if self.unix_socket:
            return "ipp://localhost" + self.path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'ipps' if self.tls else 'ipp'}://{host}:{self.port}{self.path}"


def endpoint_from_uri(uri: str, tls_verify: bool = True) -> Endpoint:
    """ipp://host[:port]/path, ipps://..., http(s)://... (port 631 by default)."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as e:  # e.g. a broken IPv6 literal, ipp://[printer/
        raise IppError(f"not an IPP URI: {uri!r} ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ipp", "ipps", "http", "https"):
        raise IppError(f"not an IPP URI: {uri!r}")
    if not parts.hostname:
        raise IppError(f"IPP URI without a host: {uri!r}")
    try:
        port = parts.port or 631
    except ValueError:
        raise IppError(f"bad port in IPP URI {uri!r}") from None
    return Endpoint(parts.hostname, port, parts.path or "/", tls=scheme in ("ipps", "https"),
                    tls_verify=tls_verify)


def cups_endpoint(server: str) -> Endpoint:
    """CUPS at `server`: a UNIX socket path (starts with /) or HOST[:PORT] (631 by default)."""
    if server.startswith("/"):
        return Endpoint("localhost", 0, "/", unix_socket=server)
    host, sep, port = server.rpartition(":")
    if not sep or "]" in port:
        host, port = server, "631"
    host = host.strip("[]")
    if not port.isdigit():
        raise IppError(f"bad CUPS server {server!r}: expected /path/to/socket or HOST:PORT")
    return Endpoint(host, int(port), "/")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _connection(ep: Endpoint, timeout: float) -> http.client.HTTPConnection:
    if ep.unix_socket:
        return _UnixHTTPConnection(ep.unix_socket, timeout)
    if ep.tls:
        ctx = ssl.create_default_context()
        if not ep.tls_verify:  # printers' self-signed certificates, when the operator says so
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(ep.host, ep.port, timeout=timeout, context=ctx)
    return http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)


_request_ids = iter(range(1, 2**31))


def call(ep: Endpoint, operation: int, attributes: list[tuple[int, str, list[Any]]],
         timeout: float, path: str | None = None) -> Response:
    """POST one IPP request and decode the answer; the whole exchange is bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    request_id = next(_request_ids)
    body = encode_request(operation, request_id, attributes)
    conn = _connection(ep, timeout)
    try:
        try:
            conn.request("POST", path or ep.path, body=body, headers={
                "Content-Type": "application/ipp", "User-Agent": USER_AGENT, "Accept": "application/ipp"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise IppError(f"HTTP {resp.status} {resp.reason}".strip())
            chunks = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise IppError(f"no complete answer within {timeout:g}s")
                chunk = resp.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise IppError(f"answer larger than {MAX_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
        except (OSError, http.client.HTTPException) as e:
            raise IppError(_describe(e)) from None
    finally:
        conn.close()
    answer = decode_response(b"".join(chunks))
    if answer.request_id != request_id:
        raise IppError(f"answer to request {answer.request_id}, expected {request_id}")
    return answer


def _describe(e: BaseException) -> str:
    if isinstance(e, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, FileNotFoundError):
        return "socket not found"
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({e.verify_message})"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return type(e).__name__


# --- operations --------------------------------------------------------------------

PRINTER_STATUS_ATTRIBUTES = [
    "printer-name", "printer-state", "printer-state-reasons", "printer-state-message",
    "printer-is-accepting-jobs", "printer-make-and-model", "printer-info", "printer-uuid",
    "printer-up-time", "queued-job-count", "device-uri", "printer-type",
    "marker-names", "marker-levels", "marker-types", "marker-low-levels", "marker-high-levels",
    "printer-supply", "printer-supply-description", "printer-device-id",
]


def get_printer_attributes(ep: Endpoint, timeout: float,
                           requested: list[str] | None = None) -> dict[str, list[Any]]:
    answer = call(ep, GET_PRINTER_ATTRIBUTES,
                  operation_attributes(ep.printer_uri, requested or PRINTER_STATUS_ATTRIBUTES), timeout)
    if not answer.ok:
        raise IppError(f"IPP status 0x{answer.status:04x} {answer.status_message}".strip())
    return answer.group(PRINTER_ATTRIBUTES)


def cups_get_printers(ep: Endpoint, timeout: float) -> list[dict[str, list[Any]]]:
    """Every local queue of a CUPS server (CUPS-Get-Printers); [] when it has none."""
    answer = call(ep, CUPS_GET_PRINTERS, operation_attributes("ipp://localhost/", PRINTER_STATUS_ATTRIBUTES),
                  timeout, path="/")
    if answer.status == CLIENT_ERROR_NOT_FOUND:  # CUPS's answer when no queue exists
        return []
    if not answer.ok:
        raise IppError(f"IPP status 0x{answer.status:04x} {answer.status_message}".strip())
    return answer.all_groups(PRINTER_ATTRIBUTES)


def get_jobs_not_completed(ep: Endpoint, timeout: float, printer_uri: str = "ipp://localhost/",
                           limit: int = 1000) -> list[dict[str, list[Any]]]:
    """Jobs not yet completed (pending, held, processing, stopped), of every queue by default."""
    answer = call(ep, GET_JOBS, operation_attributes(
        printer_uri,
        ["job-id", "job-state", "job-printer-uri", "time-at-creation", "date-time-at-creation", "job-state-reasons"],
        [(KEYWORD, "which-jobs", ["not-completed"]), (INTEGER, "limit", [limit])],
    ), timeout, path="/")
    if answer.status == CLIENT_ERROR_NOT_FOUND:
        return []
    if not answer.ok:
        raise IppError(f"IPP status 0x{answer.status:04x} {answer.status_message}".strip())
    return answer.all_groups(JOB_ATTRIBUTES)


def one(attrs: dict[str, list[Any]], name: str, default: Any = None) -> Any:
    values = attrs.get(name)
    return values[0] if values else default

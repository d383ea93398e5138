"""ICMP echo on Windows through the IP Helper API (iphlpapi.dll), which needs no privilege.

The agent's service account (NT SERVICE\\wardwatch-agent) may not open raw sockets, and
Windows has no unprivileged ICMP datagram socket; IcmpSendEcho2 (IPv4) and Icmp6SendEcho2
(IPv6) send an echo request for any user and return the reply in a buffer.

Three parts, so that all but the call itself run (and are tested) on Linux:
- `decode_reply`: the reply buffer -> (status, round-trip ms, replying address, data), from the
  layouts Microsoft documents (below);
- `outcome`: one call's result -> answered (RTT) or a result reason of agent.wan.result, with
  IP_STATUS codes mapped in `IP_STATUS`;
- `probe`: the round, with the same schedule and result as the socket path (agent.wan.icmp):
  `packets` requests `packet_interval` apart, each waiting at most the target's timeout, the
  round ending at most that timeout after the last request; the result is built by
  icmp.round_result, so loss and jitter come out of agent.wan.health as for the sockets.
  The blocking API call (IcmpSendEcho2 without Event or ApcRoutine returns when a reply
  arrives or its timeout expires) runs in one thread per request in flight.

`IpHelper` is the only code that touches ctypes' Windows calls; iphlpapi.dll is loaded on first
use, on Windows only, so this module imports anywhere.

Resolution: RoundTripTime is a whole number of milliseconds (ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY),
so a reply faster than 1 ms (a LAN gateway) reads 0 ms, and every RTT, the median and the jitter
built from them are multiples of 1 ms; the socket path on Linux measures to the microsecond.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from agent.wan import icmp
from agent.wan.resolve import resolve
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target

MODE = "iphlpapi"  # wardwatch_wan_icmp_socket{mode}
POINTER_SIZE = ctypes.sizeof(ctypes.c_void_p)  # of this Python: the reply layout follows it
MAX_IN_FLIGHT = 32  # echo requests waiting for their reply at once (one thread each), at most
REPLY_BUFFER_SIZE = 2048  # documented minimum: one reply structure + the request's data + 8 bytes
RETURN_GRACE = 0.2  # seconds the round waits past a call's timeout for the call to return

# IP_STATUS codes (ipexport.h), as listed on Microsoft's ICMP_ECHO_REPLY and ICMPV6_ECHO_REPLY_LH
# pages (learn.microsoft.com/windows/win32/api/ipexport/ns-ipexport-icmp_echo_reply and
# .../ns-ipexport-icmpv6_echo_reply_lh), with the result reason (agent.wan.result.ERRORS) each
# stands for. The reasons are those the socket path gives for the same situation: no answer is
# "timeout"; no route, network or host unreachable is "unreachable"; a port unreachable is
# "refused" (result.py's definition); what says nothing about reaching the target is "other".
IP_SUCCESS = 0
IP_REQ_TIMED_OUT = 11010
IP_STATUS: dict[int, tuple[str, str]] = {
    0: ("IP_SUCCESS", ""),
    11001: ("IP_BUF_TOO_SMALL", "other"),
    11002: ("IP_DEST_NET_UNREACHABLE", "unreachable"),   # IPv6: IP_DEST_NO_ROUTE
    11003: ("IP_DEST_HOST_UNREACHABLE", "unreachable"),  # IPv6: IP_DEST_ADDR_UNREACHABLE
    11004: ("IP_DEST_PROT_UNREACHABLE", "unreachable"),  # IPv6: IP_DEST_PROHIBITED
    11005: ("IP_DEST_PORT_UNREACHABLE", "refused"),
    11006: ("IP_NO_RESOURCES", "other"),
    11007: ("IP_BAD_OPTION", "other"),
    11008: ("IP_HW_ERROR", "other"),
    11009: ("IP_PACKET_TOO_BIG", "other"),
    11010: ("IP_REQ_TIMED_OUT", "timeout"),
    11011: ("IP_BAD_REQ", "other"),
    11012: ("IP_BAD_ROUTE", "unreachable"),
    11013: ("IP_TTL_EXPIRED_TRANSIT", "unreachable"),    # IPv6: IP_HOP_LIMIT_EXCEEDED (a routing loop)
    11014: ("IP_TTL_EXPIRED_REASSEM", "other"),
    11015: ("IP_PARAM_PROBLEM", "other"),
    11016: ("IP_SOURCE_QUENCH", "other"),
    11017: ("IP_OPTION_TOO_BIG", "other"),
    11018: ("IP_BAD_DESTINATION", "other"),
    11050: ("IP_GENERAL_FAILURE", "other"),
}
# Win32 error codes GetLastError may give instead when the call returns no reply (System Error
# Codes, winerror.h).
WIN32_ERRORS: dict[int, tuple[str, str]] = {
    1231: ("ERROR_NETWORK_UNREACHABLE", "unreachable"),
    1232: ("ERROR_HOST_UNREACHABLE", "unreachable"),
}


def status_reason(status: int) -> tuple[str, str]:
    """(name, result reason) of an IP_STATUS code or of GetLastError's code; unknown ones are "other"."""
    return IP_STATUS.get(status) or WIN32_ERRORS.get(status) or (f"status {status}", "other")


# --- the reply buffer ----------------------------------------------------------------------------
#
# ICMP_ECHO_REPLY (ipexport.h; learn.microsoft.com/windows/win32/api/ipexport/ns-ipexport-icmp_echo_reply):
#   IPAddr Address; ULONG Status; ULONG RoundTripTime; USHORT DataSize; USHORT Reserved; PVOID Data;
#   struct ip_option_information Options;
# with IP_OPTION_INFORMATION (ns-ipexport-ip_option_information):
#   UCHAR Ttl; UCHAR Tos; UCHAR Flags; UCHAR OptionsSize; PUCHAR OptionsData;
# in natural alignment: Data at 16; OptionsData at 24 (32-bit) or 32 (64-bit, aligned to 8);
# 28 bytes in all for a 32-bit process, 40 for a 64-bit one. IPAddr is the address as it is on the
# wire (network byte order); Data points into the reply buffer, at DataSize bytes of reply data.
# Windows is little-endian on every architecture it runs on (x86, x64, ARM64).
_ECHO_REPLY = {4: struct.Struct("<4sLLHHLBBBBL"), 8: struct.Struct("<4sLLHHQBBBB4xQ")}
#
# ICMPV6_ECHO_REPLY_LH (ns-ipexport-icmpv6_echo_reply_lh): IPV6_ADDRESS_EX Address; ULONG Status;
#   unsigned int RoundTripTime; "reply data follows this structure in memory".
# IPV6_ADDRESS_EX (ns-ipexport-ipv6_address_ex): USHORT sin6_port; ULONG sin6_flowinfo;
#   USHORT sin6_addr[8]; ULONG sin6_scope_id; -- declared between <pshpack1.h> and <poppack.h> in
#   ipexport.h, so packed: 26 bytes, sin6_addr (network byte order) at 6. Status is aligned to 28,
#   RoundTripTime at 32, the data at 36 (.NET's Ping reads the reply data at the same offset 36).
_ECHO6_REPLY = struct.Struct("<HL16sL2xLL")


class ReplyBufferError(ValueError):
    """The reply buffer cannot hold what the documented layout says is in it."""


class EchoReply(NamedTuple):
    status: int     # IP_STATUS
    rtt_ms: int     # RoundTripTime, whole milliseconds
    address: str    # the replying address (the target, or the router that reported an error)
    data: bytes     # the echo reply's data (empty when the buffer has none for a failed request)


def decode_reply(buf: bytes, family: int, pointer_size: int = POINTER_SIZE, base: int = 0,
                 data_size: int = 0) -> EchoReply:
    """The first reply in `buf`, the reply buffer as IcmpSendEcho2 (AF_INET) or Icmp6SendEcho2
    (AF_INET6) left it. IPv4: `base` is the buffer's address in memory (Data points into it) and
    `pointer_size` the calling process's (4 or 8). IPv6: `data_size` bytes of data follow the
    structure (the size of the request's data). Raises ReplyBufferError when `buf` is too short
    for the structure, or for the data of a successful reply."""
    if family == socket.AF_INET6:
        layout = _ECHO6_REPLY
        if len(buf) < layout.size:
            raise ReplyBufferError(f"{len(buf)} bytes, shorter than an ICMPV6_ECHO_REPLY ({layout.size})")
        _, _, addr16, _, status, rtt = layout.unpack_from(buf)
        end = layout.size + data_size
        if status == IP_SUCCESS and len(buf) < end:
            raise ReplyBufferError(f"{len(buf)} bytes, too short for the reply and its {data_size} bytes of data")
        return EchoReply(status, rtt, socket.inet_ntop(socket.AF_INET6, addr16), bytes(buf[layout.size:end]))
    layout = _ECHO_REPLY.get(pointer_size)
    if layout is None:
        raise ValueError(f"pointer size {pointer_size}: 4 or 8")
    if len(buf) < layout.size:
        raise ReplyBufferError(f"{len(buf)} bytes, shorter than an ICMP_ECHO_REPLY ({layout.size} with "
                               f"{pointer_size * 8}-bit pointers)")
    addr4, status, rtt, size, _, data_ptr, *_ = layout.unpack_from(buf)
    offset = data_ptr - base
    inside = size == 0 or (data_ptr != 0 and layout.size <= offset and offset + size <= len(buf))
    if status == IP_SUCCESS and not inside:
        raise ReplyBufferError(f"Data ({data_ptr:#x}, {size} bytes) is not inside the {len(buf)}-byte reply "
                               f"buffer at {base:#x}")
    data = bytes(buf[offset:offset + size]) if inside and size else b""
    return EchoReply(status, rtt, socket.inet_ntoa(addr4), data)


# --- one request's outcome -------------------------------------------------------------------------

class RawEcho(NamedTuple):
    """What one IcmpSendEcho2 / Icmp6SendEcho2 call left: its return value (the number of
    replies in the buffer), the buffer, the buffer's address, and GetLastError() when it
    returned 0."""
    replies: int
    buffer: bytes
    base: int
    last_error: int = 0


# (family, address, request data, timeout in ms) -> RawEcho; IpHelper.send_echo, or a test's stand-in.
SendEcho = Callable[[int, str, bytes, int], RawEcho]


class Outcome(NamedTuple):
    rtt: float | None   # seconds, when the request counts as answered
    error: str = ""     # else: a result reason (agent.wan.result.ERRORS)
    detail: str = ""


def outcome(raw: RawEcho, family: int, sent: bytes, address: str, timeout: float,
            pointer_size: int = POINTER_SIZE) -> Outcome:
    """Answered, or why not. Only a successful reply from the target, carrying the data that was
    sent, within the timeout, counts; a reply that is not ours is ignored as the socket path
    ignores it (the request then counts as unanswered: "timeout")."""
    if raw.replies == 0:
        name, reason = status_reason(raw.last_error)
        return Outcome(None, reason, "" if raw.last_error == IP_REQ_TIMED_OUT else f"{name} ({raw.last_error})")
    try:
        reply = decode_reply(raw.buffer, family, pointer_size, raw.base, len(sent))
    except ReplyBufferError as e:
        return Outcome(None, "other", f"malformed reply buffer: {e}")
    if reply.status != IP_SUCCESS:
        name, reason = status_reason(reply.status)
        return Outcome(None, reason, "" if reply.status == IP_REQ_TIMED_OUT
                       else f"{name} ({reply.status}) from {reply.address}")
    if not icmp._same_address(reply.address, address):
        return Outcome(None, "timeout", f"an echo reply came from {reply.address}, not {address}")
    if reply.data != sent:
        return Outcome(None, "timeout", "an echo reply did not carry the data sent")
    rtt = reply.rtt_ms / 1000
    if rtt > timeout:
        return Outcome(None, "timeout", "")
    return Outcome(rtt)


# Which reason a round nobody answered gets, when its requests failed differently: an answer
# (unreachable, refused) says more than silence.
_PRECEDENCE = ("unreachable", "refused", "other", "timeout")


def round_failure(packets: int, failures: list[Outcome]) -> tuple[str, str]:
    """(error, detail) of a round where no request was answered; the detail is the socket path's
    ("no echo reply to N packet(s)"), followed by what the API said when it said more."""
    errors = {o.error for o in failures}
    error = next((e for e in _PRECEDENCE if e in errors), "other")
    detail = next((o.detail for o in failures if o.error == error and o.detail), "")
    return error, icmp.no_reply(packets) + (f": {detail}" if detail else "")


# --- the round -----------------------------------------------------------------------------------

def probe(target: Target, send_echo: SendEcho | None = None, pointer_size: int = POINTER_SIZE) -> ProbeResult:
    started = time.monotonic()
    packets, timeout = target.packets, target.timeout
    try:
        family, addr = resolve(target.host, 0, started + timeout, socket.SOCK_DGRAM)
        if send_echo is None:
            send_echo = IpHelper.get().send_echo
    except icmp.IcmpNotPermittedError as e:
        return failed(started, time.monotonic(), "icmp_not_permitted", e.strerror or str(e), sent=0,
                      icmp_mode="none")
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        return failed(started, time.monotonic(), error, detail, sent=packets)
    payload = icmp.new_payload()
    timeout_ms = max(1, int(timeout * 1000))  # the API's timeout: whole ms, never more than the target's
    outcomes: list[Outcome | None] = [None] * packets
    sent_at = [0.0] * packets
    slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
    done = threading.Condition()

    def one(i: int) -> None:
        try:
            o = outcome(send_echo(family, addr, payload, timeout_ms), family, payload, addr, timeout, pointer_size)
        except icmp.IcmpNotPermittedError as e:
            o = Outcome(None, "icmp_not_permitted", e.strerror or str(e))
        except Exception as e:  # noqa: BLE001 - a failed call is an unanswered request, said why
            o = Outcome(None, *classify(e))
        finally:
            slots.release()
        with done:
            outcomes[i] = o
            done.notify()

    for i in range(packets):
        time.sleep(max(0.0, started + i * target.packet_interval - time.monotonic()))
        if not slots.acquire(timeout=timeout + RETURN_GRACE):  # calls that do not return: this one is not sent
            with done:
                outcomes[i] = Outcome(None, "other", f"{MAX_IN_FLIGHT} echo requests still waiting for the API")
            continue
        sent_at[i] = time.monotonic()
        threading.Thread(target=one, args=(i,), name=f"icmp-{target.name}-{i}", daemon=True).start()
    with done:  # each call returns by its own timeout; one that does not is not waited for past it
        done.wait_for(lambda: None not in outcomes, timeout=timeout + RETURN_GRACE)
        final = list(outcomes)
    finished = time.monotonic()
    answers = [(sent_at[i], o.rtt) for i, o in enumerate(final) if o is not None and o.rtt is not None]
    failures = [o if o is not None else Outcome(None, "timeout") for o in final if o is None or o.rtt is None]
    if not answers and failures and all(o.error == "icmp_not_permitted" for o in failures):
        return failed(started, finished, "icmp_not_permitted", failures[0].detail, sent=0, icmp_mode="none")
    failure = round_failure(packets, failures) if failures else ("timeout", icmp.no_reply(packets))
    return icmp.round_result(started, finished, packets, answers, MODE, failure)


# --- the API -------------------------------------------------------------------------------------

class IpHelper:
    """IcmpCreateFile / Icmp6CreateFile, IcmpSendEcho2 / Icmp6SendEcho2 and IcmpCloseHandle from
    iphlpapi.dll (signatures: learn.microsoft.com/windows/win32/api/icmpapi/). One handle per
    request, opened and closed around the call, so no handle is shared between threads."""

    _instance: IpHelper | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> IpHelper:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise icmp.IcmpNotPermittedError(errno.EPERM, "the IP Helper API (iphlpapi.dll) exists on Windows only")
        from ctypes import wintypes

        try:
            dll = ctypes.WinDLL("iphlpapi.dll", use_last_error=True)  # type: ignore[attr-defined]
        except OSError as e:
            raise icmp.IcmpNotPermittedError(errno.EPERM, f"ICMP not available: iphlpapi.dll: {e}") from None
        handle, dword, word, ptr = wintypes.HANDLE, wintypes.DWORD, wintypes.WORD, ctypes.c_void_p
        self._create, self._create6 = dll.IcmpCreateFile, dll.Icmp6CreateFile
        for f in (self._create, self._create6):
            f.argtypes, f.restype = [], handle
        self._close = dll.IcmpCloseHandle  # closes Icmp6CreateFile's handles too
        self._close.argtypes, self._close.restype = [handle], wintypes.BOOL
        # IcmpSendEcho2(IcmpHandle, Event, ApcRoutine, ApcContext, IPAddr DestinationAddress, RequestData,
        #               WORD RequestSize, RequestOptions, ReplyBuffer, DWORD ReplySize, DWORD Timeout)
        self._send = dll.IcmpSendEcho2
        self._send.argtypes = [handle, handle, ptr, ptr, wintypes.ULONG, ptr, word, ptr, ptr, dword, dword]
        self._send.restype = dword
        # Icmp6SendEcho2(IcmpHandle, Event, ApcRoutine, ApcContext, sockaddr_in6 *SourceAddress,
        #                sockaddr_in6 *DestinationAddress, RequestData, WORD RequestSize, RequestOptions,
        #                ReplyBuffer, DWORD ReplySize, DWORD Timeout)
        self._send6 = dll.Icmp6SendEcho2
        self._send6.argtypes = [handle, handle, ptr, ptr, ptr, ptr, ptr, word, ptr, ptr, dword, dword]
        self._send6.restype = dword

        class SockaddrIn6(ctypes.Structure):  # ws2ipdef.h
            _fields_ = [("sin6_family", ctypes.c_short), ("sin6_port", ctypes.c_ushort),
                        ("sin6_flowinfo", wintypes.ULONG), ("sin6_addr", ctypes.c_ubyte * 16),
                        ("sin6_scope_id", wintypes.ULONG)]

        self._sockaddr_in6 = SockaddrIn6

    def _in6(self, address: str) -> ctypes.Structure:
        ip = ipaddress.IPv6Address(address)
        scope = ip.scope_id or ""
        sa = self._sockaddr_in6()
        sa.sin6_family = socket.AF_INET6
        sa.sin6_addr[:] = list(ip.packed)
        sa.sin6_scope_id = int(scope) if scope.isdigit() else (socket.if_nametoindex(scope) if scope else 0)
        return sa

    def send_echo(self, family: int, address: str, payload: bytes, timeout_ms: int) -> RawEcho:
        v6 = family == socket.AF_INET6
        h = (self._create6 if v6 else self._create)()
        if h is None or h == ctypes.c_void_p(-1).value:  # INVALID_HANDLE_VALUE
            err = ctypes.get_last_error()
            raise icmp.IcmpNotPermittedError(
                errno.EPERM, f"ICMP not available: {'Icmp6CreateFile' if v6 else 'IcmpCreateFile'} failed: "
                f"{ctypes.FormatError(err).strip()} ({err})")  # type: ignore[attr-defined]
        try:
            request = ctypes.create_string_buffer(payload, len(payload))
            reply = ctypes.create_string_buffer(REPLY_BUFFER_SIZE)
            if v6:
                source, dest = self._in6("::"), self._in6(address)
                n = self._send6(h, None, None, None, ctypes.byref(source), ctypes.byref(dest), request, len(payload),
                                None, reply, REPLY_BUFFER_SIZE, timeout_ms)
            else:  # IPAddr: the four bytes as on the wire, read as a ULONG
                dest4 = ctypes.c_uint32.from_buffer_copy(socket.inet_aton(address)).value
                n = self._send(h, None, None, None, dest4, request, len(payload), None, reply, REPLY_BUFFER_SIZE,
                               timeout_ms)
            return RawEcho(n, reply.raw, ctypes.addressof(reply), ctypes.get_last_error() if n == 0 else 0)
        finally:
            self._close(h)

"""ICMP through the Windows IP Helper API, on Linux: the reply decoder on buffers laid out by hand
from Microsoft's documented structures, the IP_STATUS mapping, and the round driven through a
stand-in for the one call that cannot run here (IcmpSendEcho2 / Icmp6SendEcho2).

Layouts (learn.microsoft.com/windows/win32/api/ipexport/):
- ICMP_ECHO_REPLY: IPAddr Address (0), ULONG Status (4), ULONG RoundTripTime (8), USHORT DataSize (12),
  USHORT Reserved (14), PVOID Data (16), IP_OPTION_INFORMATION Options (UCHAR Ttl, Tos, Flags,
  OptionsSize; PUCHAR OptionsData): at 20 with 4-byte pointers (OptionsData at 24, 28 bytes in all),
  at 24 with 8-byte pointers (OptionsData aligned to 32, 40 bytes in all).
- ICMPV6_ECHO_REPLY: IPV6_ADDRESS_EX Address, packed by <pshpack1.h> in ipexport.h (USHORT sin6_port 0,
  ULONG sin6_flowinfo 2, USHORT sin6_addr[8] 6, ULONG sin6_scope_id 22: 26 bytes), ULONG Status
  aligned to 28, unsigned int RoundTripTime 32; the reply data follows at 36.
"""

import math
import socket
import struct
import threading
import time

import pytest

from agent.wan import icmp, icmp_windows
from agent.wan.health import TargetHealth, Thresholds
from agent.wan.icmp_windows import EchoReply, Outcome, RawEcho, ReplyBufferError, decode_reply, outcome
from agent.wan.targets import Target

BASE = 0x7FF6_1234_0000  # where the stand-in says its reply buffer is in memory (a 64-bit process)
BASE32 = 0x0123_4000    # the same for a 32-bit process


def base(pointer_size: int) -> int:
    return BASE if pointer_size == 8 else BASE32


def v4_reply(status: int, rtt_ms: int, address: str, data: bytes, pointer_size: int = 8, at: int | None = None,
             gap: int = 0, buffer_size: int | None = None) -> bytes:
    """An ICMP_ECHO_REPLY in a buffer at `at`, followed (`gap` bytes later, where options would be)
    by its data."""
    size = {4: 28, 8: 40}[pointer_size]
    at = base(pointer_size) if at is None else at
    buf = bytearray(size + gap + len(data))
    buf[0:4] = socket.inet_aton(address)
    struct.pack_into("<LLHH", buf, 4, status, rtt_ms, len(data), 0xBEEF)  # Reserved: noise
    struct.pack_into("<Q" if pointer_size == 8 else "<L", buf, 16, at + size + gap)  # Data
    opts = 24 if pointer_size == 8 else 20
    buf[opts:opts + 4] = bytes([128, 0, 0, 0])  # Ttl 128, Tos, Flags, OptionsSize
    if pointer_size == 8:
        buf[28:32] = b"\xAA" * 4  # padding before OptionsData: a decoder must not read it
    buf[size + gap:] = data
    if buffer_size is not None:
        buf += bytes(max(0, buffer_size - len(buf)))
    return bytes(buf)


def v6_reply(status: int, rtt_ms: int, address: str, data: bytes) -> bytes:
    buf = bytearray(36 + len(data))
    struct.pack_into("<H", buf, 0, 0)                # sin6_port
    struct.pack_into("<L", buf, 2, 0)                # sin6_flowinfo
    buf[6:22] = socket.inet_pton(socket.AF_INET6, address)
    struct.pack_into("<L", buf, 22, 0)               # sin6_scope_id
    buf[26:28] = b"\xFF\xFF"                         # padding: Status is at 28, not 26
    struct.pack_into("<L", buf, 28, status)
    struct.pack_into("<L", buf, 32, rtt_ms)
    buf[36:] = data
    return bytes(buf)


# --- the decoder -----------------------------------------------------------------------------------

@pytest.mark.parametrize("pointer_size", [4, 8])
def test_ipv4_reply_decoded_from_the_documented_layout(pointer_size):
    data = bytes(range(56))
    buf = v4_reply(0, 17, "127.0.0.1", data, pointer_size)
    assert len(buf) == {4: 28, 8: 40}[pointer_size] + 56
    assert decode_reply(buf, socket.AF_INET, pointer_size, base(pointer_size)) == EchoReply(0, 17, "127.0.0.1", data)


def test_ipv4_data_is_read_where_the_data_pointer_says():
    data = b"token123" + bytes(48)
    buf = v4_reply(0, 3, "127.0.0.1", data, 8, gap=8)  # 8 bytes of IP options between header and data
    assert decode_reply(buf, socket.AF_INET, 8, BASE).data == data


def test_ipv4_failed_request_decodes_status_and_reporting_router():
    buf = v4_reply(11003, 0, "127.0.0.2", b"", 8)
    assert decode_reply(buf, socket.AF_INET, 8, BASE) == EchoReply(11003, 0, "127.0.0.2", b"")


def test_ipv6_reply_decoded_from_the_documented_layout():
    data = bytes(range(56))
    buf = v6_reply(0, 2, "::1", data)
    assert decode_reply(buf, socket.AF_INET6, data_size=56) == EchoReply(0, 2, "::1", data)
    r = decode_reply(v6_reply(11010, 0, "::1", b""), socket.AF_INET6, data_size=56)
    assert (r.status, r.rtt_ms, r.address) == (11010, 0, "::1")


@pytest.mark.parametrize(("family", "pointer_size", "buf", "message"), [
    (socket.AF_INET, 8, bytes(39), "39 bytes, shorter than an ICMP_ECHO_REPLY (40 with 64-bit pointers)"),
    (socket.AF_INET, 4, bytes(27), "27 bytes, shorter than an ICMP_ECHO_REPLY (28 with 32-bit pointers)"),
    (socket.AF_INET, 8, b"", "0 bytes, shorter than an ICMP_ECHO_REPLY (40"),
    (socket.AF_INET6, 8, bytes(35), "35 bytes, shorter than an ICMPV6_ECHO_REPLY (36)"),
    (socket.AF_INET, 8, v4_reply(0, 1, "127.0.0.1", bytes(56))[:60], "is not inside the 60-byte reply buffer"),
    (socket.AF_INET, 8, v4_reply(0, 1, "127.0.0.1", bytes(56), at=BASE + 4096), "is not inside"),
    (socket.AF_INET6, 8, v6_reply(0, 1, "::1", bytes(56))[:50], "too short for the reply and its 56 bytes"),
])
def test_truncated_or_inconsistent_buffer_is_a_clear_error(family, pointer_size, buf, message):
    with pytest.raises(ReplyBufferError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_reply(buf, family, pointer_size, BASE, 56)


# --- IP_STATUS -> result reasons ----------------------------------------------------------------------

# Values from Microsoft's ICMP_ECHO_REPLY page; reasons as the socket path and agent.wan.result define them.
@pytest.mark.parametrize(("code", "name", "reason"), [
    (0, "IP_SUCCESS", ""),
    (11001, "IP_BUF_TOO_SMALL", "other"),
    (11002, "IP_DEST_NET_UNREACHABLE", "unreachable"),
    (11003, "IP_DEST_HOST_UNREACHABLE", "unreachable"),
    (11004, "IP_DEST_PROT_UNREACHABLE", "unreachable"),
    (11005, "IP_DEST_PORT_UNREACHABLE", "refused"),
    (11006, "IP_NO_RESOURCES", "other"),
    (11007, "IP_BAD_OPTION", "other"),
    (11008, "IP_HW_ERROR", "other"),
    (11009, "IP_PACKET_TOO_BIG", "other"),
    (11010, "IP_REQ_TIMED_OUT", "timeout"),
    (11011, "IP_BAD_REQ", "other"),
    (11012, "IP_BAD_ROUTE", "unreachable"),
    (11013, "IP_TTL_EXPIRED_TRANSIT", "unreachable"),
    (11014, "IP_TTL_EXPIRED_REASSEM", "other"),
    (11015, "IP_PARAM_PROBLEM", "other"),
    (11016, "IP_SOURCE_QUENCH", "other"),
    (11017, "IP_OPTION_TOO_BIG", "other"),
    (11018, "IP_BAD_DESTINATION", "other"),
    (11050, "IP_GENERAL_FAILURE", "other"),
    (1231, "ERROR_NETWORK_UNREACHABLE", "unreachable"),
    (1232, "ERROR_HOST_UNREACHABLE", "unreachable"),
    (87, "status 87", "other"),
])
def test_every_status_maps_to_a_result_reason(code, name, reason):
    assert icmp_windows.status_reason(code) == (name, reason)


def test_the_mapping_covers_every_documented_status_and_only_known_reasons():
    documented = {0, *range(11001, 11019), 11050}
    assert set(icmp_windows.IP_STATUS) == documented
    from agent.wan.result import ERRORS
    assert {r for _, r in icmp_windows.IP_STATUS.values() if r} <= set(ERRORS)


# --- one request's outcome --------------------------------------------------------------------------

SENT = b"12345678" + bytes(range(48))


@pytest.mark.parametrize(("raw", "expected"), [
    (RawEcho(1, v4_reply(0, 12, "127.0.0.1", SENT), BASE), Outcome(0.012)),
    (RawEcho(1, v4_reply(0, 0, "127.0.0.1", SENT), BASE), Outcome(0.0)),  # under 1 ms reads 0 ms
    (RawEcho(0, bytes(100), BASE, 11010), Outcome(None, "timeout", "")),
    (RawEcho(0, bytes(100), BASE, 1231), Outcome(None, "unreachable", "ERROR_NETWORK_UNREACHABLE (1231)")),
    (RawEcho(1, v4_reply(11003, 0, "127.0.0.2", b""), BASE),
     Outcome(None, "unreachable", "IP_DEST_HOST_UNREACHABLE (11003) from 127.0.0.2")),
    (RawEcho(1, v4_reply(11010, 0, "127.0.0.1", b""), BASE), Outcome(None, "timeout", "")),
    (RawEcho(1, v4_reply(0, 12, "127.0.0.3", SENT), BASE),
     Outcome(None, "timeout", "an echo reply came from 127.0.0.3, not 127.0.0.1")),
    (RawEcho(1, v4_reply(0, 12, "127.0.0.1", b"x" * 56), BASE),
     Outcome(None, "timeout", "an echo reply did not carry the data sent")),
    (RawEcho(1, v4_reply(0, 1001, "127.0.0.1", SENT), BASE), Outcome(None, "timeout", "")),  # past the 1 s timeout
    (RawEcho(1, bytes(20), BASE),
     Outcome(None, "other", "malformed reply buffer: 20 bytes, shorter than an ICMP_ECHO_REPLY (40 with 64-bit "
                            "pointers)")),
])
def test_outcome_of_one_request(raw, expected):
    assert outcome(raw, socket.AF_INET, SENT, "127.0.0.1", 1.0, 8) == expected


def test_outcome_ipv6():
    assert outcome(RawEcho(1, v6_reply(0, 5, "::1", SENT), 0), socket.AF_INET6, SENT, "::1", 1.0) == Outcome(0.005)
    assert outcome(RawEcho(1, v6_reply(0, 5, "::1", SENT[:-1] + b"!"), 0), socket.AF_INET6, SENT, "::1",
                   1.0).rtt is None


# --- the round ---------------------------------------------------------------------------------------

def target(host: str = "127.0.0.1", packets: int = 5, timeout: float = 1.0, spacing: float = 0.01) -> Target:
    return Target("ping", "gateway", "icmp", host, host, 0, 10.0, timeout, packets=packets, packet_interval=spacing)


class StandIn:
    """IcmpSendEcho2 as the tests script it: one answer per request, in order: an RTT in ms (a reply
    carrying the data sent), "timeout", an IP_STATUS code (a reply with that status from 127.0.0.2),
    "hang" (the call does not return), or an exception to raise."""

    def __init__(self, script, pointer_size: int = 8):
        self.script, self.pointer_size = list(script), pointer_size
        self.calls: list[tuple[float, int, str, int]] = []  # (monotonic, family, address, timeout ms)
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, family: int, address: str, payload: bytes, timeout_ms: int) -> RawEcho:
        with self._lock:
            self.calls.append((time.monotonic(), family, address, timeout_ms))
            step = self.script[len(self.calls) - 1]
        if isinstance(step, BaseException):
            raise step
        if step == "hang":
            self.release.wait()
            return RawEcho(0, b"", 0, 11010)
        if step == "timeout":
            return RawEcho(0, bytes(64), BASE, 11010)
        if family == socket.AF_INET6:
            return RawEcho(1, v6_reply(0, step, address, payload) if step < 11000 else
                           v6_reply(step, 0, "::2", b""), BASE)
        at = base(self.pointer_size)
        if step >= 11000:
            return RawEcho(1, v4_reply(step, 0, "127.0.0.2", b"", self.pointer_size), at)
        return RawEcho(1, v4_reply(0, step, address, payload, self.pointer_size, buffer_size=2048), at)


def run(script, t: Target | None = None, pointer_size: int = 8):
    fake = StandIn(script, pointer_size)
    t = t or target(packets=len(script))
    try:
        return icmp_windows.probe(t, send_echo=fake, pointer_size=pointer_size), fake
    finally:
        fake.release.set()


TH = Thresholds(rtt_degraded=0.1, loss_degraded=0.2, jitter_degraded=0.03, failures_down=2, cert_expiry_warning=0)


@pytest.mark.parametrize("pointer_size", [4, 8])
def test_loss_and_jitter_from_the_replies_as_on_the_socket_path(pointer_size):
    r, fake = run([10, "timeout", 30, 20, "timeout"], pointer_size=pointer_size)
    assert (r.ok, r.sent, r.received, r.icmp_mode, r.error) == (True, 5, 3, "iphlpapi", "")
    assert r.rtts == pytest.approx((0.010, 0.030, 0.020))  # in the order the requests were sent
    assert r.started <= r.answered_at <= fake.calls[0][0] < fake.calls[1][0]  # sent with the first request
    h = TargetHealth(target(), window=60, thresholds=TH)
    h.record(r)
    s = h.stats(r.finished)
    assert (s.sent, s.received) == (5, 3)
    assert s.loss == pytest.approx(2 / 5)
    assert s.jitter == pytest.approx((0.020 + 0.010) / 2)  # |30-10|, |20-30| ms
    assert s.median_rtt == pytest.approx(0.020)


def test_ipv6_round():
    r, fake = run([1, 2, 3], target("::1", packets=3))
    assert (r.ok, r.received, r.rtts) == (True, 3, pytest.approx((0.001, 0.002, 0.003)))
    assert {c[1] for c in fake.calls} == {socket.AF_INET6} and {c[2] for c in fake.calls} == {"::1"}


def test_nobody_answering_is_a_timeout_worded_as_on_the_socket_path():
    r, _ = run(["timeout"] * 3)
    assert (r.ok, r.error, r.detail, r.sent, r.received, r.icmp_mode) == \
        (False, "timeout", "no echo reply to 3 packet(s)", 3, 0, "iphlpapi")
    assert r.detail == icmp.no_reply(3)
    h = TargetHealth(target(), window=60, thresholds=TH)
    h.record(r)
    assert h.stats(r.finished).loss == 1.0 and math.isnan(h.stats(r.finished).jitter)


def test_an_unreachable_answer_outweighs_silence():
    r, _ = run(["timeout", 11003, "timeout"])
    assert (r.ok, r.error, r.received) == (False, "unreachable", 0)
    assert r.detail == "no echo reply to 3 packet(s): IP_DEST_HOST_UNREACHABLE (11003) from 127.0.0.2"


def test_one_answer_makes_the_round_a_success_whatever_the_others_said():
    r, _ = run([11002, "timeout", 4])
    assert (r.ok, r.sent, r.received, r.rtts) == (True, 3, 1, (0.004,))


def test_requests_follow_the_packet_interval_with_a_timeout_bounded_by_the_targets():
    r, fake = run([1] * 4, target(packets=4, timeout=0.2509, spacing=0.05))
    starts = [c[0] - r.started for c in fake.calls]
    for i, s in enumerate(starts):
        assert s >= i * 0.05 - 0.002, starts
    assert {c[3] for c in fake.calls} == {250}  # whole ms, never above the target's 250.9 ms
    assert run([1], target(packets=1, timeout=0.0004))[1].calls[0][3] == 1  # the API's smallest


def test_a_call_that_never_returns_is_a_lost_packet_and_the_round_stays_bounded():
    t = target(packets=3, timeout=0.3, spacing=0.01)
    r, _ = run([5, "hang", 7], t)
    assert (r.ok, r.sent, r.received, r.rtts) == (True, 3, 2, (0.005, 0.007))
    bound = (3 - 1) * 0.01 + 0.3 + icmp_windows.RETURN_GRACE
    assert r.finished - r.started < bound + 0.15


def test_payload_and_source_checked_so_a_wrong_reply_is_not_counted():
    def wrong(family, address, payload, timeout_ms):
        return RawEcho(1, v4_reply(0, 3, address, payload[:-1] + b"?"), BASE)

    r = icmp_windows.probe(target(packets=2), send_echo=wrong, pointer_size=8)
    assert (r.ok, r.received, r.error) == (False, 0, "timeout")
    assert r.detail == "no echo reply to 2 packet(s): an echo reply did not carry the data sent"


def test_a_malformed_buffer_is_a_clear_error_not_a_crash():
    r = icmp_windows.probe(target(packets=2), send_echo=lambda *a: RawEcho(1, bytes(12), BASE), pointer_size=8)
    assert (r.ok, r.error, r.received) == (False, "other", 0)
    assert r.detail == ("no echo reply to 2 packet(s): malformed reply buffer: 12 bytes, shorter than an "
                        "ICMP_ECHO_REPLY (40 with 64-bit pointers)")


def test_api_unavailable_is_not_permitted_not_a_loss():
    denied = icmp.IcmpNotPermittedError(1, "ICMP not available: IcmpCreateFile failed: Access is denied. (5)")
    r, _ = run([denied, denied])
    assert (r.ok, r.error, r.sent, r.icmp_mode) == (False, "icmp_not_permitted", 0, "none")
    assert r.detail == "ICMP not available: IcmpCreateFile failed: Access is denied. (5)"


def test_an_oserror_from_the_call_is_classified_like_a_socket_error():
    r, _ = run([OSError(101, "Network is unreachable")] * 2)  # ENETUNREACH on Linux
    assert (r.ok, r.error, r.detail) == (False, "unreachable", "no echo reply to 2 packet(s): Network is unreachable")


def test_off_windows_the_api_is_not_loaded_and_the_round_says_why():
    assert icmp_windows.IpHelper._instance is None  # importing the module loaded nothing
    r = icmp_windows.probe(target(packets=2))
    assert (r.ok, r.error, r.sent, r.icmp_mode) == (False, "icmp_not_permitted", 0, "none")
    assert r.detail == "the IP Helper API (iphlpapi.dll) exists on Windows only"


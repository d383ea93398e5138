"""ICMP echo probe: several packets per round, so loss and jitter are measured.

Sockets, in the order `modes` gives (default: dgram, then raw):
- dgram: an unprivileged ICMP datagram socket (SOCK_DGRAM, IPPROTO_ICMP), open to
  processes whose group is inside net.ipv4.ping_group_range (Linux); the kernel
  picks the echo id and hands us only our own replies;
- raw: SOCK_RAW, for root / CAP_NET_RAW (Linux) or Administrator (Windows); it sees
  every ICMP packet, so replies are matched on id, sequence, source and a random
  token in the payload.
When neither may be opened the round fails with `icmp_not_permitted` and says why.

On Windows the default (`icmp_socket: auto`) is neither: the IP Helper API
(agent.wan.icmp_windows, IcmpSendEcho2), which any account may use; `dgram` and `raw`
still choose a socket there.

On Linux the receive time is the kernel's (agent.wan.timing), so a busy Python
process does not inflate the round-trip time; elsewhere it is taken on return
from recv.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agent.wan import timing
from agent.wan.resolve import resolve
from agent.wan.result import ProbeResult, classify, failed
from agent.wan.targets import Target

SOCKET_MODES = ("dgram", "raw")


def default_modes(platform: str = sys.platform) -> tuple[str, ...]:
    """What `icmp_socket: auto` uses: the sockets on Linux, the IP Helper API on Windows."""
    return ("iphlpapi",) if platform == "win32" else SOCKET_MODES


MODES = default_modes()
PAYLOAD_SIZE = 56  # as ping(8)
TOKEN_SIZE = 8  # random bytes at the start of the payload: a reply carrying them is to this round
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
_DENIED = {errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT}


class IcmpNotPermittedError(OSError):
    pass


def ping_group_range(path: str = PING_GROUP_RANGE) -> tuple[int, int] | None:
    try:
        lo, hi = Path(path).read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return None


def not_permitted_detail(path: str = PING_GROUP_RANGE) -> str:
    text = "ICMP not permitted: neither an ICMP datagram socket nor a raw socket could be opened"
    rng = ping_group_range(path)
    if rng is not None:
        gid = os.getgid() if hasattr(os, "getgid") else -1
        text += (f" (group {gid} is outside net.ipv4.ping_group_range {rng[0]} {rng[1]}, and raw sockets need "
                 f"root or CAP_NET_RAW); widen ping_group_range, or run the agent with CAP_NET_RAW")
    else:
        text += " (raw sockets need Administrator or root)"
    return text


def open_socket(family: int, modes: Sequence[str] = MODES) -> tuple[socket.socket, str]:
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    for mode in modes:
        kind = socket.SOCK_DGRAM if mode == "dgram" else socket.SOCK_RAW
        try:
            return socket.socket(family, kind, proto), mode
        except OSError as e:
            # Windows: WSAEACCES for raw sockets without Administrator, WSAEPROTONOSUPPORT for datagram ones
            if e.errno not in _DENIED and getattr(e, "winerror", None) is None:
                raise
    raise IcmpNotPermittedError(errno.EPERM, not_permitted_detail())


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def build_echo(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    kind = 8 if family == socket.AF_INET else 128
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET:  # ICMPv6 checksums are filled in by the kernel
        header = struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq)
    return header + payload


def parse_reply(data: bytes, family: int, mode: str) -> tuple[int, int, bytes] | None:
    """(id, sequence, payload) of an echo reply, or None for any other packet."""
    if family == socket.AF_INET and mode == "raw":  # raw IPv4 sockets hand over the IP header
        if not data:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return None
    kind, code, _, ident, seq = struct.unpack("!BBHHH", data[:8])
    if kind != (0 if family == socket.AF_INET else 129) or code != 0:
        return None
    return ident, seq, data[8:]


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b.split("%")[0])
    except ValueError:
        return False


def probe(target: Target, modes: Sequence[str] = MODES) -> ProbeResult:
    if "iphlpapi" in modes:
        from agent.wan import icmp_windows

        return icmp_windows.probe(target)
    started = time.monotonic()
    packets, timeout = target.packets, target.timeout
    try:
        family, addr = resolve(target.host, 0, started + timeout, socket.SOCK_DGRAM)
        sock, mode = open_socket(family, modes)
    except IcmpNotPermittedError as e:
        return failed(started, time.monotonic(), "icmp_not_permitted", e.strerror or str(e), sent=0,
                      icmp_mode="none")
    except Exception as e:  # noqa: BLE001 - every failure becomes a classified result
        error, detail = classify(e)
        return failed(started, time.monotonic(), error, detail, sent=packets)
    with sock:
        stamps = timing.enable_rx_timestamps(sock)
        sock.setblocking(False)
        ident = random.getrandbits(16)  # noqa: S311 - matching replies, not a secret
        seq0 = random.getrandbits(16)  # noqa: S311
        payload = new_payload()
        token = payload[:TOKEN_SIZE]
        sent: dict[int, tuple[float, int]] = {}  # seq -> (monotonic, wall ns) when sent
        rtts: dict[int, float] = {}
        send_error: OSError | None = None
        i, next_send, end = 0, started, None
        while True:
            now = time.monotonic()
            if i < packets and now >= next_send:
                seq = (seq0 + i) & 0xFFFF
                wall, mono = time.time_ns(), time.monotonic()
                try:
                    sock.sendto(build_echo(family, ident, seq, payload), (addr, 0))
                    sent[seq] = (mono, wall)
                except OSError as e:  # counted as lost; the round goes on (the link may come back)
                    send_error = send_error or e
                i += 1
                next_send += target.packet_interval
                if i == packets:
                    end = time.monotonic() + timeout
                continue
            if end is not None and (now >= end or len(rtts) == len(sent)):
                break
            wait = (next_send if i < packets else end) - now  # type: ignore[operator]
            if not select.select([sock], [], [], max(0.0, wait))[0]:
                continue
            while True:
                try:
                    data, src_addr, rx_ns = timing.recv(sock, stamps)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # an ICMP error queued on the socket (e.g. unreachable): keep listening
                    break
                rx_mono = time.monotonic()
                reply = parse_reply(data, family, mode)
                if reply is None or not _same_address(src_addr[0], addr):  # type: ignore[index]
                    continue
                r_ident, r_seq, r_payload = reply
                if (mode == "raw" and r_ident != ident) or r_seq not in sent or r_seq in rtts:
                    continue
                if not r_payload.startswith(token):
                    continue
                tx_mono, tx_wall = sent[r_seq]
                rtt = timing.best_rtt(rx_mono - tx_mono, tx_wall, rx_ns)
                if rtt <= timeout:
                    rtts[r_seq] = rtt
    answers = [(sent[s][0], rtt) for s, rtt in rtts.items()]
    failure = classify(send_error) if send_error is not None and not sent else ("timeout", no_reply(packets))
    return round_result(started, time.monotonic(), packets, answers, mode, failure)


def new_payload() -> bytes:
    """A round's echo data: a random token, then counting bytes up to PAYLOAD_SIZE."""
    return os.urandom(TOKEN_SIZE) + bytes(range(PAYLOAD_SIZE - TOKEN_SIZE))


def no_reply(packets: int) -> str:
    return f"no echo reply to {packets} packet(s)"


def round_result(started: float, finished: float, packets: int, answers: Sequence[tuple[float, float]], mode: str,
                 failure: tuple[str, str]) -> ProbeResult:
    """The result of a round of `packets` echo requests, whichever way they were sent (sockets here,
    the IP Helper API on Windows): `answers` holds (monotonic time sent, round-trip time) of each
    answered packet; `failure` is the (error, detail) of a round nobody answered. Loss and jitter
    are computed from this result by agent.wan.health, the same for both ways."""
    if answers:
        ordered = sorted(answers)
        return ProbeResult(True, started, finished, packets, len(ordered), tuple(rtt for _, rtt in ordered),
                           answered_at=ordered[0][0], icmp_mode=mode)
    error, detail = failure
    return failed(started, finished, error, detail, sent=packets, icmp_mode=mode)

"""Round-trip times measured by the kernel where it can (Linux), so a busy
Python process (another thread holding the GIL when the answer arrives) does
not inflate them:

- receive timestamps (SO_TIMESTAMPNS) for ICMP and DNS answers, against a send
  time taken just before the send call;
- the TCP handshake round trip the kernel measured (TCP_INFO tcpi_rtt).

Elsewhere these return None and callers keep their own user-space timing.
"""

from __future__ import annotations

import socket
import struct
import sys

_LINUX = sys.platform.startswith("linux")
# SO_TIMESTAMPNS == SCM_TIMESTAMPNS (asm-generic/socket.h); Python does not export it.
SO_TIMESTAMPNS = 35 if _LINUX else None
# struct tcp_info (linux/tcp.h): tcpi_rtt, microseconds, is the u32 at byte 68.
_TCP_INFO_LEN, _TCPI_RTT_OFFSET = 104, 68


def enable_rx_timestamps(sock: socket.socket) -> bool:
    if SO_TIMESTAMPNS is None or not hasattr(sock, "recvmsg"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv(sock: socket.socket, stamps: bool, size: int = 4096) -> tuple[bytes, object, int | None]:
    """(data, source address, kernel receive time in ns since the epoch, or None)."""
    if stamps:
        data, ancdata, _, src = sock.recvmsg(size, socket.CMSG_SPACE(16))
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("qq", cdata[:16])
                return data, src, sec * 1_000_000_000 + nsec
        return data, src, None
    data, src = sock.recvfrom(size)
    return data, src, None


def best_rtt(user_rtt: float, tx_wall_ns: int, rx_ns: int | None) -> float:
    """The kernel's figure when it is there and sane (a clock step makes it nonsense), else ours."""
    if rx_ns is not None:
        kernel = (rx_ns - tx_wall_ns) / 1e9
        if 0 < kernel <= user_rtt:
            return kernel
    return user_rtt


def tcp_handshake_rtt(sock: socket.socket) -> float | None:
    """The SYN -> SYN-ACK round trip the kernel measured for a connected TCP socket, in seconds."""
    if not _LINUX or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(info) < _TCPI_RTT_OFFSET + 4:
        return None
    (rtt_us,) = struct.unpack_from("I", info, _TCPI_RTT_OFFSET)
    return rtt_us / 1e6 if rtt_us else None

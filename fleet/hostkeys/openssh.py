"""What OpenSSH says when it refuses a host key (sshconnect.c), in words an operator can act
on: a key not enrolled yet is told apart from a key that changed (a possible attack), and a
changed key is shown with both fingerprints: the one the PC sent (from OpenSSH's warning)
and the one recorded (read from the "Offending ... key in FILE:LINE" it names)."""

from __future__ import annotations

import re
from pathlib import Path

from fleet.hostkeys.known_hosts import entry_at

_CHANGED = re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed")
_SENT = re.compile(r"The fingerprint for the (\S+) key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/]+)")
_OFFENDING = re.compile(r"Offending \S+ key in (.+?):(\d+)\s*$", re.MULTILINE)
_UNKNOWN = re.compile(r"No \S+ host key is known for (\S+)|Host key verification failed")

NOT_ENROLLED = ("chưa ghi nhận khóa máy (lần kết nối đầu): chạy wardwatch inventory hostkeys / "
                "host key not enrolled yet (first contact): run wardwatch inventory hostkeys")


def explain(text: str) -> str | None:
    """One line for a host key refusal in `text` (ssh's stderr), or None if there is none."""
    if _CHANGED.search(text):
        sent = _SENT.search(text)
        new = sent.group(2) if sent else "?"
        old = "?"
        offending = _OFFENDING.search(text)
        if offending:
            entry = entry_at(Path(offending.group(1).strip()), int(offending.group(2)))
            if entry:
                old = f"{entry.fingerprint} ({offending.group(1).strip()}:{offending.group(2)})"
        return (f"KHÓA MÁY ĐÃ THAY ĐỔI, có thể bị giả mạo: đã ghi {old}, máy gửi {new} / "
                f"HOST KEY CHANGED, possible attack: recorded {old}, the PC sent {new}")
    if _UNKNOWN.search(text):
        return NOT_ENROLLED
    return None

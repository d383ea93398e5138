"""The known_hosts file that rollout (OpenSSH, through Ansible) and diagnose (paramiko) both
read, and that `wardwatch inventory hostkeys` appends to.

Entries are read as OpenSSH reads them (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and
hashed (`|1|salt|hash`) host names, `[host]:port` for ports other than 22, wildcards and
negations; `@revoked` and `@cert-authority` lines are not host keys and are skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from agent.files import write_atomic


def default_known_hosts() -> Path:
    """$WARDWATCH_KNOWN_HOSTS, else $XDG_CONFIG_HOME/wardwatch/known_hosts (~/.config/wardwatch/known_hosts)."""
    env = os.environ.get("WARDWATCH_KNOWN_HOSTS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wardwatch" / "known_hosts"


def host_name(address: str, port: int) -> str:
    """The name OpenSSH looks a host up by: `address`, or `[address]:port` when the port is not 22."""
    return address if int(port) == 22 else f"[{address}]:{int(port)}"


def fingerprint(blob: bytes) -> str:
    """OpenSSH's fingerprint of a public key blob: SHA256:<base64 of the digest, no padding>."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Entry:
    key_type: str   # ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa ...
    key_b64: str
    line: int       # 1-based line number in the file

    @property
    def fingerprint(self) -> str:
        return fingerprint(base64.b64decode(self.key_b64))

    def describe(self) -> str:
        return f"{self.key_type} {self.fingerprint}"


def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH's patterns: `*` and `?` only (brackets are literal: `[host]:port`)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()))


def _name_matches(pattern_list: str, name: str) -> bool:
    if pattern_list.startswith("|1|"):
        try:
            _, _, salt, digest = pattern_list.split("|", 3)
            mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
            return hmac.compare_digest(mac, base64.b64decode(digest))
        except (ValueError, binascii.Error):
            return False
    matched = False
    for pattern in pattern_list.split(","):
        negated = pattern.startswith("!")
        if _wildcard(pattern.lstrip("!")).fullmatch(name.lower()):
            if negated:
                return False
            matched = True
    return matched


def lookup(path: Path, name: str) -> list[Entry]:
    """Every host key recorded for `name` (as host_name() makes it); [] when the file does not exist.
    OSError when it exists but cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#") or fields[0].startswith("@") or len(fields) < 3:
            continue
        if not _name_matches(fields[0], name):
            continue
        try:
            base64.b64decode(fields[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        found.append(Entry(fields[1], fields[2], number))
    return found


def entry_at(path: Path, line: int) -> Entry | None:
    """The key on line `line` of the file (OpenSSH names it in "Offending key in FILE:LINE")."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not 1 <= line <= len(lines):
        return None
    fields = lines[line - 1].split()
    if fields and fields[0].startswith("@"):
        fields = fields[1:]
    if len(fields) < 3:
        return None
    try:
        base64.b64decode(fields[2], validate=True)
    except (ValueError, binascii.Error):
        return None
    return Entry(fields[1], fields[2], line)


def record(path: Path, lines: list[tuple[str, str, str, str]]) -> None:
    """Append (name, key type, base64 key, comment) entries: the file is rewritten atomically,
    private (0600, its directory 0700), the earlier lines kept as they were."""
    if not lines:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    new = "".join(f"{name} {key_type} {key_b64} {comment}".rstrip() + "\n"
                  for name, key_type, key_b64, comment in lines)
    write_atomic(path, old + new.encode(), mode=0o600)

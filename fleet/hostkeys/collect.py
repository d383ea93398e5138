"""A PC's SSH host key, read from the key exchange (paramiko): no login, nothing run on the PC.

One key per PC, of the first type in PREFERRED the PC offers (ssh-keyscan would list every
type): OpenSSH and paramiko both prefer, on later connections, the key types already known
for a host, so that one key is the one every later connection checks.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import paramiko

from fleet.hostkeys.known_hosts import fingerprint

PREFERRED = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "rsa-sha2-512", "rsa-sha2-256")


@dataclass(frozen=True)
class HostKey:
    key_type: str   # as known_hosts writes it: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa
    key_b64: str
    blob: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    def describe(self) -> str:
        return f"{self.key_type} {self.fingerprint}"


class CollectError(Exception):
    """The PC could not be asked: why, in Vietnamese and in English."""

    def __init__(self, vi: str, en: str):
        super().__init__(en)
        self.text = {"vi": vi, "en": en}


def fetch(address: str, port: int, *, timeout: float = 10.0, prefer: tuple[str, ...] = ()) -> HostKey:
    """The host key the PC presents. `prefer`: key types to ask for first (those already recorded)."""
    order = [t for t in prefer if t in PREFERRED] + [t for t in PREFERRED if t not in prefer]
    if "ssh-rsa" in prefer:
        order = ["rsa-sha2-512", "rsa-sha2-256"] + [t for t in order if not t.startswith("rsa-")]
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except socket.gaierror as e:
        why = e.strerror or e
        raise CollectError(f"không phân giải được tên máy: {why}", f"name does not resolve: {why}") from None
    except TimeoutError:
        raise CollectError(f"không trả lời sau {timeout:g} giây", f"no answer within {timeout:g} s") from None
    except OSError as e:
        raise CollectError(f"không kết nối được: {e.strerror or e}", f"cannot connect: {e.strerror or e}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        options = transport.get_security_options()
        options.key_types = [t for t in order if t in options.key_types]
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as e:
        raise CollectError(f"bắt tay SSH thất bại: {e or type(e).__name__}",
                           f"SSH handshake failed: {e or type(e).__name__}") from None
    finally:
        transport.close()
        sock.close()
    return HostKey(key.get_name(), key.get_base64(), key.asbytes())

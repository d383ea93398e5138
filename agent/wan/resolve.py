"""Name resolution bounded by the probe's deadline.

`getaddrinfo` has no timeout of its own and a dead resolver can hold it for tens
of seconds; it runs in a helper thread the probe stops waiting for at its
deadline. IP literals never touch the resolver.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time


class ResolveError(OSError):
    """The target's host name did not resolve (in time)."""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int, deadline: float, socktype: int = socket.SOCK_STREAM) -> tuple[int, str]:
    """(address family, address) of `host`, first answer; raises ResolveError."""
    if is_ip(host):
        return (socket.AF_INET6 if ":" in host else socket.AF_INET), host
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["answer"] = socket.getaddrinfo(host, port, type=socktype)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting probe
            box["error"] = e

    t = threading.Thread(target=work, name=f"resolve-{host}", daemon=True)
    t.start()
    t.join(max(0.0, deadline - time.monotonic()))
    if t.is_alive():
        raise ResolveError(f"resolving {host} took longer than the timeout")
    error = box.get("error")
    if isinstance(error, socket.gaierror):
        raise ResolveError(f"{host}: {error.strerror or error}")
    if error is not None:
        raise ResolveError(f"{host}: {error}")
    answers = box["answer"]
    if not answers:  # type: ignore[truthy-bool]
        raise ResolveError(f"{host}: no address")
    family, _, _, _, sockaddr = answers[0]  # type: ignore[index]
    return family, sockaddr[0]

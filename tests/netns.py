"""Test hosts in network namespaces: `with NetNS("wan") as ns:` makes a namespace
joined to this one by a veth pair on a private /30 (10.x.y.1 here, 10.x.y.2
inside), and removes both (and anything still running inside) on exit.

An `unreachable` route for the /30 (behind the veth's own route) makes sure that
while the link is down nothing sent to the test host leaves by the default route.

Names carry the pid and a counter, so parallel test runs never share one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
from collections.abc import Iterator

from support import need, process

_counter = itertools.count(1)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([need("ip"), *args], capture_output=True, text=True, check=check, timeout=20)


def _free_subnet() -> tuple[str, str]:
    """(this side, inside) of a /30 no interface here uses yet."""
    used = ip("-o", "-4", "addr", "show").stdout
    pid = os.getpid()
    for n in range(256):
        second, third = 100 + (pid + n) % 100, (pid // 100 + n * 7) % 256
        prefix = f"10.{second}.{third}."
        if f"inet {prefix}" not in used:
            return prefix + "1", prefix + "2"
    raise AssertionError("no free 10.x.y.0/30 for a test namespace")


class NetNS:
    def __init__(self, tag: str = "t"):
        n = next(_counter)
        self.name = f"ww-{tag}-{os.getpid()}-{n}"
        short = f"w{os.getpid() % 100000}{n}"[:12]
        self.veth_here, self.veth_there = short + "a", short + "b"
        self.here, self.there = _free_subnet()
        self.subnet = self.here.rsplit(".", 1)[0] + ".0/30"
        self._fallback = False

    def __enter__(self) -> NetNS:
        try:
            ip("route", "add", "unreachable", self.subnet, "metric", "4000")
            self._fallback = True
            ip("netns", "add", self.name)
            ip("link", "add", self.veth_here, "type", "veth", "peer", "name", self.veth_there)
            ip("link", "set", self.veth_there, "netns", self.name)
            ip("addr", "add", f"{self.here}/30", "dev", self.veth_here)
            ip("link", "set", self.veth_here, "up")
            self.run("ip", "addr", "add", f"{self.there}/30", "dev", self.veth_there)
            self.run("ip", "link", "set", self.veth_there, "up")
            self.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cmd(self, *args: str) -> list[str]:
        return [need("ip"), "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, check=check, timeout=30, **kw)

    @contextlib.contextmanager
    def process(self, *args: str, **kw) -> Iterator[subprocess.Popen]:
        with process(self.cmd(*args), **kw) as p:
            yield p

    def link(self, up: bool, far_end: bool = False) -> None:
        """Take the veth link down (or up): on this side (sending fails: unreachable), or at the far end
        inside the namespace (like a cable cut upstream: packets go out and nothing comes back)."""
        if far_end:
            self.run("ip", "link", "set", self.veth_there, "up" if up else "down")
        else:
            ip("link", "set", self.veth_here, "up" if up else "down")

    def close(self) -> None:
        pids = ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        ip("link", "del", self.veth_here, check=False)
        ip("netns", "del", self.name, check=False)
        if self._fallback:
            ip("route", "del", "unreachable", self.subnet, "metric", "4000", check=False)
            self._fallback = False

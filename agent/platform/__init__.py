"""The one place that picks platform code. Collectors call `current()` (or get a
Platform injected by tests) and never test `sys.platform` themselves.

One interface for every platform: a platform reads its own settings from the agent's config
(`configured`: which CUPS, SANE's options, dpkg's status file on Linux; nothing on Windows), so
no method takes arguments that only one platform understands."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agent.devices.printer_status import SourceStatus
    from agent.devices.scanner_status import ScannerStatus
    from agent.options import Settings


@dataclass(frozen=True)
class SystemInfo:
    hostname: str
    os_name: str
    os_version: str
    os_build: str
    vendor: str
    model: str
    serial: str
    cpu_model: str

    @property
    def os_string(self) -> str:
        """What `spec.allowed_os` prefixes are matched against, e.g. "Windows 10 Pro 10.0.19045"."""
        return f"{self.os_name} {self.os_version}".strip()


@dataclass(frozen=True)
class Software:
    """One installed program: a dpkg package, or an entry of Windows' uninstall registry."""

    name: str      # dpkg package name, or the DisplayName on Windows
    version: str
    key: str = ""  # Windows: the uninstall key (product code); Linux: ""


class Platform(Protocol):
    name: str

    def system_info(self) -> SystemInfo: ...

    def system_disk(self) -> str: ...

    def fixed_disks(self) -> list[str]: ...

    def default_state_dir(self) -> str: ...

    def configured(self, config: Settings) -> Platform:
        """This platform with its own settings read from the agent's whole config (the platform
        itself when it reads none). The agent calls it at start and at every reload."""
        ...

    def print_queues(self, timeout: float) -> dict[str, SourceStatus] | None:
        """This PC's print queues by name (CUPS on Linux, the spooler on Windows); None when
        there is no local print system to ask. Raises when it is there but does not answer."""
        ...

    def local_scanners(self) -> list[ScannerStatus]:
        """Scanners attached to this PC (SANE on Linux, WIA on Windows). Raises when the
        listing fails or hangs past its timeout."""
        ...

    def default_gateway(self) -> str | None:
        """IPv4 address of the default gateway, or None (used by `collectors.wan.auto`)."""
        ...

    def dns_servers(self) -> list[str]:
        """The DNS servers this PC asks, in order (used by `collectors.wan.auto`)."""
        ...

    def installed_software(self) -> list[Software]:
        """Installed programs (dpkg's packages on Linux, the uninstall registry on Windows)."""
        ...


def current() -> Platform:
    if sys.platform == "win32":
        from agent.platform.windows import WindowsPlatform

        return WindowsPlatform()
    from agent.platform.linux import LinuxPlatform

    return LinuxPlatform()

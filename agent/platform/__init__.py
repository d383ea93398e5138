"""The one place that picks platform code. Collectors call `current()` (or get a
Platform injected by tests) and never test `sys.platform` themselves."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agent.devices.printer_status import SourceStatus
    from agent.devices.sane import SaneOptions
    from agent.devices.scanner_status import ScannerStatus


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

    def print_queues(self, cups_server: str, timeout: float) -> dict[str, SourceStatus] | None:
        """This PC's print queues by name (CUPS on Linux, the spooler on Windows); None when
        there is no local print system to ask. Raises when it is there but does not answer."""
        ...

    def local_scanners(self, sane: SaneOptions) -> list[ScannerStatus]:
        """Scanners attached to this PC (SANE on Linux, WIA on Windows). Raises when the
        listing fails or hangs past its timeout."""
        ...

    def default_gateway(self) -> str | None:
        """IPv4 address of the default gateway, or None (used by `collectors.wan.auto`)."""
        ...

    def dns_servers(self) -> list[str]:
        """The DNS servers this PC asks, in order (used by `collectors.wan.auto`)."""
        ...

    def installed_software(self, dpkg_status: str) -> list[Software]:
        """Installed programs. `dpkg_status` is the dpkg status file (Linux only)."""
        ...


def current() -> Platform:
    if sys.platform == "win32":
        from agent.platform.windows import WindowsPlatform

        return WindowsPlatform()
    from agent.platform.linux import LinuxPlatform

    return LinuxPlatform()

"""Linux: os-release, DMI from sysfs, /proc/cpuinfo. Every path is under `root`
so tests can point the platform at a tree of their own."""

from __future__ import annotations

import copy
import ipaddress
import os
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from agent.platform import Software, SystemInfo

if TYPE_CHECKING:
    from agent.devices.printer_status import SourceStatus
    from agent.devices.sane import SaneOptions
    from agent.devices.scanner_status import ScannerStatus
    from agent.options import Settings

# Filesystems that live on a fixed local disk; everything else (tmpfs, squashfs
# of snaps, network mounts, overlay of containers) is not a "fixed disk".
FIXED_FSTYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs",
                           "vfat", "exfat", "ntfs", "ntfs3", "fuseblk", "zfs"})


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, values optionally quoted with shell escapes."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\$", "$").replace("\\`", "`").replace("\\\\", "\\")
        out[key.strip()] = value
    return out


def parse_cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Processor") and value.strip():
            return value.strip()
    return ""


def parse_default_gateway(route_table: str) -> str | None:
    """The default route's gateway from /proc/net/route (hex, host byte order); lowest metric wins."""
    best: tuple[int, str] | None = None
    for line in route_table.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        try:
            dest, gateway, flags, metric, mask = int(f[1], 16), int(f[2], 16), int(f[3], 16), int(f[6]), int(f[7], 16)
        except ValueError:
            continue
        if dest == 0 and mask == 0 and flags & 0x1 and flags & 0x2:  # RTF_UP, RTF_GATEWAY
            if not 0 <= gateway <= 0xFFFFFFFF:
                continue
            address = str(ipaddress.IPv4Address(struct.pack("<I", gateway)))
            if best is None or metric < best[0]:
                best = (metric, address)
    return best[1] if best else None


def parse_resolv_conf(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        f = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(f) >= 2 and f[0] == "nameserver":
            out.append(f[1])
    return out


def parse_dpkg_status(text: str) -> list[Software]:
    """dpkg's status file (deb-control(5) stanzas): the packages whose Status is "install ok installed"."""
    out: list[Software] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if not line or line[0] in " \t":  # continuation lines (Description, Conffiles)
                continue
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if fields.get("Package") and fields.get("Status", "").split()[-1:] == ["installed"]:
            out.append(Software(fields["Package"], fields.get("Version", "")))
    return out


class LinuxPlatform:
    name = "linux"

    def __init__(self, root: str = "/", cups_sockets: tuple[str, ...] | None = None,
                 cups_ports: tuple[tuple[str, int], ...] = (("127.0.0.1", 631), ("::1", 631)), *,
                 cups_server: str = "", sane: SaneOptions | None = None, dpkg_status: str = "/var/lib/dpkg/status"):
        self.root = Path(root)
        # Where a local CUPS is looked for when no server is configured.
        self.cups_sockets = cups_sockets if cups_sockets is not None else (
            str(self.root / "run/cups/cups.sock"), str(self.root / "var/run/cups/cups.sock"))
        self.cups_ports = cups_ports
        # Linux's own settings (collectors.printers.cups_server, collectors.scanners.sane_*,
        # collectors.vclient.dpkg_status), read by `configured`.
        self.cups_server = cups_server
        self.sane = sane
        self.dpkg_status = dpkg_status

    def configured(self, config: Settings) -> LinuxPlatform:
        from agent.devices.sane import SaneOptions

        c = config.collectors
        sane = SaneOptions(tuple(c.scanners.sane_command), c.scanners.sane_config_dir, c.scanners.sane_network,
                           c.scanners.local_timeout)
        out = copy.copy(self)  # where CUPS is looked for, the root: as given
        out.cups_server, out.sane, out.dpkg_status = c.printers.cups_server, sane, c.vclient.dpkg_status
        return out

    def _read(self, rel: str) -> str:
        try:
            return (self.root / rel).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # absent (no DMI in a VM) or root-only (product_serial): reported as ""
            return ""

    def system_info(self) -> SystemInfo:
        osr = parse_os_release(self._read("etc/os-release") or self._read("usr/lib/os-release"))
        return SystemInfo(
            hostname=socket.gethostname(),
            os_name=osr.get("NAME", "Linux"),
            os_version=osr.get("VERSION_ID", ""),
            os_build=os.uname().release,
            vendor=self._read("sys/class/dmi/id/sys_vendor"),
            model=self._read("sys/class/dmi/id/product_name"),
            serial=self._read("sys/class/dmi/id/product_serial"),
            cpu_model=parse_cpu_model(self._read("proc/cpuinfo")),
        )

    def system_disk(self) -> str:
        return "/"

    def fixed_disks(self) -> list[str]:
        seen: set[str] = set()
        out: list[str] = []
        for p in psutil.disk_partitions(all=False):
            if p.fstype in FIXED_FSTYPES and p.device not in seen:
                seen.add(p.device)
                out.append(p.mountpoint)
        return sorted(out)

    def default_state_dir(self) -> str:
        return "/var/lib/wardwatch"

    def print_queues(self, timeout: float) -> dict[str, SourceStatus] | None:
        from agent.devices import ipp_status

        server = self.cups_server or ipp_status.find_local_cups(self.cups_sockets, self.cups_ports,
                                                                 min(timeout, 2.0))
        if server is None:
            return None
        return ipp_status.cups_queues(server, timeout)

    def local_scanners(self) -> list[ScannerStatus]:
        from agent.devices import sane as sane_

        return sane_.scanners(self.sane or sane_.SaneOptions())

    def default_gateway(self) -> str | None:
        return parse_default_gateway(self._read("proc/net/route"))

    def dns_servers(self) -> list[str]:
        servers = parse_resolv_conf(self._read("etc/resolv.conf"))
        if servers == ["127.0.0.53"]:  # systemd-resolved's stub: ask what it asks
            servers = parse_resolv_conf(self._read("run/systemd/resolve/resolv.conf")) or servers
        return servers

    def installed_software(self) -> list[Software]:
        """From dpkg's status file; none (not an error) on a system without dpkg."""
        try:
            text = Path(self.dpkg_status).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return parse_dpkg_status(text)

"""The virtualized client this PC must have (Citrix Workspace app, VMware/Omnissa
Horizon Client, an RDP client): installed and at which version, running now, and
whether the virtualization gateway answers from this PC.

Installed programs come from the platform (dpkg's status file on Linux, the
uninstall registry keys on Windows); processes from psutil; the gateway is a TCP
connect with a timeout. With no `product` configured there is nothing to report.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from agent.collectors.base import Collector, Sample, sample
from agent.options import Option
from agent.platform import Software


@dataclass(frozen=True)
class Product:
    packages: tuple[str, ...]       # dpkg package names
    windows_names: tuple[str, ...]  # regexes on DisplayName in the uninstall registry
    processes: tuple[str, ...]      # process names (case-insensitive; .exe on Windows)


# What each client is called where it is installed (vendors' package names).
PRODUCTS: dict[str, Product] = {
    "citrix_workspace": Product(
        ("icaclient", "ctxusb"),
        (r"^Citrix Workspace", r"^Citrix Receiver"),
        ("wfica", "selfservice", "wfica32.exe", "wfcrun32.exe", "selfservice.exe", "receiver.exe", "cdviewer.exe"),
    ),
    "horizon": Product(
        ("omnissa-horizon-client", "vmware-horizon-client", "horizon-client"),
        (r"^(Omnissa|VMware) Horizon Client",),
        ("vmware-view", "horizon-client", "vmware-view.exe", "horizon-client.exe", "horizon-protocol.exe"),
    ),
    "rdp": Product(
        ("freerdp3-x11", "freerdp2-x11", "remmina"),
        (r"^Remote Desktop", r"^Microsoft Remote Desktop"),
        ("xfreerdp", "xfreerdp3", "remmina", "msrdc.exe", "msrdcw.exe", "mstsc.exe"),
    ),
}
COMM_LEN = 15  # Linux truncates process names (comm) to 15 characters


def parse_gateway(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"gateway must be HOST:PORT, got {text!r}")
    return host, int(port)


def find_installed(software: Iterable[Software], packages: Iterable[str],
                   windows_names: Iterable[str]) -> Software | None:
    names = {p.lower() for p in packages}
    patterns = [re.compile(p, re.IGNORECASE) for p in windows_names]
    for s in software:
        if s.name.lower() in names or any(p.search(s.name) for p in patterns):
            return s
    return None


def running(process_names: Iterable[str], names: Iterable[str]) -> bool:
    wanted = {n.lower() for n in names}
    wanted |= {n[:COMM_LEN] for n in wanted}
    return any(p and p.lower() in wanted for p in process_names)


def gateway_up(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class VclientCollector(Collector):
    name = "vclient"
    help = "The virtualized client: installed (and version), running, and its gateway reachable from this PC."
    options = (
        Option("product", "str", "", "The client this PC must have; empty: nothing to report.",
               choices=("", "citrix_workspace", "horizon", "rdp")),
        Option("packages", "list[str]", [], "dpkg package names that count as installed; empty: the product's own."),
        Option("windows_names", "list[str]", [],
               "Regexes on DisplayName in Windows' uninstall registry; empty: the product's own."),
        Option("processes", "list[str]", [], "Process names that count as running; empty: the product's own."),
        Option("dpkg_status", "path", "/var/lib/dpkg/status", "dpkg's status file (Linux)."),
        Option("gateway", "str", "", "HOST:PORT of the virtualization gateway (StoreFront, Connection Server, "
                                     "RD Gateway); empty: not tested."),
        Option("gateway_timeout", "duration", 3.0, "Timeout of the TCP connect to the gateway.", minimum=0.1),
    )
    default_interval = 60.0
    default_timeout = 15.0

    def collect(self) -> list[Sample]:
        s = self.settings
        product = s.product
        if not product:
            return []
        known = PRODUCTS[product]
        found = find_installed(self.context.platform.installed_software(),
                               s.packages or known.packages, s.windows_names or known.windows_names)
        out = [sample("wardwatch_vclient_installed", int(found is not None), product=product)]
        if found is not None:
            out.append(sample("wardwatch_vclient_info", 1, product=product, version=found.version))
        names = [p.info.get("name") or "" for p in psutil.process_iter(["name"])]
        out.append(sample("wardwatch_vclient_running", int(running(names, s.processes or known.processes)),
                          product=product))
        if s.gateway:
            host, port = parse_gateway(s.gateway)
            t0 = time.monotonic()
            up = gateway_up(host, port, s.gateway_timeout)
            out.append(sample("wardwatch_vclient_gateway_up", int(up)))
            if up:
                out.append(sample("wardwatch_vclient_gateway_connect_seconds", time.monotonic() - t0))
        return out

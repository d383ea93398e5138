"""The config of one WAN target: its options (declared once, here), the checks
across them, the typed `Target` the probes use, and the `auto` targets (this
PC's default gateway and DNS server)."""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from dataclasses import dataclass

from agent.options import InvalidSettingError, Option, Section, Settings

log = logging.getLogger("wardwatch.wan")

ROLES = ("portal", "gateway", "dns", "other")
KINDS = ("icmp", "tcp", "http", "dns", "tls")
DEFAULT_PORTS = {"tls": 443, "dns": 53}
_STATUS_RE = re.compile(r"^([1-5]\d\d)(?:-([1-5]\d\d))?$")
_NAME_MAX = 64


def parse_status_ranges(items: list[str]) -> tuple[tuple[int, int], ...]:
    """["200-299", "301"] -> ((200, 299), (301, 301)); raises ValueError."""
    out = []
    for item in items:
        m = _STATUS_RE.match(item.strip())
        if not m:
            raise ValueError(f"expected status codes like 200 or 200-399, got {item!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"range {item!r} ends before it starts")
        out.append((lo, hi))
    if not out:
        raise ValueError("needs at least one status code or range")
    return tuple(out)


def _check(t: Settings) -> None:
    """Checks across a target's options; each names the option at fault."""
    if not t.name.strip():
        raise InvalidSettingError("name", "every target needs a name (it becomes the `target` label)")
    if len(t.name) > _NAME_MAX:
        raise InvalidSettingError("name", f"at most {_NAME_MAX} characters")
    if not t.address.strip():
        raise InvalidSettingError("address", f"kind {t.kind} needs an address")
    if t.timeout > t.interval:
        raise InvalidSettingError("timeout",
                                  f"the timeout ({t.timeout:g}s) is longer than the interval ({t.interval:g}s)")
    if t.kind == "http":
        try:
            url = urllib.parse.urlsplit(t.address)
        except ValueError:  # e.g. a broken IPv6 literal, https://[portal/
            raise InvalidSettingError("address", "not a URL like https://portal.example/path") from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidSettingError("address", "kind http needs a URL like https://portal.example/path")
        try:
            url.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise InvalidSettingError("address", "the URL's port is not a number from 1 to 65535") from None
        if url.username is not None or url.password is not None:
            raise InvalidSettingError("address", "no credentials in the URL: they would show up in metrics and logs")
        if t.port:
            raise InvalidSettingError("port", "kind http takes its port from the URL in address")
        try:
            parse_status_ranges(t.expected_status)
        except ValueError as e:
            raise InvalidSettingError("expected_status", str(e)) from None
    elif "://" in t.address:
        raise InvalidSettingError("address", f"kind {t.kind} takes a host name or IP address, not a URL")
    if t.kind == "tcp" and not t.port:
        raise InvalidSettingError("port", "kind tcp needs a port")
    if t.kind == "dns" and not t.query.strip():
        raise InvalidSettingError("query", "kind dns needs the name to resolve (query); address is the DNS server")
    if t.kind == "icmp":
        round_time = (t.packets - 1) * t.packet_interval + t.timeout
        if round_time > t.interval:
            raise InvalidSettingError("packets", f"a round of {t.packets} packets {t.packet_interval:g}s apart plus "
                                      f"the timeout takes {round_time:g}s, longer than the interval "
                                      f"({t.interval:g}s)")
    if t.ca_file and not os.path.isfile(t.ca_file):
        raise InvalidSettingError("ca_file", f"file not found: {t.ca_file}")


TARGET = Section("target", "One WAN target.", (
    Option("name", "str", "", "Short name, unique among targets; the `target` label (e.g. portal, gateway)."),
    Option("role", "str", "other", "What the target is for; the `role` label.", choices=ROLES),
    Option("kind", "str", "icmp", "How it is probed.", choices=KINDS),
    Option("address", "str", "",
           "icmp, tcp, tls: host name or IP address; dns: the DNS server to ask; http: the URL (http:// or https://)."),
    Option("port", "int", 0, "tcp: needed; tls: default 443; dns: default 53; http: part of the URL.",
           minimum=0, maximum=65535),
    Option("interval", "duration", 30.0, "Time between two probe rounds of this target.", minimum=0.05),
    Option("timeout", "duration", 5.0,
           "How long one probe (for icmp: each packet) waits for its answer.", minimum=0.01),
    Option("packets", "int", 5, "icmp: echo requests per round (loss and jitter come from them).",
           minimum=1, maximum=1000),
    Option("packet_interval", "duration", 0.2, "icmp: time between two echo requests of a round.",
           minimum=0.001),
    Option("expected_status", "list[str]", ["200-399"],
           "http: status codes that count as up, e.g. [\"200\", \"301-302\"] (redirects are not followed)."),
    Option("body_regex", "regex", "", "http: the first MiB of the body must match this regular expression."),
    Option("query", "str", "", "dns: the name to resolve."),
    Option("query_type", "str", "A", "dns: record type asked for.", choices=("A", "AAAA")),
    Option("server_name", "str", "", "http, tls: name for SNI, certificate check and Host; empty: the address's host."),
    Option("tls_verify", "bool", True, "http, tls: check the certificate chain and name (a failure is a failure)."),
    Option("ca_file", "path", "", "http, tls: PEM file of CA certificates to trust instead of the system's."),
), check=_check)


@dataclass(frozen=True)
class Target:
    name: str
    role: str
    kind: str
    address: str          # as configured (URL for http)
    host: str             # host to connect to / ping / ask
    port: int
    interval: float
    timeout: float
    packets: int = 1
    packet_interval: float = 0.0
    expected_status: tuple[tuple[int, int], ...] = ((200, 399),)
    body_regex: re.Pattern[str] | None = None
    query: str = ""
    query_type: str = "A"
    server_name: str = ""
    tls_verify: bool = True
    ca_file: str = ""
    scheme: str = ""      # http: http or https
    path: str = "/"       # http: path and query

    @property
    def round_bound(self) -> float:
        """The longest a round of this target can take."""
        if self.kind == "icmp":
            return (self.packets - 1) * self.packet_interval + self.timeout
        return self.timeout


def from_settings(t: Settings) -> Target:
    common = dict(name=t.name, role=t.role, kind=t.kind, address=t.address, interval=t.interval, timeout=t.timeout,
                  server_name=t.server_name, tls_verify=t.tls_verify, ca_file=t.ca_file)
    if t.kind == "http":
        url = urllib.parse.urlsplit(t.address)
        port = url.port or (443 if url.scheme == "https" else 80)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        return Target(**common, host=url.hostname or "", port=port, scheme=url.scheme, path=path,
                      expected_status=parse_status_ranges(t.expected_status),
                      body_regex=re.compile(t.body_regex) if t.body_regex else None)
    host = t.address.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = t.port or DEFAULT_PORTS.get(t.kind, 0)
    if t.kind == "icmp":
        return Target(**common, host=host, port=0, packets=t.packets, packet_interval=t.packet_interval)
    if t.kind == "dns":
        return Target(**common, host=host, port=port, query=t.query.strip().rstrip("."), query_type=t.query_type)
    return Target(**common, host=host, port=port)


def auto_targets(gateway: str | None, dns_servers: list[str], dns_query: str, interval: float, timeout: float,
                 taken: set[str]) -> list[Target]:
    """The `auto: true` targets: the default gateway (icmp) and the first DNS server (dns)."""
    out = []
    if gateway and "auto-gateway" not in taken:
        out.append(Target("auto-gateway", "gateway", "icmp", gateway, gateway, 0, interval, min(timeout, interval),
                          packets=5, packet_interval=0.2))
    elif not gateway:
        log.warning("wan: auto is on but this PC has no default gateway; none added")
    if dns_servers and "auto-dns" not in taken:
        server = dns_servers[0]
        out.append(Target("auto-dns", "dns", "dns", server, server, 53, interval, min(timeout, interval),
                          query=dns_query.rstrip(".")))
    elif not dns_servers:
        log.warning("wan: auto is on but this PC has no DNS server configured; none added")
    return out

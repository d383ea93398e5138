"""Scanners: the ones attached to this PC (SANE on Linux, WIA on Windows) and
eSCL/AirScan network scanners from the config.

The local listing runs with a hard timeout: a SANE backend that hangs is killed
and the collection is reported failed (wardwatch_collector_success 0), never
passed off as "no scanner". A scanner seen before that is no longer listed is
reported missing (up 0) for `forget_after`.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.parse

from agent.collectors.base import Collector, Sample, sample
from agent.devices.escl import EsclScanner
from agent.devices.scanner_status import MISSING, ScannerStatus
from agent.options import InvalidSettingError, ListOf, Option, Section, Settings


def _check_escl(s: Settings) -> None:
    for key in ("name", "url"):
        if not s[key].strip():
            raise InvalidSettingError(key, "required, and not set")
    try:
        url = urllib.parse.urlsplit(s.url)
        url.port  # noqa: B018 - raises on a bad port
    except ValueError:
        url = None
    if url is None or url.scheme.lower() not in ("http", "https") or not url.hostname:
        raise InvalidSettingError("url", f"expected an http:// or https:// URL with a host, got {s.url!r}")


ESCL_ITEM = Section("scanner", "An eSCL (AirScan) network scanner.", (
    Option("name", "str", "", "Name shown in metrics and reports; any text (required)."),
    Option("url", "str", "", "eSCL base URL, e.g. http://192.168.1.30/eSCL (required)."),
    Option("tls_verify", "bool", True, "For https: check the scanner's certificate."),
    Option("timeout", "duration", 5.0, "Time given to the scanner to answer.", minimum=0.1),
), check=_check_escl)


class ScannersCollector(Collector):
    name = "scanners"
    help = "Scanners: local ones (SANE on Linux, WIA on Windows) and eSCL network scanners."
    options = (
        Option("local", "bool", True, "List the scanners attached to this PC (SANE on Linux, WIA on Windows)."),
        Option("sane_command", "list[str]", ["scanimage", "-L"], "The SANE listing command and its arguments."),
        Option("sane_config_dir", "path", "", "SANE's configuration; empty: $SANE_CONFIG_DIR, else /etc/sane.d."),
        Option("sane_network", "bool", False,
               "Let SANE look for network scanners (net, escl, airscan backends, BJNP and other discovery). "
               "Off: SANE runs with a private copy of its config without them, so nothing leaves the PC."),
        Option("local_timeout", "duration", 20.0,
               "The listing is killed after this long and the collection reported failed.", minimum=0.1),
        Option("forget_after", "duration", 86400.0,
               "A local scanner that disappears is reported missing for this long, then forgotten.", minimum=0),
        ListOf("escl", "eSCL (AirScan) network scanners to ask (none by default).", ESCL_ITEM,
               unique="name"),
    )
    default_interval = 120.0
    default_timeout = 40.0

    def __init__(self, settings: Settings, context) -> None:
        super().__init__(settings, context)
        self.escl = [EsclScanner(s.name, s.url, s.timeout, s.tls_verify) for s in settings.escl]
        self._known: dict[str, tuple[float, ScannerStatus]] = {}

    def scanners(self, now: float | None = None) -> list[ScannerStatus]:
        now = time.monotonic() if now is None else now  # a clock step must not forget or keep a scanner
        out: list[ScannerStatus] = []
        if self.settings.local:
            found = self.context.platform.local_scanners()  # raises on failure or hang
            names = {s.name for s in found}
            for name, (seen, _) in list(self._known.items()):
                if now - seen > self.settings.forget_after:
                    del self._known[name]
            for s in found:
                self._known[s.name] = (now, s)
            out += found
            for name, (_, last) in sorted(self._known.items()):
                if name not in names:
                    out.append(ScannerStatus(name, last.source, last.vendor, last.model, problems={MISSING},
                                             error="no longer listed"))
        if self.escl:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(self.escl))) as pool:
                out += list(pool.map(lambda s: s.read(), self.escl))
        return out

    def collect(self) -> list[Sample]:
        out: list[Sample] = []
        seen: set[str] = set()
        for s in self.scanners():
            if s.name in seen:  # an eSCL name that is also a local device name: keep both apart
                s.name = f"{s.name} ({s.source})"
            seen.add(s.name)
            out.append(sample("wardwatch_scanner_up", int(s.up), scanner=s.name))
            out.append(sample("wardwatch_scanner_info", 1, scanner=s.name, source=s.source, vendor=s.vendor,
                              model=s.model))
            out += [sample("wardwatch_scanner_problem", 1, scanner=s.name, problem=p) for p in sorted(s.problems)]
        return out

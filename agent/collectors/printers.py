"""Printers: this PC's print queues (CUPS through its IPP interface on Linux, the
spooler on Windows) and network printers from the config (IPP Get-Printer-Attributes
and the SNMP Printer-MIB), merged into one view per printer.

Network printers are queried side by side (at most `concurrency` at once), each
within `device_timeout`; one dead printer costs its own timeout, not everyone's.
With the default config (no printers listed) only local queues are read, and only
if a local CUPS answers; nothing leaves the PC.

Discovery (off by default) asks every address of the subnets listed, one SNMP request
each, at most `DISCOVERY_CONCURRENCY` at once, and again every `discovery.every`; the
printers found are then asked like configured ones (SNMP only), named by their address.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import ipaddress
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Collector, Sample, sample
from agent.devices import ipp, ipp_status, printer_rules, snmp_printer, snmp_usm
from agent.devices.printer_status import MISSING, UNREACHABLE, SourceStatus
from agent.devices.printer_view import PrinterView, merge
from agent.options import InvalidSettingError, ListOf, Option, Section, Settings

LOCAL_TIMEOUT = 10.0  # for the local print system (CUPS, the spooler)
DISCOVERY_CONCURRENCY = 64
log = logging.getLogger("wardwatch.printers")

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
        return True
    except ValueError:
        return bool(_HOST_NAME.match(text))


def _check_printer(p: Settings) -> None:
    for key in ("name", "address"):
        if not p[key].strip():
            raise InvalidSettingError(key, "required, and not set")
    if not _is_host(p.address.strip()):  # e.g. "[192.0.2.1" or "printer one" (found with the fuzz targets)
        raise InvalidSettingError("address", f"not a host name or IP address: {p.address!r}")
    if not (p.ipp or p.snmp or p.queue):
        raise InvalidSettingError("ipp", "nothing to ask: turn on ipp or snmp, or name a queue")
    if p.ipp:
        try:
            ipp.endpoint_from_uri(p.ipp_uri or default_ipp_uri(p.address))
        except ipp.IppError as e:
            raise InvalidSettingError("ipp_uri" if p.ipp_uri else "address", str(e)) from None
    if p.snmp and p.version == "v3":
        usm(p)


def _password(p: Settings, key: str, protocol_key: str) -> str:
    path = p[key]
    if not path:
        raise InvalidSettingError(key, f"required with {protocol_key} {p[protocol_key]}, and not set "
                                       f"(or {protocol_key}: none)")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidSettingError(key, f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    if len(text) < 8:  # RFC 3414 §11.2
        raise InvalidSettingError(key, f"the password in {path} is shorter than 8 characters")
    return text


def usm(p: Settings) -> snmp_usm.Usm:
    """The SNMPv3 user of a printer entry; InvalidSettingError naming the key at fault."""
    if not p.v3_user:
        raise InvalidSettingError("v3_user", "required with version v3, and not set")
    auth = "" if p.v3_auth_protocol == "none" else p.v3_auth_protocol
    priv = "" if p.v3_priv_protocol == "none" else p.v3_priv_protocol
    if priv and not auth:
        raise InvalidSettingError("v3_auth_protocol", f"none cannot go with encryption (v3_priv_protocol {priv}): "
                                  "choose an authentication protocol, or v3_priv_protocol: none")
    if priv:
        try:
            import cryptography  # noqa: F401 - only checked for: AES comes from it
        except ImportError:
            raise InvalidSettingError("v3_priv_protocol", "AES needs the cryptography package: "
                                      "pip install 'wardwatch[snmpv3]'") from None
    return snmp_usm.Usm(p.v3_user, auth, _password(p, "v3_auth_password_file", "v3_auth_protocol") if auth else "",
                        priv, _password(p, "v3_priv_password_file", "v3_priv_protocol") if priv else "", p.v3_context)


def default_ipp_uri(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"ipp://{host}:631/ipp/print"


PRINTER_ITEM = Section("printer", "A network printer.", (
    Option("name", "str", "", "Name shown in metrics and reports; any text, e.g. \"Máy in một cửa\" (required)."),
    Option("address", "str", "", "Host name or IP address of the printer (required)."),
    Option("queue", "str", "",
           "The local queue that prints to it, merged into the same view; empty: a queue whose device URI "
           "names the same address (or the same name) is merged."),
    Option("ipp", "bool", True, "Ask the printer over IPP (Get-Printer-Attributes)."),
    Option("ipp_uri", "str", "", "IPP URI of the printer; empty: ipp://ADDRESS:631/ipp/print."),
    Option("tls_verify", "bool", True, "For an ipps:// URI: check the printer's certificate."),
    Option("snmp", "bool", True, "Read the Printer-MIB over SNMP."),
    Option("community", "str", "public", "SNMP community (never written to logs or metrics).", secret=True),
    Option("version", "str", "v2c", "SNMP version.", choices=("v1", "v2c", "v3")),
    Option("snmp_port", "int", 161, "SNMP UDP port.", minimum=1, maximum=65535),
    Option("snmp_timeout", "duration", 1.0, "Timeout of one SNMP request.", minimum=0.05),
    Option("snmp_retries", "int", 1, "Retries of one SNMP request.", minimum=0, maximum=5),
    Option("v3_user", "str", "", "SNMPv3 user name (version v3)."),
    Option("v3_auth_protocol", "str", "SHA", "SNMPv3 authentication.", choices=("none", "MD5", "SHA", "SHA256")),
    Option("v3_auth_password_file", "path", "", "File holding the SNMPv3 authentication password."),
    Option("v3_priv_protocol", "str", "AES", "SNMPv3 encryption (AES-128; needs the snmpv3 extra).",
           choices=("none", "AES")),
    Option("v3_priv_password_file", "path", "", "File holding the SNMPv3 encryption password."),
    Option("v3_context", "str", "", "SNMPv3 context name; most printers use the empty one."),
), check=_check_printer)


def discovery_networks(d: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for text in d.subnets:
        try:
            nets.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise InvalidSettingError("subnets", f"not a network in CIDR form (e.g. 192.168.1.0/24): {text!r}") \
                from None
    total = sum(n.num_addresses for n in nets)
    if total > d.max_addresses:
        raise InvalidSettingError("subnets", f"{total} addresses in all, more than max_addresses ({d.max_addresses})")
    return nets


def _check_discovery(d: Settings) -> None:
    if not discovery_networks(d) and d.enabled:
        raise InvalidSettingError("subnets", "discovery is enabled but no subnet is listed")


DISCOVERY = Section("discovery", "Finding SNMP printers on the office subnet: off by default, only the subnets "
                    "listed, one SNMP request per address, bounded by max_addresses.", (
    Option("enabled", "bool", False, "Scan the subnets for printers."),
    Option("subnets", "list[str]", [], "Networks to scan, in CIDR form (e.g. 192.168.1.0/24)."),
    Option("max_addresses", "int", 256, "Subnets with more addresses than this in all are refused.",
           minimum=1, maximum=4096),
    Option("every", "duration", 3600.0, "Time between scans; in between, the printers found are asked at each "
           "collection like configured ones.", minimum=60),
    Option("community", "str", "public", "SNMP community of the scan and of the printers found.", secret=True),
    Option("version", "str", "v2c", "SNMP version.", choices=("v1", "v2c")),
    Option("snmp_port", "int", 161, "SNMP UDP port.", minimum=1, maximum=65535),
    Option("timeout", "duration", 1.0, "Time an address is given to answer the scan.", minimum=0.05),
), check=_check_discovery)


@dataclass(frozen=True)
class NetworkPrinter:
    name: str
    address: str
    queue: str
    ipp: ipp.Endpoint | None
    snmp: snmp_printer.Target | None


def network_printers(items: list[Settings]) -> list[NetworkPrinter]:
    """The configured printers (already checked by `_check_printer`)."""
    out = []
    for p in items:
        endpoint = None
        if p.ipp:
            endpoint = ipp.endpoint_from_uri(p.ipp_uri or default_ipp_uri(p.address), tls_verify=p.tls_verify)
        target = snmp_printer.Target(p.address, p.snmp_port, p.community, p.version, p.snmp_timeout,
                                     p.snmp_retries, usm(p) if p.version == "v3" else None) if p.snmp else None
        out.append(NetworkPrinter(p.name, p.address, p.queue, endpoint, target))
    return out


class PrintersCollector(Collector):
    name = "printers"
    help = ("Printers: local queues (CUPS or the Windows spooler) and network printers (IPP, SNMP Printer-MIB), "
            "one merged view each.")
    options = (
        Option("local_queues", "bool", True,
               "Report this PC's print queues: CUPS (through IPP) on Linux, the spooler on Windows."),
        Option("cups_server", "str", "",
               "The CUPS to read on Linux: a UNIX socket path or HOST:PORT. Empty: /run/cups/cups.sock, else "
               "localhost:631, if one answers; when none does, no queue is reported and that is not a failure."),
        Option("forget_after", "duration", 86400.0,
               "A local queue that disappears is reported missing for this long, then forgotten.", minimum=0),
        Option("concurrency", "int", 8, "Network printers asked at the same time.", minimum=1, maximum=64),
        Option("device_timeout", "duration", 5.0,
               "Time given to one network printer (IPP and SNMP side by side); one that takes longer is "
               "reported unreachable. Keep the collector's timeout above "
               "device_timeout x ceil(printers / concurrency).", minimum=0.1),
        ListOf("printers", "Network printers to ask over IPP and SNMP (none by default).", PRINTER_ITEM,
               unique="name"),
        DISCOVERY,
    )
    default_interval = 60.0
    default_timeout = 30.0

    @staticmethod
    def check_settings(s: Settings) -> None:
        d = s.discovery
        if d.enabled:
            addresses = sum(n.num_addresses for n in discovery_networks(d))
            scan = -(-addresses // DISCOVERY_CONCURRENCY) * d.timeout
            if scan >= s.timeout:
                raise InvalidSettingError("discovery", f"a scan of {addresses} addresses can take {scan:g} s "
                                          f"(timeout x ceil(addresses / {DISCOVERY_CONCURRENCY})), not less than "
                                          f"the collector's timeout ({s.timeout:g} s): lower discovery.timeout or "
                                          "raise collectors.printers.timeout")

    def __init__(self, settings: Settings, context) -> None:
        super().__init__(settings, context)
        self.network = network_printers(list(settings.printers))
        self._discovered: list[NetworkPrinter] = []
        self._scanned_at: float | None = None  # monotonic time of the last discovery scan
        self._known: dict[str, tuple[float, SourceStatus]] = {}  # local queues seen: last (monotonic) time, status
        self._errors: dict[tuple[str, str], str] = {}  # (printer or "", source) -> last error logged

    def _note(self, printer: str, source: str, error: str) -> None:
        """Log a source's error when it appears or changes, and its recovery; never every run."""
        key = (printer, source)
        before = self._errors.get(key, "")
        if error and error != before:
            log.warning("%s%s did not answer: %s", f"printer {printer!r}: " if printer else "", source, error)
        elif before and not error:
            log.info("%s%s answers again", f"printer {printer!r}: " if printer else "", source)
        if error:
            self._errors[key] = error
        else:
            self._errors.pop(key, None)

    # --- sources -------------------------------------------------------------------

    def _local(self, now: float) -> tuple[dict[str, SourceStatus], bool | None]:
        """Local queues (the ones that vanished reported missing) and whether the print
        system answered (None: there is none on this PC, and never was)."""
        if not self.settings.local_queues:
            return {}, None
        error = ""
        try:
            queues = self.context.platform.print_queues(LOCAL_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - a dead spooler is reported (spooler_up 0), network printers go on
            queues, error = None, _short(e)
        else:
            if queues is None:
                if not self._known:
                    return {}, None  # no local print system: nothing to report, not a failure
                error = "the local print system no longer answers"
        self._note("", "local print system", error)
        for name, (seen, _) in list(self._known.items()):
            if now - seen > self.settings.forget_after:
                del self._known[name]
        out: dict[str, SourceStatus] = {}
        if queues is None:
            for name, (_, last) in self._known.items():
                out[name] = SourceStatus(last.source, reachable=False, error=error, problems={UNREACHABLE},
                                         make_model=last.make_model)
            return out, False
        for name, status in queues.items():
            self._known[name] = (now, status)
            out[name] = status
        for name, (_, last) in self._known.items():
            if name not in out:
                out[name] = SourceStatus(last.source, reachable=False, error="queue no longer exists",
                                         problems={MISSING}, make_model=last.make_model)
        return out, True

    def _discover(self, now: float) -> list[NetworkPrinter]:
        """The printers the last scan found (scanning again when it is time), configured ones left out."""
        d = self.settings.discovery
        if not d.enabled:
            return []
        if self._scanned_at is not None and now - self._scanned_at < d.every:
            return self._discovered
        known = {p.address.lower() for p in self.network} | {p.name for p in self.network}
        targets = [snmp_printer.Target(str(a), d.snmp_port, d.community, d.version, d.timeout, 0)
                   for net in discovery_networks(d) for a in (net.hosts() if net.num_addresses > 2 else net)
                   if str(a) not in known]
        found = asyncio.run(snmp_printer.discover(targets, DISCOVERY_CONCURRENCY))
        before = {p.address for p in self._discovered}
        self._discovered = [NetworkPrinter(t.host, t.host, "", None, dataclasses.replace(t, retries=1)) for t in found]
        self._scanned_at = now
        if {p.address for p in self._discovered} != before:
            log.info("discovery: %d printers found among %d addresses: %s", len(found), len(targets),
                     ", ".join(t.host for t in found) or "none")
        return self._discovered

    def _network(self, printers: list[NetworkPrinter]) -> dict[str, list[SourceStatus]]:
        if not printers:
            return {}
        return asyncio.run(self._ask_all(printers))

    async def _ask_all(self, printers: list[NetworkPrinter]) -> dict[str, list[SourceStatus]]:
        limit = asyncio.Semaphore(self.settings.concurrency)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.settings.concurrency,
                                                     thread_name_prefix="ipp")
        try:
            async def one(p: NetworkPrinter) -> tuple[str, list[SourceStatus]]:
                async with limit:
                    return p.name, await self._ask(p, pool)

            results = await asyncio.gather(*(one(p) for p in printers))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        for name, statuses in results:
            for st in statuses:
                self._note(name, st.source, st.error)
        return dict(results)

    async def _ask(self, p: NetworkPrinter, pool: concurrent.futures.Executor) -> list[SourceStatus]:
        timeout = self.settings.device_timeout
        loop = asyncio.get_running_loop()
        jobs = []
        if p.ipp is not None:
            endpoint = p.ipp
            jobs.append(("ipp", loop.run_in_executor(pool, lambda: ipp_status.status_from_attributes(
                ipp.get_printer_attributes(endpoint, timeout), "ipp"))))
        if p.snmp is not None:
            jobs.append(("snmp", self._snmp(p.snmp)))
        answers = await asyncio.gather(*(asyncio.wait_for(j, timeout) for _, j in jobs), return_exceptions=True)
        out = []
        for (source, _), answer in zip(jobs, answers, strict=True):
            if isinstance(answer, SourceStatus):
                out.append(answer)
            elif isinstance(answer, BaseException):
                if not isinstance(answer, Exception):
                    raise answer  # cancellation and the like are not a device's fault
                out.append(SourceStatus(source, reachable=False, error=_short(answer)))
        return out

    @staticmethod
    async def _snmp(target: snmp_printer.Target) -> SourceStatus:
        return snmp_printer.decode(await snmp_printer.fetch(target))

    # --- views -------------------------------------------------------------------

    def views(self, now: float | None = None) -> tuple[list[PrinterView], bool | None]:
        # monotonic: a clock set back or forward neither keeps a vanished queue forever nor forgets it at once
        now = time.monotonic() if now is None else now
        local, spooler_up = self._local(now)
        printers = self.network + self._discover(now)
        network = self._network(printers)
        bound: dict[str, SourceStatus] = {}
        for p in printers:
            queue = p.queue or (p.name if p.name in local else "") or next(
                (n for n, s in sorted(local.items()) if s.address and s.address.lower() == p.address.lower()
                 and n not in bound), "")
            if queue and queue in local and queue not in bound:
                bound[queue] = local[queue]
                network[p.name] = [local[queue], *network.get(p.name, [])]
            elif p.queue and p.queue not in local:  # the queue named in the config is not there
                source = next((q.source for q in local.values()), "queue")
                network[p.name] = [SourceStatus(source, reachable=False, error=f"no queue named {p.queue!r}",
                                                problems={MISSING}), *network.get(p.name, [])]
        t = self.context.config.thresholds
        limits = {"supply_low_ratio": t.printer_supply_low_ratio, "queue_stuck_after": t.printer_queue_stuck_after,
                  "waste_nearly_full_ratio": t.printer_waste_nearly_full_ratio}
        views = [merge(name, [status], **limits) for name, status in sorted(local.items()) if name not in bound]
        views += [merge(p.name, network.get(p.name, []), **limits) for p in printers]
        return views, spooler_up

    def collect(self) -> list[Sample]:
        views, spooler_up = self.views()
        t = self.context.config.thresholds
        out: list[Sample] = []
        if spooler_up is not None:
            out.append(sample("wardwatch_printer_spooler_up", int(spooler_up)))
        if self.settings.discovery.enabled:
            out.append(sample("wardwatch_printers_discovered", len(self._discovered)))
        for v in views:
            out += samples(v, t.printer_supply_low_ratio, t.printer_waste_nearly_full_ratio)
        return out


def samples(v: PrinterView, low_ratio: float = 0.1, nearly_full_ratio: float = 0.9) -> list[Sample]:
    p = v.name
    out = [
        sample("wardwatch_printer_up", int(v.up), printer=p),
        sample("wardwatch_printer_info", 1, printer=p, source=v.source_label, make_model=v.make_model,
               serial=v.serial),
    ]
    out += [sample("wardwatch_printer_problem", 1, printer=p, problem=x) for x in sorted(v.problems)]
    out += [sample("wardwatch_printer_source_up", int(s.reachable), printer=p, source=s.source)
            for s in v.sources]
    if v.state:
        out.append(sample("wardwatch_printer_state", 1, printer=p, state=v.state))
    if v.accepting is not None:
        out.append(sample("wardwatch_printer_accepting_jobs", int(v.accepting), printer=p))
    out += [sample("wardwatch_printer_state_reason", 1, printer=p, reason=r) for r in v.reasons]
    if v.message:
        out.append(sample("wardwatch_printer_state_message_info", 1, printer=p, message=v.message))
    if v.jobs_waiting is not None:
        out.append(sample("wardwatch_printer_jobs_waiting", v.jobs_waiting, printer=p))
    if v.oldest_job_age is not None:
        out.append(sample("wardwatch_printer_oldest_job_age_seconds", v.oldest_job_age, printer=p))
    for supply in v.supplies:
        if supply.ratio is not None:
            out.append(sample("wardwatch_printer_supply_ratio", supply.ratio, printer=p, supply=supply.name))
        if supply.fill is not None:
            out.append(sample("wardwatch_printer_waste_fill_ratio", supply.fill, printer=p, supply=supply.name))
        out.append(sample("wardwatch_printer_supply_state", 1, printer=p, supply=supply.name, kind=supply.kind,
                          state=printer_rules.supply_state(supply, low_ratio, nearly_full_ratio)))
    for tray in v.trays:
        if tray.ratio is not None:
            out.append(sample("wardwatch_printer_input_ratio", tray.ratio, printer=p, input=tray.name))
        out.append(sample("wardwatch_printer_input_state", 1, printer=p, input=tray.name,
                          manual=str(int(tray.manual)), state=printer_rules.tray_state(tray)))
    if v.alerts is not None:
        out += [sample("wardwatch_printer_alerts", v.alerts.get(sev, 0), printer=p, severity=sev)
                for sev in ("critical", "warning", "other")]
    return out


def _short(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError | TimeoutError):
        return "no answer in time"
    text = str(e) or type(e).__name__
    return " ".join(text.split())[:160]

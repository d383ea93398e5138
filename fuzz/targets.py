"""Fuzz targets: every parser of outside input, with the errors it is allowed to raise.

A target takes bytes. A parser may refuse input only with its documented error
(a one-line message for the operator); any other exception is a bug the fuzzer reports.
Each target also feeds what the parser returns to the code that consumes it in the
agent (IPP attributes to the printer status, WAL records to the sender's decoder...),
and checks the invariants that code relies on.

The committed seeds of each target are in fuzz/corpus/<target>/ (see fuzz/corpus/README.md).
"""

from __future__ import annotations

import atexit
import copy
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent import config as cfg
from agent.collectors import REGISTRY
from agent.collectors.base import Context
from agent.devices import escl, ipp, ipp_status, sane, snmp, snmp_printer, snmp_usm
from agent.devices.printer_status import PROBLEMS
from agent.platform import linux, windows, windows_devices
from agent.platform.linux import LinuxPlatform
from agent.wan import dns, icmp
from agent.wan import state as wan_state
from exporters import remote_write, wal, webconfig
from exporters.exposition import Exposition
from exporters.push import Pusher


@dataclass(frozen=True)
class Target:
    parse: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- config ----------------------------------------------------------------------

class _NoPlatform(LinuxPlatform):
    """Collectors are built as the agent builds them, but nothing is read from this PC."""

    def default_gateway(self) -> str | None:
        return "192.0.2.1"

    def dns_servers(self) -> list[str]:
        return ["192.0.2.53"]


_PLATFORM = _NoPlatform(root="/nonexistent-wardwatch-fuzz")
_EXPOSITION = Exposition()


def _config(data: bytes) -> object:
    s = cfg.loads(_text(data), "fuzz.yml")
    assert isinstance(s, cfg.Settings)
    # What the agent does next with a config that loaded: build every enabled collector.
    # A config that loads must build (a constructor may refuse it only with ConfigError).
    context = Context(s, _PLATFORM.configured(s), "/nonexistent-wardwatch-fuzz/state")
    for collector_cls in REGISTRY:
        settings = s.collectors[collector_cls.name]
        if settings.enabled:
            collector_cls(settings, context)
    # ...and the exporters' checks (credential files are not read: a fuzzed path could be /dev/zero).
    no_secrets = {"username": "", "password_file": "", "bearer_token_file": "", "ca_file": ""}
    if s.push.enabled:
        Pusher(cfg.Settings({**s.push.to_plain(), **no_secrets}), _EXPOSITION, "fuzz.yml")
    if s.remote_write.enabled:
        remote_write.target_from(cfg.Settings({**s.remote_write.to_plain(), **no_secrets}), "fuzz.yml")
    return s


_WEB_DIR: Path | None = None


def _web_dir() -> Path:
    """A directory with a real certificate and key, so TLS settings in the input are loaded for real."""
    global _WEB_DIR
    if _WEB_DIR is None:
        from tests.support import self_signed  # the tests' certificate maker; cryptography is a test package

        d = _scratch_dir("web")
        self_signed(d)  # server.crt, server.key
        shutil.copyfile(d / "server.crt", d / "ca.crt")
        _WEB_DIR = d
    return _WEB_DIR


def _webconfig(data: bytes) -> object:
    path = _web_dir() / "web.yml"
    path.write_bytes(data)
    web = webconfig.load_web_config(str(path))
    for user, hashed in web.users.items():
        # What exporters.http.Authenticator reads from every hash: the cost, a number bcrypt accepts.
        assert isinstance(user, str)
        assert 4 <= int(hashed.split(b"$")[2]) <= 31, hashed
    for name, value in web.headers.items():  # sent as they are in every answer
        assert "\n" not in name + value and "\r" not in name + value and ":" not in name, (name, value)
    return web


# --- Windows ------------------------------------------------------------------------

def _windows_system_info(data: bytes) -> object:
    info = windows.parse_system_info(_text(data))
    assert all(isinstance(v, str) for v in vars(info).values())
    return info


def _windows_network(data: bytes) -> object:
    gateway, servers = windows.parse_network(_text(data))
    assert gateway is None or isinstance(gateway, str)
    assert all(isinstance(s, str) and s for s in servers)
    return gateway, servers


NOW = 1_750_000_000.0


def _windows_printers(data: bytes) -> object:
    queues = windows_devices.parse_printers(_text(data), NOW)
    for name, st in queues.items():
        assert isinstance(name, str) and name
        assert st.problems <= set(PROBLEMS), st.problems
        assert st.oldest_job_age is None or (st.oldest_job_age >= 0 and not math.isnan(st.oldest_job_age))
    return queues


def _windows_scanners(data: bytes) -> object:
    found = windows_devices.parse_scanners(_text(data))
    assert all(isinstance(s.name, str) and s.name for s in found)
    return found


def _cim_datetime(data: bytes) -> object:
    t = windows_devices.parse_cim_datetime(_text(data))
    assert t is None or isinstance(t, float)
    return t


# --- printers and scanners ----------------------------------------------------------

def _ipp(data: bytes) -> object:
    resp = ipp.decode_response(data)
    _ = resp.ok, resp.status_message
    printers = resp.all_groups(ipp.PRINTER_ATTRIBUTES)
    up_time = ipp.one(printers[0], "printer-up-time") if printers else None
    for attrs in printers:
        st = ipp_status.status_from_attributes(attrs, "ipp")
        assert st.problems <= set(PROBLEMS), st.problems
        assert all(len(s.name) <= 80 for s in st.supplies)
        assert len(st.message) <= ipp_status.MAX_MESSAGE
    for job in resp.all_groups(ipp.JOB_ATTRIBUTES):
        age = ipp_status.job_age(job, up_time, NOW)
        assert age is None or age >= 0
        assert isinstance(ipp_status._queue_of(job), str)
    return resp


_SNMP_INT_TAGS = {"2", "65", "66", "67", "70"}


def snmprec_tables(text: str) -> dict[tuple[int, ...], list[tuple[tuple[int, ...], object]]]:
    """snmpsim's recording format (OID|tag|value per line) as the columns `snmp_printer.fetch`
    would have walked: {column: [(index, value)]}, values int, bytes or OID as agent.devices.snmp gives them."""
    tables: dict[tuple[int, ...], list[tuple[tuple[int, ...], object]]] = {}
    for line in text.splitlines():
        oid_text, _, rest = line.partition("|")
        tag, _, value = rest.partition("|")
        try:
            oid = tuple(int(x) for x in oid_text.strip().split("."))
        except ValueError:
            continue
        column = next((c for c in snmp_printer.COLUMNS if oid[:len(c)] == c and len(oid) > len(c)), None)
        if column is None:
            continue
        native: object
        try:
            if tag in _SNMP_INT_TAGS:
                native = int(value)
            elif tag == "4x":
                native = bytes.fromhex(value)
            elif tag == "6":
                native = tuple(int(x) for x in value.split("."))
            elif tag == "64":
                native = socket.inet_aton(value)
            else:
                native = value.encode("utf-8", "surrogateescape")
        except (ValueError, OSError):
            continue
        tables.setdefault(column, []).append((oid[len(column):], native))
    return tables


def _snmp(data: bytes) -> object:
    tables = snmprec_tables(_text(data))
    st = snmp_printer.decode(tables)
    assert st.problems <= set(PROBLEMS), st.problems
    assert all(isinstance(s.level, int) for s in st.supplies)
    assert len(st.message) <= 120
    for _, value in tables.get(snmp_printer.HR_PRINTER_ERROR_STATE, []):
        if isinstance(value, bytes):
            assert set(snmp_printer.decode_error_state(value)) <= set(snmp_printer.ERROR_STATE_BITS)
    snmp_printer.decode_error_state(data[:4])
    return st


def _snmp_message(data: bytes) -> object:
    """A datagram from a printer's SNMP agent, decoded, and the printer status built from its bindings."""
    r = snmp.decode_response(data)
    assert r.version in (snmp.V1, snmp.V2C)
    return _snmp_message_bindings(r)


def _snmp_message_bindings(r: snmp.Response) -> object:
    tables: dict[tuple[int, ...], list[tuple[tuple[int, ...], object]]] = {}
    for oid, value in r.var_binds:
        assert oid and all(isinstance(arc, int) and arc >= 0 for arc in oid), oid
        assert value is None or isinstance(value, (int, bytes, tuple)), value
        column = next((c for c in snmp_printer.COLUMNS if oid[:len(c)] == c and len(oid) > len(c)), None)
        if column is not None and value is not None:
            tables.setdefault(column, []).append((oid[len(column):], value))
    return snmp_printer.decode(tables)


# The SNMPv3 user and engine of the seeds (fuzz/capture_seeds.py): authenticated seeds pass their
# MAC, so the fuzzer reaches decryption and the PDU behind it.
V3_ENGINE_ID = bytes.fromhex("80004fb8057761726477617463")
_V3 = snmp_usm.Security(snmp_usm.Usm("wardwatch", "SHA", "m0t-cua-auth", "AES", "m0t-cua-priv", "public"))
_V3._learn(V3_ENGINE_ID, 0, 0)  # noqa: SLF001 - as if discovered


def _snmp_v3_message(data: bytes) -> object:
    """An SNMPv3 datagram from a printer: USM header, MAC, decryption, then the PDU as for v2c."""
    r = copy.copy(_V3).decode(data)  # a copy: what one input teaches of the engine is not kept
    assert r.version == snmp_usm.V3 and r.pdu in (snmp.RESPONSE, snmp.REPORT)
    snmp_usm.report_reason(r)
    return _snmp_message_bindings(r)


def _sane(data: bytes) -> object:
    devices = sane.parse_list(_text(data))
    for d in devices:
        assert d.name and "\n" not in d.name
    return devices


def _escl(data: bytes) -> object:
    out: list[object] = []
    try:
        status = escl.parse_status(data)
        assert escl.problems(status) <= {"stopped", "down", "adf_jam", "adf_door_open"}
        out.append(status)
    except escl.EsclError as e:
        assert "\n" not in str(e)
    out.append(escl.parse_capabilities(data))
    return out


# --- WAN -------------------------------------------------------------------------------

def _dns(data: bytes) -> object:
    answer = dns.parse_response(data)
    for qtype in (1, 28):
        assert all(isinstance(a, str) for a in answer.addresses(qtype))
    return answer


_ICMP_CASES = ((socket.AF_INET, "dgram"), (socket.AF_INET, "raw"), (socket.AF_INET6, "dgram"),
               (socket.AF_INET6, "raw"))


def _icmp(data: bytes) -> object:
    out = []
    for family, mode in _ICMP_CASES:
        reply = icmp.parse_reply(data, family, mode)
        if reply is not None:
            ident, seq, payload = reply
            assert 0 <= ident <= 0xFFFF and 0 <= seq <= 0xFFFF and isinstance(payload, bytes)
        out.append(reply)
    return out


# --- Linux files ------------------------------------------------------------------------

def _os_release(data: bytes) -> object:
    text = _text(data)
    fields = linux.parse_os_release(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    return fields, linux.parse_cpu_model(text)


def _resolv_conf(data: bytes) -> object:
    servers = linux.parse_resolv_conf(_text(data))
    assert all(s and not any(c.isspace() for c in s) for s in servers)
    return servers


def _proc_net_route(data: bytes) -> object:
    gateway = linux.parse_default_gateway(_text(data))
    assert gateway is None or gateway.count(".") == 3
    return gateway


# --- the agent's own files (read back after a crash, a full disk, a bad sector) ---------------

def _scratch_dir(kind: str) -> Path:
    """A directory for targets that go through files: inside the run's scratch directory under
    fuzz/run.py (which removes it when libFuzzer has ended the process), else a temporary one
    removed when Python exits (pytest)."""
    base = os.environ.get("WARDWATCH_FUZZ_SCRATCH")
    if base:
        d = Path(base) / kind
        d.mkdir(exist_ok=True)
        return d
    d = Path(tempfile.mkdtemp(prefix=f"wardwatch-fuzz-{kind}-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def _wal_segment(data: bytes) -> object:
    records, good_end, bad = wal.parse_segment(data)
    previous = len(wal.MAGIC) - 1
    for offset, _stamp, _count in records:
        assert previous < offset < good_end
        previous = offset
        length = wal.HEADER.unpack_from(data, offset)[0]
        raw = data[offset:offset + wal.HEADER.size + length]
        payload = wal.Buffer._payload(raw)  # what the sender decodes
        assert payload is None or isinstance(payload, bytes)
    assert good_end <= len(data)
    assert bad or good_end == len(data)
    return records


_WAL_DIR: Path | None = None


def _wal_open(data: bytes) -> object:
    """A buffer directory holding these bytes as its segment (when the input starts with "{", its first
    line is the progress file and the rest the segment), opened, read and appended to as at start."""
    global _WAL_DIR
    if _WAL_DIR is None:
        _WAL_DIR = _scratch_dir("wal")
    d = _WAL_DIR
    for p in d.iterdir():
        p.unlink()
    progress, segment = b"", data
    if data.startswith(b"{"):
        progress, _, segment = data.partition(b"\n")
    if progress:
        (d / wal.PROGRESS).write_bytes(progress)
    (d / wal.segment_name(1)).write_bytes(segment)
    buf = wal.Buffer(d, max_bytes=1 << 20, max_age=1e12, fsync=False)
    try:
        before = buf.stats()
        entries = buf.read(1 << 30)
        assert sum(e.samples for e in entries) <= before.buffered_samples or before.buffered_samples < 0
        if entries:
            buf.advance(entries[-1].end)
        assert buf.append(int(NOW * 1000), 1, b"x")
    finally:
        buf.close()
    return entries


_STATE_DIR: Path | None = None


def _wan_state(data: bytes) -> object:
    """The saved WAN outage counters, as the agent reads them back at start."""
    global _STATE_DIR
    if _STATE_DIR is None:
        _STATE_DIR = _scratch_dir("state")
    for p in _STATE_DIR.iterdir():
        p.unlink()
    (_STATE_DIR / wan_state.FILE_NAME).write_bytes(data)
    (_STATE_DIR / wan_state.LOCK_NAME).write_bytes(data)
    counters = wan_state.StateStore(_STATE_DIR).load()  # never raises: a corrupt file is set aside
    for c in counters.values():
        assert c.outage_seconds >= 0 and math.isfinite(c.outage_seconds) and c.outages >= 0
    wan_state.OwnerLock(_STATE_DIR).holder()  # a lock file of garbage is a stale lock
    return counters


TARGETS: dict[str, Target] = {
    "config": Target(_config, (cfg.ConfigError,)),
    "webconfig": Target(_webconfig, (cfg.ConfigError,)),
    "windows_system_info": Target(_windows_system_info, (windows.WindowsParseError,)),
    "windows_network": Target(_windows_network, (windows.WindowsParseError,)),
    "windows_printers": Target(_windows_printers, (windows_devices.WindowsDeviceError,)),
    "windows_scanners": Target(_windows_scanners, (windows_devices.WindowsDeviceError,)),
    "windows_cim_datetime": Target(_cim_datetime, ()),
    "ipp": Target(_ipp, (ipp.IppError,)),
    "snmp": Target(_snmp, ()),
    "snmp_message": Target(_snmp_message, (snmp.BerError,)),
    "snmp_v3_message": Target(_snmp_v3_message, (snmp.BerError,)),
    "sane": Target(_sane, ()),
    "escl": Target(_escl, (escl.EsclError,)),
    "dns": Target(_dns, (dns.DNSFormatError,)),
    "icmp": Target(_icmp, ()),
    "os_release": Target(_os_release, ()),
    "resolv_conf": Target(_resolv_conf, ()),
    "proc_net_route": Target(_proc_net_route, ()),
    "wal_segment": Target(_wal_segment, ()),
    "wal_open": Target(_wal_open, ()),
    "wan_state": Target(_wan_state, ()),
}

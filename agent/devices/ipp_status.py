"""IPP printer attributes (from a network printer or a CUPS queue) turned into a
`SourceStatus`; and the local CUPS queues with their waiting jobs."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
import urllib.parse
from typing import Any

from agent.devices import ipp
from agent.devices.printer_status import (
    FILL,
    NOT_ACCEPTING,
    SPACE_LEFT,
    WASTE,
    SourceStatus,
    Supply,
    clean_supply_name,
    kind_from_ipp_type,
    problems_from_ipp_reasons,
    stopped_problem,
    unique_names,
)

MAX_MESSAGE = 120
DEFAULT_CUPS_SOCKETS = ("/run/cups/cups.sock", "/var/run/cups/cups.sock")
DEFAULT_CUPS_PORTS = (("127.0.0.1", 631), ("::1", 631))


def find_local_cups(sockets: tuple[str, ...] = DEFAULT_CUPS_SOCKETS,
                    ports: tuple[tuple[str, int], ...] = DEFAULT_CUPS_PORTS, timeout: float = 2.0) -> str | None:
    """The first local CUPS that accepts a connection: its UNIX socket, else port 631 on
    loopback. None when there is none (a PC without CUPS: nothing to report)."""
    for path in sockets:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            return path
    for host, port in ports:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return None


def clean_message(text: str) -> str:
    """printer-state-message as one short line."""
    return " ".join(str(text).split())[:MAX_MESSAGE]


def parse_printer_supply(values: list[Any], descriptions: list[Any]) -> list[Supply]:
    """PWG 5100.13 printer-supply: "index=1;class=...;type=toner;unit=percent;maxcapacity=100;level=25;"."""
    out: list[tuple[str, str, int, int]] = []
    for i, raw in enumerate(values):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        fields: dict[str, str] = {}
        for part in text.split(";"):
            key, sep, value = part.partition("=")
            if sep:
                fields[key.strip().lower()] = value.strip()
        try:
            level = int(fields.get("level", "-2"))
            max_capacity = int(fields.get("maxcapacity", "-2"))
        except ValueError:
            continue  # a malformed entry is skipped, not guessed at
        description = str(descriptions[i]) if i < len(descriptions) and descriptions[i] is not None else ""
        kind = kind_from_ipp_type(fields.get("type", ""), description)
        direction = ""
        if fields.get("class", "").lower() == "receptaclethatisfilled":
            kind, direction = WASTE, SPACE_LEFT  # PWG 5100.13 keeps RFC 3805's meaning: the space left
        out.append((clean_supply_name(description or fields.get("type", ""), f"supply {i + 1}"), kind,
                    level, max_capacity, direction))
    names = unique_names([o[0] for o in out])
    return [Supply(n, kind, level, cap, d) for n, (_, kind, level, cap, d) in zip(names, out, strict=True)]


def parse_marker_levels(attrs: dict[str, list[Any]]) -> list[Supply]:
    """CUPS's marker-names / marker-levels / marker-types: percent, -1 unavailable,
    -2 unknown, -3 unknown but not empty."""
    names = attrs.get("marker-names") or []
    levels = attrs.get("marker-levels") or []
    types = attrs.get("marker-types") or []
    rows = []
    for i, level in enumerate(levels):
        if not isinstance(level, int):
            continue
        name = str(names[i]) if i < len(names) and names[i] is not None else ""
        mtype = str(types[i]) if i < len(types) and types[i] is not None else ""
        rows.append((clean_supply_name(name or mtype, f"supply {i + 1}"), kind_from_ipp_type(mtype, name), level))
    labels = unique_names([r[0] for r in rows])
    # CUPS's marker-levels give a waste unit's fill (its SNMP backend turns RFC 3805's space left round)
    return [Supply(label, kind, level, 100, FILL if kind == WASTE else "")
            for label, (_, kind, level) in zip(labels, rows, strict=True)]


def status_from_attributes(attrs: dict[str, list[Any]], source: str) -> SourceStatus:
    state_value = ipp.one(attrs, "printer-state")
    state = ipp.PRINTER_STATES.get(state_value, "") if isinstance(state_value, int) else ""
    reasons = tuple(str(r) for r in attrs.get("printer-state-reasons") or [] if r and str(r) != "none")
    accepting = ipp.one(attrs, "printer-is-accepting-jobs")
    problems = problems_from_ipp_reasons(reasons)
    if accepting is False:
        problems.add(NOT_ACCEPTING)
    problems |= stopped_problem(state, problems)
    supplies = parse_marker_levels(attrs)
    if not supplies and attrs.get("printer-supply"):
        supplies = parse_printer_supply(attrs["printer-supply"], attrs.get("printer-supply-description") or [])
    queued = ipp.one(attrs, "queued-job-count")
    device_uri = str(ipp.one(attrs, "device-uri", "") or "")
    return SourceStatus(
        source=source,
        state=state,
        accepting=accepting if isinstance(accepting, bool) else None,
        reasons=reasons,
        message=clean_message(ipp.one(attrs, "printer-state-message", "") or ""),
        problems=problems,
        make_model=" ".join(str(ipp.one(attrs, "printer-make-and-model", "") or "").split()),
        address=_host_of(device_uri),
        jobs_waiting=queued if isinstance(queued, int) else None,
        supplies=supplies,
    )


def _host_of(uri: str) -> str:
    """The host a device URI names ("" when it names none, or is not a URL at all)."""
    if "://" not in uri:
        return ""
    try:
        return urllib.parse.urlsplit(uri).hostname or ""
    except ValueError:  # e.g. "ipp://[printer/": a broken IPv6 literal
        return ""


def _queue_of(job: dict[str, list[Any]]) -> str:
    uri = str(ipp.one(job, "job-printer-uri", "") or "")
    try:
        path = urllib.parse.urlsplit(uri).path
    except ValueError:  # not a URL: no queue it belongs to
        return ""
    return urllib.parse.unquote(path.rstrip("/").rpartition("/")[2])


def job_age(job: dict[str, list[Any]], printer_up_time: int | None, now: float) -> float | None:
    """Seconds since the job was created: printer-up-time minus time-at-creation (the
    same clock, RFC 8011 §5.3.14), else the wall clock against date-time-at-creation."""
    created = ipp.one(job, "time-at-creation")
    if isinstance(created, int) and isinstance(printer_up_time, int) and created > 0:
        return max(0.0, float(printer_up_time - created))
    when = ipp.one(job, "date-time-at-creation")
    if isinstance(when, dt.datetime):
        return max(0.0, now - when.timestamp())
    return None


def cups_queues(server: str, timeout: float, now: float | None = None) -> dict[str, SourceStatus]:
    """Every queue of the CUPS server at `server`, with its not-completed jobs."""
    now = time.time() if now is None else now
    ep = ipp.cups_endpoint(server)
    deadline = time.monotonic() + timeout
    printers = ipp.cups_get_printers(ep, timeout)
    jobs = ipp.get_jobs_not_completed(ep, max(0.5, deadline - time.monotonic())) if printers else []
    by_queue: dict[str, list[dict[str, list[Any]]]] = {}
    for job in jobs:
        by_queue.setdefault(_queue_of(job), []).append(job)
    out: dict[str, SourceStatus] = {}
    for attrs in printers:
        name = str(ipp.one(attrs, "printer-name", "") or "")
        if not name:
            continue
        status = status_from_attributes(attrs, "cups")
        waiting = by_queue.get(name, [])
        up_time = ipp.one(attrs, "printer-up-time")
        ages = [a for a in (job_age(j, up_time, now) for j in waiting) if a is not None]
        status.jobs_waiting = len(waiting)
        status.oldest_job_age = max(ages) if ages else (0.0 if not waiting else None)
        out[name] = status
    return out

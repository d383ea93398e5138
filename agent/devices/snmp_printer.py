"""Printer-MIB (RFC 3805) and HOST-RESOURCES-MIB (RFC 2790) over SNMP v1/v2c.

`fetch()` walks the few table columns wardwatch reads (agent.devices.snmp:
raw OIDs, no MIB files); `decode()` turns the walked columns into a
`SourceStatus` and is a pure function, tested on the recordings in
shared/fixtures/snmprec as well as through snmpsim.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.devices import printer_rules, snmp, snmp_usm
from agent.devices.printer_status import (
    PART,
    SPACE_LEFT,
    TONER,
    WASTE,
    SourceStatus,
    Supply,
    Tray,
    clean_supply_name,
    is_manual_tray,
    kind_from_words,
    unique_names,
)

OID = tuple[int, ...]


def _oid(text: str) -> OID:
    return tuple(int(x) for x in text.split("."))


SYS_DESCR = _oid("1.3.6.1.2.1.1.1")
HR_DEVICE_TYPE = _oid("1.3.6.1.2.1.25.3.2.1.2")
HR_DEVICE_DESCR = _oid("1.3.6.1.2.1.25.3.2.1.3")
HR_DEVICE_STATUS = _oid("1.3.6.1.2.1.25.3.2.1.5")
HR_PRINTER_STATUS = _oid("1.3.6.1.2.1.25.3.5.1.1")
HR_PRINTER_ERROR_STATE = _oid("1.3.6.1.2.1.25.3.5.1.2")
PRT_SERIAL = _oid("1.3.6.1.2.1.43.5.1.1.17")
SUPPLY_CLASS = _oid("1.3.6.1.2.1.43.11.1.1.4")
SUPPLY_TYPE = _oid("1.3.6.1.2.1.43.11.1.1.5")
SUPPLY_DESCR = _oid("1.3.6.1.2.1.43.11.1.1.6")
SUPPLY_MAX = _oid("1.3.6.1.2.1.43.11.1.1.8")
SUPPLY_LEVEL = _oid("1.3.6.1.2.1.43.11.1.1.9")
INPUT_TYPE = _oid("1.3.6.1.2.1.43.8.2.1.2")
INPUT_MAX = _oid("1.3.6.1.2.1.43.8.2.1.9")
INPUT_LEVEL = _oid("1.3.6.1.2.1.43.8.2.1.10")
INPUT_STATUS = _oid("1.3.6.1.2.1.43.8.2.1.11")
INPUT_NAME = _oid("1.3.6.1.2.1.43.8.2.1.13")
ALERT_SEVERITY = _oid("1.3.6.1.2.1.43.18.1.1.2")
ALERT_GROUP = _oid("1.3.6.1.2.1.43.18.1.1.4")
ALERT_CODE = _oid("1.3.6.1.2.1.43.18.1.1.7")
ALERT_DESCR = _oid("1.3.6.1.2.1.43.18.1.1.8")
CONSOLE_TEXT = _oid("1.3.6.1.2.1.43.16.5.1.2")

# The columns walked, grouped by table, each group with the rows asked per request at
# first (GETBULK max-repetitions): most printers have one printer device, a handful of
# supplies and trays, few alerts. Asking for more rows than a table has costs decoding
# time for nothing (BER decoding is most of the agent's work here).
WALK_GROUPS: tuple[tuple[tuple[OID, ...], int], ...] = (
    ((SYS_DESCR, HR_PRINTER_STATUS, HR_PRINTER_ERROR_STATE, PRT_SERIAL, CONSOLE_TEXT), 2),
    ((HR_DEVICE_TYPE, HR_DEVICE_DESCR, HR_DEVICE_STATUS), 4),
    ((SUPPLY_CLASS, SUPPLY_TYPE, SUPPLY_DESCR, SUPPLY_MAX, SUPPLY_LEVEL), 8),
    ((INPUT_TYPE, INPUT_MAX, INPUT_LEVEL, INPUT_STATUS, INPUT_NAME), 4),
    ((ALERT_SEVERITY, ALERT_GROUP, ALERT_CODE, ALERT_DESCR), 4),
)
COLUMNS: tuple[OID, ...] = tuple(c for group, _ in WALK_GROUPS for c in group)
HR_DEVICE_PRINTER = _oid("1.3.6.1.2.1.25.3.1.5")

# A walked column: the index after the column's OID, and the value (int, bytes or OID).
Column = list[tuple[OID, Any]]

# --- hrPrinterDetectedErrorState (RFC 3805 §2.2.13.4): BITS, bit 0 = MSB of octet 1 --
ERROR_STATE_BITS: tuple[str, ...] = (
    "lowPaper", "noPaper", "lowToner", "noToner", "doorOpen", "jammed", "offline", "serviceRequested",
    "inputTrayMissing", "outputTrayMissing", "markerSupplyMissing", "outputNearFull", "outputFull",
    "inputTrayEmpty", "overduePreventMaint",
)
HR_PRINTER_STATUS_STATES = {3: "idle", 4: "processing", 5: "processing"}  # idle, printing, warmup

# prtMarkerSuppliesType (IANA-PRINTER-MIB): toner-like and waste types.
_TONER_TYPES = frozenset({3, 5, 6, 7, 12, 13, 21, 35})  # toner ink inkCartridge inkRibbon solidWax ribbonWax
#                                                           tonerCartridge matteToner
_WASTE_TYPES = frozenset({4, 8, 14, 24, 26})  # wasteToner wasteInk wasteWax wasteWater wastePaper
RECEPTACLE_THAT_IS_FILLED = 4

ALERT_SEVERITIES = printer_rules.ALERT_SEVERITIES
# a supply without a description is named after its type
_TYPE_NAMES = {3: "Toner", 4: "Waste Toner", 5: "Ink", 6: "Ink Cartridge", 8: "Waste Ink", 9: "Drum",
               10: "Developer", 15: "Fuser", 20: "Transfer Unit", 21: "Toner Cartridge", 32: "Staples"}


def decode_error_state(value: bytes) -> list[str]:
    """Names of the bits set in hrPrinterDetectedErrorState, most significant bit of the
    first octet first (SNMP BITS encoding). Bits beyond the ones RFC 3805 names are ignored."""
    out = []
    for i, name in enumerate(ERROR_STATE_BITS):
        octet, bit = divmod(i, 8)
        if octet < len(value) and value[octet] & (0x80 >> bit):
            out.append(name)
    return out


def alert_problem(severity: int, group: int, code: int) -> str | None:
    """The problem one prtAlert row raises (None for none): see printer_rules.alert_decision."""
    row, problem = printer_rules.alert_decision(severity, group, code)
    return problem if problem is not None else (printer_rules.RULES[row].problem or None)


def text(value: Any) -> str:
    """A DisplayString: UTF-8 when it is, else Latin-1; no NULs, no trailing spaces."""
    if isinstance(value, bytes):
        try:
            s = value.decode("utf-8")
        except UnicodeDecodeError:
            s = value.decode("latin-1")
    else:
        s = "" if value is None else str(value)
    return " ".join(s.replace("\x00", " ").split())


def _rows(column: Column) -> dict[OID, Any]:
    return dict(column)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _printer_device(tables: Mapping[OID, Column]) -> OID | None:
    for index, value in tables.get(HR_DEVICE_TYPE, []):
        if value == HR_DEVICE_PRINTER:
            return index
    for column in (HR_PRINTER_STATUS, HR_PRINTER_ERROR_STATE, HR_DEVICE_STATUS):
        rows = tables.get(column, [])
        if rows:
            return rows[0][0]
    return None


def decode(tables: Mapping[OID, Column]) -> SourceStatus:
    """The walked columns (see COLUMNS) as what SNMP says about the printer."""
    status = SourceStatus(source="snmp")
    device = _printer_device(tables)
    dev_status = _int(_rows(tables.get(HR_DEVICE_STATUS, [])).get(device)) if device else None
    prn_status = _int(_rows(tables.get(HR_PRINTER_STATUS, [])).get(device)) if device else None
    error_state = _rows(tables.get(HR_PRINTER_ERROR_STATE, [])).get(device) if device else None

    status.state = HR_PRINTER_STATUS_STATES.get(prn_status or 0, "")
    status.device_status = dev_status
    if dev_status == printer_rules.DEVICE_DOWN:
        status.state = "stopped"
    bits = decode_error_state(error_state) if isinstance(error_state, bytes) else []
    status.reasons = tuple(bits)

    severities = _rows(tables.get(ALERT_SEVERITY, []))
    groups = _rows(tables.get(ALERT_GROUP, []))
    codes = _rows(tables.get(ALERT_CODE, []))
    descriptions = _rows(tables.get(ALERT_DESCR, []))
    alerts: list[tuple[int, int, int]] = []
    alert_words: list[str] = []
    for index in sorted(set(severities) | set(codes)):
        sev = _int(severities.get(index)) or 0
        name = ALERT_SEVERITIES.get(sev, "other")
        status.alerts[name] = status.alerts.get(name, 0) + 1
        alerts.append((sev, _int(groups.get(index)) or 0, _int(codes.get(index)) or 0))
        said = text(descriptions.get(index))
        if name != "other" and said and said not in alert_words:
            alert_words.append(said)
    verdict = printer_rules.snmp_flags(bits, dev_status, alerts)
    status.problems, status.blocking = verdict.problems, verdict.blocking

    # the printer's own words: its panel (prtConsoleDisplayBufferText), then its alerts' descriptions
    console = [t for t in (text(v) for _, v in tables.get(CONSOLE_TEXT, [])) if t]
    status.message = " / ".join(dict.fromkeys(console + alert_words))[:120]

    descr = _rows(tables.get(HR_DEVICE_DESCR, [])).get(device) if device else None
    sys_descr = next((v for _, v in tables.get(SYS_DESCR, [])), None)
    status.make_model = text(descr) or text(sys_descr).split(";")[0].split(",")[0].split(" version ")[0].strip()
    status.serial = next((text(v) for _, v in tables.get(PRT_SERIAL, []) if text(v)), "")

    status.supplies = _supplies(tables)
    status.trays = _trays(tables)
    return status


def supply_description(value: Any) -> str:
    """prtMarkerSuppliesDescription as text. HP JetDirect sends the first 16 characters as
    text, a line feed, then the rest as space-separated hex numbers written in ASCII (with
    more line feeds, ending in 00): "Black Cartridge \\n38 32 37 41 ..." is "Black Cartridge
    827A HP CF300A". Those are read back as the bytes they spell."""
    raw = value if isinstance(value, bytes) else str(value or "").encode()
    head, sep, rest = raw.partition(b"\n")
    tokens = rest.split()
    if sep and tokens and all(len(t) == 2 and all(c in b"0123456789abcdefABCDEF" for c in t) for t in tokens):
        raw = head + bytes(int(t, 16) for t in tokens)
    return text(raw)


def _supplies(tables: Mapping[OID, Column]) -> list[Supply]:
    descr = _rows(tables.get(SUPPLY_DESCR, []))
    levels = _rows(tables.get(SUPPLY_LEVEL, []))
    maxes = _rows(tables.get(SUPPLY_MAX, []))
    types = _rows(tables.get(SUPPLY_TYPE, []))
    classes = _rows(tables.get(SUPPLY_CLASS, []))
    rows = []
    for index in sorted(set(levels) | set(descr)):
        level = _int(levels.get(index))
        if level is None:
            continue
        description = supply_description(descr.get(index))
        stype = _int(types.get(index))
        sclass = _int(classes.get(index))
        direction = ""
        if sclass == RECEPTACLE_THAT_IS_FILLED:
            kind, direction = WASTE, SPACE_LEFT  # RFC 3805: a receptacle's level is the space remaining
        elif stype in _WASTE_TYPES:
            kind = WASTE  # a waste type without the receptacle class: which way it reads is not known
        elif stype in _TONER_TYPES:
            kind = TONER
        elif stype in (None, 1, 2):  # other, unknown or absent: read the description
            kind = kind_from_words(description)
        else:
            kind = PART
        max_capacity = _int(maxes.get(index))
        fallback = _TYPE_NAMES.get(stype or 0, f"Supply {index[-1]}")
        rows.append((clean_supply_name(description, fallback), kind, level,
                     -2 if max_capacity is None else max_capacity, direction))
    names = unique_names([r[0] for r in rows])
    return [Supply(n, k, lvl, cap, d) for n, (_, k, lvl, cap, d) in zip(names, rows, strict=True)]


def _trays(tables: Mapping[OID, Column]) -> list[Tray]:
    names = _rows(tables.get(INPUT_NAME, []))
    levels = _rows(tables.get(INPUT_LEVEL, []))
    maxes = _rows(tables.get(INPUT_MAX, []))
    types = _rows(tables.get(INPUT_TYPE, []))
    statuses = _rows(tables.get(INPUT_STATUS, []))
    rows = []
    for index in sorted(levels):
        level = _int(levels.get(index))
        if level is None:
            continue
        name = clean_supply_name(text(names.get(index)), f"Tray {index[-1]}")
        max_capacity = _int(maxes.get(index))
        rows.append((name, level, -2 if max_capacity is None else max_capacity,
                     is_manual_tray(name, _int(types.get(index)), _int(statuses.get(index)))))
    labels = unique_names([r[0] for r in rows])
    return [Tray(n, lvl, cap, manual) for n, (_, lvl, cap, manual) in zip(labels, rows, strict=True)]


# --- fetching ---------------------------------------------------------------------

class SnmpError(Exception):
    """No usable SNMP answer (timeout, wrong community, error status)."""


class SnmpRefusedError(SnmpError):
    """SNMPv3: the engine refused the user (wrong password, unknown user, another engine)."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 161
    community: str = "public"
    version: str = "v2c"  # v1, v2c or v3
    timeout: float = 1.0  # per request
    retries: int = 1
    usm: snmp_usm.Usm | None = None  # v3: the user, its protocols and passwords

    def __repr__(self) -> str:  # never show the community or the passwords
        return f"Target({self.host}:{self.port}, {self.version})"


MAX_ROWS_PER_COLUMN = 128
MAX_REQUESTS = 200
# SNMPv3: each target's keys and what was learned of its engine, kept between collections
_SECURITY: dict[Target, snmp_usm.Security] = {}


async def fetch(target: Target,
                groups: Sequence[tuple[Sequence[OID], int]] = WALK_GROUPS) -> dict[OID, Column]:
    """The columns of `groups` walked, each group's columns side by side; the groups at once."""
    version = {"v1": snmp.V1, "v2c": snmp.V2C, "v3": snmp_usm.V3}[target.version]
    if target.usm is None or version != snmp_usm.V3:
        return await _fetch(target, version, None, groups)
    cached = _SECURITY.pop(target, None)
    try:
        return await _fetch(target, version, cached or snmp_usm.Security(target.usm), groups)
    except SnmpRefusedError:
        if cached is None:
            raise
        # refused with what was learned before: another engine there now (a printer replaced or
        # reset), which may not say "unknown engine ID" (pysnmp's says "unknown user"). Once more, afresh.
        return await _fetch(target, version, snmp_usm.Security(target.usm), groups)


async def _fetch(target: Target, version: int, security: snmp_usm.Security | None,
                 groups: Sequence[tuple[Sequence[OID], int]]) -> dict[OID, Column]:
    try:
        agent = await snmp.Agent.open(target.host, target.port, version, target.community.encode(),
                                      target.timeout, target.retries,
                                      security.decode if security else snmp.decode_response)
    except OSError as e:
        raise SnmpError(f"cannot reach {target.host}: {e.strerror or e}") from None
    try:
        if security is not None and security.engine is None:
            await _answer(snmp_usm.discover(agent, security))  # once, before the walks set off side by side
        answers = await asyncio.gather(*(_walk(agent, security, columns, repetitions)
                                         for columns, repetitions in groups), return_exceptions=True)
    finally:
        agent.close()
    # A group left unanswered while others were answered is a row the agent cannot send (a Zebra's
    # hrDeviceID "0", an OID of one arc, which snmpsim and some agents never put on the wire): the
    # printer answers, without those columns. Nothing answered at all: the printer does not.
    results = [a for a in answers if isinstance(a, dict)]
    failures = [a for a in answers if not isinstance(a, dict)]
    for failure in failures:
        if not isinstance(failure, SnmpError) or isinstance(failure, SnmpRefusedError) or not results:
            raise failure
    if security is not None:
        _SECURITY[target] = security  # kept for the next collection: no discovery then
    out: dict[OID, Column] = {}
    for r in results:
        out.update(r)
    return out


async def _answer(call: Awaitable[Any]) -> Any:
    """What `call` (a request) returns, its failures told as SnmpError."""
    try:
        return await call
    except snmp_usm.UsmError as e:
        raise SnmpRefusedError(str(e)) from None
    except snmp.NoAnswerError as e:
        raise SnmpError(f"no SNMP answer (SNMP off, or a wrong community or v3 context?): {e}") from None
    except snmp.UnreachableError as e:
        raise SnmpError(f"no SNMP agent there: {e}") from None


async def _request(agent: snmp.Agent, security: snmp_usm.Security | None, oids: Sequence[OID],
                   repetitions: int) -> snmp.Response:
    """One GETNEXT (v1) or GETBULK (v2c, v3)."""
    if security is not None:
        return await _answer(snmp_usm.request(agent, security, snmp.GET_BULK, list(oids), repetitions))
    if agent.version == snmp.V1:
        return await _answer(agent.request(snmp.GET_NEXT, oids))
    return await _answer(agent.request(snmp.GET_BULK, oids, repetitions))


async def _walk(agent: snmp.Agent, security: snmp_usm.Security | None, columns: Sequence[OID],
                repetitions: int) -> dict[OID, Column]:
    """Walk several columns side by side (GETBULK for v2c, GETNEXT for v1) until each leaves its subtree;
    a table longer than the first request asks for twice as many rows at the next."""
    results: dict[OID, Column] = {c: [] for c in columns}
    cursor: dict[OID, OID] = {c: c for c in columns}
    active = list(columns)
    too_big = False
    for _ in range(MAX_REQUESTS):
        if not active:
            break
        response = await _request(agent, security, [cursor[c] for c in active], repetitions)
        status, index, answer = response.error_status, response.error_index, response.var_binds
        if status:
            if status == 2 and agent.version == snmp.V1 and 0 < index <= len(active):
                active.pop(index - 1)  # noSuchName: that column ran off the end of the MIB
                continue
            if status == 1 and repetitions > 1:  # tooBig: ask for fewer rows at once, from now on
                repetitions, too_big = max(1, repetitions // 2), True
                continue
            raise SnmpError(f"SNMP error status {status}")
        if not answer:
            break
        done: set[OID] = set()
        width = len(active)
        for i, (oid, value) in enumerate(answer):
            column = active[i % width]
            if column in done:
                continue
            if value is None or oid[:len(column)] != column or oid <= cursor[column]:
                done.add(column)
                continue
            results[column].append((oid[len(column):], value))
            cursor[column] = oid
            if len(results[column]) >= MAX_ROWS_PER_COLUMN:
                done.add(column)
        active = [c for c in active if c not in done]
        if not too_big:
            repetitions = min(repetitions * 2, 32)
    return results



# --- discovery --------------------------------------------------------------------

PRINTER_MIB = _oid("1.3.6.1.2.1.43")


async def is_printer(target: Target) -> bool:
    """One GETNEXT: does the agent at `target` say it is a printer (an hrDeviceType of
    hrDevicePrinter, or anything in the Printer-MIB)? False for no answer or no SNMP."""
    try:
        agent = await snmp.Agent.open(target.host, target.port, snmp.V1 if target.version == "v1" else snmp.V2C,
                                      target.community.encode(), target.timeout, target.retries)
    except OSError:
        return False
    try:
        response = await agent.request(snmp.GET_NEXT, [HR_DEVICE_TYPE, PRINTER_MIB])
    except (snmp.NoAnswerError, snmp.UnreachableError):
        return False
    finally:
        agent.close()
    if response.error_status or len(response.var_binds) != 2:
        return False
    (type_oid, type_value), (mib_oid, mib_value) = response.var_binds
    # endOfMibView (v2c) comes back under the OID asked: within the subtree, not beyond its root
    return ((type_oid[:len(HR_DEVICE_TYPE)] == HR_DEVICE_TYPE and type_value == HR_DEVICE_PRINTER)
            or (mib_oid[:len(PRINTER_MIB)] == PRINTER_MIB and mib_oid != PRINTER_MIB and mib_value is not None))


async def discover(targets: Sequence[Target], concurrency: int) -> list[Target]:
    """The targets that answer as printers, at most `concurrency` asked at once."""
    limit = asyncio.Semaphore(concurrency)

    async def one(t: Target) -> bool:
        async with limit:
            return await is_printer(t)

    found = await asyncio.gather(*(one(t) for t in targets))
    return [t for t, yes in zip(targets, found, strict=True) if yes]

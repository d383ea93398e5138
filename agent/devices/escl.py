"""eSCL (AirScan) network scanners: GET <base>/ScannerStatus (and, once,
<base>/ScannerCapabilities for make and model), parsed with defusedxml with DTDs
refused, so no entity expansion or external entity can reach the parser."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from agent.devices.scanner_status import ADF_DOOR_OPEN, ADF_JAM, DOWN, STOPPED, UNREACHABLE, ScannerStatus

MAX_BYTES = 1 * 2**20

# pwg:State (PWG 5100.17 / Mopria eSCL): Idle, Processing, Testing, Stopped, Down
_STATE_PROBLEMS = {"stopped": STOPPED, "down": DOWN}
# scan:AdfState values that mean the feeder needs a hand
_ADF_PROBLEMS = {
    "scanneradfjam": ADF_JAM, "scanneradfmispick": ADF_JAM, "scanneradfmultipickdetected": ADF_JAM,
    "scanneradfduplexpagetooshort": ADF_JAM, "scanneradfduplexpagetoolong": ADF_JAM,
    "scanneradfhatchopen": ADF_DOOR_OPEN, "scanneradfinputtrayfailed": ADF_JAM,
    "scanneradfinputtrayoverloaded": ADF_JAM,
}


class EsclError(Exception):
    pass


@dataclass(frozen=True)
class EsclStatus:
    state: str      # as sent, e.g. "Idle"
    adf_state: str  # as sent, e.g. "ScannerAdfLoaded" ("" without an ADF)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(body: bytes):
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise EsclError(f"refused XML ({type(e).__name__})") from None
    except SafeET.ParseError as e:
        raise EsclError(f"not valid XML ({e})") from None
    except (ValueError, LookupError) as e:  # an encoding the parser cannot read, e.g. encoding="Shift_JIS"
        raise EsclError(f"not readable XML ({e})") from None


def _find_text(root, name: str) -> str:
    for el in root.iter():
        if _local(el.tag) == name and el.text:
            return el.text.strip()
    return ""


def parse_status(body: bytes) -> EsclStatus:
    root = _parse(body)
    if _local(root.tag) != "ScannerStatus":
        raise EsclError(f"expected ScannerStatus, got {_local(root.tag)}")
    return EsclStatus(_find_text(root, "State"), _find_text(root, "AdfState"))


def parse_capabilities(body: bytes) -> tuple[str, str]:
    """(vendor, model) from ScannerCapabilities' MakeAndModel (and Manufacturer if sent)."""
    root = _parse(body)
    make_model = " ".join(_find_text(root, "MakeAndModel").split())
    vendor = _find_text(root, "Manufacturer")
    if not vendor:
        vendor, _, model = make_model.partition(" ")
        return vendor, model
    return vendor, make_model.removeprefix(vendor).strip() or make_model


def problems(status: EsclStatus) -> set[str]:
    out = set()
    p = _STATE_PROBLEMS.get(status.state.lower())
    if p:
        out.add(p)
    a = _ADF_PROBLEMS.get(status.adf_state.lower())
    if a:
        out.add(a)
    return out


def _get(url: str, timeout: float, tls_verify: bool) -> bytes:
    ctx = None
    if url.lower().startswith("https:") and not tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, headers={"User-Agent": "wardwatch", "Accept": "text/xml"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            body = r.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise EsclError(f"HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise EsclError(str(reason) if not isinstance(reason, OSError) else (reason.strerror or str(reason))) from None
    if len(body) > MAX_BYTES:
        raise EsclError(f"answer larger than {MAX_BYTES} bytes")
    return body


class EsclScanner:
    """One configured eSCL scanner; remembers its make and model once read."""

    def __init__(self, name: str, base_url: str, timeout: float, tls_verify: bool = True):
        self.name, self.base = name, base_url.rstrip("/")
        self.timeout, self.tls_verify = timeout, tls_verify
        self._identity: tuple[str, str] | None = None

    def read(self) -> ScannerStatus:
        out = ScannerStatus(self.name, "escl")
        try:
            status = parse_status(_get(self.base + "/ScannerStatus", self.timeout, self.tls_verify))
            if self._identity is None:
                try:
                    self._identity = parse_capabilities(
                        _get(self.base + "/ScannerCapabilities", self.timeout, self.tls_verify))
                except EsclError:
                    pass  # identity is optional; tried again next time
        except EsclError as e:
            out.problems.add(UNREACHABLE)
            out.error = str(e)
            return out
        out.vendor, out.model = self._identity or ("", "")
        out.problems |= problems(status)
        return out

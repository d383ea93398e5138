"""SANE scanners through `scanimage -L`, run with a hard timeout.

SANE backends are known to hang (a USB device that stops answering, a network
backend waiting on a dead host), so the command runs in its own process group
and the whole group is killed when the timeout passes; the collection is then
reported failed.

By default the agent sends nothing beyond this PC: `scanimage` runs with a
private SANE_CONFIG_DIR built from the system's, without the network-only
backends (net, escl, airscan, ...) and with network discovery turned off in the
backends that do it next to USB (pixma's BJNP, epson2's "net autodiscovery", ...).
This is best effort over the backends SANE ships; `sane_network: true` runs SANE
with the system configuration as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.devices.scanner_status import ScannerStatus

DEFAULT_CONFIG_DIR = "/etc/sane.d"

# Backends that only ever talk to the network.
NETWORK_BACKENDS = frozenset({"net", "escl", "airscan", "dell1600n_net", "bjnp", "cardscan_net", "hpaio_net"})
# Lines that turn on network discovery or a network device in otherwise local backends.
_NETWORK_LINE = re.compile(r"^\s*(net|tcp|bjnp|mfnp)\b", re.IGNORECASE)
# Extra settings appended to a backend's config in local-only mode.
_LOCAL_ONLY_SETTINGS = {"pixma.conf": "networking=no\n"}


class SaneError(Exception):
    """scanimage failed, or hung and was killed."""


class SaneNotInstalledError(SaneError):
    """The listing command is not on this PC (and was not given as a path)."""


@dataclass(frozen=True)
class SaneOptions:
    command: tuple[str, ...] = ("scanimage", "-L")
    config_dir: str = ""       # "" = $SANE_CONFIG_DIR or /etc/sane.d
    network: bool = False      # False: local-only private config (see the module docstring)
    timeout: float = 20.0


@dataclass(frozen=True)
class SaneDevice:
    name: str     # e.g. "test:0", "pixma:04A91912_123456", "genesys:libusb:001:004"
    vendor: str
    model: str
    type: str


# Device types of the SANE standard (§4.2.1) and ones backends commonly use.
_TYPES = ("multi-function peripheral", "flatbed scanner", "sheetfed scanner", "handheld scanner",
          "film scanner", "frame grabber", "still camera", "video camera", "virtual device",
          "adf scanner", "all-in-one", "scanner", "camera", "device")
_LINE = re.compile(r"^device [`'\"](?P<name>.+?)['\"] is an? (?P<rest>.*)$")


def parse_list(text: str) -> list[SaneDevice]:
    """The devices in `scanimage -L` output ("device `test:0' is a Noname frontend-tester
    virtual device"); the "No scanners were identified" text gives none."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        rest = " ".join(m.group("rest").split())
        dev_type = next((t for t in _TYPES if rest.lower().endswith(" " + t) or rest.lower() == t), "")
        head = rest[: len(rest) - len(dev_type)].strip() if dev_type else rest
        vendor, _, model = head.partition(" ")
        out.append(SaneDevice(m.group("name"), vendor, model.strip(), rest[len(rest) - len(dev_type):]))
    return out


_BACKEND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _backends(lines: str) -> list[str]:
    """Backend names of a dll.conf. A name is a file name (<name>.conf is read next to dll.conf and copied
    into the private config): one that is not a plain name ("../x", "a/b") is skipped, so no file outside
    the SANE config dir is read or written through it."""
    names = []
    for line in lines.splitlines():
        name = line.split("#", 1)[0].strip()
        if name and _BACKEND_NAME.match(name) and ".." not in name:
            names.append(name)
    return names


def build_local_only_config(source: Path, target: Path) -> list[str]:
    """Write into `target` a SANE config without network backends or network discovery;
    returns the backends kept."""
    backends: list[str] = []
    dll = source / "dll.conf"
    if dll.is_file():
        backends += _backends(dll.read_text(encoding="utf-8", errors="replace"))
    dll_d = source / "dll.d"
    if dll_d.is_dir():
        for extra in sorted(dll_d.iterdir()):
            if extra.is_file() and not extra.name.startswith("."):
                backends += _backends(extra.read_text(encoding="utf-8", errors="replace"))
    kept = [b for b in dict.fromkeys(backends) if b not in NETWORK_BACKENDS]
    target.mkdir(parents=True, exist_ok=True)
    (target / "dll.conf").write_text("".join(f"{b}\n" for b in kept), encoding="utf-8")
    for backend in kept:
        conf = source / f"{backend}.conf"
        if not conf.is_file():
            continue
        lines = conf.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        text = "".join(line for line in lines if not _NETWORK_LINE.match(line))
        extra = _LOCAL_ONLY_SETTINGS.get(conf.name)
        if extra:
            text = (text if text.endswith("\n") or not text else text + "\n") + extra
        (target / conf.name).write_text(text, encoding="utf-8")
    return kept


def run_list(options: SaneOptions) -> str:
    """Run the list command with SANE's config as `options` say; kill it at the timeout."""
    source = Path(options.config_dir or os.environ.get("SANE_CONFIG_DIR", "").rstrip(":") or DEFAULT_CONFIG_DIR)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "LANGUAGE": ""}
    tmp = None
    try:
        if options.network:
            env["SANE_CONFIG_DIR"] = str(source)
        else:
            tmp = tempfile.mkdtemp(prefix="wardwatch-sane-")
            build_local_only_config(source, Path(tmp))
            env["SANE_CONFIG_DIR"] = tmp
        try:
            proc = subprocess.Popen(list(options.command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        except FileNotFoundError:
            if os.sep not in options.command[0]:
                raise SaneNotInstalledError(f"{options.command[0]} is not installed") from None
            raise SaneError(f"cannot run {options.command[0]}: no such file") from None
        except OSError as e:
            raise SaneError(f"cannot run {options.command[0]}: {e.strerror or e}") from None
        try:
            out, err = proc.communicate(timeout=options.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SaneError(f"{options.command[0]} did not answer within {options.timeout:g}s and was killed "
                            "(a SANE backend hangs)") from None
        if proc.returncode != 0:
            tail = " ".join(err.decode("utf-8", "replace").split())[-200:]
            raise SaneError(f"{options.command[0]} exited with {proc.returncode}: {tail}")
        return out.decode("utf-8", "replace")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        pass  # a process stuck in the kernel (D state); it is still killed when it returns


def scanners(options: SaneOptions) -> list[ScannerStatus]:
    """SANE's scanners; none when SANE is not installed (a PC without it has no local
    scanner to report, as a PC without CUPS has no queue). Raises when SANE fails or hangs."""
    try:
        text = run_list(options)
    except SaneNotInstalledError:
        return []
    return [ScannerStatus(d.name, "sane", d.vendor, d.model) for d in parse_list(text)]

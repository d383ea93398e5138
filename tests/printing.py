"""Real printing services for tests and benchmarks, each on loopback with its own
files under a temporary directory: cupsd (never the system CUPS), ippeveprinter
(with the D-Bus system bus and avahi-daemon it needs, started only when not
already running and stopped afterwards), snmpsim serving the printer recordings.

Every wait is bounded; every process started here is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from support import REPO, free_port, need, port_open, process, wait_for

# Real printers' recorded SNMP answers, from shared/fixtures/snmprec beside this repository
# (CI clones the repository with shared/ beside it; see SOURCES.md there for origin and licence),
# or from $WARDWATCH_FIXTURES/snmprec. They are not copied into this repository: one of them
# carries no licence.
SNMPREC_DIR = Path(os.environ.get("WARDWATCH_FIXTURES") or REPO.parent / "shared" / "fixtures") / "snmprec"


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def udp_port_bound(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


# --- cupsd ---------------------------------------------------------------------------

@dataclass
class Cupsd:
    port: int
    root: Path
    proc: subprocess.Popen

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def socket(self) -> str:
        return str(self.root / "cups.sock")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a CUPS client command (lpadmin, lp, cupsdisable...) against this cupsd."""
        env = {**os.environ, "CUPS_SERVER": self.server, "LANG": "C.UTF-8"}
        cmd = [need(args[0]), *args[1:]]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def add_queue(self, name: str, uri: str = "file:/dev/null", description: str = "") -> None:
        args = ["lpadmin", "-p", name, "-E", "-v", uri]
        if description:
            args += ["-D", description]
        self.run(*args)


@contextlib.contextmanager
def cupsd(tmp: Path) -> Iterator[Cupsd]:
    """A cupsd in the foreground with its own config, spool and state under `tmp`,
    listening on a free loopback port, anyone allowed to administer it."""
    root = tmp / "cups"
    for d in ("conf", "spool", "cache", "state", "log", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "spool" / "tmp").mkdir(exist_ok=True)
    port = free_port()
    (root / "conf" / "cupsd.conf").write_text(f"""\
Listen 127.0.0.1:{port}
Listen {root}/cups.sock
LogLevel info
MaxLogSize 0
DefaultAuthType None
Browsing No
WebInterface No
MaxJobs 0
PreserveJobHistory No
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order allow,deny
    Allow all
  </Limit>
</Policy>
""")
    (root / "conf" / "cups-files.conf").write_text(f"""\
FileDevice Yes
ServerRoot {root}/conf
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
Printcap {root}/state/printcap
Sandboxing Relaxed
SystemGroup root
""")
    args = [need("cupsd"), "-f", "-c", str(root / "conf" / "cupsd.conf"), "-s", str(root / "conf" / "cups-files.conf")]
    with process(args, port=port, log=root / "log" / "stdout", timeout=20) as proc:
        yield Cupsd(port, root, proc)


# --- D-Bus and avahi, for ippeveprinter -------------------------------------------------

SYSTEM_BUS = "/run/dbus/system_bus_socket"


def _bus_up() -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        s.connect(SYSTEM_BUS)
        return True
    return False


def _avahi_up() -> bool:
    return subprocess.run([need("avahi-daemon"), "--check"], capture_output=True, timeout=10).returncode == 0


@contextlib.contextmanager
def dnssd(tmp: Path) -> Iterator[None]:
    """The system D-Bus and avahi-daemon ippeveprinter registers with. Started only if not
    running (avahi bound to loopback only, publishing nothing), stopped afterwards."""
    with contextlib.ExitStack() as stack:
        if not _bus_up():
            Path("/run/dbus").mkdir(parents=True, exist_ok=True)
            # once the bus we start is stopped, its socket file is left behind: remove it then
            stack.callback(lambda: None if _bus_up() else Path(SYSTEM_BUS).unlink(missing_ok=True))
            stack.enter_context(process([need("dbus-daemon"), "--system", "--nofork", "--nopidfile"],
                                        ready=_bus_up, log=tmp / "dbus.log", timeout=15))
        if not _avahi_up():
            conf = tmp / "avahi-daemon.conf"
            conf.write_text("[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
                            "[wide-area]\nenable-wide-area=no\n"
                            "[publish]\npublish-addresses=no\npublish-hinfo=no\npublish-workstation=no\n"
                            "publish-domain=no\n")
            stack.enter_context(process([need("avahi-daemon"), "-f", str(conf), "--no-chroot", "--no-drop-root",
                                         "--no-rlimits"], ready=_avahi_up, log=tmp / "avahi.log", timeout=15))
        yield


# --- ippeveprinter ----------------------------------------------------------------------

@dataclass
class IppPrinter:
    port: int
    proc: subprocess.Popen

    @property
    def uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    def set_supplies(self, waste: int, toner: int) -> None:
        """ippeveprinter's supplies form: supply0 is the waste tank, supply1 the black toner (percent)."""
        url = f"http://127.0.0.1:{self.port}/supplies?supply0={waste}&supply1={toner}"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.status == 200

    def set_media_level(self, level: int) -> None:
        """Paper left in the main tray (ippeveprinter's media form; 0 = empty)."""
        url = (f"http://127.0.0.1:{self.port}/media?size1=na_letter_8.5x11in&type1=stationery&level1={level}")
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.status == 200


@contextlib.contextmanager
def ippeveprinter(tmp: Path, name: str = "Máy in thử", command: str | None = None) -> Iterator[IppPrinter]:
    """A real IPP Everywhere printer on a free loopback port (needs `dnssd` running)."""
    spool = tmp / f"ipp-spool-{free_port()}"
    spool.mkdir(parents=True)
    port = free_port()
    args = [need("ippeveprinter"), "-p", str(port), "-n", "localhost", "-d", str(spool),
            "-M", "Wardwatch", "-m", "Test Laser"]
    if command:
        args += ["-c", command]
    with process(args + [name], port=port, log=tmp / f"ippeveprinter-{port}.log", timeout=20) as proc:
        yield IppPrinter(port, proc)


# --- snmpsim -----------------------------------------------------------------------------

@contextlib.contextmanager
def snmpsim(tmp: Path, communities: dict[str, str] | None = None, host: str = "127.0.0.1",
            port: int | None = None, recordings_dir: Path = SNMPREC_DIR, v3: Sequence[str] = ()) -> Iterator[int]:
    """snmpsim on a free loopback UDP port (or `host`:`port`) serving the recordings; yields the port.
    `v3`: an SNMPv3 engine's options (--v3-engine-id, --v3-user...); its context names are the communities.

    `communities` maps a community to a recording's name (default: each recording
    under its own name). As root, snmpsim insists on --process-user/--process-group;
    it stays root then, so the Python it runs from (a venv, pyenv) stays readable."""
    data = tmp / f"snmpsim-data-{free_port()}"
    data.mkdir(parents=True)
    recordings = sorted(p.stem for p in recordings_dir.glob("*.snmprec"))
    for community, recording in (communities or {r: r for r in recordings}).items():
        shutil.copyfile(recordings_dir / f"{recording}.snmprec", data / f"{community}.snmprec")
    port = port or free_udp_port(host)
    sibling = Path(sys.executable).parent / "snmpsim-command-responder"  # the tests' own environment first
    exe = str(sibling) if sibling.exists() else need("snmpsim-command-responder")
    args = [exe, *v3, f"--data-dir={data}", f"--agent-udpv4-endpoint={host}:{port}",
            f"--cache-dir={data}-cache", "--logging-method=stderr", "--log-level=error"]
    if os.geteuid() == 0:
        args += ["--process-user=root", "--process-group=root"]
    log = tmp / f"snmpsim-{host}-{port}.log"
    # snmpsim says it listens a moment before its socket is bound
    with process(args, log=log, timeout=60,
                 ready=lambda: "Listening at UDP/IPv4 endpoint" in log.read_text(errors="replace")
                 and udp_port_bound(port, host)):
        yield port


def wait_port_closed(port: int, timeout: float = 10.0) -> None:
    wait_for(lambda: not port_open(port), timeout=timeout, what=f"port {port} to close")

"""A rig for fault injection over a run of the real agent, shared by
tests/integration/test_faults.py (about a minute) and bench/soak.py (30 minutes or more).

The agent is `tests/chaos_agent.py` (the real agent plus collectors that hang, raise and
return garbage), run as `nobody` with CAP_NET_RAW only, as under its systemd unit, with:
- a real cupsd holding a queue the rig deletes and creates again;
- SANE's test backend behind a wrapper of `scanimage` that the rig makes hang;
- a real dnsmasq the WAN collector probes (kind dns), which the rig stops and starts;
- an ICMP target on 127.0.0.1;
- remote write to a real Prometheus (out-of-order window of a day, so clock jumps are taken);
- its state dir on a small tmpfs the rig makes read-only (the agent is not root, so a mode
  of 0555 stops it) or full (a filler file takes every free byte);
- libfaketime (Debian `faketime`) preloaded, its offset changed at run time through its
  control file, so the wall clock jumps forward and back. CLOCK_MONOTONIC is left alone, as
  on a real PC (FAKETIME_DONT_FAKE_MONOTONIC=1): it is the wall clock that NTP or a user steps.

A sampler thread scrapes /metrics and reads the agent's RSS, open fds and threads every
`period` seconds. Every wait is bounded; every process and mount is cleaned up.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from printing import Cupsd, cupsd
from receiver import Receiver
from support import REPO, free_port, http_get, need, parse_metrics, process, wait_for
from unprivileged import command as unprivileged_command

FAKETIME_LIB = "/usr/lib/*/faketime/libfaketime.so.1"
QUEUE = "ww-faults-queue"
# Figures of each scrape the readings keep (a whole scrape per reading would weigh on a long run).
KEPT = {
    "buffered": ("wardwatch_remote_write_samples_buffered", ()),
    "recorded": ("wardwatch_remote_write_samples_recorded_total", ()),
    "sent": ("wardwatch_remote_write_samples_sent_total", ()),
    "dns_outage": ("wardwatch_wan_outage_seconds_total", (("role", "dns"), ("target", "dns"))),
    "series": None,  # how many samples the scrape held
}
DNS_NAME = "dichvucong.example"


@dataclass
class Reading:
    t: float                  # seconds since the rig started
    rss: int                  # bytes
    fds: int
    threads: int
    scrape_ok: bool
    scrape_seconds: float
    faults: str               # the faults active at that moment
    values: dict[str, float] = field(default_factory=dict)  # a few figures of that scrape (see KEPT)


@dataclass
class Episode:
    fault: str
    start: float              # monotonic
    end: float = 0.0


class Rig:
    def __init__(self, period: float = 1.0, faketime: bool = True, chaos: bool = True):
        self.period, self.faketime, self.chaos = period, faketime, chaos
        self.user = pwd.getpwnam("nobody")
        self.root = Path(tempfile.mkdtemp(prefix=f"wardwatch-faults-{os.getpid()}-", dir="/tmp"))
        self.root.chmod(0o755)
        self.state = self.root / "state"
        self.port = free_port()
        self.dns_port = free_port()
        self.readings: list[Reading] = []
        self.episodes: list[Episode] = []
        self.active: set[str] = set()
        self.started = time.monotonic()
        self.agent_starts = 0
        self._stack = contextlib.ExitStack()
        self._agent: contextlib.ExitStack | None = None
        self._dns: contextlib.ExitStack | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.cups: Cupsd | None = None
        self.receiver: Receiver | None = None

    # --- setting up ---------------------------------------------------------------

    def __enter__(self) -> Rig:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _setup(self) -> None:
        self.state.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", f"wardwatch-faults-{os.getpid()}",
                        str(self.state)], check=True, capture_output=True)
        self._stack.callback(lambda: subprocess.run(["umount", "-l", str(self.state)], capture_output=True))
        os.chown(self.state, self.user.pw_uid, self.user.pw_gid)
        (self.root / "clock").write_text("+0\n")
        (self.root / "clock").chmod(0o644)
        self._sane()
        self.cups = self._stack.enter_context(cupsd(self.root))
        self.cups.add_queue(QUEUE, description="Máy in một cửa")
        self.receiver = Receiver(self.root / "receiver", storage={"tsdb": {"out_of_order_time_window": "1d"}})
        self.receiver.start()
        self._stack.callback(self.receiver.stop)
        self.dns_up()
        (self.root / "agent.yml").write_text(yaml.safe_dump(self._config(), allow_unicode=True))
        self.start_agent()
        sampler = threading.Thread(target=self._sample_loop, name="fault-sampler", daemon=True)
        sampler.start()
        self._stack.callback(lambda: (self._stop.set(), sampler.join(10)))

    def _sane(self) -> None:
        conf = self.root / "sane.d"
        conf.mkdir()
        (conf / "dll.conf").write_text("test\n")
        (conf / "test.conf").write_text("number_of_devices 1\n")
        (self.root / "scanimage.mode").write_text("ok\n")
        bin_dir = self.root / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "scanimage"
        wrapper.write_text(f"#!/bin/sh\n# scanimage that hangs when the rig says so\n"
                           f"if [ \"$(cat {self.root}/scanimage.mode)\" = hang ]; then exec sleep 3600; fi\n"
                           f"exec {need('scanimage')} \"$@\"\n")
        wrapper.chmod(0o755)
        for p in (conf, bin_dir, self.root / "scanimage.mode", *conf.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)

    def _config(self) -> dict:
        assert self.cups is not None and self.receiver is not None
        collectors: dict = {
            "hardware": {"interval": "2s"},
            "printers": {"interval": "1s", "timeout": "5s", "cups_server": self.cups.server, "forget_after": "1h"},
            "scanners": {"interval": "1s", "timeout": "5s", "sane_command": [str(self.root / "bin/scanimage"), "-L"],
                         "sane_config_dir": str(self.root / "sane.d"), "local_timeout": "2s"},
            "wan": {"interval": "1s", "state_save_interval": "1s", "targets": [
                {"name": "dns", "role": "dns", "kind": "dns", "address": "127.0.0.1", "port": self.dns_port,
                 "query": DNS_NAME, "interval": "0.5s", "timeout": "0.3s"},
                {"name": "gateway", "role": "gateway", "kind": "icmp", "address": "127.0.0.1", "packets": 3,
                 "packet_interval": "0.05s", "interval": "2s", "timeout": "0.5s"}]},
        }
        if self.chaos:
            collectors |= {"chaos_stuck": {"enabled": True, "interval": "1s", "timeout": "0.5s"},
                           "chaos_hang": {"enabled": True, "interval": "1s", "timeout": "0.3s"},
                           "chaos_raise": {"enabled": True, "interval": "1s", "timeout": "2s"},
                           "chaos_garbage": {"enabled": True, "interval": "1s", "timeout": "2s"}}
        return {"state_dir": str(self.state), "web": {"listen": f"127.0.0.1:{self.port}"},
                "thresholds": {"wan_failures_down": 2}, "collectors": collectors,
                "remote_write": {"enabled": True, "url": self.receiver.write_url, "instance": "pc-faults",
                                 "record_interval": "1s", "max_bytes": "256KiB", "min_backoff": "0.2s",
                                 "max_backoff": "2s", "timeout": "5s"}}

    # --- the agent ------------------------------------------------------------------

    def start_agent(self) -> None:
        env = {"LANG": "C.UTF-8"}
        if self.faketime:  # for the agent only (the launcher's mount and setpriv run on the real clock)
            env |= {"LD_PRELOAD": need_file(FAKETIME_LIB), "FAKETIME_TIMESTAMP_FILE": str(self.root / "clock"),
                    "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DISABLE_SHM": "1"}
        argv = unprivileged_command([sys.executable, str(REPO / "tests/chaos_agent.py"), "run", "--config",
                                     str(self.root / "agent.yml")], caps=("net_raw",), env=env)
        stack = contextlib.ExitStack()
        self.proc = stack.enter_context(process(argv, port=self.port, log=self.root / f"agent-{self.agent_starts}.log",
                                                timeout=30, cwd=REPO))
        self._agent = stack
        self.agent_starts += 1

    def stop_agent(self) -> None:
        if self._agent is not None:
            self._agent.close()
            self._agent = None
            self.proc = None

    def restart_agent(self) -> None:
        with self._lock:
            self.stop_agent()
            self.start_agent()

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.root.glob("agent-*.log")))

    # --- faults ---------------------------------------------------------------------

    def _begin(self, fault: str) -> None:
        self.active.add(fault)
        self.episodes.append(Episode(fault, time.monotonic()))

    def _end(self, fault: str) -> None:
        self.active.discard(fault)
        for e in reversed(self.episodes):
            if e.fault == fault and not e.end:
                e.end = time.monotonic()
                return

    def queue_gone(self) -> None:
        assert self.cups is not None
        self.cups.run("lpadmin", "-x", QUEUE)
        self._begin("queue_gone")

    def queue_back(self) -> None:
        assert self.cups is not None
        self.cups.add_queue(QUEUE, description="Máy in một cửa")
        self._end("queue_gone")

    def scanner_hangs(self, on: bool) -> None:
        (self.root / "scanimage.mode").write_text("hang\n" if on else "ok\n")
        (self._begin if on else self._end)("scanner_hangs")

    def dns_down(self) -> None:
        assert self._dns is not None
        self._dns.close()
        self._dns = None
        self._begin("dns_down")

    def dns_up(self) -> None:
        args = [need("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                "--conf-file=/dev/null", "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={self.dns_port}",
                "--user=root", "--pid-file=", "--log-facility=-", f"--host-record={DNS_NAME},192.0.2.10"]
        stack = contextlib.ExitStack()
        stack.enter_context(process(args, log=self.root / "dnsmasq.log", ready=self._dns_answers, timeout=15))
        self._dns = stack
        self._stack.callback(lambda: self._dns.close() if self._dns is not None else None)
        self._end("dns_down")

    def _dns_answers(self) -> bool:
        import socket

        from agent.wan.dns import build_query

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(build_query(7, DNS_NAME, 1), ("127.0.0.1", self.dns_port))
            try:
                return bool(s.recv(512))
            except OSError:
                return False

    def state_read_only(self, on: bool) -> None:
        """Mode 0555 on the state dir and the directories in it: the agent (not root) can create, rename and
        delete nothing there; files it already holds open stay writable, as on a real dir turned read-only."""
        for d in [self.state, *[p for p in self.state.rglob("*") if p.is_dir()]]:
            d.chmod(0o555 if on else 0o755)
        (self._begin if on else self._end)("state_read_only")

    def state_full(self, on: bool) -> None:
        filler = self.state / "filler"
        if on:
            free = os.statvfs(self.state).f_bavail * os.statvfs(self.state).f_frsize
            with open(filler, "wb") as f:
                f.write(b"\0" * free)  # a tmpfs has no reserved blocks: even root leaves nothing
                f.flush()
            self._begin("state_full")
        else:
            filler.unlink(missing_ok=True)
            self._end("state_full")

    def clock(self, offset: str) -> None:
        """libfaketime's offset, e.g. "+2h", "-30m", "+0"; read by the agent within about two seconds."""
        (self.root / "clock").write_text(offset + "\n")
        self.episodes.append(Episode(f"clock {offset}", time.monotonic(), time.monotonic()))

    # --- reading --------------------------------------------------------------------

    def scrape(self, timeout: float = 5.0) -> tuple[bool, float, dict]:
        t0 = time.monotonic()
        try:
            code, body = http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=timeout)
            metrics = parse_metrics(body.decode()) if code == 200 else {}
            return code == 200, time.monotonic() - t0, metrics
        except Exception:
            return False, time.monotonic() - t0, {}

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.period):
            with self._lock:
                proc = self.proc
                if proc is None:
                    continue
                ok, seconds, metrics = self.scrape()
                try:
                    p = psutil.Process(proc.pid)
                    rss, fds, threads = p.memory_info().rss, p.num_fds(), p.num_threads()
                except psutil.Error:
                    rss = fds = threads = 0
                values = {k: metrics[key] for k, key in KEPT.items() if key is not None and key in metrics}
                values["series"] = float(len(metrics))
                self.readings.append(Reading(time.monotonic() - self.started, rss, fds, threads, ok, seconds,
                                             ",".join(sorted(self.active)) or "-", values))

    def wait_metric(self, name: str, labels: dict[str, str], predicate, timeout: float = 20.0,
                    what: str = "") -> float:
        key = (name, tuple(sorted(labels.items())))

        def check() -> tuple[float] | None:
            _, _, metrics = self.scrape()
            value = metrics.get(key)
            return (value,) if value is not None and predicate(value) else None  # a tuple: 0.0 is a value too

        return wait_for(check, timeout=timeout, interval=0.2, what=what or f"{name}{labels}")[0]  # type: ignore[index]

    def injected_outage(self) -> tuple[float, int]:
        """(seconds, episodes) dnsmasq was down, as the rig injected it."""
        eps = [e for e in self.episodes if e.fault == "dns_down" and e.end]
        return sum(e.end - e.start for e in eps), len(eps)

    # --- cleaning up ----------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.state_read_only(False)
        self.stop_agent()
        self._stack.close()
        shutil.rmtree(self.root, ignore_errors=True)


def need_file(pattern: str) -> str:
    import glob

    found = sorted(glob.glob(pattern))
    if not found:
        raise AssertionError(f"{pattern} is missing: install the Debian package faketime (scripts/test.sh does)")
    return found[0]


@contextlib.contextmanager
def rig(**kw) -> Iterator[Rig]:
    with Rig(**kw) as r:
        yield r

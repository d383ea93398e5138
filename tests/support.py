"""Helpers for tests that start real services (Prometheus, cupsd, sshd, ...) on loopback.

Every wait here is bounded in time; every process started is stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def need(binary: str) -> str:
    """The path of a binary the test needs. Missing is a failure, never a silent skip:
    scripts/test.sh installs every one of them."""
    path = shutil.which(binary) or next((p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}")
                                         if os.access(p, os.X_OK)), None)
    if path is None:
        raise AssertionError(f"{binary} is not installed: run scripts/test.sh, which installs it")
    return path


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], port: int = 0, host: str = "127.0.0.1",
            name: str = "test-http") -> Iterator[str]:
    """`handler` served from a thread on `port` (0: a free one): yields "host:port"; shut down at exit."""
    srv = ThreadingHTTPServer((host, port), handler)
    t = threading.Thread(target=srv.serve_forever, name=name, daemon=True)
    t.start()
    try:
        yield f"{host}:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001
            last_exc = e
        time.sleep(interval)
    suffix = f" (last error: {last_exc})" if last_exc else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{suffix}")


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, what: str | Callable[[], str] = "condition",
               interval: float = 0.2) -> object:
    """What `predicate` returns once it is true. Unlike wait_for, an exception in `predicate` ends the
    wait at once. On timeout, `what` says what was awaited; a function is called then, to describe the
    last state."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    described = what() if callable(what) else f"{what} (last: {last!r:.300})"
    raise AssertionError(f"timed out after {timeout}s waiting for {described}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None, context=None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@contextlib.contextmanager
def process(args: list[str], *, port: int | None = None, host: str = "127.0.0.1",
            ready: Callable[[], object] | None = None, timeout: float = 20.0,
            env: dict[str, str] | None = None, log: Path | None = None,
            cwd: str | Path | None = None) -> Iterator[subprocess.Popen]:
    """Start a process, wait until its port answers (or `ready()` is true), stop it afterwards."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    try:
        check = ready if ready is not None else (lambda: port_open(port, host)) if port else None
        if check is not None:
            def alive_and_ready() -> object:
                if proc.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
                    raise AssertionError(f"{args[0]} exited with {proc.returncode}: {tail}")
                return check()
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if alive_and_ready():
                        break
                except AssertionError:
                    raise
                except Exception:  # noqa: BLE001
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{args[0]} not ready after {timeout}s")
                time.sleep(0.05)
        yield proc
    finally:
        stop(proc)
        if log:
            out.close()


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def copy_clone(dest: Path) -> Path:
    """The checkout as a fresh clone would have it (tracked files and new ones git does not ignore, as
    they are now; no .venv, no build output), for what writes beside the sources."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    return dest


def agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def prometheus_query(base: str, query: str, timeout: float = 5.0) -> list[dict]:
    from urllib.parse import urlencode

    code, body = http_get(f"{base}/api/v1/query?{urlencode({'query': query})}", timeout=timeout)
    doc = json.loads(body)
    if code != 200 or doc.get("status") != "success":
        raise AssertionError(f"query {query!r} failed: {code} {body[:300]!r}")
    return doc["data"]["result"]


@contextlib.contextmanager
def prometheus(tmp: Path, scrape_configs: list[dict], *, rule_files: list[str] | None = None,
               extra_args: list[str] | None = None, global_cfg: dict | None = None,
               alerting: dict | None = None) -> Iterator[str]:
    """A real Prometheus scraping `scrape_configs` every second on a free loopback port; yields its base URL."""
    conf = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s", **(global_cfg or {})},
            "scrape_configs": scrape_configs}
    if rule_files:
        conf["rule_files"] = rule_files
    if alerting:
        conf["alerting"] = alerting
    with prometheus_from(tmp, conf, extra_args) as base:
        yield base


def prometheus_data(tmp: Path) -> Path:
    """Where the Prometheus started in `tmp` keeps its TSDB: blocks put there first (a backfill) are served."""
    return tmp / "data"


@contextlib.contextmanager
def prometheus_from(tmp: Path, config: dict, extra_args: list[str] | None = None) -> Iterator[str]:
    """A real Prometheus with exactly this config on a free loopback port; yields its base URL."""
    import yaml

    tmp.mkdir(parents=True, exist_ok=True)
    cfg_file = tmp / "prometheus.yml"
    cfg_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [need("prometheus"), f"--config.file={cfg_file}", f"--storage.tsdb.path={prometheus_data(tmp)}",
            f"--web.listen-address=127.0.0.1:{port}", *(extra_args or [])]
    with process(args, log=tmp / "prometheus.log", timeout=30,
                 ready=lambda: http_get(f"{base}/-/ready", timeout=1)[0] == 200):
        yield base


def make_cert(directory: Path, name: str = "server", days: int = 30) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 / ::1; returns (cert, key) paths."""
    now = dt.datetime.now(dt.timezone.utc)
    c = self_signed(directory, ips=("127.0.0.1", "::1"), not_before=now - dt.timedelta(minutes=5),
                    not_after=now + dt.timedelta(days=days), stem=name)
    return c.cert, c.key


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path
    not_after: dt.datetime


def self_signed(directory: Path, *, name: str = "localhost", ips: tuple[str, ...] = ("127.0.0.1",),
                not_after: dt.datetime | None = None, not_before: dt.datetime | None = None,
                stem: str = "server") -> Cert:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=42, hours=5, minutes=17)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    san = x509.SubjectAlternativeName([x509.DNSName(name), *(x509.IPAddress(ipaddress.ip_address(i)) for i in ips)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Cert(cert_path, key_path, not_after)


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Exposition text -> {(name, sorted labels): value}, through prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@contextlib.contextmanager
def agent(tmp: Path, config: str | None = None, *, extra: list[str] | None = None,
          timeout: float = 20.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real `wardwatch-agent run` on a free loopback port; yields (process, base URL)."""
    port = free_port()
    args = agent_cmd("run", "--listen", f"127.0.0.1:{port}", *(extra or []))
    if config is not None:
        cfg = tmp / "agent.yml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    with process(args, port=port, log=tmp / "agent.log", timeout=timeout, cwd=REPO) as proc:
        yield proc, f"http://127.0.0.1:{port}"

"""Real servers on loopback for the WAN probes: HTTP and HTTPS (a self-signed
certificate whose expiry the test knows), dnsmasq, TCP listeners, UDP sinks,
and blackbox_exporter to compare with. Every one is stopped by its context manager."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from support import Cert, free_port, http_get, need, process

# --- certificates --------------------------------------------------------------


# --- HTTP(S) --------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"status {code}\n".encode(), {"Location": "/ok"} if 300 <= code < 400 else {})
        elif path == "/slow":
            time.sleep(float(self.server.slow))  # type: ignore[attr-defined]
            self._send(200, b"late\n")
        else:
            self._send(200, "Cổng dịch vụ công: sẵn sàng\n".encode())

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    slow = 2.0

    def handle_error(self, request, client_address) -> None:  # a probe that gave up early: not news
        pass


@contextlib.contextmanager
def http_server(cert: Cert | None = None, host: str = "127.0.0.1", slow: float = 2.0) -> Iterator[str]:
    """Yields the base URL (http:// or https://host:port)."""
    server = _Server((host, free_port(host)), _Handler)
    server.slow = slow
    if cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.cert, cert.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"{'https' if cert else 'http'}://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


# --- TCP and UDP ----------------------------------------------------------------


@contextlib.contextmanager
def tcp_listener(host: str = "127.0.0.1") -> Iterator[int]:
    """A listening TCP port that accepts and closes connections; yields the port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(64)
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        sock.close()


@contextlib.contextmanager
def udp_sink(host: str = "127.0.0.1") -> Iterator[int]:
    """A bound UDP port that never answers (a DNS server that went silent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


def closed_port(host: str = "127.0.0.1") -> int:
    return free_port(host)


# --- DNS --------------------------------------------------------------------------


@contextlib.contextmanager
def dnsmasq(tmp: Path, records: dict[str, str], host: str = "127.0.0.1", local: str = "") -> Iterator[int]:
    """A real dnsmasq answering only `records` (name -> IPv4 or IPv6), nothing upstream (other names are
    REFUSED, or NXDOMAIN inside the `local` domain); yields its port."""
    port = free_port(host)
    args = [need("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
            "--conf-file=/dev/null", "--bind-interfaces", f"--listen-address={host}", f"--port={port}",
            "--user=root", "--pid-file=", "--log-facility=-"]
    args += [f"--host-record={name},{addr}" for name, addr in records.items()]
    if local:
        args.append(f"--local=/{local}/")
    with process(args, log=tmp / f"dnsmasq-{port}.log", ready=lambda: _dns_ready(host, port)):
        yield port


def _dns_ready(host: str, port: int) -> bool:
    from agent.wan.dns import build_query

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(build_query(1, "ready.invalid", 1), (host, port))
        try:
            return bool(s.recv(512))
        except OSError:
            return False


# --- blackbox_exporter ---------------------------------------------------------------


@contextlib.contextmanager
def blackbox(tmp: Path, modules: dict) -> Iterator[str]:
    """A real blackbox_exporter on a free loopback port with `modules`; yields its base URL."""
    port = free_port()
    cfg = tmp / "blackbox.yml"
    cfg.write_text(yaml.safe_dump({"modules": modules}))
    base = f"http://127.0.0.1:{port}"
    args = [need("prometheus-blackbox-exporter"), f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"]
    with process(args, log=tmp / "blackbox.log", ready=lambda: http_get(f"{base}/-/healthy", timeout=1)[0] == 200):
        yield base


def blackbox_probe(base: str, module: str, target: str, timeout: float = 10.0) -> dict[str, float]:
    """One probe; every sample of the answer as {'name{labels}': value}."""
    from urllib.parse import urlencode

    from prometheus_client.parser import text_string_to_metric_families

    code, body = http_get(f"{base}/probe?{urlencode({'module': module, 'target': target})}", timeout=timeout)
    assert code == 200, body[:300]
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}" if s.labels else "")
            out[key] = s.value
    return out


# --- out of process (benchmarks: the servers' CPU is not the prober's) ---------------------------------


@contextlib.contextmanager
def servers_process(tmp: Path, cert: Cert) -> Iterator[dict]:
    """HTTP, HTTPS and a TCP listener in a child process; yields {"plain": url, "https": url, "tcp": port}."""
    import json
    import sys

    info = tmp / "servers.json"
    args = [sys.executable, __file__, str(cert.cert), str(cert.key), str(info)]
    with process(args, log=tmp / "servers.log", ready=info.exists):
        yield json.loads(info.read_text())


def _serve(cert_path: str, key_path: str, info: str) -> None:
    import json
    import signal

    cert = Cert(Path(cert_path), Path(key_path), dt.datetime.now(dt.timezone.utc))
    with http_server() as plain, http_server(cert) as https, tcp_listener() as tcp:
        tmp = Path(info + ".tmp")
        tmp.write_text(json.dumps({"plain": plain, "https": https, "tcp": tcp}))
        tmp.rename(info)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    import sys

    signal_mask = __import__("signal")
    signal_mask.pthread_sigmask(signal_mask.SIG_BLOCK, {signal_mask.SIGTERM, signal_mask.SIGINT})
    _serve(*sys.argv[1:4])

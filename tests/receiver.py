"""A real Prometheus as remote-write receiver (--web.enable-remote-write-receiver) on a
fixed loopback port, so it can be stopped and started again on the same port and data
(an outage the agent must ride out). Optional TLS and basic auth through Prometheus's own
--web.config.file. Used by tests/exporters/test_remote_write.py and bench/remote_write.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
import yaml
from support import free_port, http_get, need, process


@dataclass(frozen=True)
class TLSFiles:
    ca: Path
    cert: Path
    key: Path


def make_certs(directory: Path) -> TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed (openssl CLI)."""
    openssl = need("openssl")
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run([openssl, "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.crt", "-days", "2",
                    "-subj", "/CN=wardwatch test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    subprocess.run([openssl, "req", *ec, "-keyout", d / "server.key", "-out", d / "server.csr",
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                  "keyUsage=critical,digitalSignature\n")
    subprocess.run([openssl, "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.crt", "-CAkey", d / "ca.key",
                    "-CAcreateserial", "-out", d / "server.crt", "-days", "2", "-extfile", d / "server.ext"],
                   check=True, capture_output=True)
    return TLSFiles(d / "ca.crt", d / "server.crt", d / "server.key")


class Receiver:
    """with Receiver(tmp) as r: ... r.stop() ... r.start() ...; r.write_url for the agent."""

    def __init__(self, tmp: Path, *, tls: TLSFiles | None = None, users: dict[str, str] | None = None,
                 storage: dict | None = None):
        self.dir = tmp
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls, self.users, self.storage = tls, users or {}, storage
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.write_url = f"{self.base}/api/v1/write"
        self._stack: contextlib.ExitStack | None = None
        self._context = ssl.create_default_context(cafile=str(tls.ca)) if tls else None
        self._headers = {}
        if self.users:
            user, password = next(iter(self.users.items()))
            self._headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _write_config(self) -> list[str]:
        conf: dict = {"global": {"scrape_interval": "15s"}, "scrape_configs": []}
        if self.storage:
            conf["storage"] = self.storage
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(conf))
        args = [need("prometheus"), f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver"]
        if self.tls or self.users:
            web: dict = {}
            if self.tls:
                web["tls_server_config"] = {"cert_file": str(self.tls.cert), "key_file": str(self.tls.key)}
            if self.users:
                web["basic_auth_users"] = {u: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
                                           for u, p in self.users.items()}
            (self.dir / "web.yml").write_text(yaml.safe_dump(web))
            args.append(f"--web.config.file={self.dir / 'web.yml'}")
        return args

    def start(self) -> None:
        assert self._stack is None, "already running"
        args = self._write_config()
        stack = contextlib.ExitStack()
        stack.enter_context(process(args, log=self.dir / "prometheus.log", timeout=30, ready=self.ready))
        self._stack = stack

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def ready(self) -> bool:
        return http_get(f"{self.base}/-/ready", timeout=1, headers=self._headers, context=self._context)[0] == 200

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        code, body = http_get(f"{self.base}/api/v1/query?{urlencode(params)}", timeout=10,
                              headers=self._headers, context=self._context)
        doc = json.loads(body)
        if code != 200 or doc.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {code} {body[:300]!r}")
        return doc["data"]["result"]

    def raw_samples(self, selector: str, start: float, end: float) -> dict[str, list[tuple[int, str]]]:
        """Every stored sample of `selector` with start < t <= end: {series labels as JSON: [(ms, value)]}."""
        window = max(1, int(end - start + 0.999))
        out = {}
        for series in self.query(f"{selector}[{window}s]", at=end):
            key = json.dumps(series["metric"], sort_keys=True)
            out[key] = [(round(float(t) * 1000), v) for t, v in series["values"]]
        return out



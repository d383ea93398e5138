"""HTTP(S) endpoint: /metrics from the cached snapshot, /healthz, a small index.

TLS handshakes happen in the connection's own thread (never in the accept
loop), so a slow or hostile client cannot hold up other scrapes. Basic auth
checks bcrypt once per distinct good credential and then answers from a small
cache, so a real scraper pays bcrypt once, not per scrape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bcrypt

from exporters.exposition import CONTENT_TYPE, Exposition
from exporters.webconfig import WebConfig

log = logging.getLogger("wardwatch.http")

INDEX = b"""<!doctype html><html><head><meta charset="utf-8"><title>wardwatch agent</title></head>
<body><h1>wardwatch agent</h1>
<p><a href="/metrics">/metrics</a> &middot; <a href="/healthz">/healthz</a></p></body></html>
"""
# A real hash to check unknown users against, so a wrong user name costs as much as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"wardwatch-dummy", bcrypt.gensalt(4))
_GOOD_CACHE_MAX = 64


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


class Authenticator:
    def __init__(self, users: dict[str, bytes]):
        self.users = users
        self._good: set[bytes] = set()
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = self.users.get(user)
        # The cache key binds user, password and the hash they were checked against.
        key = hashlib.sha256(b"\0".join((user.encode(), password.encode(), hashed or b""))).digest()
        with self._lock:
            if hashed is not None and key in self._good:
                return True
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        if ok:
            with self._lock:
                if len(self._good) >= _GOOD_CACHE_MAX:
                    self._good.clear()
                self._good.add(key)
        return ok


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"
    server_version = "wardwatch"
    sys_version = ""
    timeout = 30  # seconds a connection may idle between requests
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            return self._send(200, b"ok\n", "text/plain; charset=utf-8")
        if not self.server.auth.check(self.headers.get("Authorization")):
            return self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8",
                              {"WWW-Authenticate": 'Basic realm="wardwatch"'})
        if path == "/metrics":
            gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
            return self._send(200, self.server.exposition.body(gz), CONTENT_TYPE,
                              {"Content-Encoding": "gzip"} if gz else None)
        if path == "/":
            return self._send(200, INDEX, "text/html; charset=utf-8")
        return self._send(404, b"Not Found\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in {**self.server.headers, **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # no access log: it would only repeat Prometheus's own scrape log

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("http: " + format, *args)


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, listen: str, exposition: Exposition, web: WebConfig):
        host, port = parse_listen(listen)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.exposition = exposition
        self.configure(web)
        super().__init__((host or ("::" if self.address_family == socket.AF_INET6 else "0.0.0.0"), port), _Handler)

    def configure(self, web: WebConfig) -> None:
        self.tls = web.tls
        self.auth = Authenticator(web.users)
        self.headers = web.headers

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        if self.tls is not None:
            request.settimeout(10)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log.debug("TLS handshake with %s failed: %s", client_address[0], e)
                request.close()
                return
        super().finish_request(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = {"0.0.0.0": "localhost", "::": "localhost"}.get(host, host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"{'https' if self.tls else 'http'}://{shown}:{port}/metrics"

    def serve_in_background(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        t.start()
        return t

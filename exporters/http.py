"""HTTP(S) endpoint: /metrics from the cached snapshot, /healthz, a small index.

TLS handshakes happen in the connection's own thread (never in the accept
loop), so a slow or hostile client cannot hold up other scrapes; connections
are bounded. Basic auth: see `Authenticator`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import socket
import ssl
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bcrypt

from exporters.exposition import CONTENT_TYPE, Exposition
from exporters.webconfig import WebConfig

log = logging.getLogger("wardwatch.http")

INDEX = b"""<!doctype html><html><head><meta charset="utf-8"><title>wardwatch agent</title></head>
<body><h1>wardwatch agent</h1>
<p><a href="/metrics">/metrics</a> &middot; <a href="/healthz">/healthz</a></p></body></html>
"""
_VERDICT_CACHE_MAX = 1024
MAX_CONNECTIONS = 256  # beyond this, new connections are closed at once instead of queueing threads


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


class Authenticator:
    """Basic auth against bcrypt hashes, cheap for real scrapers and bounded under attack.

    Each distinct credential is checked with bcrypt once and its verdict remembered
    (bounded LRU): a real scraper pays bcrypt once, and a retry storm of the same wrong
    password costs nothing. At most one bcrypt check runs at a time, so a flood of new
    wrong passwords takes at most one core and never delays a scrape whose credentials
    are already known. Unknown users are checked against a dummy hash of the same cost,
    so a wrong user name takes as long as a wrong password.
    """

    def __init__(self, users: dict[str, bytes]):
        self.users = users
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = threading.Lock()
        self._bcrypt = threading.Lock()
        self._dummy = b""
        if users:
            cost = max(int(h.split(b"$")[2]) for h in users.values())
            self._dummy = bcrypt.hashpw(b"wardwatch-dummy", bcrypt.gensalt(cost))

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
        # The key binds user, password and the hash they are checked against (a reload may change it).
        key = hashlib.sha256(b"\0".join((user.encode(), password.encode(), hashed or b""))).digest()
        with self._lock:
            verdict = self._verdicts.get(key)
            if verdict is not None:
                self._verdicts.move_to_end(key)
                return verdict
        with self._bcrypt:
            ok = bcrypt.checkpw(password.encode(), hashed or self._dummy) and hashed is not None
        with self._lock:
            self._verdicts[key] = ok
            if len(self._verdicts) > _VERDICT_CACHE_MAX:
                self._verdicts.popitem(last=False)
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
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.configure(web)
        super().__init__((host or ("::" if self.address_family == socket.AF_INET6 else "0.0.0.0"), port), _Handler)

    def configure(self, web: WebConfig) -> None:
        self.tls = web.tls
        self.auth = Authenticator(web.users)
        self.headers = web.headers

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        if not self._connections.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

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

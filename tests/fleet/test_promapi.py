"""The Prometheus API client: credentials in the URL become basic auth and are never
shown; refusals and bad answers are one line with exit code 3."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from support import serving

from fleet.errors import EXIT_UNREACHABLE, EXIT_USAGE, FleetError
from fleet.promapi import Prometheus


@contextlib.contextmanager
def server(status: int, body: bytes) -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                         "body": self.rfile.read(length).decode()})
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as addr:
        yield addr, seen


def test_credentials_in_the_url_are_basic_auth_and_never_shown():
    ok = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"district": "ba_dinh"}, "value": [1.0, "3"]}]}}).encode()
    with server(200, ok) as (addr, seen):
        p = Prometheus(f"http://ops:m%E1%BA%ADt@{addr}/prom/")
        assert p.url == f"http://{addr}/prom"
        result = p.query("count(up)", 1716170400.5)
    assert [(s.labels, s.value) for s in result] == [({"district": "ba_dinh"}, 3.0)]
    assert seen[0]["path"] == "/prom/api/v1/query"
    assert base64.b64decode(seen[0]["auth"].split()[1]).decode() == "ops:mật"
    assert "time=1716170400.500" in seen[0]["body"] and p.queries == 1


@pytest.mark.parametrize("status, body, text", [
    (400, b'{"status":"error","errorType":"bad_data","error":"parse error at char 3"}', "parse error at char 3"),
    (401, b"Unauthorized\n", "HTTP 401"),
    (200, b"<html>not prometheus</html>", "is not JSON"),
])
def test_refusals_are_one_line(status, body, text):
    with server(status, body) as (addr, _):
        with pytest.raises(FleetError) as e:
            Prometheus(f"http://u:topsecret@{addr}").query("up", 0)
    assert e.value.exit_code == EXIT_UNREACHABLE and text in str(e.value)
    assert "topsecret" not in str(e.value) and "\n" not in str(e.value)


def test_not_an_http_url():
    with pytest.raises(FleetError) as e:
        Prometheus("prometheus:9090")
    assert e.value.exit_code == EXIT_USAGE

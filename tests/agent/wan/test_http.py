import re
import urllib.parse

import pytest
from support import self_signed
from wan_servers import closed_port, http_server

from agent.wan import http
from agent.wan.targets import Target, parse_status_ranges


def target(url: str, *, timeout: float = 2.0, expected=("200-399",), body: str = "", ca: str = "",
           verify: bool = True, server_name: str = "") -> Target:
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return Target("web", "portal", "http", url, u.hostname, port, 10.0, timeout, scheme=u.scheme,
                  path=(u.path or "/") + (f"?{u.query}" if u.query else ""),
                  expected_status=parse_status_ranges(list(expected)),
                  body_regex=re.compile(body) if body else None, ca_file=ca, tls_verify=verify,
                  server_name=server_name)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="module")
def plain():
    with http_server(slow=1.0) as url:
        yield url


@pytest.fixture(scope="module")
def tls_url(cert):
    with http_server(cert) as url:
        yield url


def test_plain_http_is_up_with_real_phases(plain):
    r = http.probe(target(plain + "/"))
    assert r.ok, r
    assert set(r.phases) == {"dns", "connect", "first_byte", "transfer"}  # no TLS on plain HTTP
    assert all(v >= 0 for v in r.phases.values())
    assert len(r.rtts) == 1 and 0 < r.rtts[0] <= r.phases["connect"]  # the handshake, inside the connect
    assert sum(r.phases.values()) <= r.finished - r.started
    assert r.cert_expiry is None


def test_status_outside_expected_fails_and_a_redirect_is_judged_not_followed(plain):
    r = http.probe(target(plain + "/status/500"))
    assert (r.ok, r.error) == (False, "http_status") and "500" in r.detail
    assert http.probe(target(plain + "/status/302")).ok  # within the default 200-399
    r = http.probe(target(plain + "/status/302", expected=("200",)))
    assert (r.ok, r.error) == (False, "http_status")


def test_body_regex(plain):
    assert http.probe(target(plain + "/", body="sẵn sàng")).ok
    r = http.probe(target(plain + "/", body="bảo trì"))
    assert (r.ok, r.error) == (False, "body_mismatch")


def test_slow_server_is_cut_off_at_the_timeout(plain):
    r = http.probe(target(plain + "/slow", timeout=0.3))
    assert (r.ok, r.error) == (False, "timeout")
    assert "first_byte" not in r.phases and "connect" in r.phases
    assert r.finished - r.started < 1.0  # the server answers after 1s; we stopped waiting before


def test_refused():
    r = http.probe(target(f"http://127.0.0.1:{closed_port()}/"))
    assert (r.ok, r.error) == (False, "refused")


def test_https_with_the_known_certificate(tls_url, cert):
    r = http.probe(target(tls_url + "/", ca=str(cert.cert)))
    assert r.ok, r
    assert set(r.phases) == {"dns", "connect", "tls", "first_byte", "transfer"}
    assert r.cert_expiry == cert.not_after.timestamp()


def test_https_untrusted_fails_unless_verification_is_off(tls_url, cert):
    r = http.probe(target(tls_url + "/"))
    assert (r.ok, r.error) == (False, "tls")
    assert "certificate" in r.detail.lower()
    r = http.probe(target(tls_url + "/", verify=False))
    assert r.ok and r.cert_expiry == cert.not_after.timestamp()


def test_https_name_mismatch_fails(tls_url, cert):
    r = http.probe(target(tls_url + "/", ca=str(cert.cert), server_name="portal.other.test"))
    assert (r.ok, r.error) == (False, "tls")


def test_request_names_the_host_and_port():
    t = target("http://portal.ward.test:8080/a/b?x=1")
    assert http.request_bytes(t).startswith(b"GET /a/b?x=1 HTTP/1.1\r\nHost: portal.ward.test:8080\r\n")
    t = target("https://portal.ward.test/")
    assert b"Host: portal.ward.test\r\n" in http.request_bytes(t)

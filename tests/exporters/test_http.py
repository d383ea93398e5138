"""TLS and basic auth on /metrics, configured with a Prometheus-style web config."""

import base64
import ssl
import urllib.error

import bcrypt
import pytest
from support import http_get, make_cert

from agent.config import ConfigError
from exporters.exposition import Exposition
from exporters.http import MetricsServer
from exporters.webconfig import load_web_config

PASSWORD = "đúng-mật-khẩu"


def _auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def tls_server(tmp_path):
    cert, key = make_cert(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {cert.name}\n  key_file: {key.name}\n"
                   f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    server = MetricsServer("127.0.0.1:0", Exposition(), load_web_config(str(web)))
    server.serve_in_background()
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ctx
    finally:
        server.shutdown()
        server.server_close()


def test_right_credentials_over_tls(tls_server):
    base, ctx = tls_server
    code, body = http_get(f"{base}/metrics", headers=_auth("prometheus", PASSWORD), context=ctx)
    assert code == 200
    assert b"wardwatch_build_info{" in body
    # a second scrape is answered from the credential cache, same answer
    assert http_get(f"{base}/metrics", headers=_auth("prometheus", PASSWORD), context=ctx)[0] == 200


@pytest.mark.parametrize("headers", [
    {}, _auth("prometheus", "sai"), _auth("someone", PASSWORD), {"Authorization": "Basic !!!"},
    {"Authorization": "Bearer x"}, {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
])
def test_wrong_credentials_refused(tls_server, headers):
    base, ctx = tls_server
    code, body = http_get(f"{base}/metrics", headers=headers, context=ctx)
    assert code == 401
    assert b"wardwatch_" not in body


def test_healthz_needs_no_auth(tls_server):
    base, ctx = tls_server
    assert http_get(f"{base}/healthz", context=ctx) == (200, b"ok\n")


def test_plain_http_refused_on_tls_port(tls_server):
    base, _ = tls_server
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        http_get(base.replace("https://", "http://") + "/metrics", timeout=3)


def test_untrusted_certificate_refused_by_client(tls_server, tmp_path):
    base, _ = tls_server
    other, _ = make_cert(tmp_path, "other")
    with pytest.raises(urllib.error.URLError):
        http_get(f"{base}/metrics", context=ssl.create_default_context(cafile=str(other)))


@pytest.mark.parametrize("text,expected", [
    ("tls_server_config:\n  cert_file: a.crt\n", "web.yml: tls_server_config: cert_file and key_file go together"),
    ("basic_auth_users:\n  u: plaintext\n", "web.yml: basic_auth_users.u: not a bcrypt hash"),
    ("tls_server_config:\n  client_auth_type: Maybe\n",
     "web.yml:2: tls_server_config.client_auth_type: expected one of"),
    ("tls_config:\n  cert_file: a\n", "web.yml:1: tls_config: unknown key (did you mean 'tls_server_config'?)"),
    ("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
     "web.yml: tls_server_config.cert_file: cannot load certificate/key"),
    # found with the fuzz targets (fuzz/targets.py, webconfig): each used to pass, then crash the agent at start or
    # split every answer
    ("basic_auth_users:\n  u: $2y$xx$abc\n", "web.yml: basic_auth_users.u: not a bcrypt hash"),
    ("basic_auth_users:\n  u: $2y$99$" + "a" * 53 + "\n", "web.yml: basic_auth_users.u: not a bcrypt hash"),
    ("http_server_config:\n  headers:\n    X-A: \"a\\r\\nSet-Cookie: x=1\"\n",
     "web.yml: http_server_config.headers.X-A: a header value cannot hold line breaks"),
    ("http_server_config:\n  headers:\n    \"X A:\": b\n",
     "web.yml: http_server_config.headers.X A:: not an HTTP header"),
])
def test_bad_web_config(tmp_path, text, expected):
    web = tmp_path / "web.yml"
    web.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_web_config(str(web))
    assert str(e.value).startswith(str(tmp_path / expected)), str(e.value)


def test_gzip_and_404():
    import gzip
    import urllib.request

    server = MetricsServer("127.0.0.1:0", Exposition(), load_web_config(""))
    server.serve_in_background()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        req = urllib.request.Request(f"{base}/metrics", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert b"wardwatch_build_info" in gzip.decompress(r.read())
        assert http_get(f"{base}/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_authenticator_checks_each_credential_with_bcrypt_once(monkeypatch):
    from exporters import http as http_mod

    hashed = bcrypt.hashpw(b"good", bcrypt.gensalt(5))
    auth = http_mod.Authenticator({"prometheus": hashed})
    assert auth._dummy.startswith(b"$2b$05$")  # unknown users cost as much as known ones
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(http_mod.bcrypt, "checkpw", lambda p, h: calls.append(h) or real(p, h))
    good, bad = _auth("prometheus", "good")["Authorization"], _auth("prometheus", "bad")["Authorization"]
    assert [auth.check(good) for _ in range(3)] == [True, True, True]
    assert [auth.check(bad) for _ in range(3)] == [False, False, False]
    assert auth.check(_auth("nobody", "good")["Authorization"]) is False
    assert len(calls) == 3  # one per distinct credential, not one per request
    assert calls[2] == auth._dummy


def test_web_config_not_utf8_is_one_line(tmp_path):
    # found with the fuzz targets: a Latin-1 web config used to leak UnicodeDecodeError (a traceback at start)
    web = tmp_path / "web.yml"
    web.write_bytes(b"basic_auth_users:\n  ng\xf4: x\n")
    with pytest.raises(ConfigError) as e:
        load_web_config(str(web))
    assert str(e.value) == f"{web}: not UTF-8 text (byte 22)"

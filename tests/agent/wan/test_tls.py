import datetime as dt

import pytest
from support import self_signed
from wan_servers import http_server

from agent.wan import tls
from agent.wan.targets import Target


def target(port: int, *, ca: str = "", verify: bool = True, name: str = "") -> Target:
    return Target("cert", "portal", "tls", "127.0.0.1", "127.0.0.1", port, 10.0, 2.0, ca_file=ca, tls_verify=verify,
                  server_name=name)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_expiry_of_a_trusted_certificate(tmp_path):
    cert = self_signed(tmp_path)
    with http_server(cert) as url:
        r = tls.probe(target(port_of(url), ca=str(cert.cert)))
        assert r.ok, r
        assert r.cert_expiry == cert.not_after.timestamp()
        assert set(r.phases) == {"connect", "tls"} and 0 < r.rtts[0] <= r.phases["connect"]
        r = tls.probe(target(port_of(url), ca=str(cert.cert), name="localhost"))
        assert r.ok


@pytest.mark.parametrize("verify", [True, False])
def test_expired_certificate_fails_only_when_verified(tmp_path, verify):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = self_signed(tmp_path, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=2))
    with http_server(cert) as url:
        r = tls.probe(target(port_of(url), ca=str(cert.cert), verify=verify))
    if verify:
        assert (r.ok, r.error) == (False, "tls") and "expired" in r.detail
    else:
        assert r.ok and r.cert_expiry == cert.not_after.timestamp()

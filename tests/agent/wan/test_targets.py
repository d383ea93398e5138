"""Target options: every mistake is one line naming the file, the line and the key."""

import pytest

from agent import config as cfg
from agent.wan.targets import Target, from_settings

HEAD = "collectors:\n  wan:\n    targets:\n"


def load(items: str, extra: str = ""):
    return cfg.loads(HEAD + items + extra, "agent.yml")


@pytest.mark.parametrize("items, line, key, words", [
    ("      - {kind: tcp, address: 127.0.0.1, port: 80}\n", 4, "targets[0].name", "needs a name"),
    ("      - {name: a, kind: tcp, address: 127.0.0.1}\n", 4, "targets[0].port", "needs a port"),
    ("      - name: a\n        kind: http\n        address: portal.example\n", 6, "targets[0].address", "URL"),
    ("      - {name: a, kind: http, address: 'https://u:p@portal.example/'}\n", 4, "targets[0].address",
     "credentials"),
    ("      - {name: a, kind: http, address: 'https://x.example/', expected_status: ['2xx']}\n", 4,
     "targets[0].expected_status", "200-399"),
    ("      - {name: a, kind: dns, address: 127.0.0.1}\n", 4, "targets[0].query", "needs the name"),
    ("      - {name: a, kind: icmp, address: 127.0.0.1, packets: 20, packet_interval: 1s, interval: 10s}\n", 4,
     "targets[0].packets", "longer than the interval"),
    ("      - {name: a, kind: tcp, address: 127.0.0.1, port: 1, timeout: 20s, interval: 10s}\n", 4,
     "targets[0].timeout", "longer than the interval"),
    ("      - {name: a, kind: tls, address: 127.0.0.1, ca_file: /nonexistent/ca.pem}\n", 4, "targets[0].ca_file",
     "not found"),
    ("      - {name: a, kind: tcp, address: 'http://x/', port: 1}\n", 4, "targets[0].address", "not a URL"),
    # found with the fuzz targets (fuzz/targets.py, config): a broken IPv6 literal leaked ValueError from urlsplit
    ("      - {name: a, kind: http, address: 'https://[portal/'}\n", 4, "targets[0].address", "not a URL"),
    ("      - {name: a, kind: ping, address: 127.0.0.1}\n", 4, "targets[0].kind", "one of"),
    ("      - {name: a, role: router, address: 127.0.0.1}\n", 4, "targets[0].role", "one of"),
    ("      - {name: a, address: 127.0.0.1}\n      - {name: b, address: 127.0.0.2}\n"
     "      - {name: a, address: 127.0.0.3}\n", 6, "targets[2].name", "already used (line 4)"),
])
def test_bad_target_names_file_line_and_key(items, line, key, words):
    with pytest.raises(cfg.ConfigError) as e:
        load(items)
    assert str(e.value).startswith(f"agent.yml:{line}: collectors.wan.{key}: "), str(e.value)
    assert words in str(e.value)


def test_every_kind_becomes_a_typed_target():
    s = load("      - {name: gw, role: gateway, address: 192.0.2.1}\n"
             "      - {name: vdi, role: gateway, kind: tcp, address: '[2001:db8::5]', port: 443}\n"
             "      - {name: portal, role: portal, kind: http, address: 'https://portal.example:8443/a?b=1',"
             " expected_status: ['200', '301-302'], body_regex: 'OK'}\n"
             "      - {name: dns, role: dns, kind: dns, address: 192.0.2.53, query: dichvucong.gov.vn.}\n"
             "      - {name: cert, kind: tls, address: portal.example}\n")
    gw, vdi, portal, dns, cert = (from_settings(t) for t in s.collectors.wan.targets)
    assert (gw.kind, gw.host, gw.packets, gw.interval, gw.timeout) == ("icmp", "192.0.2.1", 5, 30.0, 5.0)
    assert gw.round_bound == pytest.approx(4 * 0.2 + 5.0)
    assert (vdi.host, vdi.port) == ("2001:db8::5", 443)
    assert (portal.scheme, portal.host, portal.port, portal.path) == ("https", "portal.example", 8443, "/a?b=1")
    assert portal.expected_status == ((200, 200), (301, 302)) and portal.body_regex.pattern == "OK"
    assert (dns.port, dns.query, dns.query_type) == (53, "dichvucong.gov.vn", "A")
    assert (cert.port, cert.tls_verify) == (443, True)
    assert isinstance(cert, Target)


def test_thresholds_section_has_defaults_and_is_checked():
    t = cfg.defaults().thresholds
    assert (t.wan_rtt_degraded, t.wan_loss_degraded, t.wan_jitter_degraded, t.wan_failures_down) == (0.2, 0.05, 0.05, 2)
    t = cfg.loads("thresholds:\n  wan_rtt_degraded: 150ms\n  wan_failures_down: 3\n").thresholds
    assert (t.wan_rtt_degraded, t.wan_failures_down) == (0.15, 3)
    with pytest.raises(cfg.ConfigError, match=r"^a.yml:2: thresholds.wan_loss_degraded: must be at most 1"):
        cfg.loads("thresholds:\n  wan_loss_degraded: 5\n", "a.yml")

import socket
import struct
import time

import pytest
from wan_servers import closed_port, dnsmasq, udp_sink

from agent.wan import dns
from agent.wan.targets import Target


def target(port: int, query: str, qtype: str = "A", timeout: float = 2.0) -> Target:
    return Target("dns", "dns", "dns", "127.0.0.1", "127.0.0.1", port, 10.0, timeout, query=query, query_type=qtype)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    records = {"portal.ward.test": "10.20.30.40", "v6.ward.test": "2001:db8::7"}
    with dnsmasq(tmp_path_factory.mktemp("dns"), records, local="ward.test") as port:
        yield port


def test_a_record_resolved_by_a_real_dnsmasq(server):
    answer, rtt, _ = dns.query("127.0.0.1", server, "portal.ward.test", dns.QTYPES["A"], deadline=time.monotonic() + 5)
    assert answer.rcode == 0
    assert answer.addresses(1) == ["10.20.30.40"]
    r = dns.probe(target(server, "portal.ward.test"))
    assert r.ok and r.error == "" and r.received == 1
    assert 0 < r.rtts[0] < 2.0


def test_aaaa_record(server):
    r = dns.probe(target(server, "v6.ward.test", "AAAA"))
    assert r.ok
    answer, _, _ = dns.query("127.0.0.1", server, "v6.ward.test", 28, deadline=time.monotonic() + 5)
    assert answer.addresses(28) == ["2001:db8::7"]


def test_unknown_name_fails_with_the_servers_rcode(server):
    r = dns.probe(target(server, "missing.ward.test"))
    assert not r.ok
    assert r.error == "dns_rcode" and "NXDOMAIN" in r.detail and "REFUSED" not in r.detail


def test_name_without_a_record_of_the_asked_type(server):
    r = dns.probe(target(server, "portal.ward.test", "AAAA"))
    assert not r.ok and r.error == "dns_no_answer", r


def test_closed_port_is_refused_and_a_silent_server_times_out():
    r = dns.probe(target(closed_port(), "portal.ward.test"))
    assert (r.ok, r.error) == (False, "refused")
    with udp_sink() as port:
        r = dns.probe(target(port, "portal.ward.test", timeout=0.3))
    assert (r.ok, r.error) == (False, "timeout")
    assert r.finished - r.started < 2.0  # bounded by the timeout, not by the resolver's


def test_query_encoding_and_a_compressed_answer():
    q = dns.build_query(0x1234, "a.bc.", 1)
    assert q[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert q[12:] == b"\x01a\x02bc\x00\x00\x01\x00\x01"
    # a response: the question, then a CNAME answer pointing at the question name and an A record
    resp = bytearray(struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 2, 0, 0)) + q[12:]
    resp += b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, 4) + b"\x01x\xc0\x0c"
    resp += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.9")
    answer = dns.parse_response(bytes(resp))
    assert (answer.ident, answer.rcode, answer.truncated) == (0x1234, 0, False)
    assert answer.addresses(1) == ["192.0.2.9"]
    with pytest.raises(dns.DNSFormatError):
        dns.parse_response(bytes(resp[:-3]))
    with pytest.raises(ValueError):
        dns.encode_name("x" * 64 + ".test")

"""Where `collectors.wan.auto` finds the default gateway and the DNS servers. The Linux
route table is read inside a namespace this test makes (its own addresses); Windows
output is parsed from the JSON ConvertTo-Json prints for the documented cmdlets."""

import sys

import pytest
from netns import NetNS
from support import REPO

from agent.platform.linux import LinuxPlatform, parse_default_gateway, parse_resolv_conf
from agent.platform.windows import WindowsParseError, WindowsPlatform, parse_network
from agent.wan.targets import auto_targets


def test_default_gateway_from_a_real_route_table_in_a_namespace():
    with NetNS("route") as ns:
        no_default = parse_default_gateway(ns.run("cat", "/proc/net/route").stdout)
        ns.run("ip", "route", "add", "default", "via", ns.here)
        table = ns.run("cat", "/proc/net/route").stdout
        child = ns.run(sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                       "from agent.platform.linux import LinuxPlatform; print(LinuxPlatform().default_gateway())",
                       str(REPO)).stdout.strip()
    assert parse_default_gateway(table) == ns.here
    assert child == ns.here
    assert no_default is None


def test_lowest_metric_default_route_wins():
    table = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
             "eth1\t00000000\t0102000A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
             "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
             "eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n")
    assert parse_default_gateway(table) == "192.0.2.1"


def test_dns_servers_from_resolv_conf_and_behind_systemd_resolved(tmp_path):
    assert parse_resolv_conf("# c\nsearch x\nnameserver 192.0.2.53 # office\nnameserver 2001:db8::53\n") == [
        "192.0.2.53", "2001:db8::53"]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("nameserver 127.0.0.53\noptions edns0\n")
    assert LinuxPlatform(str(tmp_path)).dns_servers() == ["127.0.0.53"]
    (tmp_path / "run/systemd/resolve").mkdir(parents=True)
    (tmp_path / "run/systemd/resolve/resolv.conf").write_text("nameserver 198.51.100.7\nnameserver 198.51.100.8\n")
    assert LinuxPlatform(str(tmp_path)).dns_servers() == ["198.51.100.7", "198.51.100.8"]


@pytest.mark.parametrize("text, expected", [
    ('{"Gateway":"192.168.1.1","Dns":["192.168.1.1","8.8.8.8"]}', ("192.168.1.1", ["192.168.1.1", "8.8.8.8"])),
    ('{"Gateway":["10.0.0.1","10.0.0.2"],"Dns":"10.0.0.53"}', ("10.0.0.1", ["10.0.0.53"])),  # one-element arrays
    ('{"Gateway":null,"Dns":null}', (None, [])),
    ('{"Gateway":"0.0.0.0","Dns":["10.0.0.53","10.0.0.53"]}', (None, ["10.0.0.53"])),
])
def test_windows_network_json(text, expected):
    assert parse_network(text) == expected
    p = WindowsPlatform(run=lambda script: text)
    assert (p.default_gateway(), p.dns_servers()) == expected


def test_windows_garbage_is_a_parse_error():
    for text in ("", "not json", "[1]"):
        with pytest.raises(WindowsParseError):
            parse_network(text)


def test_auto_targets_from_what_the_platform_found():
    gw, dns = auto_targets("192.0.2.1", ["192.0.2.53", "192.0.2.54"], "dichvucong.gov.vn.", 30.0, 5.0, set())
    assert (gw.name, gw.role, gw.kind, gw.host, gw.packets) == ("auto-gateway", "gateway", "icmp", "192.0.2.1", 5)
    assert (dns.name, dns.role, dns.kind, dns.host, dns.port, dns.query) == (
        "auto-dns", "dns", "dns", "192.0.2.53", 53, "dichvucong.gov.vn")
    assert auto_targets(None, [], "x", 30.0, 5.0, set()) == []
    assert [t.name for t in auto_targets("192.0.2.1", ["192.0.2.53"], "x", 30.0, 5.0, {"auto-dns"})] == [
        "auto-gateway"]  # a configured target of that name wins


@pytest.mark.parametrize("dns", ["5", "true", '{"a": 1}'])
def test_windows_dns_of_an_unexpected_type_is_none(dns):
    # found with the fuzz targets: a number where the list of DNS servers goes raised TypeError (not iterable)
    assert parse_network('{"Gateway": "192.0.2.1", "Dns": ' + dns + '}') == ("192.0.2.1", [])


def test_windows_json_nested_too_deep_is_refused():
    # found with the fuzz targets: RecursionError is not a JSONDecodeError
    with pytest.raises(WindowsParseError, match="not JSON"):
        parse_network("[" * 100000)
    with pytest.raises(WindowsParseError, match="not JSON"):
        parse_network('{"Gateway": ' + "1" * 5000 + "}")


def test_route_with_a_gateway_beyond_32_bits_is_skipped():
    # found with the fuzz targets: struct.error from packing a gateway of more than 8 hex digits
    table = ("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
             "eth0\t00000000\t1FFFFFFFF\t0003\t0\t0\t50\t00000000\n"
             "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\n")
    assert parse_default_gateway(table) == "192.168.1.1"

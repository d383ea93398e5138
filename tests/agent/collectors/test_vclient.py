"""The vclient collector against a real dpkg status file, real processes and real sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import psutil
import pytest
from support import free_port, wait_for

from agent import config as cfg
from agent.collectors.base import Context
from agent.collectors.vclient import VclientCollector, find_installed, parse_gateway, running
from agent.platform import Software
from agent.platform.linux import LinuxPlatform, parse_dpkg_status
from agent.report import FAIL, INFO, PASS
from agent.report.vclient import rows
from agent.runner import validate

STATUS = textwrap.dedent("""\
    Package: icaclient
    Status: install ok installed
    Priority: optional
    Architecture: amd64
    Version: 24.5.0.76
    Description: Citrix Workspace app
     A continuation line: Package: not-a-package

    Package: freerdp2-x11
    Status: deinstall ok config-files
    Version: 2.10.0+dfsg1-1

    Package: omnissa-horizon-client
    Status: install ok half-configured
    Version: 2406-8.13.0
    """)


def test_parse_dpkg_status_keeps_only_installed():
    assert parse_dpkg_status(STATUS) == [Software("icaclient", "24.5.0.76")]


def collector(tmp_path, **options) -> VclientCollector:
    text = "collectors:\n  vclient:\n" + "".join(f"    {k}: {v!r}\n" if not isinstance(v, list) else
                                                  f"    {k}: {v}\n" for k, v in options.items())
    settings = cfg.loads(text.replace("'", '"'))
    context = Context(settings, LinuxPlatform().configured(settings), str(tmp_path))
    return VclientCollector(settings.collectors.vclient, context)


def values(samples) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}


def test_installed_running_and_gateway(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    script = tmp_path / "wfica"  # a process named like Citrix Workspace's session client
    script.write_text("#!/bin/sh\nsleep 30\n")  # no exec: the shell keeps the name
    script.chmod(0o755)
    gw = socket.socket()
    gw.bind(("127.0.0.1", 0))
    gw.listen()
    proc = subprocess.Popen([str(script)])
    try:
        wait_for(lambda: psutil.Process(proc.pid).name() == "wfica", what="the wfica process")
        c = collector(tmp_path, product="citrix_workspace", dpkg_status=str(status),
                      gateway=f"127.0.0.1:{gw.getsockname()[1]}")
        samples = validate(c.collect())  # every metric catalogued, with its labels
        v = values(samples)
        assert v[("wardwatch_vclient_installed", (("product", "citrix_workspace"),))] == 1
        assert v[("wardwatch_vclient_info", (("product", "citrix_workspace"), ("version", "24.5.0.76")))] == 1
        assert v[("wardwatch_vclient_running", (("product", "citrix_workspace"),))] == 1
        assert v[("wardwatch_vclient_gateway_up", ())] == 1
        assert [r.status for r in rows(list(samples), "en")] == [PASS, PASS, PASS]
    finally:
        proc.kill()
        proc.wait()
        gw.close()
    samples = collector(tmp_path, product="citrix_workspace", dpkg_status=str(status),
                        gateway=f"127.0.0.1:{free_port()}").collect()
    v = values(samples)
    assert v[("wardwatch_vclient_running", (("product", "citrix_workspace"),))] == 0
    assert v[("wardwatch_vclient_gateway_up", ())] == 0
    r = rows(samples, "vi")
    assert [x.status for x in r] == [PASS, INFO, FAIL]  # not running now is a note, not a failure
    assert "kiểm tra đường truyền" in r[2].detail


def test_not_installed_and_package_override(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    samples = collector(tmp_path, product="horizon", dpkg_status=str(status)).collect()
    v = values(samples)
    assert v[("wardwatch_vclient_installed", (("product", "horizon"),))] == 0  # half-configured is not installed
    assert not any(s.name == "wardwatch_vclient_info" for s in samples)
    assert not any(s.name == "wardwatch_vclient_gateway_up" for s in samples)  # no gateway configured
    r = rows(samples, "en")
    assert r[0].status == FAIL and "roll it out again" in r[0].detail
    samples = collector(tmp_path, product="rdp", dpkg_status=str(status), packages=["icaclient"]).collect()
    assert values(samples)[("wardwatch_vclient_installed", (("product", "rdp"),))] == 1


def test_nothing_to_report_without_a_product(tmp_path):
    assert collector(tmp_path).collect() == []


def test_missing_status_file_is_not_installed(tmp_path):
    samples = collector(tmp_path, product="rdp", dpkg_status=str(tmp_path / "none")).collect()
    assert values(samples)[("wardwatch_vclient_installed", (("product", "rdp"),))] == 0


def test_bad_gateway_fails_the_collector(tmp_path):
    with pytest.raises(ValueError, match="HOST:PORT"):
        collector(tmp_path, product="rdp", gateway="gateway.example").collect()
    assert parse_gateway("[::1]:443") == ("::1", 443)


def test_matching_helpers():
    assert running(["bash", "omnissa-horizon"], ["omnissa-horizon-client"])  # comm is cut at 15 chars
    assert running(["SelfService.exe"], ["selfservice.exe"])
    assert not running(["sleep"], ["wfica"])
    sw = [Software("Citrix Workspace 2405", "24.5.0.76", "CitrixOnlinePluginPackWeb")]
    assert find_installed(sw, [], [r"^Citrix Workspace"]) == sw[0]
    assert find_installed(sw, [], [r"^Omnissa Horizon"]) is None


def test_bad_product_is_a_config_error():
    with pytest.raises(cfg.ConfigError, match="collectors.vclient.product"):
        cfg.loads("collectors:\n  vclient:\n    product: citrix\n")
    assert sys.platform  # the collector itself never tests the platform

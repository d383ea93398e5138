"""The scanners collector: SANE's real `test` backend, a SANE listing that hangs,
eSCL scanners served over loopback HTTP, WIA through the Windows platform."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_runs import Run, scanners
from support import need

from agent.platform.linux import LinuxPlatform
from agent.platform.windows import WindowsPlatform


def sane_config(tmp: Path, backends: str = "test\n") -> Path:
    d = tmp / "sane.d"
    d.mkdir(exist_ok=True)
    (d / "dll.conf").write_text(backends)
    return d


def sane_yaml(config_dir: Path, extra: str = "") -> str:
    return (f"collectors:\n  scanners:\n    sane_config_dir: {config_dir}\n"
            f"    sane_command: [{need('scanimage')}, -L]\n{extra}")


def test_sane_test_backend_devices(tmp_path):
    run = Run(scanners(sane_yaml(sane_config(tmp_path)), tmp_path, LinuxPlatform()))
    assert run.ok, run.result.error
    assert run.labels("wardwatch_scanner_up", "scanner") == {"test:0", "test:1"}
    for name in ("test:0", "test:1"):
        assert run.value("wardwatch_scanner_up", scanner=name) == 1
        assert run.value("wardwatch_scanner_info", scanner=name, source="sane", vendor="Noname",
                         model="frontend-tester") == 1
    assert run.labels("wardwatch_scanner_problem", "problem") == set()


def test_scanner_that_vanishes_is_reported_missing(tmp_path):
    config_dir = sane_config(tmp_path)
    collector = scanners(sane_yaml(config_dir), tmp_path, LinuxPlatform())
    assert Run(collector).value("wardwatch_scanner_up", scanner="test:0") == 1
    (config_dir / "dll.conf").write_text("")  # the backend (the device) is gone
    run = Run(collector)
    assert run.ok
    assert run.value("wardwatch_scanner_up", scanner="test:0") == 0
    assert run.labels("wardwatch_scanner_problem", "problem", scanner="test:0") == {"missing"}


def test_hanging_sane_listing_is_killed_and_the_collection_fails(tmp_path):
    pidfile = tmp_path / "scanimage.pid"
    fake = tmp_path / "scanimage"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 120\n")
    fake.chmod(0o755)
    cfg = (f"collectors:\n  scanners:\n    sane_config_dir: {sane_config(tmp_path)}\n"
           f"    sane_command: [{fake}, -L]\n    local_timeout: 1s\n")
    run = Run(scanners(cfg, tmp_path, LinuxPlatform()), timeout=30)
    assert not run.ok
    assert "did not answer within 1s and was killed" in run.result.error
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sane_listing_that_fails(tmp_path):
    cfg = (f"collectors:\n  scanners:\n    sane_config_dir: {sane_config(tmp_path)}\n"
           f"    sane_command: [{tmp_path / 'no-such-scanimage'}, -L]\n")
    run = Run(scanners(cfg, tmp_path, LinuxPlatform()))
    assert not run.ok
    assert "cannot run" in run.result.error and "no such file" in run.result.error


def test_no_sane_on_this_pc_is_nothing_to_report(tmp_path):
    cfg = (f"collectors:\n  scanners:\n    sane_config_dir: {sane_config(tmp_path)}\n"
           "    sane_command: [wardwatch-no-such-scanimage, -L]\n")
    run = Run(scanners(cfg, tmp_path, LinuxPlatform()))
    assert run.ok and run.samples == []


def test_default_sane_config_keeps_network_backends_out(tmp_path):
    """The default runs SANE without its network backends: with `net` and `escl` listed
    next to `test`, only the test devices show up and nothing is asked of the network."""
    config_dir = sane_config(tmp_path, "net\nescl\ntest\n")
    (config_dir / "net.conf").write_text("192.0.2.1\n")  # would be contacted if net were loaded
    run = Run(scanners(sane_yaml(config_dir), tmp_path, LinuxPlatform()))
    assert run.ok, run.result.error
    assert run.labels("wardwatch_scanner_up", "scanner") == {"test:0", "test:1"}


# --- eSCL over loopback HTTP ------------------------------------------------------------------

# ScannerStatus and ScannerCapabilities as in the Mopria eSCL specification's examples.
STATUS = """<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerStatus xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"
    xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">
  <pwg:Version>2.6</pwg:Version>
  <pwg:State>{state}</pwg:State>
  <scan:AdfState>{adf}</scan:AdfState>
  <scan:Jobs/>
</scan:ScannerStatus>
"""
CAPABILITIES = """<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerCapabilities xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"
    xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">
  <pwg:Version>2.6</pwg:Version>
  <pwg:MakeAndModel>Canon imageFORMULA DR-C230</pwg:MakeAndModel>
  <pwg:SerialNumber>ABC123</pwg:SerialNumber>
  <scan:Manufacturer>Canon</scan:Manufacturer>
</scan:ScannerCapabilities>
"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<scan:ScannerStatus xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"
  xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm"><pwg:State>&lol3;</pwg:State></scan:ScannerStatus>
"""


@contextlib.contextmanager
def escl_server(pages: dict[str, str]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/eSCL"
    finally:
        server.shutdown()
        server.server_close()


def escl_yaml(url: str, name: str = "Máy quét một cửa") -> str:
    return (f"collectors:\n  scanners:\n    local: false\n    escl:\n"
            f"      - name: {json.dumps(name, ensure_ascii=False)}\n        url: {url}\n        timeout: 2s\n")


def test_escl_scanner_states(tmp_path):
    name = "Máy quét một cửa"
    pages = {"/eSCL/ScannerStatus": STATUS.format(state="Idle", adf="ScannerAdfLoaded"),
             "/eSCL/ScannerCapabilities": CAPABILITIES}
    with escl_server(pages) as url:
        collector = scanners(escl_yaml(url), tmp_path)
        run = Run(collector)
        assert run.ok, run.result.error
        assert run.value("wardwatch_scanner_up", scanner=name) == 1
        assert run.value("wardwatch_scanner_info", scanner=name, source="escl", vendor="Canon",
                         model="imageFORMULA DR-C230") == 1
        pages["/eSCL/ScannerStatus"] = STATUS.format(state="Processing", adf="ScannerAdfJam")
        run = Run(collector)
        assert run.value("wardwatch_scanner_up", scanner=name) == 1  # the flatbed still scans
        assert run.labels("wardwatch_scanner_problem", "problem", scanner=name) == {"adf_jam"}
        pages["/eSCL/ScannerStatus"] = STATUS.format(state="Stopped", adf="ScannerAdfHatchOpen")
        run = Run(collector)
        assert run.value("wardwatch_scanner_up", scanner=name) == 0
        assert run.labels("wardwatch_scanner_problem", "problem", scanner=name) == {"stopped", "adf_door_open"}
        pages["/eSCL/ScannerStatus"] = BILLION_LAUGHS
        run = Run(collector)
        assert run.value("wardwatch_scanner_up", scanner=name) == 0
        assert run.labels("wardwatch_scanner_problem", "problem", scanner=name) == {"unreachable"}
    run = Run(collector)  # the scanner is gone
    assert run.ok
    assert run.labels("wardwatch_scanner_problem", "problem", scanner=name) == {"unreachable"}


# --- WIA through the Windows platform (documented output) --------------------------------------

WIA_JSON = json.dumps({
    "Wia": [
        {"DeviceID": "{6BDD1FC6-810F-11D0-BEC7-08002BE2092F}\\0000", "Type": 1, "Name": "Canon LiDE 300",
         "Manufacturer": "Canon", "Description": "Canon LiDE 300"},
        {"DeviceID": "{6BDD1FC6-810F-11D0-BEC7-08002BE2092F}\\0001", "Type": 2, "Name": "Webcam",
         "Manufacturer": "Logitech", "Description": "HD Webcam"},
    ],
    "WiaError": "",
    "Pnp": [{"Name": "EPSON DS-530", "Manufacturer": "EPSON", "Status": "Error", "ConfigManagerErrorCode": 28}],
})


def test_wia_scanners(tmp_path):
    run = Run(scanners("", tmp_path, WindowsPlatform(run=lambda script: WIA_JSON)))
    assert run.ok, run.result.error
    assert run.labels("wardwatch_scanner_up", "scanner") == {"Canon LiDE 300", "EPSON DS-530"}
    assert run.value("wardwatch_scanner_up", scanner="Canon LiDE 300") == 1
    assert run.value("wardwatch_scanner_up", scanner="EPSON DS-530") == 0
    assert run.labels("wardwatch_scanner_problem", "problem", scanner="EPSON DS-530") == {"device_error"}


def test_wia_service_stopped_fails_the_collection(tmp_path):
    broken = json.dumps({"Wia": None, "WiaError": "Exception from HRESULT: 0x80210015", "Pnp": None})
    run = Run(scanners("", tmp_path, WindowsPlatform(run=lambda script: broken)))
    assert not run.ok
    assert "WIA is not available" in run.result.error


@pytest.mark.parametrize("url", ["http://[scanner/eSCL", "http:///eSCL", "http://scanner:port/eSCL", "eSCL"])
def test_escl_url_that_is_no_url_is_a_config_error(url):
    # found with the fuzz targets (fuzz/targets.py, config): these passed the check, then every collection failed
    from agent import config as cfg

    with pytest.raises(cfg.ConfigError) as e:
        cfg.loads(f"collectors:\n  scanners:\n    escl:\n      - name: a\n        url: '{url}'\n", "agent.yml")
    assert str(e.value).startswith("agent.yml:5: collectors.scanners.escl[0].url: expected an http:// or https://")

"""The systemd unit runs the agent hardened, as its own unprivileged user; the wheel builds cleanly."""

import configparser
import os
import subprocess
import sys
import zipfile

from support import REPO, copy_clone


def test_systemd_unit_is_hardened():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(REPO / "packaging/systemd/wardwatch-agent.service")
    s = unit["Service"]
    assert s["User"] == "wardwatch" and s["Group"] == "wardwatch"
    assert s["ExecStart"].split()[1:] == ["run", "--config", "/etc/wardwatch/agent.yml"]
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    for key, value in {"NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true",
                       "PrivateTmp": "true", "CapabilityBoundingSet": "CAP_NET_RAW",
                       "RestrictSUIDSGID": "true", "StateDirectory": "wardwatch"}.items():
        assert s[key] == value, key


def test_wheel_builds_without_deprecation_warnings(tmp_path):
    """pip builds the wheel (setuptools from [build-system], in isolation, as every install does) with
    no deprecation in its output, e.g. setuptools' "By 2027-Feb-18 ..." for a `license` table; the
    license is an SPDX expression with its text in the wheel (PEP 639)."""
    src = copy_clone(tmp_path / "src")  # a copy: setuptools writes build/ and *.egg-info beside the sources
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--wheel-dir", str(tmp_path / "w"),
                        str(src)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "deprecat" not in out.lower(), [line for line in out.splitlines() if "eprecat" in line][:5]
    (wheel,) = (tmp_path / "w").glob("wardwatch-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

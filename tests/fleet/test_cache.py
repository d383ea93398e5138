"""The district cache (`wardwatch cache build|check`): built once from this source tree and
PyPI for the example inventory (Windows and Linux PCs), then proven installable the way each
PC installs: pip with --no-index --find-links, the PC's platform and Python version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from support import REPO

from fleet.cache.build import LINUX_PYTHONS, MANYLINUX, WINDOWS_PYTHONS, Target, requirements_for

# Supported Pythons (the issue): Windows PCs get the embeddable 3.11-3.13; Linux PCs their distribution's
# python3 (Ubuntu 22.04: 3.10, Debian 12: 3.11, Ubuntu 24.04: 3.12, Debian 13: 3.13).
assert WINDOWS_PYTHONS == ("3.11", "3.12", "3.13")
assert LINUX_PYTHONS == ("3.10", "3.11", "3.12", "3.13")


def wardwatch(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


def offline_env() -> dict[str, str]:
    """No pip config, no index, no find-links but the cache: what a PC without Internet has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache") / "district"
    r = wardwatch("cache", "build", "--out", str(out), "-i", str(REPO / "inventory"), "--lang", "en")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "downloading for win_amd64 Python 3.13" in r.stderr  # progress on stderr
    assert "Built the cache" in r.stdout
    return out


def dry_run(cache: Path, target: Path, platform: str, version: str, *reqs: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--find-links",
                           str(cache / "wheels"), "--platform", platform, "--python-version", version,
                           "--only-binary=:all:", "--target", str(target), *reqs],
                          capture_output=True, text=True, env=offline_env(), timeout=600)


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_a_windows_pc_installs_the_agent_from_the_cache(cache, tmp_path, version):
    r = dry_run(cache, tmp_path / "t", "win_amd64", version, "wardwatch")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Would install" in r.stdout and "wardwatch-0.1.0" in r.stdout
    # The compiled dependencies are Windows wheels for this very interpreter (PyYAML has no abi3 wheel).
    tag = "cp" + version.replace(".", "")
    names = [p.name.lower() for p in (cache / "wheels").iterdir()]
    assert any(re.fullmatch(rf"pyyaml-[\d.]+-{tag}-{tag}-win_amd64\.whl", n) for n in names), names
    # The embeddable Python has no pip: the role runs pip from its wheel, which is in the cache.
    assert any(re.fullmatch(r"pip-[\d.]+-py3-none-any\.whl", n) for n in names), names


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_a_linux_pc_installs_the_agent_from_the_cache(cache, tmp_path, version):
    r = dry_run(cache, tmp_path / "t", MANYLINUX, version, "wardwatch")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wardwatch-0.1.0" in r.stdout


def test_an_interpreter_the_cache_was_not_built_for_gets_nothing(cache, tmp_path):
    """The proof above means something: a platform left out of the build cannot install."""
    r = dry_run(cache, tmp_path / "t", "macosx_11_0_arm64", "3.12", "wardwatch")
    assert r.returncode != 0


def test_markers_are_evaluated_for_the_target_not_the_operators_machine():
    reqs = [Requirement('pywin32>=306; sys_platform == "win32"'), Requirement("PyYAML>=6.0"),
            Requirement('uvloop; sys_platform == "linux"'), Requirement('pytest; extra == "test"')]
    assert requirements_for(reqs, Target("win_amd64", "3.11")) == ["pywin32>=306", "PyYAML>=6.0"]
    assert requirements_for(reqs, Target(MANYLINUX, "3.11")) == ["PyYAML>=6.0", "uvloop"]


def fill_operator_files(cache: Path) -> dict:
    """What the operator does: put every file named in manifest.yml 'files' and write its SHA-256."""
    import hashlib

    data = yaml.safe_load((cache / "manifest.yml").read_text(encoding="utf-8"))
    for i, entry in enumerate(data["files"]):
        content = f"installer {i}".encode()
        (cache / entry["file"]).parent.mkdir(parents=True, exist_ok=True)
        (cache / entry["file"]).write_bytes(content)
        entry["sha256"] = hashlib.sha256(content).hexdigest()
    (cache / "manifest.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return data


def test_the_manifest_lists_what_pip_cannot_provide(cache):
    data = yaml.safe_load((cache / "manifest.yml").read_text(encoding="utf-8"))
    names = {e["name"] for e in data["files"]}
    assert {"python-embed", "nssm"} <= names
    # The virtualized client's installers the example inventory names (inventory/group_vars), with
    # their SHA-256 from it, at the top of the cache where the virtual_client role fetches them.
    installers = {e["file"]: e["sha256"] for e in data["files"] if e["name"].startswith("virtual-client")}
    assert installers == {
        "icaclient_24.5.0.76_amd64.deb": "0c2d6f4b8d1e9a7f3b5c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c",
        "CitrixWorkspaceApp-2405.exe": "7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
        # Sóc Sơn (Horizon): its Linux PCs, and its Windows PC ss-minhtri-02.
        "omnissa-horizon-client_2406-8.13.0_amd64.deb":
            "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d",
        "VMware-Horizon-Client-2406-8.13.0.exe": "1f2e3d4c5b6a79881726354a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8",
    }
    listed = {e["file"] for e in data["wheels"]}
    assert listed == {f"wheels/{p.name}" for p in (cache / "wheels").glob("*.whl")}


def test_check_refuses_a_wrong_sha256_naming_the_file(cache, tmp_path):
    copy = tmp_path / "district"
    shutil.copytree(cache, copy)
    r = wardwatch("cache", "check", str(copy), "--lang", "en")
    assert r.returncode == 1 and "file missing" in r.stdout  # the operator has not filled it yet
    data = fill_operator_files(copy)
    r = wardwatch("cache", "check", str(copy), "--lang", "en")
    assert r.returncode == 0, r.stdout + r.stderr
    # One byte of the embeddable Python changed: refused, by name.
    embed = next(e for e in data["files"] if e["name"] == "python-embed")
    (copy / embed["file"]).write_bytes(b"installer 0 but tampered")
    r = wardwatch("cache", "check", str(copy), "--lang", "en")
    assert r.returncode == 1
    assert f"{copy / embed['file']}: wrong SHA-256" in r.stdout
    # A wheel replaced is refused the same way.
    wheel = sorted((copy / "wheels").glob("pyyaml-*"))[0] if sorted((copy / "wheels").glob("pyyaml-*")) \
        else sorted((copy / "wheels").glob("PyYAML-*"))[0]
    wheel.write_bytes(b"not the wheel")
    r = wardwatch("cache", "check", str(copy), "--lang", "vi")
    assert r.returncode == 1 and f"{wheel}: SHA-256 sai" in r.stdout


def test_check_on_a_malformed_manifest_is_one_line_exit_2(tmp_path):
    (tmp_path / "manifest.yml").write_text("files: [oops\n", encoding="utf-8")
    r = wardwatch("cache", "check", str(tmp_path), "--lang", "en")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "manifest.yml" in r.stderr


def test_the_roles_install_steps_work_offline_from_the_cache(cache, tmp_path):
    """The Windows tasks' steps, run here with this machine's Python (the same commands; the
    cache's pure-Python and this platform's wheels): pip run from its own wheel (the embeddable
    Python has no pip), --no-index --find-links, --target lib; then `-m agent` with lib on the
    path only, isolated from this machine's site-packages (-I -S, as the ._pth file does)."""
    (pip_wheel,) = (cache / "wheels").glob("pip-*.whl")
    lib = tmp_path / "lib"
    r = subprocess.run([sys.executable, "-I", "-S", str(pip_wheel / "pip"), "install", "--disable-pip-version-check",
                        "--no-index", "--find-links", str(cache / "wheels"), "--only-binary=:all:", "--upgrade",
                        "--target", str(lib), "wardwatch==0.1.0"],
                       capture_output=True, text=True, env=offline_env(), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (lib / "wardwatch-0.1.0.dist-info").is_dir()  # what the role's `creates:` looks for
    run_agent = (f"import sys; sys.path[:0] = [{str(lib)!r}]; "
                 "import runpy; runpy.run_module('agent', run_name='__main__')")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", run_agent, "print-config"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "web:" in r.stdout and "listen:" in r.stdout
    assert str(lib) in subprocess.run([sys.executable, "-I", "-S", "-c", run_agent.replace(
        "runpy.run_module('agent', run_name='__main__')", "import agent; print(agent.__file__)")],
        capture_output=True, text=True, timeout=60).stdout

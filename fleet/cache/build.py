"""`wardwatch cache build`: the agent's wheel and its dependencies for every platform the
inventory's PCs run, fetched with pip's --platform/--python-version/--only-binary.

pip evaluates environment markers (`; sys_platform == "win32"`) against the machine it runs
on, not the target platform, so the agent's own requirements are evaluated here for each
target and passed to pip explicitly; the agent's wheel itself is fetched with --no-deps.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.cache import manifest
from fleet.errors import EXIT_FAIL, EXIT_USAGE, FleetError
from fleet.inventory import Host

if TYPE_CHECKING:  # packaging (with ansible-core, the fleet extra) is imported only when a cache is built
    from packaging.requirements import Requirement

# Python versions the agent supports on Windows (the embeddable package the role installs is one of them).
WINDOWS_PYTHONS = ("3.11", "3.12", "3.13")
# Linux PCs use their distribution's python3: Ubuntu 22.04 3.10, Debian 12 3.11, Ubuntu 24.04 3.12, Debian 13 3.13.
LINUX_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# glibc 2.28 or newer (Debian 10+, Ubuntu 20.04+); pip also accepts the older manylinux tags under it.
MANYLINUX = "manylinux_2_28_x86_64"
PIP_TIMEOUT_S = 900

TEXT = {
    "building": {"vi": "Đóng gói wheel của agent từ {src}", "en": "Building the agent's wheel from {src}"},
    "step": {"vi": "[{i}/{n}] tải gói cho {platform} Python {version}",
             "en": "[{i}/{n}] downloading for {platform} Python {version}"},
    "pip_failed": {"vi": "pip không tải được gói cho {platform} Python {version} (mã {rc}): {tail}",
                   "en": "pip could not fetch the packages for {platform} Python {version} (exit {rc}): {tail}"},
    "no_source": {"vi": "không tìm thấy mã nguồn (pyproject.toml) để đóng gói: dùng --wheel TỆP",
                  "en": "no source tree (pyproject.toml) to build the wheel from: give --wheel FILE"},
    "bad_wheel": {"vi": "{wheel}: không phải wheel của wardwatch đọc được",
                  "en": "{wheel}: not a readable wardwatch wheel"},
    "no_hosts": {"vi": "kiểm kê {source} không có máy nào: không biết cần gói cho nền tảng nào",
                 "en": "the inventory {source} has no PCs: no platform to fetch packages for"},
}


@dataclass(frozen=True)
class Target:
    platform: str  # win_amd64 or manylinux_2_28_x86_64
    version: str   # 3.11

    @property
    def environment(self) -> dict[str, str]:
        """PEP 508 marker environment of a PC of this platform and Python version."""
        from packaging.markers import default_environment

        env = dict(default_environment())
        windows = self.platform.startswith("win")
        env.update(python_version=self.version, python_full_version=f"{self.version}.0",
                   implementation_name="cpython", platform_python_implementation="CPython",
                   sys_platform="win32" if windows else "linux", os_name="nt" if windows else "posix",
                   platform_system="Windows" if windows else "Linux",
                   platform_machine="AMD64" if windows else "x86_64")
        return env


def is_windows(host: Host) -> bool:
    return ("os_windows" in host.groups or str(host.vars.get("ansible_connection", "")) in ("winrm", "psrp")
            or str(host.vars.get("ansible_shell_type", "")) == "powershell")


def targets_for(hosts: Iterable[Host], windows_pythons: Iterable[str] = WINDOWS_PYTHONS,
                linux_pythons: Iterable[str] = LINUX_PYTHONS) -> list[Target]:
    hosts = list(hosts)
    out: list[Target] = []
    if any(is_windows(h) for h in hosts):
        out += [Target("win_amd64", v) for v in windows_pythons]
    if any(not is_windows(h) for h in hosts):
        out += [Target(MANYLINUX, v) for v in linux_pythons]
    return out


# The virtualized client's installers the inventory names (virtual_client role): file and SHA-256 variables.
INSTALLERS = (("virtual-client-linux", "virtual_client_package_file", "virtual_client_package_sha256", False),
              ("virtual-client-windows", "virtual_client_windows_file", "virtual_client_windows_sha256", True))


def installer_entries(hosts: Iterable[Host]) -> list[dict[str, str]]:
    """One manifest entry per installer the inventory's PCs need, its SHA-256 from the inventory."""
    out: dict[str, dict[str, str]] = {}
    for h in hosts:
        for name, file_var, sha_var, windows in INSTALLERS:
            file = str(h.vars.get(file_var) or "").strip()
            if file and is_windows(h) == windows and h.vars.get("virtual_client_kind") != "none" and file not in out:
                out[file] = {"name": f"{name} {file}", "file": file,
                             "sha256": str(h.vars.get(sha_var) or "").strip().lower(),
                             "source": f"inventory {file_var} / {sha_var} ({h.name})"}
    return list(out.values())


def wheel_requirements(wheel: Path, lang: str = "vi") -> list[Requirement]:
    from packaging.requirements import Requirement

    try:
        with zipfile.ZipFile(wheel) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(z.read(name).decode("utf-8"))
    except (OSError, StopIteration, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise FleetError(TEXT["bad_wheel"][lang].format(wheel=wheel), EXIT_USAGE) from e
    return [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def requirements_for(reqs: Iterable[Requirement], target: Target) -> list[str]:
    """The agent's requirements that apply on the target (extras left out: the agent's own install)."""
    env = target.environment
    out = []
    for r in reqs:
        if r.marker is not None and not r.marker.evaluate({**env, "extra": ""}):
            continue
        out.append(f"{r.name}{r.specifier}")
    return out


def build_wheel(source: Path, out_dir: Path, lang: str, progress: Callable[[str], None]) -> Path:
    if not (source / "pyproject.toml").is_file():
        raise FleetError(TEXT["no_source"][lang], EXIT_USAGE)
    progress(TEXT["building"][lang].format(src=source))
    with tempfile.TemporaryDirectory(prefix="wardwatch-wheel-") as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp, str(source)],
                           capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        built = sorted(Path(tmp).glob("wardwatch-*.whl"))
        if r.returncode != 0 or not built:
            tail = " ".join((r.stderr or r.stdout).split())[-300:]
            raise FleetError(f"pip wheel {source}: {tail}", EXIT_FAIL)
        dest = out_dir / built[0].name
        shutil.copy2(built[0], dest)
    return dest


def source_tree() -> Path:
    """The repository this wardwatch runs from (an editable install), if any."""
    return Path(__file__).resolve().parents[2]


def pip_download(dest: Path, target: Target, requirements: list[str], no_deps: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
           "--dest", str(dest), "--only-binary=:all:", "--implementation", "cp",
           "--platform", target.platform, "--python-version", target.version]
    if no_deps:
        cmd.append("--no-deps")
    return cmd + requirements


def build(out: Path, hosts: list[Host], source_label: str, wheel: Path | None = None, lang: str = "vi",
          windows_pythons: Iterable[str] = WINDOWS_PYTHONS, linux_pythons: Iterable[str] = LINUX_PYTHONS,
          progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> list[Target]:
    targets = targets_for(hosts, windows_pythons, linux_pythons)
    if not targets:
        raise FleetError(TEXT["no_hosts"][lang].format(source=source_label), EXIT_USAGE)
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    (out / "files").mkdir(exist_ok=True)
    if wheel is None:
        wheel = build_wheel(source_tree(), wheels, lang, progress)
    else:
        wheel_requirements(wheel, lang)  # readable, or one clear line
        if wheel.resolve().parent != wheels.resolve():
            shutil.copy2(wheel, wheels / wheel.name)
        wheel = wheels / wheel.name
    reqs = wheel_requirements(wheel, lang)
    for i, t in enumerate(targets, 1):
        progress(TEXT["step"][lang].format(i=i, n=len(targets), platform=t.platform, version=t.version))
        wanted = requirements_for(reqs, t)
        if t.platform.startswith("win"):
            wanted.append("pip")  # the embeddable Python has no pip: the role runs pip from its wheel
        r = subprocess.run(pip_download(wheels, t, wanted), capture_output=True, text=True,
                           timeout=PIP_TIMEOUT_S, check=False)
        if r.returncode != 0:
            tail = " ".join((r.stderr or r.stdout).split())[-400:]
            raise FleetError(TEXT["pip_failed"][lang].format(platform=t.platform, version=t.version,
                                                             rc=r.returncode, tail=tail), EXIT_FAIL)
    entries = [manifest.Entry(name=p.name, file=f"wheels/{p.name}", sha256=manifest.sha256_of(p))
               for p in sorted(wheels.glob("*.whl"))]
    try:
        files = [{"name": e.name, "file": e.file, "sha256": e.sha256, "source": e.source}
                 for e in manifest.load(out, lang)[0]]
    except FleetError:
        files = [dict(f) for f in manifest.OPERATOR_FILES]
    listed = {f["file"] for f in files}
    files += [e for e in installer_entries(hosts) if e["file"] not in listed]
    manifest.write(out, files, entries)
    return targets

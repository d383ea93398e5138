"""Inventory check + file_sd targets for a generated city-sized inventory (50,000 PCs),
against the 3 s target, and Ansible's own parse of the same inventory
(`ansible-inventory --list`, from the same venv) beside our load; then `inventory targets`
on 100,000 PCs against the same 3 s. Quick: 5,000 and 10,000 PCs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import Row
from fleet.inventory import declared_variables, scan_inventory
from fleet.targets import write_targets

TARGET_SECONDS = 3.0


def generate(directory: Path, hosts: int, per_commune: int = 34, communes_per_district: int = 50) -> int:
    districts: dict = {}
    n = 0
    (directory / "group_vars").mkdir(parents=True)
    (directory / "group_vars" / "all.yml").write_text(yaml.safe_dump({
        "wardwatch_agent_port": 10713, "virtual_client_kind": "citrix_workspace",
        "wardwatch_min_spec": {"min_memory_mb": 3500, "min_cpu_cores": 2}}))
    d = 0
    while n < hosts:
        communes = {}
        for c in range(communes_per_district):
            members = {}
            for _ in range(per_commune):
                if n >= hosts:
                    break
                n += 1
                members[f"pc{n:06d}"] = {"ansible_host": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
            if not members:
                break
            name = f"commune_d{d:02d}_c{c:02d}"
            communes[name] = {"vars": {"wardwatch_commune_name": f"Xã {d}-{c}"}, "hosts": members}
            (directory / "group_vars" / f"{name}.yml").write_text("virtual_client_version: '24.5.0.76'\n")
        districts[f"district_d{d:02d}"] = {"vars": {"wardwatch_district_name": f"Huyện {d}"}, "children": communes}
        d += 1
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": districts}}, allow_unicode=True,
                                                        sort_keys=False))
    return n


def ansible_inventory() -> str:
    here = Path(sys.executable).parent / "ansible-inventory"
    return str(here) if here.exists() else shutil.which("ansible-inventory") or "ansible-inventory"


def run(quick: bool) -> list[Row]:
    hosts = 5_000 if quick else 50_000
    big = 10_000 if quick else 100_000
    declared = declared_variables()
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        inv_dir = Path(tmp) / "inventory"
        generate(inv_dir, hosts)
        c0, t0 = time.process_time(), time.perf_counter()
        inv = scan_inventory(inv_dir, declared)
        t1 = time.perf_counter()
        assert not inv.problems, inv.problems[:3]
        assert len(inv.hosts) == hosts
        result = write_targets(inv, Path(tmp) / "sd")
        t2, c2 = time.perf_counter(), time.process_time()
        assert result.targets == hosts
        t3 = time.perf_counter()
        subprocess.run([ansible_inventory(), "-i", str(inv_dir), "--list"], check=True, capture_output=True)
        t4 = time.perf_counter()
        big_dir = Path(tmp) / "big"
        generate(big_dir, big)
        c5, t5 = time.process_time(), time.perf_counter()
        inv = scan_inventory(big_dir, declared)
        result = write_targets(inv, Path(tmp) / "sd-big")
        t6, c6 = time.perf_counter(), time.process_time()
        assert not inv.problems and result.targets == big
    return [
        Row("inventory", f"load + check, {hosts} hosts", t1 - t0, "s", "ansible-inventory --list", t4 - t3),
        Row("inventory", f"targets, {hosts} hosts", t2 - t1, "s", "target (check + targets)", TARGET_SECONDS),
        Row("inventory", f"check + targets, {hosts} hosts", t2 - t0, "s", "target", TARGET_SECONDS),
        Row("inventory", f"check + targets, {big} hosts", t6 - t5, "s", "target", TARGET_SECONDS),
        # CPU seconds: the same work, read apart from what a loaded machine adds to the wall clock
        Row("inventory", f"check + targets, {hosts} hosts, CPU", c2 - c0, "s", "target", TARGET_SECONDS),
        Row("inventory", f"check + targets, {big} hosts, CPU", c6 - c5, "s", "target", TARGET_SECONDS),
    ]

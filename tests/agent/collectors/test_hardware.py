"""Hardware collector: values as psutil sees them, requirements against the spec."""

import math
import socket

import psutil

from agent import config as cfg
from agent.collectors.base import Context
from agent.collectors.hardware import Facts, HardwareCollector, evaluate_spec
from agent.platform import SystemInfo
from agent.platform.linux import LinuxPlatform
from agent.runner import validate

INFO = SystemInfo("pc-01", "Windows 10 Pro", "10.0.19045", "19045", "Dell Inc.", "OptiPlex 3080", "ABC123",
                  "Intel(R) Core(TM) i3-10100 CPU @ 3.60GHz")


def facts(**over):
    base = dict(info=INFO, physical_cores=4, logical_cores=8, cpu_max_hz=3.6e9, memory_total=8 * 2**30,
                memory_available=4 * 2**30, system_disk_free=50 * 2**30)
    return Facts(**{**base, **over})


def spec(text=""):
    return cfg.loads(text, "t.yml").spec


def by_name(reqs):
    return {r.name: r for r in reqs}


def test_requirements_pass_on_a_good_pc():
    reqs = by_name(evaluate_spec(facts(), spec()))
    assert all(r.met for r in reqs.values())
    assert reqs["memory"].value == 8 * 2**30 and reqs["memory"].minimum == 4 * 2**30
    assert reqs["cpu_frequency"].minimum == 1600e6


def test_each_requirement_can_fail():
    s = spec("spec:\n  min_memory: 16GiB\n  min_disk_free: 100GiB\n  min_cpu_cores: 8\n"
             "  min_cpu_frequency_mhz: 4000\n  allowed_os: ['Windows 11']\n")
    reqs = by_name(evaluate_spec(facts(), s))
    assert {n: r.met for n, r in reqs.items()} == {
        "memory": False, "disk_free": False, "cpu_cores": False, "cpu_frequency": False, "os": False}


def test_boundaries_and_unknowns():
    s = spec("spec:\n  min_memory: 8GiB\n  allowed_os: ['windows 10', 'Ubuntu 22.04']\n")
    reqs = by_name(evaluate_spec(facts(cpu_max_hz=math.nan), s))
    assert reqs["memory"].met  # exactly the minimum passes
    assert reqs["os"].met      # prefix match, case-insensitive
    assert not reqs["cpu_frequency"].met  # an unknown value never passes
    linux = SystemInfo("h", "Ubuntu", "22.04", "5.15", "", "", "", "")
    assert by_name(evaluate_spec(facts(info=linux), s))["os"].met
    older = SystemInfo("h", "Ubuntu", "20.04", "5.4", "", "", "", "")
    assert not by_name(evaluate_spec(facts(info=older), s))["os"].met


def _collect(config_text=""):
    settings = cfg.loads(config_text, "t.yml")
    context = Context(settings, LinuxPlatform(), "/tmp")
    return validate(HardwareCollector(settings.collectors.hardware, context).collect())


def test_collect_matches_psutil():
    samples = _collect()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    assert got[("wardwatch_memory_total_bytes", ())] == psutil.virtual_memory().total
    assert got[("wardwatch_cpu_cores", (("kind", "logical"),))] == psutil.cpu_count()
    assert got[("wardwatch_cpu_cores", (("kind", "physical"),))] == psutil.cpu_count(logical=False)
    assert got[("wardwatch_boot_time_seconds", ())] == psutil.boot_time()
    root = psutil.disk_usage("/")
    assert got[("wardwatch_disk_size_bytes", (("mountpoint", "/"),))] == root.total
    assert abs(got[("wardwatch_disk_free_bytes", (("mountpoint", "/"),))] - root.free) < 256 * 2**20
    info = next(s for s in samples if s.name == "wardwatch_pc_info")
    assert info.labels["hostname"] == socket.gethostname()
    stats = psutil.net_if_stats()
    up = {s.labels["interface"]: s.value for s in samples if s.name == "wardwatch_network_interface_up"}
    assert "lo" not in up  # excluded by default
    for name, value in up.items():
        assert value == float(stats[name].isup)
    assert got[("wardwatch_spec_ok", ())] == float(all(
        s.value == 1 for s in samples if s.name == "wardwatch_spec_requirement_met"))


def test_spec_from_config_drives_the_series():
    samples = _collect("spec:\n  min_memory: 1TiB\n")
    met = {s.labels["requirement"]: s.value for s in samples if s.name == "wardwatch_spec_requirement_met"}
    assert met["memory"] == 0
    minimum = {s.labels["requirement"]: s.value for s in samples if s.name == "wardwatch_spec_requirement_minimum"}
    assert minimum["memory"] == 2**40
    assert next(s.value for s in samples if s.name == "wardwatch_spec_ok") == 0

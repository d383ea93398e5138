"""Hardware against the minimum spec: CPU, RAM, fixed disks, OS, identity,
uptime, network interfaces; one 0/1 series per requirement of `spec`."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import psutil

from agent.collectors.base import Collector, Sample, sample
from agent.options import Option, Settings
from agent.platform import SystemInfo


@dataclass(frozen=True)
class Requirement:
    name: str
    met: bool
    value: float  # NaN where the requirement is not numeric (os) or the value is unknown
    minimum: float


@dataclass(frozen=True)
class Facts:
    info: SystemInfo
    physical_cores: int
    logical_cores: int
    cpu_max_hz: float
    memory_total: int
    memory_available: int
    system_disk_free: float


def evaluate_spec(facts: Facts, spec: Settings) -> list[Requirement]:
    """Each requirement of `spec` against what was found. An unknown value never passes."""

    def at_least(name: str, value: float, minimum: float) -> Requirement:
        return Requirement(name, not math.isnan(value) and value >= minimum, value, minimum)

    allowed = spec.allowed_os
    os_ok = not allowed or any(facts.info.os_string.lower().startswith(a.lower()) for a in allowed)
    return [
        at_least("memory", facts.memory_total, spec.min_memory),
        at_least("disk_free", facts.system_disk_free, spec.min_disk_free),
        at_least("cpu_cores", facts.physical_cores, spec.min_cpu_cores),
        at_least("cpu_frequency", facts.cpu_max_hz, spec.min_cpu_frequency_mhz * 1e6),
        Requirement("os", os_ok, math.nan, math.nan),
    ]


class HardwareCollector(Collector):
    name = "hardware"
    help = "CPU, memory, disks, OS, identity, uptime and network interfaces, against the minimum spec."
    options = (
        Option("interfaces_exclude", "regex", r"^(lo|veth.*|docker.*|br-.*|virbr.*|ifb\d+)$",
               "Network interfaces not reported (virtual and loopback ones)."),
    )
    default_interval = 60.0
    default_timeout = 30.0

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self._exclude = re.compile(settings.interfaces_exclude)

    def facts(self) -> tuple[Facts, list[str]]:
        platform = self.context.platform
        spec = self.context.config.spec
        freq = psutil.cpu_freq()
        mhz = (freq.max or freq.current) if freq else math.nan
        mem = psutil.virtual_memory()
        system_disk = spec.system_disk or platform.system_disk()
        try:
            disk_free = float(psutil.disk_usage(system_disk).free)
        except OSError:
            disk_free = math.nan
        facts = Facts(
            info=platform.system_info(),
            physical_cores=psutil.cpu_count(logical=False) or 0,
            logical_cores=psutil.cpu_count(logical=True) or 0,
            cpu_max_hz=mhz * 1e6 if mhz else math.nan,
            memory_total=mem.total,
            memory_available=mem.available,
            system_disk_free=disk_free,
        )
        return facts, platform.fixed_disks()

    def collect(self) -> list[Sample]:
        facts, disks = self.facts()
        i = facts.info
        out = [
            sample("wardwatch_pc_info", 1, hostname=i.hostname, os_name=i.os_name, os_version=i.os_version,
                   os_build=i.os_build, vendor=i.vendor, model=i.model, serial=i.serial, cpu_model=i.cpu_model),
            sample("wardwatch_cpu_cores", facts.physical_cores, kind="physical"),
            sample("wardwatch_cpu_cores", facts.logical_cores, kind="logical"),
            sample("wardwatch_cpu_frequency_max_hertz", facts.cpu_max_hz),
            sample("wardwatch_memory_total_bytes", facts.memory_total),
            sample("wardwatch_memory_available_bytes", facts.memory_available),
        ]
        for mountpoint in disks:
            try:
                usage = psutil.disk_usage(mountpoint)
            except OSError:
                continue  # unmounted between listing and reading: simply not there now
            out.append(sample("wardwatch_disk_size_bytes", usage.total, mountpoint=mountpoint))
            out.append(sample("wardwatch_disk_free_bytes", usage.free, mountpoint=mountpoint))
        boot = psutil.boot_time()
        out.append(sample("wardwatch_boot_time_seconds", boot))
        out.append(sample("wardwatch_uptime_seconds", max(0.0, time.time() - boot)))
        for name, st in sorted(psutil.net_if_stats().items()):
            if self._exclude.match(name):
                continue
            out.append(sample("wardwatch_network_interface_up", int(st.isup), interface=name))
            out.append(sample("wardwatch_network_interface_speed_bytes", st.speed * 1e6 / 8, interface=name))
        requirements = evaluate_spec(facts, self.context.config.spec)
        for r in requirements:
            out.append(sample("wardwatch_spec_requirement_met", int(r.met), requirement=r.name))
            if not math.isnan(r.minimum):
                out.append(sample("wardwatch_spec_requirement_value", r.value, requirement=r.name))
                out.append(sample("wardwatch_spec_requirement_minimum", r.minimum, requirement=r.name))
        out.append(sample("wardwatch_spec_ok", int(all(r.met for r in requirements))))
        return out

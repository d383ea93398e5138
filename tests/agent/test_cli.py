"""wardwatch-agent's commands as an operator runs them."""

import json
import signal
import subprocess
import sys

from support import REPO, agent, agent_cmd, http_get, parse_metrics, wait_for

# This machine has no printer or scanner: those collectors are off so only the spec decides.
NO_DEVICES = "collectors:\n  printers:\n    enabled: false\n  scanners:\n    enabled: false\n"
FAILING = NO_DEVICES + "spec:\n  min_memory: 1TiB\n  allowed_os: ['Windows 11']\n"


def run(*args, config=None, tmp=None):
    cmd = agent_cmd(*args)
    if config is not None:
        path = tmp / "agent.yml"
        path.write_text(config)
        cmd += ["--config", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_check_passes_in_vietnamese_by_default(tmp_path):
    p = run("check", config=NO_DEVICES + "spec:\n  min_memory: 1MiB\n  min_disk_free: 1MiB\n  min_cpu_cores: 1\n"
                            "  min_cpu_frequency_mhz: 1\n", tmp=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[ĐẠT]" in p.stdout and "Bộ nhớ RAM" in p.stdout
    assert "Kết quả: ĐẠT" in p.stdout
    assert "KHÔNG ĐẠT" not in p.stdout


def test_check_fails_with_value_found_and_needed_in_english(tmp_path):
    p = run("check", "--lang", "en", config=FAILING, tmp=tmp_path)
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    mem = next(line for line in lines if "Memory (RAM)" in line)
    assert mem.startswith("[FAIL]") and "needs ≥ 1024.0 GiB" in mem
    osl = next(line for line in lines if "Operating system" in line)
    assert osl.startswith("[FAIL]") and "not in the allowed list" in osl
    assert "Result: FAIL — 2 item(s) need attention" in p.stdout


def test_check_json_is_for_machines(tmp_path):
    p = run("check", "--format", "json", config=FAILING, tmp=tmp_path)
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["ok"] is False
    items = {i["key"]: i for i in doc["items"]}
    assert items["memory"]["status"] == "fail" and items["memory"]["area"] == "hardware"
    assert items["cpu_cores"]["status"] in ("pass", "fail")
    assert doc["collectors"]["hardware"]["success"] is True


def test_help_explains():
    p = subprocess.run(agent_cmd("--help"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 0
    for word in ("run", "check", "print-config", "exit codes", "Báo cáo"):
        assert word in p.stdout
    p = subprocess.run(agent_cmd("run", "--help"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert "--listen" in p.stdout and "--config" in p.stdout


def test_sighup_reloads_and_a_bad_reload_keeps_the_last_good_config(tmp_path):
    config = tmp_path / "agent.yml"
    with agent(tmp_path, "spec:\n  min_memory: 1MiB\n") as (proc, base):
        config = tmp_path / "agent.yml"

        def minimum():
            m = parse_metrics(http_get(f"{base}/metrics")[1].decode())
            return m.get(("wardwatch_spec_requirement_minimum", (("requirement", "memory"),)))

        # each config applies when its collectors have run a round (the hardware collector's, a few
        # seconds on a loaded 2-core machine, once more than 15 s): waits long enough for that
        wait_for(lambda: minimum() == 2**20, timeout=60, what="first config applied")
        config.write_text("spec:\n  min_memory: 2MiB\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: minimum() == 2 * 2**20, timeout=60, what="reloaded config applied")

        config.write_text("spec:\n  min_memory: lots\n")
        proc.send_signal(signal.SIGHUP)
        log = tmp_path / "agent.log"
        wait_for(lambda: "reload failed, keeping the last good config" in log.read_text(), timeout=60,
                 what="reload refused")
        assert f"{config}:2: spec.min_memory: expected a size" in log.read_text().splitlines()[-1]
        assert proc.poll() is None
        assert minimum() == 2 * 2**20
        assert http_get(f"{base}/healthz")[0] == 200


def test_agent_never_imports_operator_packages():
    code = ("import sys, agent.cli, agent.app, agent.report, exporters.http, exporters.push, exporters.textfile;"
            "import agent.collectors;"
            "bad = [m for m in ('ansible', 'ansible_runner', 'paramiko') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr

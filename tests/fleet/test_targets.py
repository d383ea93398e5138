"""file_sd targets from the inventory, loaded by a real Prometheus: the PCs appear with
their district, commune, role and instance labels, and a running agent is scraped."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from support import REPO, agent_cmd, free_port, http_get, process, prometheus, prometheus_query, wait_for

from fleet.inventory import load_inventory
from fleet.targets import file_sd, render


def test_targets_load_into_prometheus(tmp_path):
    up_port, down_port = free_port(), free_port()
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "hosts.yml").write_text(textwrap.dedent(f"""\
        all:
          children:
            district_ba_dinh:
              vars: {{wardwatch_district_name: "Ba Đình"}}
              children:
                commune_phuc_xa:
                  vars: {{wardwatch_commune_name: "Phúc Xá"}}
                  hosts:
                    pc1: {{ansible_host: 127.0.0.1, wardwatch_agent_port: {up_port}}}
                    pc2: {{ansible_host: 127.0.0.1, wardwatch_agent_port: {down_port}}}
        """))
    out = tmp_path / "sd"
    r = subprocess.run([sys.executable, "-m", "fleet", "inventory", "targets", "-i", str(inv), "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    scrape = [{"job_name": "wardwatch", "scrape_interval": "1s",
               "file_sd_configs": [{"files": [str(out / "*.json")], "refresh_interval": "1s"}]}]
    with process(agent_cmd("run", "--listen", f"127.0.0.1:{up_port}"), port=up_port, cwd=REPO), \
            prometheus(tmp_path, scrape) as base:
        def targets():
            doc = json.loads(http_get(f"{base}/api/v1/targets")[1])
            active = doc["data"]["activeTargets"]
            return active if len(active) == 2 and all(t["health"] != "unknown" for t in active) else None

        active = wait_for(targets, timeout=30, what="both targets scraped")
        labels = {t["labels"]["instance"]: (t["labels"], t["health"]) for t in active}
        assert labels["pc1"] == ({"district": "ba_dinh", "commune": "phuc_xa", "role": "pc", "instance": "pc1",
                                  "job": "wardwatch"}, "up")
        assert labels["pc2"][1] == "down"
        result = prometheus_query(base, 'up{district="ba_dinh",commune="phuc_xa",role="pc"}')
        assert {(x["metric"]["instance"], x["value"][1]) for x in result} == {("pc1", "1"), ("pc2", "0")}
        result = prometheus_query(base, 'wardwatch_spec_ok{instance="pc1",district="ba_dinh"}')
        assert len(result) == 1


def test_render_is_stable_and_sorted():
    inv = load_inventory(REPO / "inventory")
    a = {k: render(v) for k, v in file_sd(inv).items()}
    b = {k: render(v) for k, v in file_sd(load_inventory(REPO / "inventory")).items()}
    assert a == b
    instances = [e["labels"]["instance"] for e in json.loads(a["district_ba_dinh"])]
    assert instances == sorted(instances, key=lambda n: (inv.host(n).commune, n))


def test_render_is_json_dumps_sorted():
    entries = [{"targets": ["[2001:db8::1]:10713"], "labels": {"role": "pc", "instance": 'pc "quoted" \\ đ',
                                                               "district": "ba_dinh", "commune": "phuc_xa"}}]
    text = render(entries)
    assert text == "[\n  " + json.dumps(entries[0], sort_keys=True, ensure_ascii=False) + "\n]\n"
    assert json.loads(text) == entries


def test_render_hosts_is_render_of_entries(tmp_path):
    from fleet.targets import entry, render_hosts
    inv = load_inventory(REPO / "inventory")
    inv.hosts[0].vars["ansible_host"] = "2001:db8::1"  # an IPv6 target is bracketed
    assert render_hosts(inv.hosts) == render([entry(h) for h in inv.hosts])
    assert '"[2001:db8::1]:10713"' in render_hosts(inv.hosts)

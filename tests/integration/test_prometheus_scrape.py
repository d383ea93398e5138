"""A real Prometheus scrapes the real agent on loopback."""

import subprocess
import time

import bcrypt
import psutil
from support import agent, http_get, make_cert, need, parse_metrics, prometheus, prometheus_query, wait_for

from exporters import catalogue


def _target(base: str) -> str:
    return base.removeprefix("http://")


def test_prometheus_reads_what_psutil_sees(tmp_path):
    with agent(tmp_path) as (_, base), prometheus(tmp_path, [
        {"job_name": "wardwatch", "static_configs": [{"targets": [_target(base)],
                                                      "labels": {"district": "ba_dinh", "commune": "phuc_xa"}}]},
    ]) as prom:
        wait_for(lambda: prometheus_query(prom, "wardwatch_memory_total_bytes"), timeout=30, what="first scrape")
        [mem] = prometheus_query(prom, "wardwatch_memory_total_bytes")
        assert float(mem["value"][1]) == psutil.virtual_memory().total
        assert mem["metric"]["district"] == "ba_dinh" and mem["metric"]["commune"] == "phuc_xa"
        [cores] = prometheus_query(prom, 'wardwatch_cpu_cores{kind="logical"}')
        assert float(cores["value"][1]) == psutil.cpu_count()
        [boot] = prometheus_query(prom, "wardwatch_boot_time_seconds")
        assert float(boot["value"][1]) == psutil.boot_time()
        [disk] = prometheus_query(prom, 'wardwatch_disk_size_bytes{mountpoint="/"}')
        assert float(disk["value"][1]) == psutil.disk_usage("/").total
        [up] = prometheus_query(prom, 'up{job="wardwatch"}')
        assert up["value"][1] == "1"
        [ok] = prometheus_query(prom, 'wardwatch_collector_success{collector="hardware"}')
        assert ok["value"][1] == "1"
        # the scrape itself reports no warnings (no duplicate or malformed series)
        [samples] = prometheus_query(prom, 'scrape_samples_scraped{job="wardwatch"}')
        assert float(samples["value"][1]) > 20


def test_scrape_matches_catalogue_and_promtool(tmp_path):
    with agent(tmp_path) as (_, base):
        wait_for(lambda: b'wardwatch_collector_success{collector="hardware"} 1.0' in http_get(f"{base}/metrics")[1],
                 what="hardware collected")
        body = http_get(f"{base}/metrics")[1].decode()
    # promtool's linter is clean on a real scrape
    p = subprocess.run([need("promtool"), "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    # nothing emitted that is not catalogued, every default metric emitted
    index = catalogue.sample_index()
    emitted = {name for name, _ in parse_metrics(body)}
    unknown = {n for n in emitted if n not in index}
    assert not unknown, f"emitted but not in exporters/metrics.csv: {sorted(unknown)}"
    families = {index[n][0].name for n in emitted}
    missing = {m.name for m in catalogue.load().values() if m.default} - families
    assert not missing, f"catalogued as default but never emitted: {sorted(missing)}"
    # the series budget on the default config
    assert len(parse_metrics(body)) <= 150


def test_tls_and_basic_auth_with_prometheus(tmp_path):
    cert, key = make_cert(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
                   f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    (tmp_path / "right").write_text("s3cret")
    (tmp_path / "wrong").write_text("guess")
    config = f"web:\n  config_file: {web}\n"
    with agent(tmp_path, config) as (_, base):
        target = _target(base)
        tls = {"ca_file": str(cert)}
        jobs = [
            {"job_name": "right", "scheme": "https", "tls_config": tls,
             "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / "right")},
             "static_configs": [{"targets": [target]}]},
            {"job_name": "wrong", "scheme": "https", "tls_config": tls,
             "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / "wrong")},
             "static_configs": [{"targets": [target]}]},
            {"job_name": "plain", "scheme": "http",
             "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / "right")},
             "static_configs": [{"targets": [target]}]},
        ]
        with prometheus(tmp_path, jobs) as prom:
            def ups():
                res = {r["metric"]["job"]: r["value"][1] for r in prometheus_query(prom, "up")}
                return res if len(res) == 3 else None
            wait_for(ups, timeout=30, what="three jobs scraped")
            time.sleep(2)  # a few more scrapes: the verdicts are stable, not a first-scrape fluke
            assert ups() == {"right": "1", "wrong": "0", "plain": "0"}
            [mem] = prometheus_query(prom, 'wardwatch_memory_total_bytes{job="right"}')
            assert float(mem["value"][1]) == psutil.virtual_memory().total
            assert prometheus_query(prom, 'wardwatch_memory_total_bytes{job="wrong"}') == []

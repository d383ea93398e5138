"""The city tier for tests and benchmarks: a real VictoriaMetrics single-node and vmalert
(Debian's victoria-metrics package), on free loopback ports, with their data in a tmp dir.

Memory is capped (-memory.allowedBytes) so that several can run on a shared machine; every
process started here is stopped when its `with` block ends.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from support import free_port, http_get, need, process


@contextlib.contextmanager
def victoria_metrics(tmp: Path, *, memory: str = "512MiB", extra_args: list[str] | None = None) -> Iterator[str]:
    """A VictoriaMetrics single-node; yields its base URL (Prometheus query API at its root,
    remote write at /api/v1/write, imports at /api/v1/import*)."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [need("victoria-metrics"), f"-storageDataPath={tmp / 'vm-data'}", f"-httpListenAddr=127.0.0.1:{port}",
            f"-memory.allowedBytes={memory}", "-retentionPeriod=1y",
            # tests and benchmarks read what was just written: no 30 s hiding of recent samples, no cache
            "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN", *(extra_args or [])]
    with process(args, log=tmp / "victoria-metrics.log", timeout=30,
                 ready=lambda: http_get(f"{base}/health", timeout=1)[0] == 200):
        yield base


@contextlib.contextmanager
def vmalert(tmp: Path, datasource: str, rule_files: list[Path], *, interval: str = "1s",
            notifier: str | None = None) -> Iterator[str]:
    """vmalert evaluating `rule_files` against `datasource` (a VictoriaMetrics) and writing the
    recorded series (and its alerts' ALERTS series) back into it, sending alerts to the Alertmanager
    at `notifier` (vmalert needs one when a file has alerting rules); yields its base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [need("vmalert"), *(f"-rule={f}" for f in rule_files), f"-datasource.url={datasource}",
            f"-remoteWrite.url={datasource}", "-remoteWrite.flushInterval=1s", f"-evaluationInterval={interval}",
            "-datasource.queryTimeAlignment=false", f"-httpListenAddr=127.0.0.1:{port}", "-loggerLevel=WARN",
            *([f"-notifier.url={notifier}"] if notifier else [])]
    with process(args, log=tmp / "vmalert.log", timeout=30,
                 ready=lambda: http_get(f"{base}/health", timeout=1)[0] == 200):
        yield base


def api(base: str, endpoint: str, params: dict[str, str] | list[tuple[str, str]], timeout: float = 30.0) -> dict:
    """GET /api/v1/<endpoint> of a Prometheus or VictoriaMetrics; its `data`, or AssertionError."""
    code, body = http_get(f"{base}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}", timeout=timeout)
    doc = json.loads(body)
    if code != 200 or doc.get("status") != "success":
        raise AssertionError(f"{base} {endpoint} {params!r}: {code} {body[:300]!r}")
    return doc["data"]

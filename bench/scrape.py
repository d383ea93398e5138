"""/metrics latency (p50/p99 over N scrapes), RSS and series per scrape: the agent
on its default config beside node_exporter on its defaults, in the same run."""

from __future__ import annotations

import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from support import REPO, agent_cmd, free_port, need, parse_metrics, process

from bench.common import Row


def _scrape_many(port: int, n: int) -> tuple[list[float], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - t0)
        assert resp.status == 200
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return times, text


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


def run(quick: bool) -> list[Row]:
    n = 200 if quick else 1000
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-bench-"))
    ap, np_ = free_port(), free_port()
    with process(agent_cmd("run", "--listen", f"127.0.0.1:{ap}"), port=ap, cwd=REPO, log=tmp / "agent.log") as a, \
            process([need("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{np_}"], port=np_,
                    log=tmp / "ne.log") as ne:
        time.sleep(1.0)  # first collections done
        _scrape_many(ap, 20)
        _scrape_many(np_, 20)  # warm both
        at, atext = _scrape_many(ap, n)
        nt, ntext = _scrape_many(np_, n)
        a_rss = psutil.Process(a.pid).memory_info().rss
        ne_rss = psutil.Process(ne.pid).memory_info().rss
    ms = 1000.0
    return [
        Row("scrape", f"p50 latency ({n} scrapes)", _pct(at, 50) * ms, "ms", "node_exporter", _pct(nt, 50) * ms),
        Row("scrape", f"p99 latency ({n} scrapes)", _pct(at, 99) * ms, "ms", "node_exporter", _pct(nt, 99) * ms),
        Row("scrape", "RSS after scrapes", a_rss / 2**20, "MiB", "node_exporter", ne_rss / 2**20),
        Row("scrape", "series per scrape", len(parse_metrics(atext)), "series", "node_exporter",
            len(parse_metrics(ntext))),
        Row("scrape", "series per scrape", len(parse_metrics(atext)), "series", "target (max)", 150),
        Row("scrape", "RSS after scrapes", a_rss / 2**20, "MiB", "target: 2x node_exporter", 2 * ne_rss / 2**20),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from bench.run import table

    print(table(run("--quick" in sys.argv)))

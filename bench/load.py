"""Load on /metrics: 200 concurrent clients (wrk) for 60 s (10 s with --quick) over TLS
with basic auth, beside node_exporter under the same load; then the same load while
another client floods the agent with wrong passwords. Errors, latency and RSS growth."""

from __future__ import annotations

import base64
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import bcrypt
import psutil
from support import REPO, agent_cmd, free_port, http_get, make_cert, need, process

from bench.common import Row

CONNECTIONS = 200


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    cmd = [need("wrk"), "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    res = {"requests": float(re.search(r"(\d+) requests in", out).group(1)),
           "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        res[f"p{q}"] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = float(sum(map(int, errors.groups())) if errors else 0) + float(non2xx.group(1) if non2xx else 0)
    return res


def _flood(url: str, ctx, stop: threading.Event, counter: list[int]) -> None:
    i = 0
    while not stop.is_set() and i < 100_000:
        i += 1
        hdr = {"Authorization": "Basic " + base64.b64encode(f"prometheus:wrong{i}".encode()).decode()}
        code, _ = http_get(url, headers=hdr, context=ctx, timeout=10)
        assert code == 401
        counter[0] += 1


def run(quick: bool) -> list[Row]:
    import ssl

    seconds = 10 if quick else 60
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-load-"))
    cert, key = make_cert(tmp)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(10)).decode()
    web = tmp / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
                   f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    (tmp / "agent.yml").write_text(f"web:\n  config_file: {web}\n")
    auth = {"Authorization": "Basic " + base64.b64encode(b"prometheus:s3cret").decode()}
    ap, np_ = free_port(), free_port()
    url = f"https://127.0.0.1:{ap}/metrics"
    with process(agent_cmd("run", "--listen", f"127.0.0.1:{ap}", "--config", str(tmp / "agent.yml")), port=ap,
                 cwd=REPO, log=tmp / "agent.log") as a, \
            process([need("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{np_}"], port=np_,
                    log=tmp / "ne.log"):
        time.sleep(1)
        proc = psutil.Process(a.pid)
        wrk(url, 2, auth)  # warm up: threads, TLS, the credential cache
        rss0 = proc.memory_info().rss
        ours = wrk(url, seconds, auth)
        rss1 = proc.memory_info().rss
        ref = wrk(f"http://127.0.0.1:{np_}/metrics", seconds)
        stop, count = threading.Event(), [0]
        ctx = ssl.create_default_context(cafile=str(cert))
        flood = threading.Thread(target=_flood, args=(url, ctx, stop, count), daemon=True)
        flood.start()
        attacked = wrk(url, seconds, auth)
        stop.set()
        flood.join(15)
        rss2 = proc.memory_info().rss
    tag = f"{CONNECTIONS} conns, {seconds}s"
    return [
        Row("load", f"requests/s ({tag}, TLS+auth)", ours["rps"], "req/s", "node_exporter (plain)", ref["rps"],
            "higher"),
        Row("load", "p50 latency", ours["p50"], "ms", "node_exporter", ref["p50"]),
        Row("load", "p99 latency", ours["p99"], "ms", "node_exporter", ref["p99"]),
        Row("load", "errors (socket + non-2xx)", ours["errors"], "count",
            "node_exporter (503 past its 40-request cap)", ref["errors"]),
        Row("load", "RSS growth during load", (rss1 - rss0) / 2**20, "MiB", "RSS before load", rss0 / 2**20),
        Row("load", "p99 latency, wrong-password flood", attacked["p99"], "ms", "no flood", ours["p99"]),
        Row("load", "requests/s, wrong-password flood", attacked["rps"], "req/s", "no flood", ours["rps"], "higher"),
        Row("load", "wrong passwords refused during flood", count[0], "count", "-", None, "higher"),
        Row("load", "errors during flood", attacked["errors"], "count", "no flood", ours["errors"]),
        Row("load", "RSS after flood", rss2 / 2**20, "MiB", "RSS before load", rss0 / 2**20),
    ]

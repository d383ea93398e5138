"""Rollout of the agent and a stand-in client to loopback PCs over real SSH: all PCs at
once (forks) against one at a time, and an idempotent re-run against the first run.
Full: 10 PCs; quick: 2."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
import time
from pathlib import Path

import sshhosts  # tests/ is on sys.path (bench/run.py)

from bench.common import Row
from fleet import rollout
from fleet.inventory import load_inventory


@contextlib.contextmanager
def district_cache(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.func.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


def one_run(tmp: Path, names: list[str], cache_url: str, deb: Path, forks: int, runs: int,
            user: str) -> list[float]:
    sha = hashlib.sha256(deb.read_bytes()).hexdigest()
    with sshhosts.fleet(tmp, names) as f:
        inv_path = sshhosts.inventory(f, tmp / "inventory" / "hosts.yml", communes={"bench": names}, group_vars={
            "wardwatch_agent_pip_find_links": cache_url + "wheels/",
            "wardwatch_agent_service_manager": "none",
            "wardwatch_agent_user": user,
            "wardwatch_min_spec": {"min_memory_mb": 256, "min_disk_free_mb": 100, "min_cpu_cores": 1},
            "virtual_client_kind": "citrix_workspace", "virtual_client_linux_method": "dpkg",
            "virtual_client_cache_url": cache_url, "virtual_client_package_file": deb.name,
            "virtual_client_package_sha256": sha, "virtual_client_package_name": "wardwatch-test-vclient",
        })
        inv = load_inventory(inv_path)
        times = []
        for _ in range(runs):
            opts = rollout.Options(inventory=inv_path, forks=forks, serial=["100%"], ssh_retries=0,
                                   state_dir=tmp / "state", known_hosts=f.known_hosts)
            t0 = time.perf_counter()
            result = rollout.run(opts, inv)
            times.append(time.perf_counter() - t0)
            bad = {n: h.status for n, h in result.hosts.items() if h.status not in rollout.DONE_WELL}
            assert not bad, bad
        return times


def run(quick: bool) -> list[Row]:
    n = 2 if quick else 10
    names = [f"pc{i:02d}" for i in range(n)]
    with sshhosts.agent_world("bench") as (root, user):
        cache = root / "cache"
        sshhosts.build_wheelhouse(cache / "wheels")
        deb = sshhosts.build_deb(cache)
        with district_cache(cache) as url:
            first, again = one_run(root / "forks", names, url, deb, forks=n, runs=2, user=user)
            (serial,) = one_run(root / "serial", names, url, deb, forks=1, runs=1, user=user)
    return [
        Row("rollout", f"first run, {n} PCs, forks={n}", first, "s", "forks=1", serial),
        Row("rollout", f"idempotent re-run, {n} PCs", again, "s", "first run", first),
    ]

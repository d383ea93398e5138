"""Helpers for tests that run wardwatch's alerting for real: a webhook receiver, a real
Alertmanager with a copy of alerts/alertmanager.yml, Prometheus configs derived from
alerts/prometheus-district.yml and alerts/prometheus-city.yml, and the rule files rendered
by alerts/generate.py (also with shortened durations for end-to-end runs).

Everything listens on free loopback ports and is stopped afterwards.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from support import REPO, free_port, http_get, need, process

ALERTS = REPO / "alerts"


def generator():
    """alerts/generate.py as a module (it is a script, not part of a package)."""
    name = "wardwatch_alerts_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ALERTS / "generate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def render_rules(out: Path, *, time_scale: float = 1.0, always_office_hours: bool = False) -> dict[str, Path]:
    """The rule files, rendered into `out`: name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in generator().render(time_scale=time_scale, always_office_hours=always_office_hours).items():
        (out / name).write_text(text, encoding="utf-8")
        paths[name] = out / name
    return paths


# ---- webhook receiver ------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    receiver: str          # from the URL path /r/<receiver>
    payload: dict          # Alertmanager's webhook JSON

    def alerts(self, status: str | None = "firing") -> list[dict]:
        return [a for a in self.payload["alerts"] if status is None or a["status"] == status]


class WebhookReceiver:
    """Collects Alertmanager's webhook notifications posted to http://127.0.0.1:<port>/r/<receiver>."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/r/{receiver}"

    def __enter__(self) -> WebhookReceiver:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/r/"):
                    with hook._lock:
                        hook.notifications.append(Notification(self.path[3:], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def received(self, status: str | None = "firing") -> list[tuple[str, dict]]:
        """Every (receiver, alert) received so far with that status."""
        with self._lock:
            return [(n.receiver, a) for n in self.notifications for a in n.alerts(status)]

    def find(self, alertname: str, status: str | None = "firing", **labels: str) -> list[tuple[str, dict]]:
        return [(r, a) for r, a in self.received(status)
                if a["labels"].get("alertname") == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())]


# ---- Alertmanager ----------------------------------------------------------------------

def _walk_routes(route: dict) -> Iterator[dict]:
    yield route
    for r in route.get("routes", []):
        yield from _walk_routes(r)


def alertmanager_test_config(hook: WebhookReceiver, *, group_wait: str = "1s", group_interval: str = "1s",
                             repeat_interval: str = "1h") -> dict:
    """alerts/alertmanager.yml with every receiver sending to `hook` (as /r/<receiver name>)
    instead of e-mail, the ticket system and the SMS gateway, and shorter grouping timers.
    Routes, grouping and inhibition are the production ones."""
    cfg = yaml.safe_load((ALERTS / "alertmanager.yml").read_text(encoding="utf-8"))
    cfg = copy.deepcopy(cfg)
    cfg["global"] = {"resolve_timeout": cfg["global"].get("resolve_timeout", "5m")}
    cfg["templates"] = [str(ALERTS / t) for t in cfg.get("templates", [])]
    for r in cfg["receivers"]:
        r.pop("email_configs", None)
        r["webhook_configs"] = [{"url": hook.url(r["name"]), "send_resolved": True}]
    for route in _walk_routes(cfg["route"]):
        for key, value in (("group_wait", group_wait), ("group_interval", group_interval),
                           ("repeat_interval", repeat_interval)):
            if key in route or route is cfg["route"]:
                route[key] = value
    return cfg


@contextlib.contextmanager
def alertmanager(tmp: Path, config: dict) -> Iterator[str]:
    """A real Alertmanager (no clustering) on a free loopback port; yields its base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg_file = tmp / "alertmanager.yml"
    cfg_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [need("prometheus-alertmanager"), f"--config.file={cfg_file}", f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug"]
    with process(args, log=tmp / "alertmanager.log", timeout=30,
                 ready=lambda: http_get(f"{base}/-/ready", timeout=1)[0] == 200):
        yield base


def post_alerts(am: str, alerts: list[dict]) -> None:
    import urllib.request

    req = urllib.request.Request(f"{am}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        if r.status != 200:
            raise AssertionError(f"posting alerts: HTTP {r.status}")


def am_alerts(am: str) -> list[dict]:
    code, body = http_get(f"{am}/api/v2/alerts", timeout=5)
    if code != 200:
        raise AssertionError(f"GET /api/v2/alerts: HTTP {code}")
    return json.loads(body)


# ---- Prometheus configs derived from the production ones -----------------------------

def _scrape_test_overrides(job: dict, sd_dir: Path) -> dict:
    job = copy.deepcopy(job)
    for sd in job.get("file_sd_configs", []):
        sd["files"] = [str(sd_dir / "*.json")]
        sd["refresh_interval"] = "1s"
    # The simulator speaks plain HTTP without authentication.
    for key in ("scheme", "tls_config", "basic_auth"):
        job.pop(key, None)
    return job


def district_prometheus_config(sd_dir: Path, rules: dict[str, Path], *, alertmanager_url: str | None = None,
                               external_label: str | None = None, interval: str = "1s",
                               remote_write_url: str | None = None) -> dict:
    """alerts/prometheus-district.yml for a test: file_sd from `sd_dir`, the given rule files,
    short intervals, alerts to `alertmanager_url`, its remote_write (the city tier) to `remote_write_url`
    or none. Jobs, relabelling, labels and what is remote-written are the production ones."""
    cfg = yaml.safe_load((ALERTS / "prometheus-district.yml").read_text(encoding="utf-8"))
    cfg["global"].update(scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval)
    if external_label:
        cfg["global"]["external_labels"] = {"prometheus": external_label}
    cfg["rule_files"] = [str(rules[Path(f).name]) for f in cfg["rule_files"]]
    cfg["scrape_configs"] = [_scrape_test_overrides(j, sd_dir) for j in cfg["scrape_configs"]]
    if alertmanager_url:
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_url.split("//", 1)[1]]}]}]}
    else:
        cfg.pop("alerting", None)
    if remote_write_url:
        cfg["remote_write"] = [dict(rw, url=remote_write_url, queue_config={"batch_send_deadline": "1s"})
                               for rw in cfg["remote_write"]]
    else:
        cfg.pop("remote_write", None)  # never towards the production address
    return cfg


def city_prometheus_config(districts: dict[str, str], rules: dict[str, Path], interval: str = "1s") -> dict:
    """alerts/prometheus-city.yml for a test: federating the district servers given as
    {district: "127.0.0.1:port"}, short intervals, no Alertmanager. match[] and labels are the production ones."""
    cfg = yaml.safe_load((ALERTS / "prometheus-city.yml").read_text(encoding="utf-8"))
    cfg["global"].update(scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval)
    cfg["rule_files"] = [str(rules[Path(f).name]) for f in cfg["rule_files"]]
    cfg.pop("alerting", None)
    (job,) = cfg["scrape_configs"]
    job["static_configs"] = [{"targets": [addr], "labels": {"district": d}} for d, addr in districts.items()]
    return cfg


def city_remote_write_example(url: str) -> list[dict]:
    """The remote_write block documented (commented out) at the end of alerts/prometheus-city.yml,
    sending to `url` without the documented authentication (the test receiver has none)."""
    lines = (ALERTS / "prometheus-city.yml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# remote_write:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    (cfg,) = yaml.safe_load("\n".join(block))["remote_write"]
    for key in ("headers", "basic_auth"):
        cfg.pop(key)
    return [dict(cfg, url=url, queue_config={"batch_send_deadline": "1s"})]



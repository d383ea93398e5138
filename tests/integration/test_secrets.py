"""No secret of the config in what the agent shows or writes: every configured secret is
searched for in a real scrape, the agent's own log (at debug level), the textfile, the
store-and-forward buffer on disk, what the receiver and the Pushgateway stored, and the
output of `check` and `print-config`.

Secrets configured: an SNMP community (inline in the config), the Pushgateway and the
remote-write passwords (in files), the endpoint's basic-auth password (its bcrypt hash in
the web config), and a token in the query string of a WAN http target's URL. Pushgateway
and receiver are real and require other passwords, so the agent's requests fail and are
logged; the SNMP printer does not answer, so its failure is logged too.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess

import bcrypt
import yaml
from receiver import Receiver
from support import REPO, agent, agent_cmd, free_port, http_get, need, process, wait_for

from exporters import wal


def test_no_configured_secret_in_metrics_logs_files_or_outputs(tmp_path):
    token = secrets.token_hex(6)
    community = f"comm-{token}"
    push_password = f"push-{token}"
    rw_password = f"rw-{token}"
    web_password = f"web-{token}"
    url_token = f"qt-{token}"
    web_hash = bcrypt.hashpw(web_password.encode(), bcrypt.gensalt(4)).decode()
    secret_values = {"SNMP community": community, "push password": push_password,
                     "remote-write password": rw_password, "basic-auth password": web_password,
                     "URL token": url_token, "basic-auth hash": web_hash}

    (tmp_path / "push.pw").write_text(push_password + "\n")
    (tmp_path / "rw.pw").write_text(rw_password + "\n")
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  prometheus: '{web_hash}'\n")
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    pg_port = free_port()
    pg_web = tmp_path / "pg-web.yml"
    pg_web.write_text(f"basic_auth_users:\n  ward: '{bcrypt.hashpw(b'another', bcrypt.gensalt(4)).decode()}'\n")
    with (process([need("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{pg_port}",
                   f"--web.config.file={pg_web}"], port=pg_port, log=tmp_path / "pg.log"),
          Receiver(tmp_path / "rx", users={"ward": "another"}) as rx):
        config = {
            "state_dir": str(tmp_path / "state"),
            "web": {"config_file": str(tmp_path / "web.yml")},
            "collectors": {
                "printers": {"local_queues": False, "interval": "2s", "printers": [
                    {"name": "Máy in một cửa", "address": "127.0.0.1", "ipp": False, "community": community,
                     "snmp_port": free_port(), "snmp_timeout": "0.2s", "snmp_retries": 0}]},
                "scanners": {"enabled": False},
                "wan": {"interval": "1s", "targets": [
                    {"name": "portal", "role": "portal", "kind": "http", "interval": "1s", "timeout": "0.5s",
                     "address": f"http://127.0.0.1:{free_port()}/dvc?token={url_token}"}]}},
            "push": {"enabled": True, "url": f"http://127.0.0.1:{pg_port}", "interval": "1s",
                     "username": "ward", "password_file": str(tmp_path / "push.pw")},
            "textfile": {"enabled": True, "directory": str(textdir), "interval": "1s"},
            "remote_write": {"enabled": True, "url": rx.write_url, "record_interval": "1s", "username": "ward",
                             "password_file": str(tmp_path / "rw.pw"), "min_backoff": "0.2s", "max_backoff": "1s"},
        }
        text = yaml.safe_dump(config, allow_unicode=True)
        auth = {"Authorization": "Basic " + base64.b64encode(f"prometheus:{web_password}".encode()).decode()}
        with agent(tmp_path, text, extra=["--log-level", "debug"]) as (_, base):
            printer = 'wardwatch_printer_source_up{printer="Máy in một cửa"'.encode()

            def scraped():
                code, body = http_get(f"{base}/metrics", headers=auth)
                ok = code == 200 and printer in body and b"wardwatch_remote_write_send_errors_total" in body
                return body if ok else None
            body = wait_for(scraped, timeout=30, what="a scrape with the printer and remote write")
            assert http_get(f"{base}/metrics", headers={"Authorization": "Basic d3Jvbmc6d3Jvbmc="})[0] == 401
            log_path = tmp_path / "agent.log"
            wait_for(lambda: "remote write" in log_path.read_text() and "push failed" in log_path.read_text()
                     and "portal" in log_path.read_text(), timeout=30, what="the failures logged")
        log = log_path.read_text()
        pushed = http_get(f"http://127.0.0.1:{pg_port}/metrics",
                          headers={"Authorization": "Basic " + base64.b64encode(b"ward:another").decode()})[1]
        stored = json.dumps(rx.query('{__name__=~".+"}'))

    cfg_file = tmp_path / "agent.yml"
    check = subprocess.run(agent_cmd("check", "--config", str(cfg_file), "--lang", "en"), capture_output=True,
                           text=True, timeout=120, cwd=REPO)
    check_json = subprocess.run(agent_cmd("check", "--config", str(cfg_file), "--format", "json"),
                                capture_output=True, text=True, timeout=120, cwd=REPO)
    printed = subprocess.run(agent_cmd("print-config", "--config", str(cfg_file)), capture_output=True, text=True,
                             timeout=60, cwd=REPO)
    assert printed.returncode == 0 and "community: <secret>" in printed.stdout
    buffered = b"".join(p for _, _, _, p in wal.scan(tmp_path / "state" / "remote-write"))  # decompressed

    places = {
        "scrape": body.decode(),
        "agent log": log,
        "textfile": (textdir / "wardwatch.prom").read_text(),
        "buffer on disk": buffered.decode("utf-8", "replace"),
        "Pushgateway": pushed.decode(),
        "receiver": stored,
        "check": check.stdout + check.stderr,
        "check --format json": check_json.stdout + check_json.stderr,
        "print-config": printed.stdout + printed.stderr,
    }
    assert "Máy in một cửa" in places["scrape"] and "portal" in places["scrape"]  # the places hold the data
    assert "401" in log and "snmp" in log.lower()
    found = [(what, where) for what, value in secret_values.items() for where, text in places.items()
             if value in text]
    # print-config shows a WAN target's URL as configured (it is the config); the token stays out of
    # everything the agent exports and logs.
    assert found == [("URL token", "print-config")]

"""Store and forward with remote write, against a real Prometheus receiver
(--web.enable-remote-write-receiver): outages ridden out with every sample kept,
the agent killed with SIGKILL mid-buffering, buffer limits, refusals, TLS and auth."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cramjam
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from receiver import Receiver, make_certs
from support import REPO, agent_cmd, free_port, http_get, process, wait_until

from agent import config as cfg
from agent.collectors.base import Sample
from agent.config import ConfigError
from agent.runner import Result
from exporters import prompb, snappy, wal
from exporters.exposition import Exposition
from exporters.remote_write import RemoteWriter, SendError, SeriesEncoder, target_from

LABELS = {"district": "ba-dinh", "commune": "phuc-xa", "role": "pc"}


# --- helpers -----------------------------------------------------------------------

class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def results_with(value: float) -> dict[str, Result]:
    now = time.time()
    samples = (Sample("wardwatch_uptime_seconds", {}, value),
               Sample("wardwatch_disk_free_bytes", {"mountpoint": "/"}, value * 1000))
    return {"hardware": Result(samples, True, 0.01, now, "", now)}


def settings(**over):
    doc = {"remote_write": {"enabled": True, "instance": "pc-test", "external_labels": LABELS,
                            "record_interval": 1, "min_backoff": "0.1s", "max_backoff": "0.5s",
                            "timeout": "3s", **over}}
    return cfg.loads(yaml.safe_dump(doc), "test.yml").remote_write


def make_writer(tmp: Path, url: str, exposition: Exposition, name: str = "buf", clock=time.time,
                compress=None, **over) -> RemoteWriter:
    s = settings(url=url, directory=str(tmp / name), **over)
    return RemoteWriter(s, exposition, str(tmp), "test.yml", compress=compress, clock=clock)


def series_points(rx: Receiver, selector: str, start_ms: int, end_ms: int) -> dict[str, list[tuple[int, float]]]:
    raw = rx.raw_samples(selector, start_ms / 1000 - 1, end_ms / 1000 + 1)
    return {k: [(t, float(v)) for t, v in pts] for k, pts in raw.items()}


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# --- encoding ------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"", b"x", b"abcd" * 3, b"a" * 200_000, os.urandom(70_000),
    b"".join(b"wardwatch_printer_up" + bytes([i % 7]) * (i % 13) for i in range(20_000)),
])
def test_python_snappy_is_valid_snappy(data):
    packed = snappy.compress_python(data)
    assert bytes(cramjam.snappy.decompress_raw(packed)) == data  # the reference implementation reads it
    if len(data) > 1000 and data[:10] == data[10:20]:
        assert len(packed) < len(data) / 10


def test_write_request_encoding_round_trips():
    labels = prompb.encode_labels([("__name__", "m"), ("job", "wardwatch"), ("printer", "Một cửa")])
    body = (prompb.encode_series(labels, prompb.encode_sample(1.5, 1_700_000_000_123))
            + prompb.encode_series(labels, prompb.encode_sample(prompb.STALE_NAN, 1_700_000_015_123)))
    [(l1, s1), (l2, s2)] = prompb.decode_write_request(body)
    assert l1 == l2 == {"__name__": "m", "job": "wardwatch", "printer": "Một cửa"}
    assert s1 == [(1.5, 1_700_000_000_123)]
    assert s2[0][1] == 1_700_000_015_123 and prompb.is_stale(s2[0][0])
    assert not prompb.is_stale(float("nan"))


def test_series_encoder_labels_and_staleness_markers():
    enc = SeriesEncoder({"job": "wardwatch", "instance": "pc1", "commune": "phuc-xa", "printer": "base"})
    first = [Sample("wardwatch_printer_up", {"printer": "HP", "serial": ""}, 1.0),
             Sample("wardwatch_printer_up", {"printer": "Canon"}, 0.0)]
    body, n = enc.encode(first, 1000)
    assert n == 2
    decoded = prompb.decode_write_request(body)
    assert [list(lab.items()) for lab, _ in decoded] == [
        # sorted by name, the sample's own label wins, empty values left out
        [("__name__", "wardwatch_printer_up"), ("commune", "phuc-xa"), ("instance", "pc1"), ("job", "wardwatch"),
         ("printer", "HP")],
        [("__name__", "wardwatch_printer_up"), ("commune", "phuc-xa"), ("instance", "pc1"), ("job", "wardwatch"),
         ("printer", "Canon")],
    ]
    assert [s for _, s in decoded] == [[(1.0, 1000)], [(0.0, 1000)]]
    # Canon disappears: it gets a staleness marker at the next record, as a scrape would give it.
    body, n = enc.encode(first[:1], 2000)
    decoded = prompb.decode_write_request(body)
    assert n == 2
    assert decoded[1][0]["printer"] == "Canon" and prompb.is_stale(decoded[1][1][0][0])
    assert decoded[1][1][0][1] == 2000
    body, n = enc.encode(first[:1], 3000)
    assert n == 1  # marked once only


# --- config --------------------------------------------------------------------------

def test_clock_steps_back_small_ones_waited_out_big_ones_not(tmp_path, caplog):
    # A clock stepped back a little is waited out (timestamps keep increasing). Found by the clock-jump fault
    # injection (tests/integration/test_faults.py): after a clock that ran ahead was corrected, nothing was
    # recorded until real time caught up (hours, or years for a PC that booted in 2036).
    from exporters.remote_write import CLOCK_STEP_BACK_WAIT, Recorder

    clock = Clock(1_750_000_000.0)
    buf = wal.Buffer(tmp_path, 1 << 20, 10 * 86400, clock=clock)
    results = results_with(1.0)
    rec = Recorder(buf, lambda: (results, [s for r in results.values() for s in r.samples]),
                   SeriesEncoder({"job": "wardwatch"}), clock)
    assert rec.record() == 1_750_000_000_000
    clock.t -= 60  # NTP steps back a minute: waited out, one warning
    with caplog.at_level("WARNING", "wardwatch.remote_write"):
        assert rec.record() is None and rec.record() is None
        clock.t += 61
        assert rec.record() == 1_750_000_001_000
        clock.t -= CLOCK_STEP_BACK_WAIT + 3600  # the clock was an hour ahead and is now corrected
        stamp = rec.record()
    assert stamp == int(clock.t * 1000)
    assert caplog.text.count("behind the last recorded snapshot; not recording") == 1
    assert "recording goes on from the new time" in caplog.text
    clock.t += 15
    assert rec.record() == stamp + 15000  # and goes on from there
    assert [e.timestamp_ms for e in buf.read(100)] == [1_750_000_000_000, 1_750_000_001_000, stamp, stamp + 15000]


def test_buffer_the_disk_refuses_at_start_is_opened_later(tmp_path, caplog):
    # Found by the fault runs: when the buffer could not be opened at start (a read-only or full state dir),
    # remote write stayed off until the agent was restarted.
    exposition = Exposition()
    exposition.update(results_with(1.0))
    w = make_writer(tmp_path, f"http://127.0.0.1:{free_port()}/api/v1/write", exposition, record_interval="1s")
    w.retry_open = 0.2
    blocker = tmp_path / "buf" / wal.segment_name(1)
    blocker.mkdir(parents=True)  # where the first segment must go: opening the buffer fails
    with caplog.at_level("INFO", "wardwatch.remote_write"):
        w.start()
        try:
            time.sleep(0.7)
            assert w.buffer is None and "remote write waits" in caplog.text
            blocker.rmdir()
            wait_until(lambda: w.recorder is not None and w.recorder.recorded > 0, 10, "recording after all")
        finally:
            w.stop()
    assert caplog.text.count("remote write waits") == 1 and "could be opened" in caplog.text


@pytest.mark.parametrize("over, key", [
    ({"url": ""}, "remote_write.url"),
    ({"url": "ftp://host/x"}, "remote_write.url"),
    ({"url": "https://user:pw@host/api/v1/write"}, "remote_write.url"),
    ({"url": "http://host:99999/api/v1/write"}, "remote_write.url"),
    ({"url": "http://[host/api/v1/write"}, "remote_write.url"),  # fuzz targets: urlsplit's ValueError leaked
    ({"min_backoff": "10s", "max_backoff": "1s"}, "remote_write.max_backoff"),
    ({"external_labels": {"bad-name": "x"}}, "remote_write.external_labels"),
    ({"external_labels": {"__name__": "x"}}, "remote_write.external_labels"),
    ({"username": "u", "bearer_token_file": "/nonexistent"}, "remote_write.bearer_token_file"),
    ({"password_file": "/etc/hostname"}, "remote_write.password_file"),
    ({"username": "u", "password_file": "/nonexistent/pw"}, "remote_write.password_file"),
    ({"bearer_token_file": "/nonexistent/token"}, "remote_write.bearer_token_file"),
    ({"url": "https://h/api/v1/write", "ca_file": "/etc/hostname"}, "remote_write.ca_file"),
])
def test_bad_config_is_one_error_naming_the_key(over, key):
    base = {"url": "http://127.0.0.1:9/api/v1/write"}
    with pytest.raises(ConfigError) as e:
        target_from(settings(**{**base, **over}), "agent.yml")
    assert key in str(e.value) and str(e.value).startswith("agent.yml")


def test_config_types_are_checked_with_line_numbers():
    with pytest.raises(ConfigError) as e:
        cfg.loads("remote_write:\n  enabled: true\n  max_bytes: lots\n", "agent.yml")
    assert str(e.value).startswith("agent.yml:3: remote_write.max_bytes:")
    s = cfg.loads("remote_write:\n  max_bytes: 16MiB\n  max_age: 6h\n  record_interval: 30s\n").remote_write
    assert (s.max_bytes, s.max_age, s.record_interval, s.enabled) == (16 * 2**20, 21600.0, 30.0, False)


def test_agent_refuses_remote_write_without_url(tmp_path):
    conf = tmp_path / "agent.yml"
    conf.write_text(f"state_dir: {tmp_path}\nweb:\n  listen: 127.0.0.1:{free_port()}\nremote_write:\n"
                    "  enabled: true\n")
    r = subprocess.run(agent_cmd("run", "--config", str(conf)), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "remote_write.url" in r.stderr and "Traceback" not in r.stderr


def test_credentials_stay_out_of_target_repr(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("hunter2-very-secret\n")
    t = target_from(settings(url="http://127.0.0.1:9/w", username="ward", password_file=str(pw)))
    assert t.authorization == "Basic " + base64.b64encode(b"ward:hunter2-very-secret").decode()
    assert "hunter2" not in repr(t) and "d2FyZDpodW50ZXIy" not in repr(t)


# --- against a real Prometheus -----------------------------------------------------------

def test_outage_every_interval_arrives_with_its_value_and_timestamp(tmp_path):
    """The receiver is down for ~10 record intervals; afterwards it holds one sample per interval."""
    rx = Receiver(tmp_path / "rx")
    rx.start()
    exposition = Exposition()
    w = make_writer(tmp_path, rx.write_url, exposition, compress=snappy.compress_python)
    w.start(record=False)  # the test records, so it knows each value and timestamp
    recorded: list[tuple[int, float]] = []

    def tick(value: float) -> None:
        exposition.update(results_with(value))
        stamp = w.record()
        assert stamp is not None
        recorded.append((stamp, value))
        time.sleep(1.0)

    try:
        for v in (1, 2, 3):
            tick(v)
        wait_until(lambda: w.buffer.stats().buffered_samples == 0, 15, "the first records sent")
        sent_before = w.sender.sent
        rx.stop()
        outage = []
        for v in range(4, 14):
            tick(v + 0.5)
            outage.append(recorded[-1][0])
        st = w.buffer.stats()
        assert st.buffered_samples > 0 and w.sender.sent == sent_before
        assert w.sender.errors["connection"] >= 1
        rx.start()
        for v in (14, 15):
            tick(v)
        wait_until(lambda: w.buffer.stats().buffered_samples == 0, 30, "the backlog sent")
        stored = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-test"}', recorded[0][0], recorded[-1][0])
        assert len(stored) == 1
        labels, points = next(iter(stored.items()))
        assert json.loads(labels) == {"__name__": "wardwatch_uptime_seconds", "job": "wardwatch",
                                      "instance": "pc-test", **LABELS}
        assert points == recorded  # every value at its original timestamp, nothing more, nothing less
        in_outage = [t for t, _ in points if outage[0] <= t <= outage[-1]]
        assert len(in_outage) == 10
        disk = series_points(rx, 'wardwatch_disk_free_bytes{mountpoint="/"}', recorded[0][0], recorded[-1][0])
        assert next(iter(disk.values())) == [(t, v * 1000) for t, v in recorded]
        st = w.buffer.stats()
        assert st.dropped == {"max_bytes": 0, "max_age": 0, "rejected": 0, "write_error": 0}
        assert w.sender.sent == w.recorder.recorded
        # The self-metrics went through the same path: the receiver has them too.
        sent_series = rx.query('wardwatch_remote_write_samples_sent_total{instance="pc-test"}')
        assert len(sent_series) == 1 and float(sent_series[0]["value"][1]) > 0
        errors = rx.query('max_over_time(wardwatch_remote_write_send_errors_total{cause="connection"}[5m])')
        assert float(errors[0]["value"][1]) >= 1
    finally:
        w.stop()
        rx.stop()


def test_buffer_limit_drops_oldest_counts_them_and_bounds_disk(tmp_path):
    exposition = Exposition()
    exposition.update(results_with(1))
    clock = Clock(time.time() - 900)
    max_bytes = 64 * 1024
    rx = Receiver(tmp_path / "rx")  # not started yet: everything stays buffered
    w = make_writer(tmp_path, rx.write_url, exposition, clock=clock, max_bytes="64KiB")
    w.open()
    recorded = []
    try:
        for i in range(600):
            exposition.update(results_with(i))
            recorded.append((w.record(), float(i)))
            clock.t += 1
            files = [p for p in (tmp_path / "buf").iterdir() if p.suffix == ".seg"]
            assert sum(p.stat().st_size for p in files) <= max_bytes
        st = w.buffer.stats()
        assert st.dropped["max_bytes"] > 0
        assert st.dropped["max_bytes"] + st.buffered_samples == w.recorder.recorded
        assert st.bytes <= max_bytes
        kept = st.records
        assert 0 < kept < 600
        body = exposition.snapshot()[1]
        dropped = [s.value for s in body if s.name == "wardwatch_remote_write_samples_dropped_total"
                   and s.labels == {"reason": "max_bytes"}]
        assert dropped == [float(st.dropped["max_bytes"])]
        with rx:
            w.sender.send_pending()
            stored = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-test"}',
                                   recorded[0][0], recorded[-1][0])
        assert next(iter(stored.values())) == recorded[-kept:]  # exactly the newest; the oldest went first
    finally:
        w.stop()


def test_lost_acknowledgement_resends_and_receiver_refusals_lose_nothing_new(tmp_path):
    """Power cut after Prometheus stored a batch but before the progress was saved: the batch goes
    again, Prometheus 2.42 refuses it whole (400, out of order), and the snapshots it does not have
    yet still get through, one by one."""
    exposition = Exposition()
    clock = Clock(time.time() - 300)
    recorded = []
    with Receiver(tmp_path / "rx") as rx:
        w1 = make_writer(tmp_path, rx.write_url, exposition, clock=clock)
        w1.open()
        for i in range(5):
            exposition.update(results_with(i))
            recorded.append((w1.record(), float(i)))
            clock.t += 15
        assert w1.sender.send_pending() == w1.recorder.recorded
        w1.stop()
        (tmp_path / "buf" / "progress").unlink()  # the acknowledgement never reached the disk
        old = wal.scan(tmp_path / "buf")

        w2 = make_writer(tmp_path, rx.write_url, exposition, clock=clock)
        w2.open()
        for i in range(5, 8):
            exposition.update(results_with(i))
            recorded.append((w2.record(), float(i)))
            clock.t += 15
        w2.sender.send_pending()
        st = w2.buffer.stats()
        assert st.buffered_samples == 0
        # Records 1-4 are older than what Prometheus has: refused. Record 5 equals its newest: accepted.
        assert st.dropped["rejected"] == sum(count for _, _, count, _ in old[:4])
        assert w2.sender.errors["rejected"] == 1 + 4  # the whole batch, then each old snapshot alone
        stored = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-test"}', recorded[0][0], recorded[-1][0])
        w2.stop()
    assert next(iter(stored.values())) == recorded


def test_tls_and_basic_auth_to_the_receiver(tmp_path, caplog):
    caplog.set_level("DEBUG")
    certs = make_certs(tmp_path / "certs")
    password = "Mật-khẩu-s3cret-42"
    (tmp_path / "pw").write_text(password + "\n", encoding="utf-8")
    (tmp_path / "wrong").write_text("not-the-password\n")
    exposition = Exposition()
    exposition.update(results_with(7))
    clock = Clock(time.time() - 60)
    with Receiver(tmp_path / "rx", tls=certs, users={"ward": password}) as rx:
        assert rx.write_url.startswith("https://")
        good = make_writer(tmp_path, rx.write_url, exposition, "good", clock, username="ward",
                           password_file=str(tmp_path / "pw"), ca_file=str(certs.ca))
        good.open()
        stamps = []
        for _ in range(3):
            stamps.append(good.record())
            clock.t += 1
        assert good.sender.send_pending() == good.recorder.recorded
        stored = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-test"}', stamps[0], stamps[-1])
        assert next(iter(stored.values())) == [(t, 7.0) for t in stamps]
        good.stop()

        # A wrong password: retried later, never dropped.
        bad = make_writer(tmp_path, rx.write_url, exposition, "bad", clock, username="ward",
                          password_file=str(tmp_path / "wrong"), ca_file=str(certs.ca))
        bad.start(record=False)
        bad.record()
        wait_until(lambda: bad.sender.errors["auth"] >= 2, 10, "auth failures retried")
        st = bad.buffer.stats()
        assert st.buffered_samples == bad.recorder.recorded and sum(st.dropped.values()) == 0
        body = exposition.body().decode()
        assert 'wardwatch_remote_write_send_errors_total{cause="auth"}' in body
        bad.stop()

        # The receiver's certificate is not signed by a CA the system trusts: TLS error.
        untrusted = make_writer(tmp_path, rx.write_url, exposition, "untrusted", clock)
        untrusted.open()
        untrusted.record()
        with pytest.raises(SendError) as e:
            untrusted.sender.send_pending()
        assert e.value.cause == "tls"
        untrusted.stop()

        # insecure_skip_verify (testing only) gets through without the CA.
        insecure = make_writer(tmp_path, rx.write_url, exposition, "insecure", clock, username="ward",
                               password_file=str(tmp_path / "pw"), insecure_skip_verify=True)
        insecure.open()
        clock.t += 1
        insecure.record()
        assert insecure.sender.send_pending() > 0
        insecure.stop()
    secret_b64 = base64.b64encode(f"ward:{password}".encode()).decode()
    assert password not in caplog.text and secret_b64 not in caplog.text
    assert "remote write to https://127.0.0.1" in caplog.text  # the failure was logged, without secrets


class _BearerProxy(BaseHTTPRequestHandler):
    """Checks a bearer token (Prometheus's own web config only does basic auth), then forwards."""

    token = ""
    upstream = ""
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(dict(self.headers))
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(401, b"unauthorized\n")
        keep = ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version")
        req = urllib.request.Request(self.upstream, data=body, headers={k: self.headers[k] for k in keep})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return self._answer(r.status, r.read())
        except urllib.error.HTTPError as e:
            return self._answer(e.code, e.read())

    def _answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_bearer_token_and_protocol_headers(tmp_path):
    (tmp_path / "token").write_text("tok-123-abc\n")
    (tmp_path / "badtoken").write_text("tok-wrong\n")
    exposition = Exposition()
    exposition.update(results_with(3))
    clock = Clock(time.time() - 60)
    with Receiver(tmp_path / "rx") as rx:
        handler = type("Proxy", (_BearerProxy,), {"token": "tok-123-abc", "upstream": rx.write_url, "seen": []})
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{proxy.server_address[1]}/api/v1/write"
        try:
            w = make_writer(tmp_path, url, exposition, "ok", clock, bearer_token_file=str(tmp_path / "token"))
            w.open()
            stamp = w.record()
            assert w.sender.send_pending() == w.recorder.recorded
            w.stop()
            stored = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-test"}', stamp, stamp)
            assert next(iter(stored.values())) == [(stamp, 3.0)]
            h = handler.seen[-1]
            assert h["Content-Encoding"] == "snappy"
            assert h["Content-Type"] == "application/x-protobuf"
            assert h["X-Prometheus-Remote-Write-Version"] == "0.1.0"
            assert h["User-Agent"].startswith("wardwatch-agent/")

            w = make_writer(tmp_path, url, exposition, "nok", clock, bearer_token_file=str(tmp_path / "badtoken"))
            w.open()
            clock.t += 1
            w.record()
            with pytest.raises(SendError) as e:
                w.sender.send_pending()
            assert e.value.cause == "auth" and w.buffer.stats().buffered_samples > 0
            w.stop()
        finally:
            proxy.shutdown()
            proxy.server_close()


def test_receiver_that_never_answers_is_a_timeout(tmp_path):
    exposition = Exposition()
    exposition.update(results_with(1))
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/v1/write"
        w = make_writer(tmp_path, url, exposition, timeout="0.5s")
        w.open()
        w.record()
        with pytest.raises(SendError) as e:
            w.sender.send_pending()
        w.stop()
    assert e.value.cause == "timeout"
    assert w.sender.errors["timeout"] == 1


# --- the real agent process --------------------------------------------------------------

def _agent_config(tmp: Path, rx: Receiver, listen: str) -> Path:
    conf = {
        "state_dir": str(tmp / "state"),
        "web": {"listen": listen},
        "remote_write": {"enabled": True, "url": rx.write_url, "instance": "pc-kill", "external_labels": LABELS,
                         "record_interval": 1, "min_backoff": "0.2s", "max_backoff": "1s", "timeout": "5s"},
    }
    path = tmp / "agent.yml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_agent_killed_while_buffering_loses_nothing_but_the_torn_record(tmp_path):
    rx = Receiver(tmp_path / "rx")  # down at first: the agent buffers
    port = free_port()
    conf = _agent_config(tmp_path, rx, f"127.0.0.1:{port}")
    buf_dir = tmp_path / "state" / "remote-write"
    proc = subprocess.Popen(agent_cmd("run", "--config", str(conf)), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "agent1.log", "wb"))  # noqa: SIM115
    try:
        wait_until(lambda: buf_dir.exists() and len(wal.scan(buf_dir)) >= 5, 45, "5 records buffered")
        code, text = http_get(f"http://127.0.0.1:{port}/metrics")
        values = metric_values(text.decode())
        assert values[("wardwatch_remote_write_samples_buffered", ())] > 0
        assert values[("wardwatch_remote_write_send_errors_total", (("cause", "connection"),))] >= 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    before = wal.scan(buf_dir)
    assert len(before) >= 5
    # As if the power went out mid-append: half a record at the end of the last segment.
    last_segment = sorted(buf_dir.glob("*.seg"))[-1]
    torn = wal.encode_record(before[-1][1] + 1000, 40, b"x" * 300)
    with last_segment.open("ab") as f:
        f.write(torn[:len(torn) // 2])

    with rx, process(agent_cmd("run", "--config", str(conf)), port=port, cwd=REPO, log=tmp_path / "agent2.log"):
        stamps = [stamp for _, stamp, _, _ in before]

        def delivered() -> bool:
            got = series_points(rx, 'wardwatch_build_info{instance="pc-kill"}', stamps[0], stamps[-1] + 60_000)
            have = {t for pts in got.values() for t, _ in pts}
            return set(stamps) <= have
        wait_until(delivered, 45, "every record buffered before the kill delivered")
        values = metric_values(http_get(f"http://127.0.0.1:{port}/metrics")[1].decode())
        assert values[("wardwatch_remote_write_corrupt_records_total", ())] == 1
        assert values[("wardwatch_remote_write_samples_dropped_total", (("reason", "rejected"),))] == 0
        # The uptime series of every buffered record arrived with the value recorded in it.
        recorded = {}
        for _, stamp, _, payload in before:
            for labels, samples in prompb.decode_write_request(payload):
                if labels["__name__"] == "wardwatch_uptime_seconds":
                    [(value, at)] = samples
                    assert at == stamp  # recorded with the record's own timestamp
                    recorded[stamp] = value
        got = series_points(rx, 'wardwatch_uptime_seconds{instance="pc-kill"}', stamps[0], stamps[-1])
        assert {t: v for t, v in next(iter(got.values())) if t <= stamps[-1]} == recorded
        assert len(recorded) == len(before)


def test_reload_hands_the_buffer_over_without_losing_or_repeating(tmp_path):
    from agent.app import Agent

    rx = Receiver(tmp_path / "rx")
    conf = _agent_config(tmp_path, rx, f"127.0.0.1:{free_port()}")
    agent = Agent(str(conf))
    agent.start()
    try:
        buf_dir = tmp_path / "state" / "remote-write"
        wait_until(lambda: len(wal.scan(buf_dir)) >= 2, 30, "2 records buffered")
        doc = yaml.safe_load(conf.read_text())
        doc["remote_write"]["record_interval"] = 2
        conf.write_text(yaml.safe_dump(doc))
        assert agent.reload()
        writer = agent.parts.loops[0]
        assert writer.settings.record_interval == 2
        wait_until(lambda: len(wal.scan(buf_dir)) >= 3, 30, "recording goes on after the reload")
        with rx:
            wait_until(lambda: writer.buffer.stats().buffered_samples == 0, 30, "everything sent")
            stamps = [stamp for _, stamp, _, _ in wal.scan(buf_dir)]
            got = series_points(rx, 'wardwatch_build_info{instance="pc-kill"}', stamps[0], stamps[-1])
            points = next(iter(got.values()))
            assert [t for t, _ in points if t <= stamps[-1]] == stamps  # each once, in order
        values = metric_values(agent.exposition.body().decode())
        assert sum(1 for name, _ in values if name == "wardwatch_remote_write_samples_buffered") == 1
    finally:
        agent.stop()

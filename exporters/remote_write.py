"""Store and forward with Prometheus remote write 1.0, for PCs behind weak links.

    exposition snapshot ──record_interval──► Recorder ──► Buffer (exporters/wal.py, on disk)
                                                              │ oldest first, whole snapshots
    receiver ◄── POST snappy(WriteRequest) ◄── Sender ◄───────┘ retry with bounded back-off

- Recorder: every `record_interval` it encodes the latest snapshot's samples,
  stamped with the time of recording, as a WriteRequest fragment
  (exporters/prompb.py) and appends it to the buffer. A series that disappeared
  since the last record gets Prometheus's staleness marker, as a scrape would.
- Sender: reads the oldest unacknowledged records (up to `batch_samples`),
  POSTs them (snappy, exporters/snappy.py) and moves the buffer's progress
  pointer only when the receiver answered 2xx. Connection errors, timeouts, TLS
  errors, 401/403, 429 and 5xx are retried with exponential back-off between
  `min_backoff` and `max_backoff`; nothing is dropped for them. A 400 means the
  receiver will never take that data (duplicate, out of order, too old): the
  batch is then sent again one snapshot at a time, and only the snapshots the
  receiver still refuses are dropped, counted as `rejected`.
- RemoteWriter: builds both from the `remote_write` config section, checks it
  (one-line ConfigError naming the key), and publishes the self-metrics through
  the exposition. Credentials are read from files, sent only in the
  Authorization header, and never logged or exported.
"""

from __future__ import annotations

import base64
import email.utils
import errno
import http.client
import logging
import math
import os
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agent import __version__
from agent.collectors.base import Sample
from agent.config import ConfigError, Settings
from agent.runner import Result
from exporters import prompb, snappy
from exporters.exposition import Exposition
from exporters.periodic import Periodic
from exporters.wal import DROP_REASONS, Buffer, Entry

log = logging.getLogger("wardwatch.remote_write")

ERROR_CAUSES = ("connection", "timeout", "tls", "auth", "throttled", "server", "rejected", "http_other")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ERROR_BODY_MAX = 512
_ANSWER_MAX = 64 * 1024


# --- encoding ------------------------------------------------------------------

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class SeriesEncoder:
    """Samples of one snapshot -> a WriteRequest fragment. Encoded label sets are cached
    (series are the same from one snapshot to the next), so a record costs little more
    than packing the values."""

    def __init__(self, base_labels: Mapping[str, str]):
        self.base = dict(base_labels)
        self._labels: dict[SeriesKey, bytes] = {}
        self._previous: dict[SeriesKey, None] = {}

    def _encoded_labels(self, key: SeriesKey) -> bytes:
        cached = self._labels.get(key)
        if cached is None:
            name, own = key
            merged = {**self.base, **dict(own), "__name__": name}
            cached = self._labels[key] = prompb.encode_labels(sorted((k, v) for k, v in merged.items() if v))
        return cached

    def encode(self, samples: Iterable[Sample], timestamp_ms: int) -> tuple[bytes, int]:
        """(fragment, number of samples in it, staleness markers included)."""
        parts = []
        current: dict[SeriesKey, None] = {}
        for s in samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in current:
                continue
            current[key] = None
            parts.append(prompb.encode_series(self._encoded_labels(key), prompb.encode_sample(s.value, timestamp_ms)))
        for key in self._previous:
            if key not in current:
                parts.append(prompb.encode_series(self._encoded_labels(key),
                                                  prompb.encode_sample(prompb.STALE_NAN, timestamp_ms)))
        stale = len(parts) - len(current)
        self._previous = current
        if len(self._labels) > 2 * len(current) + 1000:  # forget label sets of long-gone series
            self._labels = {k: v for k, v in self._labels.items() if k in current}
        return b"".join(parts), len(current) + stale


# --- recording -----------------------------------------------------------------

Snapshot = Callable[[], tuple[Mapping[str, Result], list[Sample]]]


# A clock stepped back by at most this much (NTP correcting a small drift) is waited out: nothing is
# recorded until it passes the last record again, so every series' timestamps keep increasing. A bigger
# step means the clock was wrong before (a PC that booted with its clock far ahead, then corrected):
# waiting it out could stop recording for hours or years, so recording goes on at once from the new time.
CLOCK_STEP_BACK_WAIT = 300.0


class Recorder:
    def __init__(self, buffer: Buffer, snapshot: Snapshot, encoder: SeriesEncoder,
                 clock: Callable[[], float] = time.time, on_record: Callable[[], None] | None = None):
        self.buffer, self.snapshot, self.encoder = buffer, snapshot, encoder
        self.clock, self.on_record = clock, on_record
        self.recorded = 0
        self._warned_clock = False
        self._floor = buffer.last_timestamp_ms  # the next record must be stamped after this (ms)

    def record(self) -> int | None:
        """Append the current snapshot; its timestamp in ms, or None when nothing was recorded
        (collectors still on their first run, or the clock went back by a little behind the last record)."""
        results, samples = self.snapshot()
        if any(r.finished_at == 0 for r in results.values()):
            return None  # a record now would show every collector as failed
        stamp = int(self.clock() * 1000)
        last = self._floor
        if stamp <= last:
            behind = (last - stamp) / 1000
            if behind <= CLOCK_STEP_BACK_WAIT:
                if not self._warned_clock:
                    log.warning("clock is %.3fs behind the last recorded snapshot; not recording until it passes it",
                                behind)
                    self._warned_clock = True
                return None
            log.warning("clock went back by %.0fs behind the last recorded snapshot (was it ahead?); recording goes "
                        "on from the new time: the receiver may refuse the overlap (counted as rejected)", behind)
        self._warned_clock = False
        payload, n = self.encoder.encode(samples, stamp)
        if self.buffer.append(stamp, n, payload):
            self.recorded += n
        self._floor = stamp
        if self.on_record is not None:
            self.on_record()
        return stamp


# --- sending -------------------------------------------------------------------

class SendError(Exception):
    def __init__(self, cause: str, message: str, retry: bool = True):
        super().__init__(message)
        self.cause, self.retry = cause, retry


def _status_error(status: int, body: bytes) -> SendError:
    text = body[:_ERROR_BODY_MAX].decode("utf-8", "replace").strip()
    message = f"HTTP {status}" + (f": {text}" if text else "")
    if status in (400, 413, 422):
        return SendError("rejected", message, retry=False)
    if status >= 500 and b"too old sample" in body[:_ERROR_BODY_MAX]:
        # Prometheus 2.39-2.4x answers 500 for a sample beyond its out-of-order window; retrying
        # would block the queue behind it until max_age, so it counts as refused data.
        return SendError("rejected", message, retry=False)
    if status in (401, 403):
        return SendError("auth", message)
    if status == 429:
        return SendError("throttled", message)
    if status >= 500:
        return SendError("server", message)
    return SendError("http_other", message)


class Client:
    """POSTs remote-write bodies over one kept-alive HTTP(S) connection."""

    def __init__(self, url: str, timeout: float, authorization: str = "",
                 tls: ssl.SSLContext | None = None, compress: Callable[[bytes], bytes] | None = None):
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.tls = tls if tls is not None else (ssl.create_default_context() if self.https else None)
        self.compress = compress or snappy.compress
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "User-Agent": f"wardwatch-agent/{__version__}",
        }
        if authorization:
            self._headers["Authorization"] = authorization
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self.bytes_sent = 0
        self.clock_offset = math.nan  # this PC's clock minus the receiver's (HTTP Date, 1 s resolution)

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post(self, body: bytes) -> None:
        """Send one WriteRequest (uncompressed protobuf); raises SendError."""
        data = self.compress(body)
        for attempt in (1, 2):
            with self._lock:
                reused = self._conn is not None
                if self._conn is None:
                    self._conn = self._connect()
                conn = self._conn
            try:
                conn.request("POST", self.path, data, self._headers)
                resp = conn.getresponse()
                answer = resp.read(_ANSWER_MAX)
                if not resp.isclosed():  # a longer answer than any receiver's: do not reuse the connection
                    self.close()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if reused and attempt == 1:  # the receiver closed the idle kept-alive connection: once more
                    continue
                raise SendError("connection", f"connection lost: {e}") from None
            except ssl.SSLError as e:  # before OSError, which it is; certificate errors are SSLErrors too
                self.close()
                raise SendError("tls", f"TLS: {e.reason or e}") from None
            except TimeoutError:
                self.close()
                raise SendError("timeout", f"no answer within {self.timeout:g}s") from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
                raise SendError("connection", reason) from None
            if resp.will_close and self._conn is conn:
                self.close()
            self._note_clock(resp.getheader("Date"))
            if 200 <= resp.status < 300:
                self.bytes_sent += len(data)
                return
            raise _status_error(resp.status, answer)

    def _note_clock(self, date: str | None) -> None:
        if not date:
            return
        try:
            theirs = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self.clock_offset = time.time() - theirs

    def close(self) -> None:
        """Close the connection; from another thread, this also cuts short a request in flight."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            conn.close()


class Sender:
    def __init__(self, buffer: Buffer, client: Client, batch_samples: int, min_backoff: float, max_backoff: float,
                 clock: Callable[[], float] = time.time, url_for_logs: str = ""):
        self.buffer, self.client, self.batch_samples = buffer, client, batch_samples
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.clock = clock
        self.url_for_logs = url_for_logs
        self.sent = 0
        self.requests = 0
        self.errors = dict.fromkeys(ERROR_CAUSES, 0)
        self.last_success = 0.0
        self._failing: str | None = None

    def _post(self, entries: list[Entry]) -> None:
        self.requests += 1
        try:
            self.client.post(b"".join(e.payload for e in entries))
        except SendError as e:
            self.errors[e.cause] += 1
            raise
        self.last_success = self.clock()

    def _delivered(self, entries: list[Entry]) -> int:
        self.buffer.advance(entries[-1].end)
        n = sum(e.samples for e in entries)
        self.sent += n
        return n

    def send_once(self) -> int:
        """Send the oldest batch. Returns samples handled (0: nothing buffered); raises SendError to retry."""
        entries = self.buffer.read(self.batch_samples)
        if not entries:
            return 0
        try:
            self._post(entries)
            return self._delivered(entries)
        except SendError as e:
            if e.retry:
                raise
            if len(entries) == 1:
                return self._reject(entries[0], e)
        # The receiver refused the batch as a whole: find out which snapshots it refuses.
        handled = 0
        for entry in entries:
            try:
                self._post([entry])
                handled += self._delivered([entry])
            except SendError as e:
                if e.retry:
                    raise
                handled += self._reject(entry, e)
        return handled

    def _reject(self, entry: Entry, e: SendError) -> int:
        n = self.buffer.advance(entry.end, dropped="rejected")
        log.warning("receiver refused the snapshot of %s (%d samples), dropped: %s",
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.timestamp_ms / 1000)), entry.samples, e)
        return n or entry.samples

    def send_pending(self, stop: threading.Event | None = None) -> int:
        """Send until the buffer is empty (or `stop`); raises SendError on a failure to retry."""
        total = 0
        while stop is None or not stop.is_set():
            n = self.send_once()
            if n == 0:
                break
            total += n
        return total

    def run(self, stop: threading.Event, wake: threading.Event, idle_wait: float = 5.0) -> None:
        backoff = self.min_backoff
        while not stop.is_set():
            wake.clear()
            try:
                self.send_pending(stop)
            except SendError as e:
                if stop.is_set():
                    break
                if self._failing != e.cause:
                    log.warning("remote write to %s failed (%s): %s; buffering on disk and retrying",
                                self.url_for_logs, e.cause, e)
                    self._failing = e.cause
                stop.wait(backoff * random.uniform(0.75, 1.0))  # noqa: S311 - jitter, not crypto
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except Exception as e:  # noqa: BLE001 - the sender thread must outlive any bug or disk error
                text = f"{type(e).__name__}: {e}"
                if self._failing != text:  # once per kind of failure, not at every retry
                    log.error("remote write sender failed (%s); retrying every %gs", text, self.max_backoff,
                              exc_info=not isinstance(e, OSError))
                    self._failing = text
                stop.wait(self.max_backoff)
                continue
            if self._failing is not None:
                log.info("remote write to %s works again; buffered samples sent", self.url_for_logs)
                self._failing = None
            backoff = self.min_backoff
            wake.wait(idle_wait)


# --- the part the agent runs ------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a RemoteWriter sends where, checked from config (no secret in its repr but `authorization`)."""
    url: str
    authorization: str
    tls: ssl.SSLContext | None
    labels: dict[str, str]

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, labels={self.labels!r})"


def _read_secret(path: str, key: str, source: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}", source=source, key=key) from None


def target_from(settings: Settings, source: str = "<config>") -> Target:
    def err(message: str, key: str) -> ConfigError:
        return ConfigError(message, source=source, key=f"remote_write.{key}")

    if not settings.url:
        raise err("remote_write.enabled needs remote_write.url", "url")
    try:
        parts = urlsplit(settings.url)
    except ValueError:  # e.g. a broken IPv6 literal
        raise err("expected an http:// or https:// URL with a host", "url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise err("expected an http:// or https:// URL with a host", "url")
    if parts.username or parts.password:
        raise err("no credentials in the URL: use username and password_file", "url")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise err("bad port in the URL", "url") from None
    if settings.max_backoff < settings.min_backoff:
        raise err("must not be below remote_write.min_backoff", "max_backoff")
    labels = {"job": settings.job, "instance": settings.instance or socket.gethostname()}
    for name, value in settings.external_labels.items():
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise err(f"{name!r} is not a label name (letters, digits, _; not starting with __)", "external_labels")
        labels[name] = value
    if settings.username and settings.bearer_token_file:
        raise err("use either basic auth (username) or a bearer token, not both", "bearer_token_file")
    if settings.password_file and not settings.username:
        raise err("password_file needs remote_write.username", "password_file")
    authorization = ""
    if settings.username:
        password = _read_secret(settings.password_file, "remote_write.password_file", source) \
            if settings.password_file else ""
        authorization = "Basic " + base64.b64encode(f"{settings.username}:{password}".encode()).decode()
    elif settings.bearer_token_file:
        token = _read_secret(settings.bearer_token_file, "remote_write.bearer_token_file", source)
        if not token:
            raise err("the token file is empty", "bearer_token_file")
        authorization = f"Bearer {token}"
    tls = None
    if parts.scheme == "https":
        tls = ssl.create_default_context()
        if settings.ca_file:
            try:
                tls.load_verify_locations(cafile=settings.ca_file)
            except (OSError, ssl.SSLError) as e:
                raise err(f"cannot load CA certificates: {e}", "ca_file") from None
        if settings.insecure_skip_verify:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    elif settings.ca_file or settings.insecure_skip_verify:
        log.warning("remote_write: ca_file and insecure_skip_verify only apply to an https:// URL")
    if authorization and parts.scheme == "http":
        log.warning("remote_write: credentials go to %s over plain HTTP; use https", parts.hostname)
    return Target(settings.url, authorization, tls, labels)


_DISK_FAULTS = frozenset({errno.EROFS, errno.ENOSPC, errno.EIO, errno.EDQUOT})


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _url_for_logs(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class RemoteWriter:
    """The `remote_write` mode: recorder on a Periodic, sender on its own thread, self-metrics in
    the exposition. Built (and checked) from config without touching the buffer; `start` opens it."""

    SOURCE = "remote_write"

    def __init__(self, settings: Settings, exposition: Exposition, state_dir: str, source: str = "<config>",
                 compress: Callable[[bytes], bytes] | None = None, clock: Callable[[], float] = time.time,
                 after: threading.Event | None = None):
        """`after`: the runner's first round; the first record waits for it (at most one interval)."""
        self.settings = settings
        self.after = after
        self.target = target_from(settings, source)
        self.exposition = exposition
        self.directory = Path(settings.directory or os.path.join(state_dir, "remote-write"))
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if e.errno not in _DISK_FAULTS:
                raise ConfigError(f"cannot create {self.directory}: {e.strerror or e}", source=source,
                                  key="remote_write.directory") from None
            # a fault of the disk, not of the config: the agent starts, and opening is tried again (start())
        else:
            if not os.access(self.directory, os.W_OK) and not _read_only_fs(self.directory):
                raise ConfigError(f"{self.directory} is not writable", source=source, key="remote_write.directory")
        self.compress = compress
        self.clock = clock
        self.buffer: Buffer | None = None
        self.recorder: Recorder | None = None
        self.sender: Sender | None = None
        self.client: Client | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop: Periodic | None = None
        self._thread: threading.Thread | None = None
        self._opener: threading.Thread | None = None
        self.retry_open = 10.0  # seconds between tries to open a buffer the disk refused at start

    def open(self) -> None:
        """Open the buffer and build recorder and sender (without starting them)."""
        s = self.settings
        self.buffer = Buffer(self.directory, s.max_bytes, s.max_age, clock=self.clock)
        self.client = Client(s.url, s.timeout, self.target.authorization, self.target.tls, self.compress)
        self.recorder = Recorder(self.buffer, self.exposition.snapshot, SeriesEncoder(self.target.labels),
                                 self.clock, self._recorded)
        self.sender = Sender(self.buffer, self.client, s.batch_samples, s.min_backoff, s.max_backoff, self.clock,
                             _url_for_logs(s.url))
        st = self.buffer.stats()
        log.info("remote write to %s: buffer in %s, snappy by %s", _url_for_logs(s.url), self.directory,
                 "cramjam" if self.client.compress is snappy.compress_cramjam else "pure Python")
        if st.buffered_samples:
            log.info("remote write: %d samples buffered from before; sending them first", st.buffered_samples)
        self.exposition.add_source(self.SOURCE, self.samples)

    def start(self, record: bool = True) -> None:
        if self.buffer is None:
            try:
                self.open()
            except OSError as e:  # the agent goes on serving /metrics; the log says why nothing is sent yet
                log.error("remote write waits: cannot open the buffer in %s (%s); tried again every %gs",
                          self.directory, e.strerror or e, self.retry_open)
                self._opener = threading.Thread(target=self._open_later, args=(record,), name="remote-write-open",
                                                daemon=True)
                self._opener.start()
                return
        self._start_sending(record)

    def _open_later(self, record: bool) -> None:
        """A disk that refused the buffer at start (read-only, full) may take it later."""
        while not self._stop.wait(self.retry_open):
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.open()
            except OSError:
                continue
            if self._stop.is_set():
                return
            log.info("remote write: the buffer in %s could be opened; recording and sending start", self.directory)
            self._start_sending(record)
            return

    def _start_sending(self, record: bool) -> None:
        assert self.sender is not None
        self._thread = threading.Thread(target=self.sender.run, args=(self._stop, self._wake),
                                        name="remote-write-send", daemon=True)
        self._thread.start()
        if record:
            self._loop = Periodic("remote-write-record", self.settings.record_interval, self.record, self.after)
            self._loop.start()

    def record(self) -> int | None:
        assert self.recorder is not None
        return self.recorder.record()

    def _recorded(self) -> None:
        self._wake.set()
        self.exposition.refresh()

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._opener is not None:
            self._opener.join(wait)
        if self._loop is not None:
            self._loop.stop(wait)
        if self.client is not None:
            self.client.close()  # cuts a request in flight short
        if self._thread is not None:
            self._thread.join(wait + self.settings.timeout)
        self.exposition.remove_source(self.SOURCE)
        if self.buffer is not None:
            self.buffer.close()

    def samples(self) -> list[Sample]:
        if self.buffer is None or self.sender is None or self.recorder is None or self.client is None:
            return []
        st = self.buffer.stats()
        out = [
            Sample("wardwatch_remote_write_samples_recorded_total", {}, float(self.recorder.recorded)),
            Sample("wardwatch_remote_write_samples_buffered", {}, float(st.buffered_samples)),
            Sample("wardwatch_remote_write_samples_sent_total", {}, float(self.sender.sent)),
            Sample("wardwatch_remote_write_corrupt_records_total", {}, float(st.corrupt_records)),
            Sample("wardwatch_remote_write_buffer_bytes", {}, float(st.bytes)),
            Sample("wardwatch_remote_write_oldest_unsent_timestamp_seconds", {}, st.oldest_timestamp_ms / 1000),
            Sample("wardwatch_remote_write_last_send_timestamp_seconds", {}, self.sender.last_success),
        ]
        if not math.isnan(self.client.clock_offset):
            out.append(Sample("wardwatch_remote_write_receiver_clock_offset_seconds", {}, self.client.clock_offset))
        out += [Sample("wardwatch_remote_write_samples_dropped_total", {"reason": r}, float(st.dropped[r]))
                for r in DROP_REASONS]
        out += [Sample("wardwatch_remote_write_send_errors_total", {"cause": c}, float(n))
                for c, n in self.sender.errors.items()]
        return out

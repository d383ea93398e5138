"""A small client for Prometheus's HTTP API (instant and range queries), for the
operators' reports. It counts the queries it sends, so reports and benchmarks can
show that their number stays bounded whatever the size of the fleet.

Failures become one-line `FleetError`s: Prometheus not answering is exit code 3
(EXIT_UNREACHABLE); Prometheus refusing a query says why, with the same code.
"""

from __future__ import annotations

import base64
import gc
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from fleet.errors import EXIT_UNREACHABLE, EXIT_USAGE, FleetError

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Range:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class Prometheus:
    def __init__(self, url: str, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
            raise FleetError(f"--prometheus {shown!r}: expected an http:// or https:// URL / "
                             f"cần một địa chỉ http:// hoặc https://", EXIT_USAGE)
        # user:password@ in the URL becomes basic auth; the URL shown anywhere never carries it
        self._auth = None
        if parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(creds.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url = parts.geturl().rstrip("/")
        self.timeout = timeout
        self.queries = 0  # every query sent (instant and range), from any thread
        self._count = threading.Lock()

    def query(self, expr: str, at: float) -> list[Series]:
        data = self._call("query", {"query": expr, "time": f"{at:.3f}"})
        if data.get("resultType") != "vector":
            raise self._error(f"expected a vector, got {data.get('resultType')}")
        return [Series(r["metric"], float(r["value"][1])) for r in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Range]:
        data = self._call("query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                          "step": f"{step:g}"})
        if data.get("resultType") != "matrix":
            raise self._error(f"expected a matrix, got {data.get('resultType')}")
        return [Range(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]

    def _error(self, why: str) -> FleetError:
        return FleetError(f"Prometheus {self.url}: {why}", EXIT_UNREACHABLE)

    def _call(self, endpoint: str, params: dict[str, str]) -> dict:
        """POST (queries can be long) to /api/v1/<endpoint>; the `data` of a success answer."""
        with self._count:
            self.queries += 1
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        req = urllib.request.Request(f"{self.url}/api/v1/{endpoint}", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                why = json.loads(raw).get("error") or f"HTTP {e.code}"
            except ValueError:
                why = f"HTTP {e.code} {e.reason}"
            raise self._error(f"query refused / truy vấn bị từ chối: {why}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise self._error(f"did not answer / không trả lời: {reason}") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise self._error("answer is not JSON (is this Prometheus?) / câu trả lời không phải JSON") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise self._error(f"query failed / truy vấn lỗi: {doc.get('error') if isinstance(doc, dict) else doc}")
        return doc["data"]


# Queries in flight at once: the engine answers them on its cores while this process decodes the
# answers already in (bench/city_tier.py: at once vs one at a time, 100,000 PCs).
PARALLEL = 8

_gc_lock = threading.Lock()
_gc_holds = 0          # threads inside quiet_gc
_gc_was_enabled = True


@contextmanager
def quiet_gc() -> Iterator[None]:
    """The cyclic garbage collector off while any thread is inside, then back to what it was. The
    answers for 100,000 PCs are a million small dicts and lists, none of them in a cycle; the collector
    would walk them again and again as they pile up (half of the readiness report's CPU,
    bench/city_tier.py). Reference counting still frees everything."""
    global _gc_holds, _gc_was_enabled
    with _gc_lock:
        if _gc_holds == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holds += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holds -= 1
            if _gc_holds == 0 and _gc_was_enabled:
                gc.enable()


class InFlight(Generic[K, T]):
    """Calls (queries) sent from the moment this is made, `parallel` at a time, so that the caller can
    do other work meanwhile. `answers()` waits for them all and says each one as it comes in; the first
    failure is raised. Leaving the `with` cancels the calls not yet sent; on an error it does not wait
    for those still running (its message is not held up by them)."""

    def __init__(self, calls: Mapping[K, Callable[[], T]], parallel: int = PARALLEL, name: str = "query"):
        self._pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix=name)
        self._pending = {self._pool.submit(_without_gc, call): key for key, call in calls.items()}

    def __enter__(self) -> InFlight[K, T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._pool.shutdown(wait=exc_type is None, cancel_futures=True)

    def answers(self, arrived: Callable[[K, int, int], None] | None = None) -> dict[K, T]:
        """Every call's answer by its key; `arrived(key, answers so far, calls)` after each."""
        out: dict[K, T] = {}
        for f in as_completed(self._pending):
            out[self._pending[f]] = f.result()
            if arrived:
                arrived(self._pending[f], len(out), len(self._pending))
        return out


def _without_gc(call: Callable[[], T]) -> T:
    with quiet_gc():
        return call()

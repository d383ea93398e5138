"""One collection over 20 SNMP printers: side by side (the collector's default way)
against one after the other, from the same run.

snmpsim serves 20 communities (copies of the recordings in ../shared/fixtures/snmprec).
On loopback a "printer" answers in well under a millisecond, which real ones do not:
an office printer's SNMP agent takes tens of milliseconds per answer. So the run is
made twice: straight to snmpsim, and through a UDP relay per printer that holds
each answer back (--latency, 40 ms by default) without holding the others, as 20
separate devices would. With that latency the parallel collection should take about
as long as the slowest single printer, which is printed beside it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import Row

PRINTERS = 20
LATENCY = 0.040  # seconds an answer is held back, per request


class _Relay(asyncio.DatagramProtocol):
    """Forwards datagrams from clients to `upstream`; answers come back `delay` seconds late."""

    def __init__(self, upstream: tuple[str, int], delay: float):
        self.upstream, self.delay = upstream, delay
        self.transport: asyncio.DatagramTransport | None = None
        self.backs: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        asyncio.get_running_loop().create_task(self._forward(data, addr))

    async def _forward(self, data: bytes, addr) -> None:
        back = self.backs.get(addr)
        if back is None:
            relay = self

            class Back(asyncio.DatagramProtocol):
                def datagram_received(self, answer: bytes, _addr) -> None:
                    asyncio.get_running_loop().call_later(relay.delay, relay.transport.sendto, answer, addr)

            back, _ = await asyncio.get_running_loop().create_datagram_endpoint(Back, remote_addr=self.upstream)
            self.backs[addr] = back
        back.sendto(data)


@contextmanager
def relays(upstream_port: int, count: int, delay: float) -> Iterator[list[int]]:
    """`count` relays on loopback, each its own "printer" in front of snmpsim; yields their ports."""
    loop = asyncio.new_event_loop()
    ports: list[int] = []
    ready = threading.Event()

    async def start() -> None:
        for _ in range(count):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Relay(("127.0.0.1", upstream_port), delay), local_addr=("127.0.0.1", 0))
            ports.append(transport.get_extra_info("sockname")[1])
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    try:
        yield ports
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _collector(entries: list[tuple[str, int, str]], concurrency: int, tmp: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from collector_runs import printers

    items = "".join(f"      - name: \"{name}\"\n        address: 127.0.0.1\n        ipp: false\n"
                    f"        snmp_port: {port}\n        community: {community}\n        snmp_timeout: 2s\n"
                    f"        snmp_retries: 0\n"
                    for name, port, community in entries)
    cfg = (f"collectors:\n  printers:\n    local_queues: false\n    concurrency: {concurrency}\n"
           f"    device_timeout: 20s\n    printers:\n{items}")
    return printers(cfg, tmp)


def _time_collection(entries: list[tuple[str, int, str]], concurrency: int, tmp: Path, repeat: int) -> float:
    collector = _collector(entries, concurrency, tmp)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        samples = collector.collect()
        times.append(time.perf_counter() - t0)
        up = [s for s in samples if s.name == "wardwatch_printer_up"]
        if len(up) != len(entries) or not all(s.value == 1 for s in up):
            down = [s.labels["printer"] for s in up if s.value != 1]
            raise RuntimeError(f"printers not read in the benchmark: {down or 'missing'}")
    return statistics.median(times)


def run(quick: bool) -> list[Row]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from printing import SNMPREC_DIR, snmpsim

    repeat = 1 if quick else 3
    recordings = sorted(p.stem for p in SNMPREC_DIR.glob("*.snmprec"))
    communities = {f"printer{i:02d}": recordings[i % len(recordings)] for i in range(PRINTERS)}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wardwatch-bench-printers-") as tmp_, snmpsim(Path(tmp_),
                                                                                            communities) as port:
        tmp = Path(tmp_)
        direct = [(c, port, c) for c in communities]
        _time_collection(direct, PRINTERS, tmp, 1)  # warm up: snmpsim opens each recording once
        parallel = _time_collection(direct, PRINTERS, tmp, repeat)
        serial = _time_collection(direct, 1, tmp, repeat)
        rows.append(Row("printers", f"{PRINTERS} SNMP printers, one collection, loopback", parallel * 1000, "ms",
                        "serial", serial * 1000))
        with relays(port, PRINTERS, LATENCY) as ports:
            slow = [(c, p, c) for c, p in zip(communities, ports, strict=True)]
            parallel = _time_collection(slow, PRINTERS, tmp, repeat)
            serial = _time_collection(slow, 1, tmp, repeat)
            singles = [_time_collection([e], 1, tmp, 1) for e in (slow if not quick else slow[:len(recordings)])]
        label = f"{PRINTERS} SNMP printers, {LATENCY * 1000:.0f} ms per answer"
        rows.append(Row("printers", label, parallel * 1000, "ms", "serial", serial * 1000))
        rows.append(Row("printers", label, parallel * 1000, "ms", "slowest single printer", max(singles) * 1000))
    return rows


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)

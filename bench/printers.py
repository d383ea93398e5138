"""One collection over 20 SNMP printers: side by side (the collector's default way)
against one after the other, and against the slowest single printer, from the same run;
and the agent's SNMP decoding against pysnmp's on the same answers.

snmpsim serves 20 communities (copies of the recordings in ../shared/fixtures/snmprec).
On loopback a "printer" answers at once, which real ones do not: an office printer's SNMP
agent takes tens of milliseconds per answer. And snmpsim is one Python process on one
core answering all 20, where an office has 20 printers each with its own processor: asked
at once, snmpsim's own work would be what is measured. So the run is made twice: straight
to snmpsim, and through a UDP relay per printer that answers each request as snmpsim
answered it the first time (a warm-up collection fills the relays), held back --latency
(40 ms by default) without holding the others back, as 20 separate devices would. With
that latency the parallel collection should take about as long as the slowest single
printer, which is printed beside it.
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

from agent.devices import snmp
from bench.common import Row

PRINTERS = 20
LATENCY = 0.040  # seconds an answer is held back, per request
UNSERVABLE = ("zebra",)
_NO_ID = b"\x02\x01\x00"


def _with_request_id(message: bytes, request_id: bytes) -> tuple[bytes, bytes]:
    """An SNMP message (request or response) with its request-id TLV replaced, and the old one."""
    _, start, stop = snmp._header(message, 0, len(message))  # noqa: SLF001 - the codec's own TLV reader
    _, _, version_stop = snmp._header(message, start, stop)  # noqa: SLF001
    _, _, community_stop = snmp._header(message, version_stop, stop)  # noqa: SLF001
    pdu, pdu_start, pdu_stop = snmp._header(message, community_stop, stop)  # noqa: SLF001
    _, _, id_stop = snmp._header(message, pdu_start, pdu_stop)  # noqa: SLF001
    body = message[start:community_stop] + snmp._tlv(pdu, request_id + message[id_stop:pdu_stop])  # noqa: SLF001
    return snmp._tlv(0x30, body), message[pdu_start:id_stop]  # noqa: SLF001


class _Relay(asyncio.DatagramProtocol):
    """One printer: answers a request `delay` seconds late, as snmpsim (`upstream`) answered it
    the first time; a request not seen before goes on to snmpsim."""

    def __init__(self, upstream: tuple[str, int], delay: float):
        self.upstream, self.delay = upstream, delay
        self.transport: asyncio.DatagramTransport | None = None
        self.answers: dict[bytes, bytes] = {}  # request without its id -> snmpsim's answer
        self.asked: dict[bytes, tuple[bytes, tuple]] = {}  # request id -> (request without it, client)
        self.back: asyncio.DatagramTransport | None = None
        self.misses = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        key, request_id = _with_request_id(data, _NO_ID)
        answer = self.answers.get(key)
        if answer is not None:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto,
                                                  _with_request_id(answer, request_id)[0], addr)
            return
        self.misses += 1
        self.asked[request_id] = (key, addr)
        asyncio.get_running_loop().create_task(self._forward(data))

    async def _forward(self, data: bytes) -> None:
        if self.back is None:
            relay = self

            class Back(asyncio.DatagramProtocol):
                def datagram_received(self, answer: bytes, _addr) -> None:
                    key, addr = relay.asked.pop(_with_request_id(answer, _NO_ID)[1], (None, None))
                    if key is not None:
                        relay.answers[key] = answer
                        asyncio.get_running_loop().call_later(relay.delay, relay.transport.sendto, answer, addr)

            self.back, _ = await asyncio.get_running_loop().create_datagram_endpoint(Back,
                                                                                    remote_addr=self.upstream)
        self.back.sendto(data)


@contextmanager
def relays(upstream_port: int, count: int, delay: float) -> Iterator[list[_Relay]]:
    """`count` relays on loopback, each its own "printer" in front of snmpsim; yields them."""
    loop = asyncio.new_event_loop()
    ports: list[_Relay] = []
    ready = threading.Event()

    async def start() -> None:
        for _ in range(count):
            transport, relay = await loop.create_datagram_endpoint(
                lambda: _Relay(("127.0.0.1", upstream_port), delay), local_addr=("127.0.0.1", 0))
            relay.port = transport.get_extra_info("sockname")[1]
            ports.append(relay)
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
                    f"        snmp_port: {port}\n        community: {community}\n        snmp_timeout: 10s\n"
                    f"        snmp_retries: 0\n"
                    for name, port, community in entries)
    cfg = (f"collectors:\n  printers:\n    local_queues: false\n    concurrency: {concurrency}\n"
           f"    device_timeout: 60s\n    printers:\n{items}")
    return printers(cfg, tmp)


def _time_collection(entries: list[tuple[str, int, str]], concurrency: int, tmp: Path, repeat: int,
                     check: bool = True) -> float:
    collector = _collector(entries, concurrency, tmp)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        samples = collector.collect()
        times.append(time.perf_counter() - t0)
        # every printer answered (whether it can print is what its recording says, not the benchmark's business)
        read = [s for s in samples if s.name == "wardwatch_printer_source_up"]
        if check and (len(read) != len(entries) or not all(s.value == 1 for s in read)):
            silent = [s.labels["printer"] for s in read if s.value != 1]
            raise RuntimeError(f"printers not read in the benchmark: {silent or 'missing'}")
    return statistics.median(times)


def _decoding(port: int, recordings: list[str], rounds: int) -> Row:
    """Microseconds to decode one GETBULK answer of every column wardwatch walks: the agent's
    codec against pyasn1's BER decoder with pysnmp's message spec (what pysnmp does per answer)."""
    import socket

    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api

    from agent.devices import snmp_printer

    answers = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        for community in recordings:
            s.send(snmp.encode_request(snmp.V2C, community.encode(), 1, snmp.GET_BULK, snmp_printer.COLUMNS, 8))
            answers.append(s.recv(65536))
    spec = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C].Message()

    def per_answer(decode) -> float:
        t0 = time.perf_counter()
        for _ in range(rounds):
            for a in answers:
                decode(a)
        return (time.perf_counter() - t0) / (rounds * len(answers)) * 1e6

    theirs = per_answer(lambda a: decoder.decode(a, asn1Spec=spec))
    ours = per_answer(snmp.decode_response)
    size = sum(map(len, answers)) // len(answers)
    return Row("printers", f"decode one GETBULK answer ({size} bytes, {len(answers)} printers' recordings)",
               ours, "µs", "pysnmp (pyasn1 BER decoder)", theirs)


def run(quick: bool) -> list[Row]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from printing import SNMPREC_DIR, snmpsim

    repeat = 1 if quick else 5
    # zebra's hrDeviceID rows cannot be sent by snmpsim: every walk of it waits out a timeout, which would
    # be all this measured (SOURCES.md, "Checked with snmpsim")
    recordings = sorted(p.stem for p in SNMPREC_DIR.glob("*.snmprec") if p.stem not in UNSERVABLE)
    communities = {f"printer{i:02d}": recordings[i % len(recordings)] for i in range(PRINTERS)}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wardwatch-bench-printers-") as tmp_, snmpsim(Path(tmp_),
                                                                                            communities) as port:
        tmp = Path(tmp_)
        direct = [(c, port, c) for c in communities]
        # warm up: snmpsim indexes each recording when first asked, which can outlast a request's timeout
        for _ in range(3):
            _time_collection(direct, 1, tmp, 1, check=False)
        parallel = _time_collection(direct, PRINTERS, tmp, repeat)
        serial = _time_collection(direct, 1, tmp, repeat)
        rows.append(Row("printers", f"{PRINTERS} SNMP printers, one collection, loopback (snmpsim-bound)",
                        parallel * 1000, "ms", "serial", serial * 1000))
        with relays(port, PRINTERS, LATENCY) as printers:
            slow = [(c, r.port, c) for c, r in zip(communities, printers, strict=True)]
            _time_collection(slow, PRINTERS, tmp, 1)  # warm up: each relay learns its printer's answers
            learned = sum(r.misses for r in printers)
            parallel = _time_collection(slow, PRINTERS, tmp, repeat)
            serial = _time_collection(slow, 1, tmp, 1 if quick else 3)
            singles = [_time_collection([e], 1, tmp, 3) for e in slow]
            late = sum(r.misses for r in printers) - learned
        label = f"{PRINTERS} SNMP printers, {LATENCY * 1000:.0f} ms per answer"
        if late:
            label += f" ({late} answers from snmpsim after the warm-up)"
        rows.append(Row("printers", label, parallel * 1000, "ms", "serial", serial * 1000))
        rows.append(Row("printers", label, parallel * 1000, "ms", "slowest single printer", max(singles) * 1000))
        rows.append(_decoding(port, list(communities)[:len(recordings)], 20 if quick else 200))
    return rows


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)

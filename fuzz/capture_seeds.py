"""Captures the fuzz seeds that come from real programs on this machine, through the
agent's own clients, into fuzz/corpus/<target>/ (run once by hand; the results are committed):

    python3 fuzz/capture_seeds.py

- ipp: the raw answers to the agent's own requests (agent.devices.ipp.call) from a real
  ippeveprinter (Get-Printer-Attributes) and a real cupsd with a paused queue and a held
  job (CUPS-Get-Printers, Get-Jobs);
- sane: `scanimage -L` of SANE's test backend;
- dns: dnsmasq's answers to the agent's own queries (A found, AAAA found, NXDOMAIN, REFUSED);
- icmp: the kernel's echo reply to the agent's own echo request on 127.0.0.1 (datagram socket);
- snmp: the walked columns of each recording in shared/fixtures/snmprec;
- snmp_message: snmpsim's raw answers, serving those recordings, to the agent's own requests
  (a GETBULK of every column wardwatch walks, v2c; a GETNEXT, v1).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
CORPUS = REPO / "fuzz" / "corpus"


def save(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    print(f"{target}/{name}: {len(data)} bytes")


def capture_ipp(tmp: Path) -> None:
    from printing import cupsd, dnssd, ippeveprinter

    from agent.devices import ipp

    answers: list[bytes] = []
    real_decode = ipp.decode_response

    def recording(data: bytes) -> ipp.Response:
        answers.append(data)
        return real_decode(data)

    ipp.decode_response = recording
    try:
        with dnssd(tmp), ippeveprinter(tmp, name="Máy in thử") as printer:
            ep = ipp.endpoint_from_uri(printer.uri)
            ipp.get_printer_attributes(ep, 10)
            save("ipp", "ippeveprinter-get-printer-attributes.bin", answers.pop())
            printer.set_supplies(waste=95, toner=3)
            printer.set_media_level(0)
            ipp.get_printer_attributes(ep, 10, requested=["all"])
            save("ipp", "ippeveprinter-all-attributes-toner-low-no-paper.bin", answers.pop())
        with cupsd(tmp) as cups:
            cups.add_queue("may-in-mot-cua", description="Máy in một cửa")
            cups.run("cupsdisable", "may-in-mot-cua")
            doc = tmp / "doc.txt"
            doc.write_text("wardwatch\n")
            cups.run("lp", "-d", "may-in-mot-cua", "-H", "hold", str(doc))
            ep = ipp.cups_endpoint(cups.server)
            ipp.cups_get_printers(ep, 10)
            save("ipp", "cupsd-cups-get-printers.bin", answers.pop())
            ipp.get_jobs_not_completed(ep, 10)
            save("ipp", "cupsd-get-jobs.bin", answers.pop())
    finally:
        ipp.decode_response = real_decode


def capture_sane(tmp: Path) -> None:
    conf = tmp / "sane.d"
    conf.mkdir()
    (conf / "dll.conf").write_text("test\n")
    (conf / "test.conf").write_text("number_of_devices 2\n")
    out = subprocess.run(["scanimage", "-L"], env={**os.environ, "SANE_CONFIG_DIR": str(conf), "LC_ALL": "C"},
                         capture_output=True, timeout=60, check=True).stdout
    save("sane", "scanimage-L-test-backend.txt", out)
    (conf / "dll.conf").write_text("")
    out = subprocess.run(["scanimage", "-L"], env={**os.environ, "SANE_CONFIG_DIR": str(conf), "LC_ALL": "C"},
                         capture_output=True, timeout=60).stdout
    save("sane", "scanimage-L-none.txt", out)


def capture_dns(tmp: Path) -> None:
    from wan_servers import dnsmasq

    from agent.wan import dns

    def ask(port: int, name: str, qtype: int) -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(dns.build_query(0x1234, name, qtype), ("127.0.0.1", port))
            return s.recv(4096)

    records = {"dichvucong.example": "192.0.2.10", "v6.dichvucong.example": "2001:db8::10"}
    with dnsmasq(tmp, records, local="dichvucong.example") as port:
        save("dns", "dnsmasq-a.bin", ask(port, "dichvucong.example", 1))
        save("dns", "dnsmasq-aaaa.bin", ask(port, "v6.dichvucong.example", 28))
        save("dns", "dnsmasq-nxdomain.bin", ask(port, "khong-co.dichvucong.example", 1))
        save("dns", "dnsmasq-refused.bin", ask(port, "other.example", 1))


def capture_icmp() -> None:
    from agent.wan import icmp

    for family, host, label in ((socket.AF_INET, "127.0.0.1", "ipv4"), (socket.AF_INET6, "::1", "ipv6")):
        sock, mode = icmp.open_socket(family)
        with sock:
            sock.settimeout(5)
            payload = os.urandom(8) + bytes(range(icmp.PAYLOAD_SIZE - 8))
            sock.sendto(icmp.build_echo(family, 0x4242, 7, payload), (host, 0))
            while True:
                data = sock.recv(2048)
                if icmp.parse_reply(data, family, mode) is not None:
                    break
        save("icmp", f"echo-reply-{label}-{mode}.bin", data)
        if family == socket.AF_INET and mode == "raw":  # what a datagram socket hands over: no IP header
            save("icmp", "echo-reply-ipv4-dgram.bin", data[(data[0] & 0x0F) * 4:])


def capture_agent_files(tmp: Path) -> None:
    """The agent's own state files, written by its own code: a store-and-forward segment of two
    recorded snapshots (and its progress file), and the saved WAN outage counters."""
    from agent.collectors.base import Sample
    from agent.wan.health import Counters
    from agent.wan.state import FILE_NAME, StateStore
    from exporters import wal
    from exporters.remote_write import SeriesEncoder

    enc = SeriesEncoder({"job": "wardwatch", "instance": "pc-01", "commune": "phuc-xa"})
    buf = wal.Buffer(tmp / "wal", max_bytes=1 << 20, max_age=1e9, fsync=False)
    stamp = 1_750_000_000_000
    snapshots = [[Sample("wardwatch_printer_up", {"printer": "Máy in một cửa"}, 1.0),
                  Sample("wardwatch_wan_up", {"target": "portal", "role": "portal"}, 1.0)],
                 [Sample("wardwatch_wan_up", {"target": "portal", "role": "portal"}, 0.0)]]
    for i, samples in enumerate(snapshots):
        payload, n = enc.encode(samples, stamp + i * 15000)
        buf.append(stamp + i * 15000, n, payload)
    first = buf.read(1)
    buf.advance(first[-1].end)
    buf.close()
    segment = (tmp / "wal" / wal.segment_name(1)).read_bytes()
    progress = (tmp / "wal" / wal.PROGRESS).read_bytes()
    save("wal_segment", "two-snapshots.seg", segment)
    save("wal_segment", "torn-last-record.seg", segment[:-7])
    save("wal_open", "progress-and-segment.bin", progress + b"\n" + segment)
    save("wal_open", "segment-only.bin", segment)
    StateStore(tmp).save({"portal": Counters(125.5, 2, False, 0), "auto-dns": Counters(30.0, 1, True, 3)})
    save("wan_state", "two-targets.json", (tmp / FILE_NAME).read_bytes())


SNMP_KEEP = ("1.3.6.1.2.1.1.1.", "1.3.6.1.2.1.25.3.2.1.", "1.3.6.1.2.1.25.3.5.1.", "1.3.6.1.2.1.43.5.1.1.17.",
             "1.3.6.1.2.1.43.8.2.1.", "1.3.6.1.2.1.43.11.1.1.", "1.3.6.1.2.1.43.16.5.1.2.",
             "1.3.6.1.2.1.43.18.1.1.")


def capture_snmp() -> None:
    from printing import SNMPREC_DIR

    from agent.devices import snmp_printer

    walked = tuple(".".join(map(str, c)) + "." for c in snmp_printer.COLUMNS)
    for rec in sorted(SNMPREC_DIR.glob("*.snmprec")):
        lines = [line for line in rec.read_text(errors="replace").splitlines() if line.startswith(walked)]
        save("snmp", rec.stem + ".snmprec", ("\n".join(lines) + "\n").encode())


def capture_snmp_messages(tmp: Path) -> None:
    from printing import SNMPREC_DIR, snmpsim

    from agent.devices import snmp, snmp_printer

    with snmpsim(tmp) as port, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        for rec in sorted(p.stem for p in SNMPREC_DIR.glob("*.snmprec")):
            for version, pdu, label in ((snmp.V2C, snmp.GET_BULK, "getbulk"), (snmp.V1, snmp.GET_NEXT, "getnext")):
                s.send(snmp.encode_request(version, rec.encode(), 1, pdu, snmp_printer.COLUMNS, 8))
                save("snmp_message", f"{rec}-{label}.ber", s.recv(65536))


def capture_snmp_v3_messages(tmp: Path) -> None:
    from printing import snmpsim

    from agent.devices import snmp, snmp_printer, snmp_usm
    from fuzz.targets import _V3, V3_ENGINE_ID

    v3 = [f"--v3-engine-id={V3_ENGINE_ID.hex()}", "--v3-user=wardwatch", "--v3-auth-proto=SHA",
          "--v3-auth-key=m0t-cua-auth", "--v3-priv-proto=AES", "--v3-priv-key=m0t-cua-priv"]
    with snmpsim(tmp, {"public": "brother-nc7700w"}, v3=v3) as port, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        security = snmp_usm.Security(_V3.usm)
        s.send(security.discovery(1))
        save("snmp_v3_message", "discovery-report.ber", s.recv(65536))
        security.decode((CORPUS / "snmp_v3_message" / "discovery-report.ber").read_bytes())
        s.send(security.encode(2, snmp.encode_pdu(snmp.GET_BULK, 2, snmp_printer.COLUMNS, 8)))
        save("snmp_v3_message", "getbulk-authpriv.ber", s.recv(65536))
        wrong = snmp_usm.Security(snmp_usm.Usm("wardwatch", "SHA", "sai-mat-khau", "AES", "m0t-cua-priv", "public"))
        wrong.decode((CORPUS / "snmp_v3_message" / "discovery-report.ber").read_bytes())
        s.send(wrong.encode(3, snmp.encode_pdu(snmp.GET_BULK, 3, snmp_printer.COLUMNS, 8)))
        save("snmp_v3_message", "wrong-digest-report.ber", s.recv(65536))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wardwatch-seeds-") as t:
        tmp = Path(t)
        for step in (capture_ipp, capture_sane, capture_dns, capture_agent_files, capture_snmp_messages,
                     capture_snmp_v3_messages):
            sub = tmp / step.__name__
            sub.mkdir()
            step(sub)
    capture_icmp()
    capture_snmp()


if __name__ == "__main__":
    main()

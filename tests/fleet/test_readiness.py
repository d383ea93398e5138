"""`wardwatch readiness` against a real Prometheus scraping the fleet simulator: one
target per simulated PC (labels from file_sd, the WAN role renamed exported_role as
Prometheus does without honor_labels), and a week of WAN history backfilled with
promtool. Every commune's verdict and reasons must match the simulator's ground
truth; the CSV parses back; the JSON validates against docs/readiness.schema.json;
the HTML opens in headless Chromium."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import jsonschema
import pytest
from fleet_sim import DOWN, UNSEEN, Fleet, Printer, Scanner, WanTarget, serve
from support import REPO, free_port, need, prometheus, prometheus_data, prometheus_query, serving, wait_for

from fleet import readiness as rd
from fleet.errors import EXIT_UNREACHABLE, FleetError
from fleet.promapi import Prometheus

SCHEMA = json.loads((REPO / "docs/readiness.schema.json").read_text())
HISTORY_DAYS = 7
HISTORY_STEP = 1800.0


def build_fleet() -> Fleet:
    """Every reason at least once, alone and together, and partial faults that must not count."""
    f = Fleet()
    rnd = random.Random(7)

    def commune(district: str, dname: str, commune: str, cname: str, n: int = 3):
        c = f.add_commune(district, dname, commune, cname)
        pcs = [f.add_pc(c, f"{district[:3]}-{commune.replace('_', '')}-{i + 1:02d}") for i in range(n)]
        for pc in pcs:
            for t in pc.wan:
                t.rtt = round(rnd.uniform(0.015, 0.06), 4)
        return pcs

    # Ba Đình: reporting
    commune("ba_dinh", "Ba Đình", "phuc_xa", "Phúc Xá")                           # READY
    pcs = commune("ba_dinh", "Ba Đình", "truc_bach", "Trúc Bạch")                 # READY: 1 of 3 reports
    pcs[0].state, pcs[1].state = DOWN, UNSEEN
    for pc in commune("ba_dinh", "Ba Đình", "vinh_phuc", "Vĩnh Phúc"):            # none reporting (down)
        pc.state = DOWN
        pc.spec_ok = False  # unknowable: must not be a reason
    for pc in commune("ba_dinh", "Ba Đình", "cong_vi", "Cống Vị", n=2):           # never seen by Prometheus
        pc.state = UNSEEN
    f.add_commune("ba_dinh", "Ba Đình", "lieu_giai", "Liễu Giai")                 # no PC in the inventory
    # Cầu Giấy: devices
    for pc in commune("cau_giay", "Cầu Giấy", "dich_vong", "Dịch Vọng"):          # no PC meets spec
        pc.spec_ok = False
    pcs = commune("cau_giay", "Cầu Giấy", "xuan_la", "Xuân La")                   # printers and scanners broken
    for pc in pcs:
        pc.printers = [Printer("may-in-xuan_la", up=False, problems=("jammed", "toner_empty"))]
        pc.scanners = [Scanner(f"scan-{pc.name}", up=False)]
    pcs[0].printers.append(Printer("hp-rieng", up=False, problems=("offline",)))
    pcs = commune("cau_giay", "Cầu Giấy", "nhat_tan", "Nhật Tân")                 # READY: one PC's own printer
    pcs[1].printers = [Printer("hp-rieng", up=False, problems=("jammed",))]       # broken, shared one works
    pcs[2].scanners = []
    pcs = commune("cau_giay", "Cầu Giấy", "quan_thanh", "Quán Thánh", n=2)         # scanners: none at all
    for pc in pcs:
        pc.scanners = []
    # Đống Đa: WAN and client
    for pc in commune("dong_da", "Đống Đa", "lang_thuong", "Láng Thượng"):        # portal down everywhere
        for t in pc.wan:
            if t.role == "portal":
                t.up, t.loss = False, 1.0
    for pc in commune("dong_da", "Đống Đa", "kim_ma", "Kim Mã"):                  # gateway degraded everywhere
        for t in pc.wan:
            if t.role == "gateway":
                t.degraded, t.rtt, t.loss = True, 0.4, 0.15
    pcs = commune("dong_da", "Đống Đa", "ngoc_ha", "Ngọc Hà")                     # READY: portal down from 2 PCs
    for pc in pcs[:2]:
        for t in pc.wan:
            if t.role == "portal":
                t.up = False
        for t in pc.wan:
            if t.role == "gateway":
                t.degraded = True
    for pc in commune("dong_da", "Đống Đa", "dien_bien", "Điện Biên"):            # no portal/gateway measured
        pc.wan = [WanTarget("dns-1", "dns")]
    pcs = commune("dong_da", "Đống Đa", "doi_can", "Đội Cấn")                     # client missing + WAN both
    pcs[0].vclient, pcs[1].vclient, pcs[2].vclient = False, None, False
    for pc in pcs:
        for t in pc.wan:
            if t.role == "portal":
                t.up, t.loss = False, 1.0
            if t.role == "gateway":
                t.degraded = True
    pcs = commune("dong_da", "Đống Đa", "giang_vo", "Giảng Võ")                   # READY: client on one PC
    pcs[0].vclient, pcs[1].vclient = None, False
    pcs = commune("dong_da", "Đống Đa", "ngoc_khanh", "Ngọc Khánh")               # everything at once
    for pc in pcs:
        pc.spec_ok, pc.vclient = False, False
        pc.printers = [Printer("p", up=False, problems=("door_open",))]
        pc.scanners = [Scanner("s", up=False)]
        for t in pc.wan:
            t.up = t.role != "portal"
    return f


def wardwatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=120)


def backfill(fleet: Fleet, tmp: Path, end: float) -> Path:
    """A week of WAN history for the communes, as TSDB blocks Prometheus starts with."""
    om = tmp / "history.om"
    om.write_text(fleet.history_openmetrics(end - HISTORY_DAYS * 86400, end, HISTORY_STEP))
    data = prometheus_data(tmp)
    subprocess.run([need("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(om), str(data)],
                   check=True, capture_output=True, timeout=120)
    om.unlink()
    return data


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("readiness")
    fleet = build_fleet()
    port = free_port()
    inventory = tmp / "inventory.yml"
    inventory.write_text(fleet.inventory_yaml())
    sd = tmp / "targets.json"
    sd.write_text(json.dumps(fleet.file_sd(f"127.0.0.1:{port}")))
    backfill(fleet, tmp, time.time() - 15 * 60)
    scrape = [{"job_name": "wardwatch", "scrape_interval": "1s", "file_sd_configs": [{"files": [str(sd)]}]}]
    with serve(fleet, port), prometheus(tmp, scrape) as prom:
        reporting = sum(pc.state != UNSEEN for pc in fleet.pcs.values())
        wait_for(lambda: len(prometheus_query(prom, 'up{role="pc"}')) == reporting, timeout=30,
                 what="every simulated PC scraped")
        # two scrapes of every PC, so rate() has what it needs
        wait_for(lambda: prometheus_query(prom, 'min(count_over_time(up{role="pc"}[1m])) >= 3'), timeout=30,
                 what="three scrapes of every PC")
        yield {"fleet": fleet, "prom": prom, "inventory": inventory, "tmp": tmp}


def _json(env, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    r = wardwatch("readiness", "--inventory", str(env["inventory"]), "--prometheus", env["prom"],
                  "--format", "json", "--lang", "en", *extra)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout), r


def test_every_commune_matches_the_ground_truth(env):
    fleet: Fleet = env["fleet"]
    doc, r = _json(env)
    assert r.returncode == 1  # some commune is NOT READY
    jsonschema.validate(doc, SCHEMA)
    truth = fleet.truth()
    got = {(c["district"], c["commune"]): [x["code"] for x in c["reasons"]] for c in doc["communes"]}
    assert got == truth
    assert sum(not v for v in truth.values()) == doc["summary"]["ready"] == 5
    for c in doc["communes"]:
        assert c["verdict"] == ("READY" if not truth[(c["district"], c["commune"])] else "NOT_READY")
        model = fleet.communes[(c["district"], c["commune"])]
        states = {p: fleet.pcs[p].state for p in model.pcs}
        assert c["pcs"]["total"] == len(model.pcs)
        assert c["pcs"]["reporting"] == sum(s == "up" for s in states.values())
        assert c["pcs"]["not_reporting"] == sorted(p for p, s in states.items() if s != "up")
        assert c["pcs"]["never_seen"] == sorted(p for p, s in states.items() if s == UNSEEN)
    by = {c["commune"]: c for c in doc["communes"]}
    # details behind the reasons
    assert by["xuan_la"]["printers"] == {"total": 2, "working": 0,
                                         "problems": {"jammed": 1, "offline": 1, "toner_empty": 1}}
    assert by["nhat_tan"]["printers"]["total"] == 2 and by["nhat_tan"]["printers"]["working"] == 1
    assert by["quan_thanh"]["scanners"] == {"total": 0, "working": 0}
    assert by["quan_thanh"]["reasons"] == [{"code": "no_working_scanner", "text": "no scanner found"}]
    assert {(t["target"], t["state"]) for t in by["doi_can"]["wan"]["targets"]} == {
        ("dichvucong", "down"), ("vdi-gateway", "degraded")}
    assert by["doi_can"]["pcs"]["client_installed"] == 0 and by["giang_vo"]["pcs"]["client_installed"] == 1
    assert by["kim_ma"]["wan"]["state"] == "degraded" and by["phuc_xa"]["wan"]["state"] == "ok"
    assert by["dien_bien"]["wan"]["state"] == "none"
    assert "dichvucong (portal)" in next(x["text"] for x in by["lang_thuong"]["reasons"] if x["code"] == "wan_down")
    # loss and latency now, from the simulated PCs (portal + gateway targets)
    kim_ma = fleet.communes[("dong_da", "kim_ma")]
    expected_loss = sum(t.loss for p in kim_ma.pcs for t in fleet.pcs[p].wan if t.role != "dns") / 6
    assert by["kim_ma"]["wan"]["loss_ratio"] == pytest.approx(expected_loss, abs=1e-6)
    assert 0.015 < by["phuc_xa"]["wan"]["rtt_seconds"] < 0.06
    assert by["kim_ma"]["wan"]["rtt_seconds"] > 0.2  # the degraded gateway at 400 ms pulls the mean up
    # per district
    districts = {d["district"]: d for d in doc["districts"]}
    assert districts["ba_dinh"] == {"district": "ba_dinh", "name": "Ba Đình", "communes": 5, "ready": 2,
                                    "not_ready": 3, "pcs": 11, "pcs_reporting": 4}
    # a bounded number of queries, aggregated (none per host or commune)
    assert doc["queries"] == 10
    assert doc["schema_version"] == 1 and doc["history_seconds"] is None
    # progress: the inventory, then each query as its answer comes in (in any order), then done
    steps = re.findall(r"^readiness: \[(\d+)/(\d+)\] (.+) \(\d+\.\ds\)$", r.stderr, re.M)
    assert steps[0] == ("0", "1", "reading the inventory") and steps[-1] == ("10", "10", "done")
    assert [(int(n), int(t)) for n, t, _ in steps[1:]] == [(n, 10) for n in range(1, 11)] + [(10, 10)]
    assert len({what for _, _, what in steps[1:-1]}) == 10


def test_csv_parses_back_and_matches_the_json(env, tmp_path):
    doc, _ = _json(env)
    out = tmp_path / "report.csv"
    r = wardwatch("readiness", "--inventory", str(env["inventory"]), "--prometheus", env["prom"],
                  "--format", "csv", "--lang", "vi", "--out", str(out), "-q")
    assert r.returncode == 1 and r.stdout == "" and r.stderr == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads Vietnamese right with the BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == len(doc["communes"])
    for row, c in zip(rows, doc["communes"], strict=True):
        assert (row["district"], row["commune"], row["commune_name"]) == (c["district"], c["commune"], c["name"])
        assert row["verdict"] == c["verdict"]
        assert ([x for x in row["reasons"].split(";") if x]) == [x["code"] for x in c["reasons"]]
        assert int(row["pcs_reporting"]) == c["pcs"]["reporting"]
        assert int(row["printers_working"]) == c["printers"]["working"]
        assert row["not_reporting"].split(";") == (c["pcs"]["not_reporting"] or [""])
    xuan_la = next(r for r in rows if r["commune"] == "xuan_la")
    assert xuan_la["verdict_text"] == "CHƯA SẴN SÀNG"
    assert "kẹt giấy 1" in xuan_la["reasons_text"] and "hết mực 1" in xuan_la["reasons_text"]


def test_table_in_both_languages(env):
    args = ("readiness", "--inventory", str(env["inventory"]), "--prometheus", env["prom"])
    vi = wardwatch(*args, "--lang", "vi", "-q")
    en = wardwatch(*args, "--lang", "en", "-q")
    assert vi.returncode == en.returncode == 1
    assert "Ba Đình (ba_dinh): 2/5 xã/phường sẵn sàng" in vi.stdout
    assert "Ba Đình (ba_dinh): 2 of 5 communes READY" in en.stdout
    line = next(x for x in en.stdout.splitlines() if x.strip().startswith("Trúc Bạch"))
    assert "READY" in line and "1/3" in line and "(never seen by Prometheus)" in line
    line = next(x for x in vi.stdout.splitlines() if x.strip().startswith("Vĩnh Phúc"))
    assert "CHƯA SẴN SÀNG" in line and "không máy nào gửi số liệu (0/3 máy)" in line
    assert "cấu hình" not in line  # PCs that do not report say nothing about their spec
    line = next(x for x in en.stdout.splitlines() if x.strip().startswith("Ngọc Khánh"))
    for reason in ("no PC meets the minimum spec", "no working printer", "no working scanner", "WAN down to",
                   "virtualized client is installed on no PC"):
        assert reason in line


def test_district_and_commune_filters(env):
    doc, _ = _json(env, "--district", "Cầu Giấy")
    assert {c["commune"] for c in doc["communes"]} == {"dich_vong", "xuan_la", "nhat_tan", "quan_thanh"}
    assert doc["filter"] == {"district": "cau_giay", "commune": None}
    assert [d["district"] for d in doc["districts"]] == ["cau_giay"]
    doc, r = _json(env, "--commune", "truc_bach")
    assert [c["commune"] for c in doc["communes"]] == ["truc_bach"] and r.returncode == 0
    assert doc["queries"] == 10
    doc, r = _json(env, "--district", "ba_dinh", "--commune", "Phúc Xá")
    assert [c["name"] for c in doc["communes"]] == ["Phúc Xá"] and r.returncode == 0


def test_bad_input_and_unreachable_prometheus_are_one_line(env, tmp_path):
    inv, prom = str(env["inventory"]), env["prom"]
    out = tmp_path / "r.html"
    cases = [
        (["--inventory", inv, "--prometheus", prom, "--district", "Hà Đông"], 2, "unknown district"),
        (["--inventory", inv, "--prometheus", prom, "--district", "ba_dinh", "--commune", "kim_ma"], 2,
         "is not in district"),
        (["--inventory", inv, "--prometheus", f"http://127.0.0.1:{free_port()}", "--format", "html", "--out",
          str(out)], 3, "did not answer"),
        (["--inventory", inv, "--prometheus", prom, "--at", "2999-01-01T00:00"], 2, "in the future"),
        (["--inventory", inv, "--prometheus", prom, "--at", "yesterday"], 2, "--at 'yesterday'"),
        (["--inventory", inv, "--prometheus", prom, "--out", str(tmp_path / "missing" / "r.csv")], 2,
         "does not exist"),
        (["--inventory", str(tmp_path / "nothing.yml"), "--prometheus", prom], 2, "inventory not found"),
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text(env["inventory"].read_text().replace("    district_ba_dinh:", "    district_ba_dinh:\n"
                                                                                  "      hostz: {}", 1))
    cases.append((["--inventory", str(bad), "--prometheus", prom], 2, f"{bad}:"))
    # the queries run while the inventory is read: a bad inventory is still what is reported
    cases.append((["--inventory", str(bad), "--prometheus", f"http://127.0.0.1:{free_port()}"], 2, f"{bad}:"))
    for args, code, text in cases:
        r = wardwatch("readiness", "-q", *args)
        assert r.returncode == code, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and text in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists() and list(tmp_path.glob(".r.html.*")) == []  # nothing half-written


def test_html_opens_offline_in_chromium_with_table_and_charts(env, tmp_path):
    out = tmp_path / "readiness.html"
    r = wardwatch("readiness", "--inventory", str(env["inventory"]), "--prometheus", env["prom"],
                  "--format", "html", "--lang", "vi", "--out", str(out))
    assert r.returncode == 1, r.stderr
    html = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from the network
    assert "<script" not in html
    dom, png = chromium(out, tmp_path)
    # the table: one row per commune, the verdicts in Vietnamese
    rows = re.findall(r'<tr class="(ready|not-ready)" data-district="([a-z_]+)" data-commune="([a-z_]+)"', dom)
    truth = env["fleet"].truth()
    assert {(d, c): cls == "ready" for cls, d, c in rows} == {k: not v for k, v in truth.items()}
    assert dom.count(">CHƯA SẴN SÀNG<") == sum(bool(v) for v in truth.values())
    # the charts: stacked bars per district, WAN sparklines per commune (with a week of history)
    bars = re.search(r'<figure id="chart-districts">(.*?)</figure>', dom, re.S).group(1)
    assert bars.count('class="ready"') == 3 and bars.count('class="not-ready"') == 3
    sparks = re.findall(r'<svg class="chart spark".*?</svg>', dom, re.S)
    assert len(sparks) >= 2 * 10
    longest = max(len(re.findall(r"[ML]", s.split(' d="')[1].split('"')[0])) for s in sparks if ' d="' in s)
    assert longest >= 100  # a week of hourly points, not just the live minutes
    # the screenshot: a real PNG showing the chart colours
    width, height, pixels = decode_png(png)
    assert width == 1280 and height > 500
    assert (0x2E, 0x7D, 0x32) in pixels and (0xC6, 0x28, 0x28) in pixels  # ready green, not-ready red


def test_at_evaluates_in_the_past(env):
    fleet: Fleet = env["fleet"]
    doc, r = _json(env, "--commune", "phuc_xa")
    assert doc["communes"][0]["verdict"] == "READY"
    before = time.time()
    time.sleep(1.5)  # a scrape of the healthy state lands before `before`... and none of the broken one
    for name in fleet.communes[("ba_dinh", "phuc_xa")].pcs:
        fleet.update(name, lambda pc: [setattr(p, "up", False) for p in pc.printers])
    wait_for(lambda: prometheus_query(env["prom"], 'max(wardwatch_printer_up{commune="phuc_xa"}) == 0'),
             timeout=20, what="the broken printers scraped")
    now, _ = _json(env, "--commune", "phuc_xa")
    past, _ = _json(env, "--commune", "phuc_xa", "--at", f"{before:.3f}")
    assert [x["code"] for x in now["communes"][0]["reasons"]] == ["no_working_printer"]
    assert past["communes"][0]["verdict"] == "READY" and past["evaluated_at_unix"] == pytest.approx(before, abs=1e-3)


@pytest.fixture(scope="module")
def federated(tmp_path_factory):
    """A generated fleet served federation-style (as district Prometheus servers would),
    scraped with honor_labels: the WAN role stays `role`, `up` of each PC comes with it."""
    tmp = tmp_path_factory.mktemp("readiness-federated")
    fleet = Fleet.generate(districts=5, communes_per_district=5, pcs_per_commune=3, seed=11)
    port = free_port()
    inventory = tmp / "inventory.yml"
    inventory.write_text(fleet.inventory_yaml())
    districts = sorted({c.district for c in fleet.communes.values()})
    scrape = [{"job_name": "wardwatch-federate", "honor_labels": True, "scrape_interval": "1s",
               "metrics_path": f"/federate/{d}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
              for d in districts]
    for i, job in enumerate(scrape):
        job["job_name"] += f"-{i}"
    with serve(fleet, port), prometheus(tmp, scrape) as prom:
        wait_for(lambda: prometheus_query(prom, 'min(count_over_time(up{role="pc"}[1m])) >= 3'),
                 timeout=30, what="three federation scrapes")
        yield {"fleet": fleet, "prom": prom, "inventory": inventory}


def test_federated_fleet_matches_the_ground_truth(federated):
    fleet: Fleet = federated["fleet"]
    r = wardwatch("readiness", "--inventory", str(federated["inventory"]), "--prometheus", federated["prom"],
                  "--format", "json", "--lang", "vi", "--history", "10m", "-q")
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SCHEMA)
    truth = fleet.truth()
    assert {(c["district"], c["commune"]): [x["code"] for x in c["reasons"]] for c in doc["communes"]} == truth
    assert r.returncode == (1 if any(truth.values()) else 0)
    kinds = {code for reasons in truth.values() for code in reasons}
    assert len(kinds) >= 5 and 0 < doc["summary"]["ready"] < len(truth)  # a mix, not one answer for all
    assert doc["queries"] == 12 and doc["history_seconds"] == 600
    with_history = [c for c in doc["communes"] if c["wan"].get("history", {}).get("rtt_seconds")]
    assert len(with_history) >= len(truth) // 2


# --- headless Chromium and its screenshot ---------------------------------------------

def chromium(page: Path, tmp: Path) -> tuple[str, Path]:
    binary = need("chromium")
    common = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
              f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1280,1600"]
    png = tmp / "screenshot.png"
    r = subprocess.run([*common, f"--screenshot={png}", page.as_uri()], capture_output=True, text=True, timeout=90)
    assert png.exists() and png.stat().st_size > 10_000, r.stderr[-2000:]
    r = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, png


def decode_png(path: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the set of RGB colours of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        if y % 2 == 0:  # every other row is plenty to find the chart colours
            colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=False))
        prev = line
    return width, height, colours


# --- the queries in flight together -------------------------------------------------------------------

@contextlib.contextmanager
def slow_prometheus(refuse: str | None = None) -> Iterator[tuple[str, dict]]:
    """An HTTP server answering every query with an empty vector after holding it until a second one
    arrives or 2 s pass; it counts the queries and the most in flight at once. A query containing
    `refuse` gets Prometheus' 400 answer."""
    seen = {"queries": [], "in_flight": 0, "most": 0}
    lock, arrived = threading.Lock(), threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            query = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())["query"][0]
            with lock:
                seen["queries"].append(query)
                seen["in_flight"] += 1
                seen["most"] = max(seen["most"], seen["in_flight"])
            with arrived:
                arrived.notify_all()
                arrived.wait_for(lambda: seen["in_flight"] > 1, timeout=2)
            if refuse and refuse in query:
                code, body = 400, {"status": "error", "errorType": "bad_data", "error": "parse error"}
            else:
                code, body = 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            with lock:
                seen["in_flight"] -= 1

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as addr:
        yield f"http://{addr}", seen


SCOPE = rd.Scope([("ba_dinh", "Ba Đình", "phuc_xa", "Phúc Xá", ["pc1", "pc2"])])


@pytest.mark.parametrize("source, queries", [("raw", 10), ("recorded", 7)])
def test_the_queries_of_a_report_are_in_flight_together(source, queries):
    with slow_prometheus() as (url, seen):
        report = rd.build(SCOPE, Prometheus(url, timeout=10), at=1716170400.0, source=source)
    assert report.queries == len(seen["queries"]) == queries and len(set(seen["queries"])) == queries
    assert seen["most"] > 1  # one at a time would never have two
    [c] = report.communes
    assert c.reasons == [rd.PCS_NOT_REPORTING] and c.never_seen == ["pc1", "pc2"]


def test_a_refused_query_stops_the_report_and_the_collector_is_back_as_it_was():
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            with slow_prometheus(refuse="wardwatch_scanner_up") as (url, _):
                with pytest.raises(FleetError, match="query refused .*parse error") as e:
                    rd.build(SCOPE, Prometheus(url, timeout=10), at=1716170400.0)
            assert e.value.exit_code == EXIT_UNREACHABLE
            # the queries still in flight end on their own (the error was not held up by them)
            wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("readiness-query")],
                     timeout=10, what="the report's query threads ended")
            assert gc.isenabled() is enabled
        finally:
            gc.enable()

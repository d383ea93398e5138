"""Check rows of the WAN section, from the series the collector emits."""

import time

import pytest

from agent.collectors.base import Sample
from agent.report import FAIL, PASS, UNKNOWN
from agent.report.wan import rows

THRESHOLDS = {"rtt_degraded_seconds": 0.2, "loss_degraded_ratio": 0.05, "jitter_degraded_seconds": 0.05,
              "failures_down": 2, "cert_expiry_warning_seconds": 14 * 86400}


def series(target="portal", role="portal", *, success=1, up=1, degraded=0, rtt=0.0423, loss=0.0, jitter=0.0031,
           error=None, failures=0, outages=0, outage_s=0.0, expiry=None, kind="http"):
    lab = {"target": target, "role": role}
    out = [Sample("wardwatch_wan_target_info", {**lab, "kind": kind, "address": "https://portal.example/"}, 1),
           Sample("wardwatch_wan_probe_success", lab, success),
           Sample("wardwatch_wan_consecutive_failures", lab, failures),
           Sample("wardwatch_wan_outages_total", lab, outages),
           Sample("wardwatch_wan_outage_seconds_total", lab, outage_s)]
    if error == "icmp_not_permitted":
        return out + [Sample("wardwatch_wan_probe_error", {**lab, "error": error}, 1)]
    if error:
        out.append(Sample("wardwatch_wan_probe_error", {**lab, "error": error}, 1))
    out += [Sample("wardwatch_wan_up", lab, up), Sample("wardwatch_wan_degraded", lab, degraded)]
    for name, v in (("rtt_median", rtt), ("loss_ratio", loss), ("jitter", jitter)):
        if v is not None:
            out.append(Sample(f"wardwatch_wan_{name}" + ("_seconds" if name != "loss_ratio" else ""), lab, v))
    if expiry is not None:
        out.append(Sample("wardwatch_wan_cert_expiry_timestamp_seconds", lab, expiry))
    return out


def doc(*targets):
    head = [Sample("wardwatch_wan_targets", {}, len(targets))]
    head += [Sample("wardwatch_wan_threshold", {"threshold": k}, v) for k, v in THRESHOLDS.items()]
    return head + [s for t in targets for s in t]


def test_good_target_in_both_languages():
    (vi,) = rows(doc(series()), "vi")
    assert (vi.status, vi.subject, vi.detail) == (PASS, "Đường truyền tới portal (cổng dịch vụ công)", "TỐT")
    assert vi.found == "42.3 ms, mất gói 0%, dao động 3.1 ms"
    assert vi.needed == "≤ 200.0 ms, mất gói ≤ 5.0%, dao động ≤ 50.0 ms"
    (en,) = rows(doc(series()), "en")
    assert (en.status, en.subject, en.detail) == (PASS, "Link to portal (portal)", "GOOD")
    assert en.found == "42.3 ms, loss 0%, jitter 3.1 ms"


def test_degraded_names_each_reason():
    (r,) = rows(doc(series(degraded=1, rtt=0.35, loss=0.12)), "en")
    assert (r.status, r.detail) == (FAIL, "DEGRADED: high latency, high loss")
    (r,) = rows(doc(series(degraded=1, jitter=0.08)), "vi")
    assert (r.status, r.detail) == (FAIL, "YẾU: dao động độ trễ lớn")


def test_down_failing_and_history():
    (r,) = rows(doc(series(success=0, up=0, error="timeout", failures=4, outages=3, outage_s=754, rtt=None,
                           loss=1.0, jitter=None)), "en")
    assert r.status == FAIL
    assert r.detail == "DOWN: no answer within the timeout; 3 outage(s) so far, 13 min in all"
    assert r.found == "loss 100%"
    (r,) = rows(doc(series(success=0, error="refused", failures=1)), "vi")
    assert r.status == FAIL
    assert r.detail == "LỖI: bị từ chối kết nối; lượt đo gần nhất lỗi (1/2 lượt trước khi coi là mất kết nối)"


def test_not_probed_and_icmp_not_permitted_are_unknown():
    lab = {"target": "gw", "role": "gateway"}
    pending = [Sample("wardwatch_wan_target_info", {**lab, "kind": "icmp", "address": "192.0.2.1"}, 1)]
    (r,) = rows(doc(pending), "en")
    assert (r.status, r.detail) == (UNKNOWN, "first probe not finished yet")
    (r,) = rows(doc(series("gw", "gateway", success=0, error="icmp_not_permitted", kind="icmp")), "vi")
    assert r.status == UNKNOWN and "ping_group_range" in r.detail and "không được phép" in r.detail
    (r,) = rows(doc(series("gw", "gateway", success=0, error="icmp_not_permitted", kind="icmp")), "en")
    assert "ping_group_range" in r.detail and "on Windows, leave icmp_socket at auto" in r.detail


@pytest.mark.parametrize("days, status", [(40, PASS), (10, FAIL), (-3, FAIL)])
def test_certificate_rows(days, status):
    now = time.mktime((2026, 11, 1, 12, 0, 0, 0, 0, 0))
    (_, cert) = rows(doc(series(expiry=now + days * 86400 + 60)), "en", now=now)
    assert cert.status == status and cert.subject == "TLS certificate of portal" and cert.needed == "≥ 14 days"
    assert cert.found.startswith("expires ") if days > 0 else cert.found.startswith("expired ")
    if days > 0:
        assert f"(in {days} days)" in cert.found
    (_, cert) = rows(doc(series(expiry=now + days * 86400 + 60)), "vi", now=now)
    assert ("hết hạn" in cert.found) and cert.needed == "≥ 14 ngày"

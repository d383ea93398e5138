"""Check rows for the WAN collector: each target with its round-trip time, loss
and jitter against the thresholds, and a verdict (good, degraded, failing, down);
each TLS certificate with its expiry. Display only."""

from __future__ import annotations

import math
import time

from agent.collectors.base import Sample
from agent.report import FAIL, INFO, PASS, UNKNOWN, Row, find

AREA = "wan"
NO_TARGETS = {
    "vi": ("Đường truyền (WAN)", "chưa cấu hình mục tiêu nào (collectors.wan.targets) nên không đo"),
    "en": ("WAN link", "no targets configured (collectors.wan.targets), so nothing is probed"),
}
ROLE = {
    "portal": {"vi": "cổng dịch vụ công", "en": "portal"},
    "gateway": {"vi": "cổng kết nối", "en": "gateway"},
    "dns": {"vi": "DNS", "en": "DNS"},
    "other": {"vi": "khác", "en": "other"},
}
SUBJECT = {"vi": "Đường truyền tới {target} ({role})", "en": "Link to {target} ({role})"}
CERT_SUBJECT = {"vi": "Chứng chỉ TLS của {target}", "en": "TLS certificate of {target}"}
WORDS = {
    "loss": {"vi": "mất gói", "en": "loss"},
    "jitter": {"vi": "dao động", "en": "jitter"},
    "good": {"vi": "TỐT", "en": "GOOD"},
    "degraded": {"vi": "YẾU", "en": "DEGRADED"},
    "failing": {"vi": "LỖI", "en": "FAILING"},
    "down": {"vi": "MẤT KẾT NỐI", "en": "DOWN"},
    "not_probed": {"vi": "chưa đo xong lượt đầu", "en": "first probe not finished yet"},
    "high_rtt": {"vi": "độ trễ cao", "en": "high latency"},
    "high_loss": {"vi": "mất gói nhiều", "en": "high loss"},
    "high_jitter": {"vi": "dao động độ trễ lớn", "en": "high jitter"},
    "before_down": {"vi": "lượt đo gần nhất lỗi ({n}/{m} lượt trước khi coi là mất kết nối)",
                    "en": "last round failed ({n} of {m} before it counts as down)"},
    "outages": {"vi": "đã mất kết nối {n} lần, tổng {dur}", "en": "{n} outage(s) so far, {dur} in all"},
    "expires": {"vi": "hết hạn {date} (còn {days} ngày)", "en": "expires {date} (in {days} days)"},
    "expired": {"vi": "đã hết hạn {date}", "en": "expired {date}"},
    "days": {"vi": "≥ {n} ngày", "en": "≥ {n} days"},
}
ERROR = {
    "timeout": {"vi": "không trả lời trong thời gian chờ", "en": "no answer within the timeout"},
    "refused": {"vi": "bị từ chối kết nối", "en": "connection refused"},
    "unreachable": {"vi": "không tới được (mất đường truyền hoặc không có đường đi)",
                    "en": "unreachable (link down or no route)"},
    "resolve": {"vi": "không phân giải được tên", "en": "the name does not resolve"},
    "tls": {"vi": "lỗi TLS hoặc chứng chỉ không hợp lệ", "en": "TLS error or invalid certificate"},
    "http_status": {"vi": "mã trạng thái HTTP không như mong đợi", "en": "unexpected HTTP status"},
    "body_mismatch": {"vi": "nội dung trang không như mong đợi", "en": "page content not as expected"},
    "dns_rcode": {"vi": "máy chủ DNS trả lỗi", "en": "the DNS server answered with an error"},
    "dns_no_answer": {"vi": "máy chủ DNS không trả bản ghi nào", "en": "the DNS server returned no record"},
    "icmp_not_permitted": {
        "vi": "không được phép gửi ICMP: trên Linux, chạy agent với quyền root/CAP_NET_RAW hoặc nới "
              "net.ipv4.ping_group_range; trên Windows, để icmp_socket là auto (IP Helper API, không cần "
              "quyền Administrator)",
        "en": "ICMP not permitted: on Linux, run the agent with root/CAP_NET_RAW or widen "
              "net.ipv4.ping_group_range; on Windows, leave icmp_socket at auto (IP Helper API, no "
              "Administrator needed)"},
    "other": {"vi": "lỗi khác", "en": "other error"},
}


def _ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%" if ratio >= 0.1 or ratio == 0 else f"{ratio * 100:.1f}%"


def _duration(seconds: float, lang: str) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} " + ("phút" if lang == "vi" else "min")
    return f"{seconds / 3600:.1f} " + ("giờ" if lang == "vi" else "h")


def _threshold(samples: list[Sample], key: str) -> float | None:
    return find(samples, "wardwatch_wan_threshold", threshold=key)


def _target_row(samples: list[Sample], target: str, role: str, lang: str) -> Row:
    lab = {"target": target, "role": role}
    subject = SUBJECT[lang].format(target=target, role=ROLE.get(role, ROLE["other"])[lang])
    w = {k: v[lang] for k, v in WORDS.items()}
    success = find(samples, "wardwatch_wan_probe_success", **lab)
    error = next((s.labels["error"] for s in samples if s.name == "wardwatch_wan_probe_error"
                  and s.labels["target"] == target), None)
    if success is None:
        return Row(AREA, f"target:{target}", subject, UNKNOWN, detail=w["not_probed"])
    if error == "icmp_not_permitted":
        return Row(AREA, f"target:{target}", subject, UNKNOWN, detail=ERROR[error][lang])
    rtt = find(samples, "wardwatch_wan_rtt_median_seconds", **lab)
    loss = find(samples, "wardwatch_wan_loss_ratio", **lab)
    jitter = find(samples, "wardwatch_wan_jitter_seconds", **lab)
    found = ", ".join(x for x in (
        _ms(rtt) if rtt is not None else "",
        f"{w['loss']} {_pct(loss)}" if loss is not None else "",
        f"{w['jitter']} {_ms(jitter)}" if jitter is not None else "") if x)
    t_rtt, t_loss, t_jit = (_threshold(samples, k) for k in
                            ("rtt_degraded_seconds", "loss_degraded_ratio", "jitter_degraded_seconds"))
    needed = ", ".join(x for x in (
        f"≤ {_ms(t_rtt)}" if t_rtt is not None else "",
        f"{w['loss']} ≤ {_pct(t_loss)}" if t_loss is not None else "",
        f"{w['jitter']} ≤ {_ms(t_jit)}" if t_jit is not None else "") if x)
    up = find(samples, "wardwatch_wan_up", **lab)
    outages = find(samples, "wardwatch_wan_outages_total", **lab) or 0
    outage_s = find(samples, "wardwatch_wan_outage_seconds_total", **lab) or 0
    history = w["outages"].format(n=int(outages), dur=_duration(outage_s, lang)) if outage_s >= 1 else ""
    if up == 0:
        detail = f"{w['down']}: {ERROR.get(error or 'other', ERROR['other'])[lang]}"
        status = FAIL
    elif not success:
        failures = int(find(samples, "wardwatch_wan_consecutive_failures", **lab) or 1)
        limit = int(_threshold(samples, "failures_down") or 1)
        detail = (f"{w['failing']}: {ERROR.get(error or 'other', ERROR['other'])[lang]}; "
                  + w["before_down"].format(n=failures, m=limit))
        status = FAIL
    elif find(samples, "wardwatch_wan_degraded", **lab):
        reasons = []
        if rtt is not None and t_rtt is not None and rtt > t_rtt:
            reasons.append(w["high_rtt"])
        if loss is not None and t_loss is not None and loss > t_loss:
            reasons.append(w["high_loss"])
        if jitter is not None and t_jit is not None and jitter > t_jit:
            reasons.append(w["high_jitter"])
        detail, status = f"{w['degraded']}: {', '.join(reasons)}", FAIL
    else:
        detail, status = w["good"], PASS
    if history:
        detail += f"; {history}"
    return Row(AREA, f"target:{target}", subject, status, found, needed, detail)


def _cert_row(samples: list[Sample], target: str, role: str, expiry: float, lang: str, now: float) -> Row:
    w = {k: v[lang] for k, v in WORDS.items()}
    warning = _threshold(samples, "cert_expiry_warning_seconds") or 0.0
    date = time.strftime("%Y-%m-%d", time.gmtime(expiry))
    left = expiry - now
    if left > 0:
        found = w["expires"].format(date=date, days=math.floor(left / 86400))
    else:
        found = w["expired"].format(date=date)
    return Row(AREA, f"cert:{target}", CERT_SUBJECT[lang].format(target=target), PASS if left >= warning else FAIL,
               found, w["days"].format(n=f"{warning / 86400:g}"))


def rows(samples: list[Sample], lang: str, now: float | None = None) -> list[Row]:
    now = time.time() if now is None else now
    if not find(samples, "wardwatch_wan_targets"):
        subject, detail = NO_TARGETS[lang]
        return [Row(AREA, "targets", subject, INFO, detail=detail)]
    out = []
    for info in (s for s in samples if s.name == "wardwatch_wan_target_info"):
        target, role = info.labels["target"], info.labels["role"]
        out.append(_target_row(samples, target, role, lang))
        expiry = find(samples, "wardwatch_wan_cert_expiry_timestamp_seconds", target=target, role=role)
        if expiry is not None:
            out.append(_cert_row(samples, target, role, expiry, lang, now))
    return out

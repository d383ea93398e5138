"""Check rows for the vclient collector: the client installed (with its version),
running, and its gateway reachable."""

from __future__ import annotations

from agent.collectors.base import Sample
from agent.report import FAIL, PASS, UNKNOWN, Row, find

PRODUCT = {
    "citrix_workspace": "Citrix Workspace",
    "horizon": "Horizon Client",
    "rdp": "RDP",
}
TEXT = {
    "installed": {"vi": "Phần mềm ảo hóa {p}", "en": "Virtualized client {p}"},
    "not_installed": {"vi": "chưa cài đặt — cần triển khai lại (wardwatch rollout)",
                      "en": "not installed — roll it out again (wardwatch rollout)"},
    "running": {"vi": "{p} đang chạy", "en": "{p} running"},
    "not_running": {"vi": "chưa chạy — mở ứng dụng trước khi tiếp dân",
                    "en": "not running — start it before serving citizens"},
    "gateway": {"vi": "Kết nối tới cổng ảo hóa (gateway)", "en": "Connection to the virtualization gateway"},
    "gateway_down": {"vi": "không kết nối được — kiểm tra đường truyền", "en": "cannot connect — check the WAN link"},
    "yes": {"vi": "có", "en": "yes"},
    "no": {"vi": "không", "en": "no"},
}


def rows(samples: list[Sample], lang: str) -> list[Row]:
    out: list[Row] = []
    installed = next((s for s in samples if s.name == "wardwatch_vclient_installed"), None)
    if installed is None:
        return out
    product = installed.labels["product"]
    p = PRODUCT.get(product, product)
    version = next((s.labels["version"] for s in samples if s.name == "wardwatch_vclient_info"), "")
    if installed.value:
        out.append(Row("vclient", "installed", TEXT["installed"][lang].format(p=p), PASS, version or "?"))
    else:
        out.append(Row("vclient", "installed", TEXT["installed"][lang].format(p=p), FAIL, TEXT["no"][lang],
                       detail=TEXT["not_installed"][lang]))
    run = find(samples, "wardwatch_vclient_running", product=product)
    if run is not None:
        out.append(Row("vclient", "running", TEXT["running"][lang].format(p=p), PASS if run else UNKNOWN,
                       TEXT["yes" if run else "no"][lang], detail="" if run else TEXT["not_running"][lang]))
    gw = find(samples, "wardwatch_vclient_gateway_up")
    if gw is not None:
        out.append(Row("vclient", "gateway", TEXT["gateway"][lang], PASS if gw else FAIL,
                       TEXT["yes" if gw else "no"][lang], detail="" if gw else TEXT["gateway_down"][lang]))
    return out

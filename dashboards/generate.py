#!/usr/bin/env python3
"""Renders wardwatch's Grafana dashboards (dashboards/*.json) from this one source, with
Grafana's own dashboard types (the `grafana-foundation-sdk` package, `pip install
wardwatch[dashboards]`), and the "Dashboard" block at the end of every alert runbook.

    python3 dashboards/generate.py            rewrite dashboards/*.json and the runbooks' dashboard links
    python3 dashboards/generate.py --check    exit 1 if what is committed is not what this file gives

The queries share the alert rules' selectors and thresholds: both are read from
alerts/config.yml (never re-encoded here), and every recording rule a panel reads must exist
in alerts/rules/*.yml (the generator stops with one line naming it otherwise). Titles are
Vietnamese; every description is Vietnamese then English; every panel has a unit and links
to the runbooks of the alerts it is about.

Template variables chain district -> commune -> PC (label_values of the agents' `up`), so the
same dashboards work against a district Prometheus and against the city VictoriaMetrics
(docs/city-tier.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.repo_venv import use_repo_venv  # noqa: E402

if __name__ == "__main__":
    use_repo_venv()  # `python3 dashboards/generate.py` runs in the clone's .venv, which has the SDK

import yaml
from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import heatmap as hm
from grafana_foundation_sdk.builders import prometheus as gp
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ALERTS = REPO / "alerts"

# Where operators open Grafana: the runbooks' links to the dashboards start with it.
GRAFANA_BASE_URL = "https://grafana.sotttt.example.vn"
TAG = "wardwatch"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RUNBOOK_BEGIN = "<!-- dashboard:begin (written by dashboards/generate.py) -->"
RUNBOOK_END = "<!-- dashboard:end -->"


class GenerateError(Exception):
    """A problem in the sources: one line, exit status 2."""


def _alerts_generate():
    spec = importlib.util.spec_from_file_location("wardwatch_alerts_generate", ALERTS / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class Sources:
    """What the dashboards take from the alerts: selectors, thresholds, recording rules."""
    cfg: dict[str, object]
    records: frozenset[str]
    alerts: frozenset[str]

    def get(self, key: str) -> object:
        if key not in self.cfg:
            raise GenerateError(f"{ALERTS / 'config.yml'}: {key}: missing (the dashboards read it)")
        return self.cfg[key]

    def record(self, name: str) -> str:
        if name not in self.records:
            raise GenerateError(f"{ALERTS / 'rules'}: no recording rule {name} (a dashboard panel reads it)")
        return name

    def runbook(self, alert: str) -> str:
        if alert not in self.alerts:
            raise GenerateError(f"{ALERTS / 'rules'}: no alert {alert} (a dashboard panel links its runbook)")
        return f"{self.get('runbook_base_url')}/{alert}.md"


def load_sources() -> Sources:
    gen = _alerts_generate()
    try:
        cfg = {k: v.value for k, v in gen.load_config(ALERTS / "config.yml").items()}
    except gen.GenerateError as e:
        raise GenerateError(str(e)) from None
    # The warning levels are the agents' own (a PC's config owns them); the lines drawn are the defaults.
    from agent import config as agent_config  # the repository is on sys.path through alerts/generate.py
    for key, value in agent_config.defaults(agent_config.THRESHOLDS).items():
        cfg[f"agent.thresholds.{key}"] = value
    records, alerts = set(), set()
    for path in sorted((ALERTS / "rules").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    records.add(rule["record"])
                if "alert" in rule:
                    alerts.add(rule["alert"])
    return Sources(cfg, frozenset(records), frozenset(alerts))


# --- small helpers over the SDK ------------------------------------------------------------

def q(expr: str, legend: str = "", *, instant: bool = False, fmt: str | None = None, ref: str = "A") -> gp.Dataquery:
    d = gp.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    d = d.instant() if instant else d.range()
    if legend:
        d = d.legend_format(legend)
    if fmt:
        d = d.format(fmt)
    return d


def describe(vi: str, en: str) -> str:
    return f"{vi}\n\nEnglish: {en}"


def thresholds(*steps: tuple[float | None, str]) -> gd.ThresholdsConfig:
    return gd.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=v, color=c) for v, c in steps])


def state_mappings(ok: str = "Tốt / OK", bad: str = "Hỏng / Down") -> list:
    return [ValueMap(options={"0": ValueMappingResult(text=bad, color="red", index=0),
                              "1": ValueMappingResult(text=ok, color="green", index=1)})]


def runbook_links(src: Sources, alerts: Iterable[str]) -> list[gd.DashboardLink]:
    return [gd.DashboardLink(f"Hướng dẫn xử lý / Runbook: {a}").url(src.runbook(a)).target_blank(True)
            for a in alerts]


def panel(builder, title: str, vi: str, en: str, unit: str, queries: list[gp.Dataquery], *,
          runbooks: Iterable[str] = (), src: Sources, w: int = 12, h: int = 8):
    p = (builder.title(title).description(describe(vi, en)).unit(unit).datasource(DS).span(w).height(h))
    for i, query in enumerate(queries):
        p = p.with_target(query.ref_id(chr(ord("A") + i)))
    links = runbook_links(src, runbooks)
    if links:
        p = p.links(links)
    return p


def tbl(*, merge: bool = False) -> table.Panel:
    p = table.Panel()
    if merge:
        p = p.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    return p.with_transformation(DataTransformerConfig(
        id_val="organize", options={"excludeByName": {"Time": True, "__name__": True, "job": True, "role": True,
                                                      "prometheus": True}}))


def var_datasource() -> gd.DatasourceVariable:
    return gd.DatasourceVariable("datasource").label("Nguồn số liệu / Data source").type("prometheus")


def var_query(name: str, label: str, query: str, vi: str, en: str, *, multi: bool = False) -> gd.QueryVariable:
    v = (gd.QueryVariable(name).label(label).description(describe(vi, en)).datasource(DS)
         .query(query)  # the classic label_values() string: every Grafana version reads it
         .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC))
    if multi:
        v = v.multi(True).include_all(True).all_value(".+").current(VariableOption(text="All", value="$__all"))
    return v


class Vars:
    """The chained template variables (district -> commune -> PC) from the agents' `up`."""

    def __init__(self, src: Sources):
        self.pc = src.get("selectors.pc")

    def district(self, *, multi: bool = False) -> gd.QueryVariable:
        return var_query("district", "Quận/huyện / District", f"label_values(up{{{self.pc}}}, district)",
                         "Quận/huyện (nhãn district của máy trong inventory).",
                         "District (the inventory's district label of the PCs).", multi=multi)

    def commune(self) -> gd.QueryVariable:
        return var_query("commune", "Xã/phường / Commune",
                         f'label_values(up{{{self.pc}, district="$district"}}, commune)',
                         "Xã/phường của quận/huyện đã chọn.", "Commune of the chosen district.")

    def pc_var(self) -> gd.QueryVariable:
        return var_query("pc", "Máy tính / PC",
                         f'label_values(up{{{self.pc}, district="$district", commune="$commune"}}, instance)',
                         "Máy tính của xã/phường đã chọn (tên máy trong inventory).",
                         "PC of the chosen commune (the inventory's host name).")


def base(uid: str, title: str, vi: str, en: str, variables: list) -> gd.Dashboard:
    d = (gd.Dashboard(title).uid(uid).description(describe(vi, en)).tags([TAG]).refresh("1m")
         .time("now-24h", "now").timezone("browser").readonly()
         .link(gd.DashboardLink("wardwatch").type("dashboards").tags([TAG]).as_dropdown(True)
               .include_vars(True).keep_time(True)))
    for v in variables:
        d = d.with_variable(v)
    return d


# --- the dashboards -------------------------------------------------------------------------

def city(src: Sources) -> gd.Dashboard:
    v = Vars(src)
    sel = 'district=~"$district"'
    communes = src.record("district:wardwatch_communes:count")
    ready = src.record("district:wardwatch_communes_ready:count")
    not_ready = src.record("district:wardwatch_communes_not_ready:count")
    c_ready = src.record("commune:wardwatch_ready:bool")
    reasons = ("pcs_not_reporting no_pc_meets_spec no_working_printer no_working_scanner wan_down wan_degraded "
               "client_missing")
    d = base("wardwatch-city", "wardwatch · Thành phố: xã/phường sẵn sàng",
             "Mức sẵn sàng của các xã/phường theo quận/huyện, lý do chưa sẵn sàng, và các xã/phường chưa sẵn "
             "sàng lâu nhất. Tính bằng luật readiness.rules.yml (cùng lý do với báo cáo `wardwatch readiness`).",
             "City overview: communes READY / NOT READY per district, the reasons, the communes not ready "
             "longest. From alerts readiness.rules.yml (the reasons of `wardwatch readiness`).",
             [var_datasource(), v.district(multi=True)])
    d = d.with_row(gd.Row("Tổng quan / Overview"))
    d = d.with_panel(panel(
        stat.Panel().color_mode("background").graph_mode("none"), "Xã/phường SẴN SÀNG",
        "Số xã/phường không có lý do nào chưa sẵn sàng.", "Communes with no reason to be NOT READY.",
        "short", [q(f"sum(max by (district) ({ready}{{{sel}}}))", instant=True)], src=src, w=6, h=5)
        .thresholds(thresholds((None, "green"))))
    d = d.with_panel(panel(
        stat.Panel().color_mode("background").graph_mode("none"), "Xã/phường CHƯA SẴN SÀNG",
        "Số xã/phường có ít nhất một lý do chưa sẵn sàng.", "Communes with at least one reason to be NOT READY.",
        "short", [q(f"sum(max by (district) ({communes}{{{sel}}})) - sum(max by (district) ({ready}{{{sel}}}))",
                    instant=True)], src=src, w=6, h=5)
        .thresholds(thresholds((None, "green"), (1, "red"))))
    d = d.with_panel(panel(
        bargauge.Panel().display_mode("gradient").min(0).max(1), "Tỉ lệ xã/phường sẵn sàng theo quận/huyện",
        "Phần xã/phường SẴN SÀNG trong mỗi quận/huyện.", "Share of each district's communes that are READY.",
        "percentunit", [q(f"max by (district) ({ready}{{{sel}}}) / max by (district) ({communes}{{{sel}}})",
                          "{{district}}", instant=True)], src=src, w=12, h=5)
        .thresholds(thresholds((None, "red"), (0.8, "orange"), (1, "green"))))
    d = d.with_row(gd.Row("Theo quận/huyện / Per district"))
    d = d.with_panel(panel(
        tbl(merge=True), "Xã/phường sẵn sàng / chưa sẵn sàng theo quận/huyện",
        "Mỗi quận/huyện: số xã/phường SẴN SÀNG (ready) và CHƯA SẴN SÀNG (not_ready).",
        "Per district: communes READY (ready) and NOT READY (not_ready).", "short",
        [q(f'label_replace(max by (district) ({ready}{{{sel}}}), "verdict", "ready", "", "")', instant=True,
           fmt="table"),
         q(f'label_replace(max by (district) ({communes}{{{sel}}}) - max by (district) ({ready}{{{sel}}}), '
           f'"verdict", "not_ready", "", "")', instant=True, fmt="table")], src=src, w=12))
    d = d.with_panel(panel(
        bargauge.Panel().display_mode("basic").orientation("horizontal"), "Lý do chưa sẵn sàng",
        f"Số xã/phường chưa sẵn sàng vì từng lý do ({reasons}); một xã/phường có thể có nhiều lý do.",
        f"Communes NOT READY for each reason ({reasons}); a commune can have several.", "short",
        [q(f"sum by (reason) (max by (district, reason) ({not_ready}{{{sel}}}))", "{{reason}}", instant=True)],
        runbooks=("NoWorkingPrinter", "NoWorkingScanner", "PortalUnreachable", "VirtualizationGatewayUnreachable",
                  "PCBelowMinimumSpec", "VirtualClientMissing"), src=src, w=12))
    d = d.with_panel(panel(
        timeseries.Panel().fill_opacity(10), "Xã/phường chưa sẵn sàng theo thời gian",
        "Số xã/phường CHƯA SẴN SÀNG của mỗi quận/huyện theo thời gian.",
        "Communes NOT READY per district over time.", "short",
        [q(f"max by (district) ({communes}{{{sel}}}) - max by (district) ({ready}{{{sel}}})", "{{district}}")],
        src=src, w=12))
    d = d.with_panel(panel(
        tbl(), "Xã/phường chưa sẵn sàng lâu nhất",
        "Xã/phường đang CHƯA SẴN SÀNG, xếp theo thời gian chưa sẵn sàng trong khoảng thời gian đang xem "
        "(20 xã/phường đầu).",
        "Communes NOT READY now, by how long they were NOT READY within the time range shown (top 20).", "s",
        [q(f"sort_desc(topk(20, max by (district, commune) ((1 - avg_over_time({c_ready}{{{sel}}}[$__range])) "
           f"* $__range_s) and on (district, commune) (min by (district, commune) ({c_ready}{{{sel}}}) == 0)))",
           instant=True, fmt="table")], src=src, w=12))
    return d


def district(src: Sources) -> gd.Dashboard:
    v = Vars(src)
    sel = 'district="$district"'
    agent = f"{src.get('selectors.agent')}, {sel}"
    roles = src.get("readiness.wan_roles")
    lat_w, lat_c = src.get("agent.thresholds.wan_rtt_degraded"), src.get("alerts.WANLatencyHigh.critical.above")
    loss_w, loss_c = src.get("agent.thresholds.wan_loss_degraded"), src.get("alerts.WANPacketLoss.critical.above")
    d = base("wardwatch-district", "wardwatch · Quận/huyện",
             "Mọi xã/phường của quận/huyện: sẵn sàng hay chưa và vì sao; độ trễ và mất gói WAN theo thời gian; "
             "máy in, máy quét hỏng; máy dưới cấu hình tối thiểu; máy thiếu phần mềm ảo hoá.",
             "Every commune of the district with its verdict and reasons; WAN latency and loss per commune over "
             "time; printers and scanners not working; PCs below spec; virtualized client missing.",
             [var_datasource(), v.district()])
    d = d.with_row(gd.Row("Sẵn sàng / Readiness"))
    d = d.with_panel(panel(
        stat.Panel().graph_mode("none"), "Máy đang gửi số liệu",
        "Số máy của quận/huyện đang gửi số liệu, trên tổng số máy trong inventory mà Prometheus biết.",
        "PCs of the district reporting, out of the inventory's PCs Prometheus knows.", "short",
        [q(f"max({src.record('district:wardwatch_pcs_reporting:count')}{{{sel}}})", "đang gửi / reporting",
           instant=True),
         q(f"max({src.record('district:wardwatch_pcs:count')}{{{sel}}})", "tổng / total", instant=True)],
        runbooks=("PCDown", "CommuneLinkDown"), src=src, w=8, h=5))
    d = d.with_panel(panel(
        tbl(), "Các xã/phường: sẵn sàng",
        "Mỗi xã/phường: SẴN SÀNG (1) hay CHƯA SẴN SÀNG (0).", "Each commune: READY (1) or NOT READY (0).", "none",
        [q(f"max by (commune) ({src.record('commune:wardwatch_ready:bool')}{{{sel}}})", instant=True,
           fmt="table")], src=src, w=8, h=10).mappings(state_mappings("SẴN SÀNG / READY",
                                                                    "CHƯA SẴN SÀNG / NOT READY")))
    d = d.with_panel(panel(
        tbl(), "Lý do chưa sẵn sàng theo xã/phường",
        "Mỗi lý do đang đúng của mỗi xã/phường (mã lý do như báo cáo `wardwatch readiness`).",
        "Every reason that holds, per commune (the codes of the `wardwatch readiness` report).", "none",
        [q(f"max by (commune, reason) ({src.record('commune:wardwatch_not_ready_reason:bool')}{{{sel}}}) == 1",
           instant=True, fmt="table")],
        runbooks=("NoWorkingPrinter", "NoWorkingScanner", "PortalUnreachable", "VirtualizationGatewayUnreachable"),
        src=src, w=8, h=10))
    d = d.with_row(gd.Row("WAN"))
    d = d.with_panel(panel(
        timeseries.Panel().fill_opacity(0), "Độ trễ WAN theo xã/phường",
        f"Thời gian phản hồi trung bình lớn nhất tới các đích vai trò {roles} của mỗi xã/phường; vạch ngưỡng là "
        f"ngưỡng cảnh báo WANLatencyHigh ({lat_w}s, {lat_c}s).",
        f"Per commune, the worst mean round-trip time to its {roles} targets; the threshold lines are "
        f"WANLatencyHigh's ({lat_w}s warning: the agents' default thresholds.wan_rtt_degraded; "
        f"{lat_c}s critical).", "s",
        [q(f'max by (commune) ({src.record("commune_target:wardwatch_wan_rtt_seconds:mean")}'
           f'{{{sel}, role=~"{roles}"}})', "{{commune}}")],
        runbooks=("WANLatencyHigh",), src=src)
        .thresholds(thresholds((None, "green"), (lat_w, "orange"), (lat_c, "red"))))
    d = d.with_panel(panel(
        timeseries.Panel().fill_opacity(0), "Mất gói WAN theo xã/phường",
        f"Tỉ lệ mất gói trung bình lớn nhất tới các đích vai trò {roles} của mỗi xã/phường; ngưỡng WANPacketLoss "
        f"({loss_w}, {loss_c}).",
        f"Per commune, the worst mean packet loss to its {roles} targets; WANPacketLoss thresholds "
        f"({loss_w} warning: the agents' default thresholds.wan_loss_degraded; {loss_c} critical).", "percentunit",
        [q(f'max by (commune) ({src.record("commune_target:wardwatch_wan_loss_ratio:avg")}'
           f'{{{sel}, role=~"{roles}"}})', "{{commune}}")],
        runbooks=("WANPacketLoss",), src=src)
        .thresholds(thresholds((None, "green"), (loss_w, "orange"), (loss_c, "red"))))
    d = d.with_row(gd.Row("Thiết bị và máy tính / Devices and PCs"))
    d = d.with_panel(panel(
        tbl(), "Máy in không hoạt động",
        "Máy in (theo máy tính) mà agent báo không in được (wardwatch_printer_up == 0).",
        "Printers (per PC) the agent says cannot print (wardwatch_printer_up == 0).", "none",
        [q(f"max by (commune, instance, printer) (wardwatch_printer_up{{{agent}}}) == 0", instant=True,
           fmt="table")],
        runbooks=("PrinterProblem", "NoWorkingPrinter"), src=src).mappings(state_mappings()))
    d = d.with_panel(panel(
        tbl(), "Máy quét không hoạt động",
        "Máy quét mà agent không mở được (wardwatch_scanner_up == 0).",
        "Scanners the agent cannot open (wardwatch_scanner_up == 0).", "none",
        [q(f"max by (commune, instance, scanner) (wardwatch_scanner_up{{{agent}}}) == 0", instant=True,
           fmt="table")],
        runbooks=("ScannerDown", "NoWorkingScanner"), src=src).mappings(state_mappings()))
    d = d.with_panel(panel(
        tbl(), "Máy dưới cấu hình tối thiểu",
        "Yêu cầu của cấu hình tối thiểu mà máy không đạt (agent quyết định: wardwatch_spec_requirement_met == 0).",
        "Requirements of the minimum spec a PC does not meet (decided by the agent: "
        "wardwatch_spec_requirement_met == 0).", "none",
        [q(f"max by (commune, instance, requirement) (wardwatch_spec_requirement_met{{{agent}}}) == 0",
           instant=True, fmt="table")],
        runbooks=("PCBelowMinimumSpec",), src=src).mappings(state_mappings("Đạt / Met", "Không đạt / Not met")))
    d = d.with_panel(panel(
        tbl(), "Máy thiếu phần mềm ảo hoá",
        "Máy chưa cài phần mềm ảo hoá phải có (wardwatch_vclient_installed == 0).",
        "PCs without the virtualized client they must have (wardwatch_vclient_installed == 0).", "none",
        [q(f"max by (commune, instance, product) (wardwatch_vclient_installed{{{agent}}}) == 0", instant=True,
           fmt="table")],
        runbooks=("VirtualClientMissing",), src=src).mappings(state_mappings("Đã cài / Installed",
                                                                             "Chưa cài / Missing")))
    d = d.with_panel(panel(
        timeseries.Panel(), "Chứng thư TLS sắp hết hạn",
        "Thời gian còn lại tới khi chứng thư TLS của mỗi đích WAN hết hạn (sớm nhất mà các máy thấy).",
        "Time left until each WAN target's TLS certificate expires (the earliest the PCs see).", "s",
        [q(f"min by (target) (wardwatch_wan_cert_expiry_timestamp_seconds{{{agent}}}) - time()", "{{target}}")],
        runbooks=("CertificateExpiring",), src=src))
    return d


def commune(src: Sources) -> gd.Dashboard:
    v = Vars(src)
    sel = 'district="$district", commune="$commune"'
    agent = f"{src.get('selectors.agent')}, {sel}"
    pc = f"{src.get('selectors.pc')}, {sel}"
    # the agents judge supplies (default thresholds.printer_supply_low_ratio; empty is a level of 0)
    low, empty = src.get("agent.thresholds.printer_supply_low_ratio"), 0
    d = base("wardwatch-commune", "wardwatch · Xã/phường",
             "Một xã/phường: các máy tính, máy in (vật tư, lỗi), máy quét, các đích WAN (biểu đồ nhiệt độ trễ, "
             "mất kết nối).",
             "One commune: its PCs, printers with supplies and problems, scanners, WAN targets with the RTT "
             "histogram heatmap and outages.",
             [var_datasource(), v.district(), v.commune()])
    d = d.with_row(gd.Row("Máy tính / PCs"))
    d = d.with_panel(panel(
        tbl(merge=True), "Các máy tính",
        "Mỗi máy: có gửi số liệu không (up), đạt cấu hình tối thiểu không (spec_ok), đã cài phần mềm ảo hoá "
        "chưa (vclient).", "Each PC: reporting (up), meeting the minimum spec (spec_ok), virtualized client "
        "installed (vclient).", "none",
        [q(f'label_replace(max by (instance) (up{{{pc}}}), "check", "up", "", "")', instant=True, fmt="table"),
         q(f'label_replace(max by (instance) (wardwatch_spec_ok{{{agent}}}), "check", "spec_ok", "", "")',
           instant=True, fmt="table"),
         q(f'label_replace(max by (instance) (wardwatch_vclient_installed{{{agent}}}), "check", "vclient", "", "")',
           instant=True, fmt="table")],
        runbooks=("PCDown", "PCBelowMinimumSpec", "VirtualClientMissing"), src=src, w=24)
        .mappings(state_mappings("Có / Yes", "Không / No")))
    d = d.with_row(gd.Row("Máy in và máy quét / Printers and scanners"))
    d = d.with_panel(panel(
        tbl(), "Máy in",
        "Mỗi máy in của xã/phường: in được (1) hay không (0); máy in mạng dùng chung tính một lần, in được nếu "
        "một máy tính dùng được.", "Each printer of the commune: able to print (1) or not (0); a shared network "
        "printer counts once, working if any PC can use it.", "none",
        [q(f"max by (printer) (wardwatch_printer_up{{{agent}}})", instant=True, fmt="table")],
        runbooks=("NoWorkingPrinter",), src=src, w=8).mappings(state_mappings()))
    d = d.with_panel(panel(
        bargauge.Panel().display_mode("gradient").min(0).max(1), "Vật tư máy in",
        f"Mức vật tư của từng máy in; sắp hết dưới {low} (mặc định của agent), hết ở {empty} (PrinterSupplyLow/Empty).",
        f"Supply levels per printer; low under {low} (the agents' default), empty at {empty} "
        "(PrinterSupplyLow/Empty).", "percentunit",
        [q(f"max by (printer, supply) (wardwatch_printer_supply_ratio{{{agent}}})", "{{printer}} {{supply}}",
           instant=True)],
        runbooks=("PrinterSupplyLow", "PrinterSupplyEmpty"), src=src, w=8)
        .thresholds(thresholds((None, "red"), (0.01, "orange"), (low, "green"))))
    d = d.with_panel(panel(
        tbl(), "Lỗi máy in",
        "Lỗi đang có của từng máy in (wardwatch_printer_problem), theo máy tính báo.",
        "Active problems of each printer (wardwatch_printer_problem), by reporting PC.", "none",
        [q(f"max by (instance, printer, problem) (wardwatch_printer_problem{{{agent}}}) == 1", instant=True,
           fmt="table")],
        runbooks=("PrinterProblem", "PrinterSupplyEmpty"), src=src, w=8))
    d = d.with_panel(panel(
        tbl(), "Máy quét",
        "Mỗi máy quét: dùng được (1) hay không (0).", "Each scanner: usable (1) or not (0).", "none",
        [q(f"max by (instance, scanner) (wardwatch_scanner_up{{{agent}}})", instant=True, fmt="table")],
        runbooks=("ScannerDown", "NoWorkingScanner"), src=src, w=24, h=6).mappings(state_mappings()))
    d = d.with_row(gd.Row("WAN"))
    d = d.with_panel(panel(
        statetimeline.Panel(), "Đích WAN: tới được / mất kết nối",
        "Mỗi đích WAN: có máy nào của xã/phường tới được (1) hay không (0) theo thời gian: các khoảng đỏ là "
        "lúc mất kết nối.", "Each WAN target: reached from at least one PC of the commune (1) or not (0) over "
        "time; red stretches are outages.", "none",
        [q(f"max by (target) ({src.record('commune_target:wardwatch_wan_up:max')}{{{sel}}})", "{{target}}")],
        runbooks=("PortalUnreachable", "VirtualizationGatewayUnreachable", "CommuneLinkDown"), src=src, w=24)
        .mappings(state_mappings("Tới được / Reached", "Mất / Down")))
    d = d.with_panel(panel(
        hm.Panel().calculate(False), "Phân bố độ trễ WAN (RTT)",
        "Biểu đồ nhiệt của thời gian phản hồi tới các đích WAN của xã/phường (histogram "
        "wardwatch_wan_rtt_seconds của các máy).",
        "Heatmap of the round-trip times to the commune's WAN targets (the PCs' wardwatch_wan_rtt_seconds "
        "histogram).", "s",
        [q(f"sum by (le) (rate(wardwatch_wan_rtt_seconds_bucket{{{agent}}}[$__rate_interval]))", "{{le}}",
           fmt="heatmap")],
        runbooks=("WANLatencyHigh",), src=src))
    d = d.with_panel(panel(
        timeseries.Panel(), "Độ trễ WAN trung bình theo đích",
        "Thời gian phản hồi trung bình từ các máy của xã/phường tới từng đích.",
        "Mean round-trip time from the commune's PCs to each target.", "s",
        [q(f"max by (target) ({src.record('commune_target:wardwatch_wan_rtt_seconds:mean')}{{{sel}}})",
           "{{target}}")],
        runbooks=("WANLatencyHigh",), src=src))
    d = d.with_panel(panel(
        tbl(), "Mất kết nối WAN trong khoảng thời gian",
        "Số lần mất kết nối và tổng thời gian mất kết nối tới từng đích trong khoảng đang xem (đếm trên máy, kể "
        "cả lúc Prometheus không đọc được).", "Outages and total outage time per target within the time range "
        "(counted on the PCs, also while Prometheus could not read them).", "s",
        [q(f"max by (target, instance) (increase(wardwatch_wan_outage_seconds_total{{{agent}}}[$__range]))",
           instant=True, fmt="table")],
        runbooks=("PortalUnreachable", "CommuneLinkDown"), src=src, w=12))
    d = d.with_panel(panel(
        timeseries.Panel(), "Mất gói WAN theo đích",
        "Tỉ lệ mất gói trung bình từ các máy của xã/phường tới từng đích.",
        "Mean packet loss from the commune's PCs to each target.", "percentunit",
        [q(f"max by (target) ({src.record('commune_target:wardwatch_wan_loss_ratio:avg')}{{{sel}}})",
           "{{target}}")],
        runbooks=("WANPacketLoss",), src=src))
    d = d.with_panel(panel(
        timeseries.Panel(), "Độ dao động độ trễ WAN (jitter) theo đích",
        "Độ dao động độ trễ lớn nhất từ các máy của xã/phường tới từng đích; mỗi agent so với ngưỡng "
        "thresholds.wan_jitter_degraded của chính nó.",
        "Per target, the largest jitter seen from the commune's PCs; each agent compares it with its own "
        "thresholds.wan_jitter_degraded.", "s",
        [q(f"max by (target) (wardwatch_wan_jitter_seconds{{{agent}}})", "{{target}}")],
        runbooks=("WANJitterHigh",), src=src))
    return d


def pc(src: Sources) -> gd.Dashboard:
    v = Vars(src)
    sel = 'district="$district", commune="$commune", instance="$pc"'
    agent = f"{src.get('selectors.agent')}, {sel}"
    disk_w, disk_c = src.get("alerts.DiskAlmostFull.warning.below"), src.get("alerts.DiskAlmostFull.critical.below")
    d = base("wardwatch-pc", "wardwatch · Máy tính",
             "Một máy tính: phần cứng so với cấu hình tối thiểu, tình trạng các bộ thu thập của agent, WAN, máy in.",
             "One PC: hardware against the minimum spec, the collectors' health, its WAN view, printers.",
             [var_datasource(), v.district(), v.commune(), v.pc_var()])
    d = d.with_row(gd.Row("Cấu hình / Hardware"))
    d = d.with_panel(panel(
        tbl(merge=True), "Phần cứng so với cấu hình tối thiểu",
        "Mỗi yêu cầu: giá trị đo được (value), mức tối thiểu (minimum; agent xuất ra, không ghi lại ở đây) và đạt "
        "hay không (met).", "Each requirement: the value found, the minimum (exported by the agent, not "
        "re-encoded here) and whether it is met.", "none",
        [q(f'label_replace(wardwatch_spec_requirement_value{{{agent}}}, "column", "value", "", "")', instant=True,
           fmt="table"),
         q(f'label_replace(wardwatch_spec_requirement_minimum{{{agent}}}, "column", "minimum", "", "")',
           instant=True, fmt="table"),
         q(f'label_replace(wardwatch_spec_requirement_met{{{agent}}}, "column", "met", "", "")', instant=True,
           fmt="table")],
        runbooks=("PCBelowMinimumSpec",), src=src, w=12, h=8))
    d = d.with_panel(panel(
        stat.Panel().graph_mode("none"), "Bộ nhớ (RAM)", "RAM cài đặt và RAM còn trống.",
        "Installed and available RAM.", "bytes",
        [q(f"wardwatch_memory_total_bytes{{{agent}}}", "cài đặt / installed", instant=True),
         q(f"wardwatch_memory_available_bytes{{{agent}}}", "còn trống / available", instant=True)],
        runbooks=("PCBelowMinimumSpec",), src=src, w=6, h=8))
    d = d.with_panel(panel(
        bargauge.Panel().display_mode("gradient").min(0).max(1), "Dung lượng ổ đĩa còn trống",
        f"Phần dung lượng còn trống của mỗi ổ; ngưỡng DiskAlmostFull {disk_w}, {disk_c}.",
        f"Free share of each fixed disk; DiskAlmostFull thresholds {disk_w} warning, {disk_c} critical.",
        "percentunit",
        [q(f"wardwatch_disk_free_bytes{{{agent}}} / (wardwatch_disk_size_bytes{{{agent}}} > 0)", "{{mountpoint}}",
           instant=True)],
        runbooks=("DiskAlmostFull",), src=src, w=6, h=8)
        .thresholds(thresholds((None, "red"), (disk_c, "orange"), (disk_w, "green"))))
    d = d.with_row(gd.Row("Agent"))
    d = d.with_panel(panel(
        statetimeline.Panel(), "Tình trạng các bộ thu thập",
        "Mỗi bộ thu thập của agent: lần chạy gần nhất thành công (1) hay lỗi/quá thời gian (0).",
        "Each collector of the agent: last run succeeded (1) or failed / timed out (0).", "none",
        [q(f"wardwatch_collector_success{{{agent}}}", "{{collector}}")],
        runbooks=("CollectorFailing", "PCDown"), src=src).mappings(state_mappings()))
    d = d.with_panel(panel(
        timeseries.Panel(), "Thời gian chạy các bộ thu thập",
        "Thời gian lần chạy gần nhất của mỗi bộ thu thập (bằng thời hạn nếu bị cắt).",
        "How long each collector's last run took (its timeout if cut off).", "s",
        [q(f"wardwatch_collector_duration_seconds{{{agent}}}", "{{collector}}")],
        runbooks=("CollectorFailing",), src=src))
    d = d.with_row(gd.Row("WAN"))
    d = d.with_panel(panel(
        statetimeline.Panel(), "Đích WAN từ máy này",
        "Mỗi đích WAN từ máy này: tới được (1) hay không (0).", "Each WAN target from this PC: up (1) or down (0).",
        "none", [q(f"wardwatch_wan_up{{{agent}}}", "{{target}} ({{role}})")],
        runbooks=("PortalUnreachable", "VirtualizationGatewayUnreachable", "VirtualClientGatewayUnreachable"),
        src=src, w=24, h=6).mappings(state_mappings()))
    d = d.with_panel(panel(
        timeseries.Panel(), "Độ trễ WAN từ máy này",
        "Thời gian phản hồi trung bình tới từng đích (từ histogram của agent).",
        "Mean round-trip time to each target (from the agent's histogram).", "s",
        [q(f"rate(wardwatch_wan_rtt_seconds_sum{{{agent}}}[$__rate_interval]) / "
           f"rate(wardwatch_wan_rtt_seconds_count{{{agent}}}[$__rate_interval])", "{{target}}")],
        runbooks=("WANLatencyHigh",), src=src))
    d = d.with_panel(panel(
        timeseries.Panel(), "Mất gói WAN từ máy này",
        "Tỉ lệ mất gói trong cửa sổ trượt của agent, theo đích.",
        "Packet loss over the agent's rolling window, per target.", "percentunit",
        [q(f"wardwatch_wan_loss_ratio{{{agent}}}", "{{target}}")],
        runbooks=("WANPacketLoss",), src=src))
    d = d.with_row(gd.Row("Máy in / Printers"))
    d = d.with_panel(panel(
        tbl(), "Máy in của máy này", "Mỗi máy in của máy này: in được (1) hay không (0).",
        "Each printer of this PC: able to print (1) or not (0).", "none",
        [q(f"wardwatch_printer_up{{{agent}}}", instant=True, fmt="table")],
        runbooks=("PrinterProblem",), src=src).mappings(state_mappings()))
    d = d.with_panel(panel(
        bargauge.Panel().display_mode("gradient").min(0).max(1), "Vật tư máy in của máy này",
        "Mức vật tư của từng máy in.", "Supply levels per printer.", "percentunit",
        [q(f"wardwatch_printer_supply_ratio{{{agent}}}", "{{printer}} {{supply}}", instant=True)],
        runbooks=("PrinterSupplyLow", "PrinterSupplyEmpty"), src=src))
    return d


DASHBOARDS = {"wardwatch-city.json": city, "wardwatch-district.json": district,
              "wardwatch-commune.json": commune, "wardwatch-pc.json": pc}

# Which dashboard each alert's runbook links to, and the alert labels that fill its variables.
RUNBOOK_DASHBOARD = {
    "PCDown": "wardwatch-pc", "CollectorFailing": "wardwatch-pc", "DiskAlmostFull": "wardwatch-pc",
    "PCBelowMinimumSpec": "wardwatch-pc", "VirtualClientMissing": "wardwatch-pc",
    "VirtualClientGatewayUnreachable": "wardwatch-pc",
    "PrinterProblem": "wardwatch-commune", "PrinterSupplyLow": "wardwatch-commune",
    "PrinterSupplyEmpty": "wardwatch-commune", "ScannerDown": "wardwatch-commune",
    "NoWorkingPrinter": "wardwatch-commune", "NoWorkingScanner": "wardwatch-commune",
    "CommuneLinkDown": "wardwatch-commune", "WANLatencyHigh": "wardwatch-commune",
    "WANPacketLoss": "wardwatch-commune", "WANJitterHigh": "wardwatch-commune",
    "PortalUnreachable": "wardwatch-commune",
    "VirtualizationGatewayUnreachable": "wardwatch-commune",
    "CertificateExpiring": "wardwatch-district", "DistrictPrometheusDown": "wardwatch-city",
    "DistrictRemoteWriteStale": "wardwatch-city",
}
UID_VARS = {"wardwatch-pc": ("district", "commune", "pc"), "wardwatch-commune": ("district", "commune"),
            "wardwatch-district": ("district",), "wardwatch-city": ("district",)}
UID_TITLE = {"wardwatch-pc": ("Máy tính", "PC"), "wardwatch-commune": ("Xã/phường", "Commune"),
             "wardwatch-district": ("Quận/huyện", "District"), "wardwatch-city": ("Thành phố", "City overview")}
LABEL_OF_VAR = {"district": "district", "commune": "commune", "pc": "instance"}


def render(src: Sources | None = None) -> dict[str, str]:
    """File name (under dashboards/) -> its text."""
    src = src or load_sources()
    out = {}
    for name, make in DASHBOARDS.items():
        out[name] = json.dumps(make(src).build(), cls=JSONEncoder, indent=2, sort_keys=True,
                               ensure_ascii=False) + "\n"
    return out


def runbook_block(alert: str) -> str:
    uid = RUNBOOK_DASHBOARD[alert]
    params = "&".join(f"var-{v}=<{LABEL_OF_VAR[v]}>" for v in UID_VARS[uid])
    vi, en = UID_TITLE[uid]
    url = f"{GRAFANA_BASE_URL}/d/{uid}?{params}"
    labels = ", ".join(f"`{LABEL_OF_VAR[v]}`" for v in UID_VARS[uid])
    return (f"{RUNBOOK_BEGIN}\n## Bảng điều khiển / Dashboard\n\n"
            f"[wardwatch · {vi} / {en}]({url}): thay {labels} bằng nhãn của cảnh báo / "
            f"put the alert's {labels} labels in.\n{RUNBOOK_END}\n")


def runbooks(src: Sources) -> dict[Path, str]:
    """Every runbook with its dashboard block (added at the end, or replaced in place)."""
    out = {}
    for path in sorted((ALERTS / "runbooks").glob("*.md")):
        alert = path.stem
        if alert not in RUNBOOK_DASHBOARD:
            raise GenerateError(f"{path}: no dashboard for alert {alert} (add it to RUNBOOK_DASHBOARD)")
        text = path.read_text(encoding="utf-8")
        block = runbook_block(alert)
        pattern = re.compile(re.escape(RUNBOOK_BEGIN) + r".*?" + re.escape(RUNBOOK_END) + r"\n?", re.S)
        if pattern.search(text):
            new = pattern.sub(lambda _m, b=block: b, text)
        else:
            new = text.rstrip("\n") + "\n\n" + block
        out[path] = new
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Render wardwatch's Grafana dashboards.")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = p.parse_args(argv)
    try:
        src = load_sources()
        files = {HERE / name: text for name, text in render(src).items()}
        files.update(runbooks(src))
    except GenerateError as e:
        print(f"dashboards/generate.py: {e}", file=sys.stderr)
        return 2
    stale = [path for path, text in files.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)}: differs from dashboards/generate.py's output "
                  f"(run python3 dashboards/generate.py and commit)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

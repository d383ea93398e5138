"""The rule files: generated from alerts/config.yml, valid for promtool, every alert unit-tested
at its `for:` boundary with exact labels and annotations, every runbook written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml
from alerting_support import ALERTS, generator
from support import REPO, need

RULES = sorted((ALERTS / "rules").glob("*.yml"))
UNIT_TESTS = sorted((ALERTS / "tests").glob("*.yml"))
# summary and description (the conventional ones, in config.yml's language) and both languages beside them.
ANNOTATIONS = {"summary", "description", "summary_vi", "summary_en", "description_vi", "description_en", "runbook_url"}
# The command that fixes it, where one allow-listed `wardwatch fix` action does (docs/fix.md).
OPTIONAL_ANNOTATIONS = {"fix_command"}
# Labels every firing alert of a scope must carry (checked on the promtool tests' exact labels).
SCOPE_LABELS = {
    "pc": {"district", "commune", "instance"},
    "device": {"district", "commune", "instance", "device"},
    "commune": {"district", "commune"},
    "district": {"district"},
}
VIETNAMESE = re.compile(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]", re.I)


def alert_rules() -> list[dict]:
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            out += [dict(r, _file=path.name, _group=group["name"]) for r in group["rules"] if "alert" in r]
    return out


def record_rules(name: str) -> list[str]:
    doc = yaml.safe_load((ALERTS / "rules" / name).read_text(encoding="utf-8"))
    return [r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r]


def seconds(d: str) -> int:
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([wdhms])", d)
    assert parts and "".join(n + u for n, u in parts) == d, f"unexpected duration {d!r}"
    return sum(int(n) * units[u] for n, u in parts)


# ---- generation ---------------------------------------------------------------------------

def test_committed_rules_are_what_config_gives(tmp_path):
    rendered = generator().render()
    assert sorted(rendered) == sorted(p.name for p in RULES)
    for name, text in rendered.items():
        assert (ALERTS / "rules" / name).read_text(encoding="utf-8") == text, (
            f"alerts/rules/{name} is stale: run python3 alerts/generate.py and commit it")
    # --check says so too, and says so when a file differs.
    script = [sys.executable, str(ALERTS / "generate.py")]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    stale = tmp_path / "rules"
    shutil.copytree(ALERTS / "rules", stale)
    (stale / "district.rules.yml").write_text("groups: []\n")
    r = subprocess.run([*script, "--check", "--out", str(stale)], capture_output=True, text=True)
    assert r.returncode == 1 and "district.rules.yml differs" in r.stderr


def test_thresholds_come_from_config(tmp_path):
    """Changing a value in config.yml changes the rules there and nowhere else."""
    cfg = tmp_path / "config.yml"
    cfg.write_text((ALERTS / "config.yml").read_text(encoding="utf-8")
                   .replace("below: 0.10, for: 30m}", "below: 0.20, for: 45m}"), encoding="utf-8")
    text = generator().render(config=cfg)["district.rules.yml"]
    disk_warning = [r for r in (g for g in yaml.safe_load(text)["groups"])
                    for r in r["rules"] if r.get("alert") == "DiskAlmostFull" and r["labels"]["severity"] == "warning"]
    assert len(disk_warning) == 1
    assert disk_warning[0]["expr"].strip().endswith("< 0.2") and disk_warning[0]["for"] == "45m"
    assert "cảnh báo dưới 20%" in disk_warning[0]["annotations"]["description_vi"]
    assert "warning under 20%" in disk_warning[0]["annotations"]["description_en"]


def test_conventional_annotations_follow_the_configured_language(tmp_path):
    cfg = tmp_path / "config.yml"
    text = (ALERTS / "config.yml").read_text(encoding="utf-8")
    assert "\nlanguage: vi\n" in text
    cfg.write_text(text.replace("\nlanguage: vi\n", "\nlanguage: en\n"), encoding="utf-8")
    doc = yaml.safe_load(generator().render(config=cfg)["district.rules.yml"])
    pc_down = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "PCDown")
    ann = pc_down["annotations"]
    assert ann["summary"] == ("PC {{ $labels.instance }} ({{ $labels.commune }}, {{ $labels.district }}) "
                              "is not reporting")
    assert ann["description"].startswith("Prometheus has not been able to read the wardwatch agent on this PC for "
                                         "more than 15 minutes of office hours")
    assert ann["summary_vi"].startswith("Máy {{ $labels.instance }}")


def test_short_variant_scales_every_duration_and_opens_office_hours():
    normal = generator().render()["district.rules.yml"]
    short = generator().render(time_scale=60, always_office_hours=True)["district.rules.yml"]

    def fors(text: str) -> dict[tuple[str, str], str]:
        return {(r["alert"], r["labels"]["severity"]): r["for"]
                for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r}

    a, b = fors(normal), fors(short)
    assert a.keys() == b.keys()
    for key in a:
        assert seconds(b[key]) == max(1, seconds(a[key]) // 60), key
    office = [r["expr"] for g in yaml.safe_load(short)["groups"] for r in g["rules"]
              if r.get("record") == "wardwatch:office_hours:bool"]
    assert office == ["vector(1)"]


@pytest.mark.parametrize(("edit", "message"), [
    (("for: 15m\n  # The commune's link", "for: 15 minutes\n  # The commune's link"),
     r"config\.yml:\d+: alerts\.PCDown\.for: expected a duration like 30s, 15m or 1h, got '15 minutes'"),
    (("critical: {below: 0.05, for: 15m}", "critical: {below: 0.2, for: 15m}"),
     r"config\.yml:\d+: alerts\.DiskAlmostFull\.critical\.below: must be below the warning's below \(0\.1\)"),
    (("  PrinterProblem:\n    for: 10m", "  PrinterProblem:\n    fro: 10m"),
     r"config\.yml:\d+: alerts\.PrinterProblem\.fro: not used by any rule \(a typo\?\)"),
    (("start: \"08:00\"", "start: \"8h\""), r"config\.yml:\d+: office_hours\.start: expected HH:MM, got '8h'"),
    (("  CommuneLinkDown:\n    for: 5m", "  CommuneLinkDown:\n    for: 20m"),
     r"config\.yml:\d+: alerts\.CommuneLinkDown\.for: must be shorter than alerts\.PCDown\.for"),
    (("\nlanguage: vi\n", "\nlanguage: fr\n"), r"config\.yml:\d+: language: expected one of vi, en, got 'fr'"),
    (("min_pcs_spec_ok: 1 ", "min_pcs_spec_ok: -1 "),
     r"config\.yml:\d+: readiness\.min_pcs_spec_ok: expected a number of at least 0, got -1"),
])
def test_bad_config_is_one_line_naming_file_line_and_key(tmp_path, edit, message):
    text = (ALERTS / "config.yml").read_text(encoding="utf-8")
    assert edit[0] in text
    cfg = tmp_path / "config.yml"
    cfg.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ALERTS / "generate.py"), "--config", str(cfg),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(message, r.stderr), r.stderr
    assert not (tmp_path / "o").exists()


def test_line_numbers_point_at_the_key(tmp_path):
    text = (ALERTS / "config.yml").read_text(encoding="utf-8")
    lines = text.splitlines()
    want = next(i for i, line in enumerate(lines, 1) if line.strip() == "min_pcs: 2")
    cfg = tmp_path / "config.yml"
    cfg.write_text(text.replace("min_pcs: 2", "min_pcs: two"), encoding="utf-8")
    r = subprocess.run([sys.executable, str(ALERTS / "generate.py"), "--config", str(cfg), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and f"config.yml:{want}: alerts.CommuneLinkDown.min_pcs:" in r.stderr, r.stderr


# ---- promtool -------------------------------------------------------------------------------

def test_promtool_check_rules():
    r = subprocess.run([need("promtool"), "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests(path):
    r = subprocess.run([need("promtool"), "test", "rules", str(path)], capture_output=True, text=True,
                       cwd=path.parent)
    assert r.returncode == 0, r.stdout + r.stderr


def unit_test_evals() -> dict[str, list[tuple[int, int, list[dict]]]]:
    """alertname -> [(eval time in s, evaluation interval in s, exp_alerts)] over every unit test file."""
    out: dict[str, list[tuple[int, int, list[dict]]]] = {}
    for path in UNIT_TESTS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        interval = seconds(doc.get("evaluation_interval", "1m"))
        for test in doc["tests"]:
            for t in test.get("alert_rule_test", []):
                out.setdefault(t["alertname"], []).append((seconds(t["eval_time"]), interval, t["exp_alerts"]))
    return out


def test_every_alert_is_tested_just_before_and_after_its_for():
    """For each alert and severity, the first evaluation that expects it firing is preceded,
    one evaluation interval earlier, by one that expects it not firing (promtool checks both)."""
    evals = unit_test_evals()
    missing = []
    for rule in alert_rules():
        name, sev = rule["alert"], rule["labels"]["severity"]

        def fires(exp: list[dict], sev: str = sev) -> bool:
            return any(a["exp_labels"].get("severity") == sev for a in exp)

        firing = sorted(t for t, _, exp in evals.get(name, []) if fires(exp))
        if not firing:
            missing.append(f"{name}/{sev}: never expected firing")
            continue
        first = firing[0]
        before = [t for t, step, exp in evals[name] if not fires(exp) and first - step <= t < first]
        if not before:
            missing.append(f"{name}/{sev}: no evaluation expecting it not firing just before {first}s")
    assert not missing, "\n".join(missing)


def test_every_firing_expectation_has_exact_labels_and_all_annotations():
    rules = {(r["alert"], r["labels"]["severity"]): r for r in alert_rules()}
    problems = []
    for name, evals in unit_test_evals().items():
        for t, _, exp in evals:
            for a in exp:
                labels = a["exp_labels"]
                rule = rules.get((name, labels.get("severity")))
                if rule is None:
                    problems.append(f"{name} at {t}s: no rule with severity {labels.get('severity')}")
                    continue
                need_labels = SCOPE_LABELS[rule["labels"]["scope"]] | {"scope"}
                if not need_labels <= labels.keys():
                    problems.append(f"{name} at {t}s: labels {sorted(need_labels - labels.keys())} missing")
                if labels.get("scope") != rule["labels"]["scope"]:
                    problems.append(f"{name} at {t}s: scope {labels.get('scope')} != {rule['labels']['scope']}")
                if "device" in labels and labels["device"] not in (labels.get("printer"), labels.get("scanner")):
                    problems.append(f"{name} at {t}s: device label is not the printer or scanner")
                if set(a.get("exp_annotations", {})) != set(rule["annotations"]):
                    problems.append(f"{name} at {t}s: annotations {sorted(a.get('exp_annotations', {}))}")
    assert not problems, "\n".join(problems)


# ---- the rules themselves ------------------------------------------------------------------

def test_every_alert_has_for_severity_scope_and_bilingual_annotations():
    config = yaml.safe_load((ALERTS / "config.yml").read_text(encoding="utf-8"))
    base, language = config["runbook_base_url"], config["language"]
    assert language == "vi"  # the documented default
    names = set()
    for r in alert_rules():
        where = f"{r['_file']}: {r['alert']}"
        names.add(r["alert"])
        assert seconds(r["for"]) > 0, where
        assert r["labels"]["severity"] in ("warning", "critical"), where
        assert r["labels"]["scope"] in SCOPE_LABELS, where
        ann = r["annotations"]
        assert set(ann) - OPTIONAL_ANNOTATIONS == ANNOTATIONS, where
        if "fix_command" in ann:  # the runbook's fix as one command (docs/fix.md), named in the runbook too
            runbook = (ALERTS / "runbooks" / f"{r['alert']}.md").read_text(encoding="utf-8")
            for action in re.findall(r"wardwatch fix \{\{ \$labels.instance \}\} ([a-z-]+)", ann["fix_command"]):
                assert f"wardwatch fix <instance> {action}" in runbook, f"{where}: {action} not in its runbook"
        for part in ("summary", "description"):
            assert VIETNAMESE.search(ann[f"{part}_vi"]), f"{where}: {part}_vi is not Vietnamese"
            assert not VIETNAMESE.search(ann[f"{part}_en"]), f"{where}: {part}_en is not English"
            assert ann[part] == ann[f"{part}_{language}"], f"{where}: {part} is not the {language} text"
        assert ann["runbook_url"] == f"{base}/{r['alert']}.md", where
    # The list, at least.
    assert {"PCDown", "CommuneLinkDown", "WANLatencyHigh", "WANPacketLoss", "WANJitterHigh", "PortalUnreachable",
            "VirtualizationGatewayUnreachable", "PrinterProblem", "PrinterSupplyLow", "PrinterSupplyEmpty",
            "NoWorkingPrinter", "NoWorkingScanner", "PCBelowMinimumSpec", "DiskAlmostFull", "VirtualClientMissing",
            "VirtualClientGatewayUnreachable", "CollectorFailing", "CertificateExpiring"} <= names


def test_warning_critical_pairs_share_name_and_annotations():
    by_name: dict[str, list[dict]] = {}
    for r in alert_rules():
        by_name.setdefault(r["alert"], []).append(r)
    pairs = {n: rs for n, rs in by_name.items() if len(rs) > 1}
    assert set(pairs) == {"WANLatencyHigh", "WANPacketLoss", "CertificateExpiring", "DiskAlmostFull"}
    for name, rs in pairs.items():
        assert sorted(r["labels"]["severity"] for r in rs) == ["critical", "warning"], name
        assert rs[0]["annotations"] == rs[1]["annotations"], name


def test_every_runbook_exists_in_both_languages():
    names = {r["alert"] for r in alert_rules()}
    books = {p.stem for p in (ALERTS / "runbooks").glob("*.md")}
    assert names == books, f"without runbook: {sorted(names - books)}; runbook without alert: {sorted(books - names)}"
    for name in names:
        text = (ALERTS / "runbooks" / f"{name}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {name}\n"), name
        assert "\n## Tiếng Việt\n" in text and "\n## English\n" in text, name
        vi, en = text.split("\n## English\n")
        # Steps, in each language: what to check, then what to do.
        assert re.search(r"^1\. ", vi.split("\n## Tiếng Việt\n")[1], re.M), f"{name}: no numbered steps (vi)"
        assert re.search(r"^1\. ", en, re.M), f"{name}: no numbered steps (en)"


def test_readiness_rules_read_only_federated_series():
    """readiness.rules.yml runs at city level too: it may only read what the city federates."""
    doc = (ALERTS / "rules" / "readiness.rules.yml").read_text(encoding="utf-8")
    exprs = [r["expr"] for g in yaml.safe_load(doc)["groups"] for r in g["rules"]]
    own = set(record_rules("readiness.rules.yml"))
    read = {m for e in exprs for m in re.findall(r"[a-z_]+:[a-z_]+:[a-z]+", e)}
    federated = federation_matchers()
    for name in read - own:
        assert any(re.fullmatch(rx, name) for rx in federated), f"readiness reads {name}, which is not federated"
    selected = {name for e in exprs for name in re.findall(r"\b\w+(?=\{)", e)}
    assert not any(name.startswith("wardwatch_") or name == "up" for name in selected)


def federation_matchers() -> list[str]:
    city = yaml.safe_load((ALERTS / "prometheus-city.yml").read_text(encoding="utf-8"))
    (job,) = city["scrape_configs"]
    out = []
    for m in job["params"]["match[]"]:
        found = re.fullmatch(r'\{__name__(=~|=)"([^"]+)"(?:, .*)?\}', m)
        assert found, m
        out.append(found[2] if found[1] == "=~" else re.escape(found[2]))
    return out


def test_city_federates_the_commune_series_and_not_what_it_computes_itself():
    federated = federation_matchers()

    def matched(name: str) -> bool:
        return any(re.fullmatch(rx, name) for rx in federated)

    district = record_rules("district.rules.yml")
    commune_level = [n for n in district if n.startswith(("commune:", "commune_target:"))]
    assert len(commune_level) >= 10
    assert all(matched(n) for n in commune_level), [n for n in commune_level if not matched(n)]
    # Computed again at city level from those: federating them too would clash.
    assert not [n for n in record_rules("readiness.rules.yml") if matched(n)]
    assert not matched("wardwatch:office_hours:bool")
    assert matched("ALERTS")


# ---- Prometheus and Alertmanager configs -------------------------------------------------------

@pytest.mark.parametrize("name", ["prometheus-district.yml", "prometheus-city.yml"])
def test_promtool_check_config(name):
    r = subprocess.run([need("promtool"), "check", "config", str(ALERTS / name)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_amtool_check_config():
    r = subprocess.run([need("amtool"), "check-config", str(ALERTS / "alertmanager.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 inhibit rules" in r.stdout and "1 templates" in r.stdout


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"district": "ba_vi", "commune": "tan_linh", "severity": "warning", "scope": "device"}, "support-ba_vi"),
    ({"district": "ba_vi", "commune": "tan_linh", "severity": "critical", "scope": "commune"},
     "support-ba_vi-critical"),
    ({"district": "soc_son", "commune": "phu_linh", "severity": "critical", "scope": "pc"}, "support-soc_son-critical"),
    ({"district": "soc_son", "severity": "warning", "scope": "district"}, "support-city,support-soc_son"),
    ({"district": "hoan_kiem", "commune": "hang_bac", "severity": "critical", "scope": "pc"}, "support-city"),
])
def test_routes(labels, receivers):
    r = subprocess.run([need("amtool"), "config", "routes", "test", f"--config.file={ALERTS / 'alertmanager.yml'}",
                        *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == receivers


def test_notification_text_is_bilingual(tmp_path):
    data = {"receiver": "support-ba_vi", "status": "firing", "externalURL": "http://am",
            "groupLabels": {"district": "ba_vi", "commune": "tan_linh"},
            "commonLabels": {"district": "ba_vi", "commune": "tan_linh"}, "commonAnnotations": {},
            "alerts": [{"status": "firing", "startsAt": "2024-05-02T01:30:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "labels": {"alertname": "PrinterProblem", "district": "ba_vi", "commune": "tan_linh",
                                   "instance": "tl-pc01", "device": "HP_M404", "severity": "warning"},
                        "annotations": {"summary": "Máy in HP_M404 lỗi: paused", "description": "Mô tả",
                                        "summary_vi": "Máy in HP_M404 lỗi: paused",
                                        "summary_en": "Printer HP_M404 has a problem: paused",
                                        "description_vi": "Mô tả", "description_en": "Description",
                                        "runbook_url": "https://x/PrinterProblem.md",
                                        "fix_command": "wardwatch fix tl-pc01 printer-resume --printer HP_M404"}},
                       # An alert of another rule set (node-mixin's), with the conventional annotations only.
                       {"status": "firing", "startsAt": "2024-05-02T01:31:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "labels": {"alertname": "NodeClockNotSynchronising", "district": "ba_vi",
                                   "commune": "tan_linh", "instance": "tl-pc02", "severity": "warning"},
                        "annotations": {"summary": "Clock not synchronising.",
                                        "description": "Clock at tl-pc02 is not synchronising."}}]}
    (tmp_path / "data.json").write_text(__import__("json").dumps(data), encoding="utf-8")
    r = subprocess.run([need("amtool"), "template", "render", f"--template.glob={ALERTS / 'templates' / '*.tmpl'}",
                        f"--template.data={tmp_path / 'data.json'}",
                        '--template.text={{ template "wardwatch.subject" . }}\n{{ template "wardwatch.text" . }}'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    subject, _, body = r.stdout.partition("\n")
    assert subject == "[2 CẢNH BÁO / ALERTS] tan_linh, ba_vi: Máy in HP_M404 lỗi: paused"
    for text in ("- Máy in HP_M404 lỗi: paused\n  Printer HP_M404 has a problem: paused\n  Mô tả\n  Description\n"
                 "  Hướng dẫn / Runbook: https://x/PrinterProblem.md\n"
                 "  Sửa / Fix: wardwatch fix tl-pc01 printer-resume --printer HP_M404\n", "Thiết bị / Device: HP_M404",
                 "2024-05-02 08:30 (giờ Việt Nam / ICT, UTC+7)",
                 "- Clock not synchronising.\n  Clock at tl-pc02 is not synchronising.\n"
                 "  Mức / Severity: warning · Máy / PC: tl-pc02\n"):
        assert text in body, body


def test_docs_describe_every_alert_and_recording_rule():
    text = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    names = {r["alert"] for r in alert_rules()}
    records = {n for f in ("district.rules.yml", "readiness.rules.yml") for n in record_rules(f)}
    missing = sorted(n for n in names | records if n not in text)
    assert not missing, f"docs/alerts.md does not mention {missing}"


def test_readiness_agrees_with_the_readiness_report():
    """The rules and `wardwatch readiness` (fleet/readiness.py) use the same minimums and reasons."""
    from fleet.readiness import REASONS, Criteria

    r = yaml.safe_load((ALERTS / "config.yml").read_text(encoding="utf-8"))["readiness"]
    c = Criteria()
    assert (c.min_pcs_reporting, c.min_pcs_spec_ok, c.min_client_installed, c.min_printers_working,
            c.min_scanners_working, "|".join(c.wan_roles)) == (
        r["min_pcs_reporting"], r["min_pcs_spec_ok"], r["min_client_installed"], r["min_printers_working"],
        r["min_scanners_working"], r["wan_roles"])
    doc = yaml.safe_load((ALERTS / "rules" / "readiness.rules.yml").read_text(encoding="utf-8"))
    reasons = [r["labels"]["reason"] for g in doc["groups"] for r in g["rules"]
               if r.get("record") == "commune:wardwatch_not_ready_reason:bool"]
    # no_pcs (a commune of the inventory without any PC) only the inventory knows.
    assert sorted(reasons) == sorted(set(REASONS) - {"no_pcs"})

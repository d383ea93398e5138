"""The rollout's event tracking and its views, fed with ansible-runner events as the
callback plugin emits them (the end-to-end test runs them for real)."""

from __future__ import annotations

import io

from support import REPO

from fleet.inventory import load_inventory
from fleet.rollout import CHANGED, FAILED, NOT_RUN, OK, UNREACHABLE, HostState, Result, Tracker
from fleet.rollout_view import View

INV = load_inventory(REPO / "inventory")
PLAY1, PLAY2 = "Preflight", "Roll out"


def ev(event: str, host: str = "", play: str = PLAY2, task: str = "t", **data) -> dict:
    return {"event": event, "event_data": {"host": host, "play": play, "task": task, **data}}


def hosts(*names: str) -> dict[str, HostState]:
    return {n: HostState(n, INV.host(n).district, INV.host(n).commune) for n in names}


def test_tracker_tells_each_outcome_apart():
    seen = []
    t = Tracker(hosts("bd-phucxa-01", "bd-phucxa-02", "bd-trucbach-01", "bd-trucbach-02", "hk-hangbac-01"),
                lambda h, what: seen.append((h and h.name, what)), final_play=PLAY2)
    for e in [
        ev("playbook_on_play_start", play=PLAY1),
        ev("runner_on_unreachable", "hk-hangbac-01", PLAY1, "Gathering Facts",
           res={"msg": "Failed to connect: ssh: connect to host 198.51.100.41 port 22: Connection timed out"}),
        ev("runner_on_ok", "bd-trucbach-02", PLAY1),
        ev("runner_on_failed", "bd-trucbach-02", PLAY1, "preflight probe", ignore_errors=True, res={"msg": "x"}),
        ev("playbook_on_play_start", play=PLAY2),
        ev("runner_on_start", "bd-phucxa-01", task="Install"),
        ev("runner_on_ok", "bd-phucxa-01", task="Install", res={"changed": True}),
        ev("runner_on_ok", "bd-phucxa-02", task="Install", res={"changed": False}),
        ev("runner_on_failed", "bd-trucbach-01", task="Download", res={"msg": "checksum mismatch\nmore"}),
        ev("playbook_on_stats", ok={"bd-phucxa-01": 3, "bd-phucxa-02": 3, "bd-trucbach-02": 1},
           changed={"bd-phucxa-01": 1}, failures={"bd-trucbach-01": 1}, dark={"hk-hangbac-01": 1},
           processed={"bd-phucxa-01": 1, "bd-phucxa-02": 1, "bd-trucbach-01": 1, "bd-trucbach-02": 1,
                      "hk-hangbac-01": 1}),
    ]:
        assert t(e) is True
    t.finish()
    got = {n: (h.status, h.reason, h.failed_task) for n, h in t.hosts.items()}
    assert got == {
        "bd-phucxa-01": (CHANGED, "", ""),
        "bd-phucxa-02": (OK, "", ""),
        "bd-trucbach-01": (FAILED, "checksum mismatch", "Download"),
        # reached only the preflight play: its wave never started
        "bd-trucbach-02": (NOT_RUN, "dừng trước đợt của máy này / stopped before its wave (max_fail_percentage)", ""),
        "hk-hangbac-01": (UNREACHABLE, "hết thời gian kết nối / connection timed out (PC off or link down?)",
                          "Gathering Facts"),
    }
    assert (None, PLAY1) in seen and ("bd-trucbach-01", "failed") in seen
    assert ("bd-trucbach-02", "failed") not in seen  # ignored errors are not failures


def result(states: dict[str, str], check: bool = False) -> Result:
    hs = hosts(*states)
    for n, s in states.items():
        hs[n].status = s
    hs["bd-phucxa-02"].reason, hs["bd-phucxa-02"].failed_task = "boom", "Install"
    return Result("r1", 2, "failed", hs, REPO / "x", check)


def test_final_table_and_exit_codes():
    out = io.StringIO()
    view = View(INV, "vi", out, live=False)
    r = result({"bd-phucxa-01": CHANGED, "bd-phucxa-02": FAILED, "hk-hangbac-01": UNREACHABLE})
    text = view.final(r, "inventory")
    lines = text.splitlines()
    assert "Phúc Xá" in text and "Hàng Bạc" in text and "Hoàn Kiếm" in text
    row = next(ln for ln in lines if "bd-phucxa-02" in ln)
    assert "LỖI" in row and "Install: boom" in row
    assert "KHÔNG KẾT NỐI" in next(ln for ln in lines if "hk-hangbac-01" in ln)
    assert "1 thay đổi, 1 lỗi, 1 không kết nối" in text
    assert "wardwatch rollout --retry-failed -i inventory" in text
    assert r.exit_code == 1
    assert result({"bd-phucxa-01": OK, "bd-phucxa-02": UNREACHABLE}).exit_code == 3
    ok = result({"bd-phucxa-01": OK, "bd-phucxa-02": CHANGED})
    ok.rc = 0
    assert ok.exit_code == 0
    en = View(INV, "en", io.StringIO(), live=False).final(result({"bd-phucxa-02": NOT_RUN}, check=True), "inv")
    assert "NOT RUN" in en and "dry run --check" in en and "--retry-failed" not in en


def test_live_view_redraws_grouped_by_commune():
    out = io.StringIO()
    view = View(INV, "en", out, live=True, min_interval=0)
    hs = hosts("bd-phucxa-01", "bd-trucbach-01")
    view(hs["bd-phucxa-01"], "pending")
    hs["bd-trucbach-01"].status, hs["bd-trucbach-01"].task = "running", "Install the agent"
    view(hs["bd-trucbach-01"], "start")
    frames = out.getvalue().split("\x1b[")
    last = out.getvalue()[out.getvalue().rfind("\x1b[J") + 3:]
    assert last.splitlines() == [
        "Phúc Xá (Ba Đình)",
        "  bd-phucxa-01         pending          ",
        "Trúc Bạch (Ba Đình)",
        "  bd-trucbach-01       running          Install the agent",
    ]
    assert len(frames) == 3  # the second drawing moved up over the first and cleared it

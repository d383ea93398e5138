"""The rollout's event tracking and its views, fed with ansible-runner events as the
callback plugin emits them (the end-to-end test runs them for real)."""

from __future__ import annotations

import io
import socket

import yaml
from support import REPO, free_port

from fleet.inventory import load_inventory
from fleet.rollout import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    PENDING,
    RUNNING,
    UNREACHABLE,
    WAITING,
    HostState,
    Result,
    Tracker,
    explain_lost_pipes,
)
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
        "bd-trucbach-02": (NOT_RUN, "dừng trước đợt của máy này", ""),
        "hk-hangbac-01": (UNREACHABLE, "hết thời gian kết nối", "Gathering Facts"),
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


def test_english_reasons_are_english_only():
    t = Tracker(hosts("hk-hangbac-01", "bd-trucbach-02"), lambda h, what: None, final_play=PLAY2, lang="en")
    t(ev("runner_on_unreachable", "hk-hangbac-01", PLAY1, "Gathering Facts",
         res={"msg": "ssh: connect to host 198.51.100.41 port 22: Connection refused"}))
    t(ev("runner_on_ok", "bd-trucbach-02", PLAY1))
    t(ev("playbook_on_stats", dark={"hk-hangbac-01": 1}, processed={"hk-hangbac-01": 1, "bd-trucbach-02": 1}))
    t.finish()
    assert t.hosts["hk-hangbac-01"].reason == "connection refused (SSH not running?)"
    assert t.hosts["bd-trucbach-02"].reason == "stopped before its wave (max_fail_percentage)"


# A failed loop as Ansible reports it: the task's msg says only that items failed; each item's
# own result, in `results`, has the reason (ansible-core: lib/ansible/executor/task_executor.py).
LOOP_RESULT = {
    "changed": False, "msg": "One or more items failed",
    "results": [
        {"item": "python3-venv", "ansible_loop_var": "item", "changed": False, "failed": False},
        {"item": "wardwatch-agent.whl", "ansible_loop_var": "item", "failed": True, "changed": False,
         "msg": "Destination /opt/wardwatch/wheels not writable\nsecond line", "_ansible_item_label":
         "wardwatch-agent.whl"},
    ],
}


def test_a_failed_loop_shows_the_failed_items_reason():
    out = io.StringIO()
    view = View(INV, "en", out, live=False)
    t = Tracker(hosts("bd-phucxa-01"), view, final_play=PLAY2, lang="en")
    t(ev("playbook_on_play_start", play=PLAY2))
    t(ev("runner_on_failed", "bd-phucxa-01", task="Copy the wheels", res=LOOP_RESULT))
    t(ev("playbook_on_stats", failures={"bd-phucxa-01": 1}, processed={"bd-phucxa-01": 1}))
    t.finish()
    reason = "wardwatch-agent.whl: Destination /opt/wardwatch/wheels not writable"
    assert t.hosts["bd-phucxa-01"].reason == reason
    assert f"bd-phucxa-01: FAILED — {reason}" in out.getvalue()  # the live line
    table = view.final(Result("r", 2, "failed", t.hosts, REPO / "x", False), "inventory")
    assert f"Copy the wheels: {reason}" in table  # the summary
    assert "One or more items failed" not in out.getvalue() + table


def test_pcs_of_a_later_wave_wait():
    """Preflight on every PC, then waves of one (serial): a PC not in the running wave is
    waiting, never 'running' beside the last task it had."""
    out = io.StringIO()
    view = View(INV, "vi", out, live=True, min_interval=0)
    hs = hosts("bd-phucxa-01", "bd-phucxa-02")
    t = Tracker(hs, view, final_play=PLAY2)
    t(ev("playbook_on_play_start", play=PLAY1))
    for n in hs:
        t(ev("runner_on_start", n, PLAY1, "Measure this PC (Windows)", task_uuid="u-measure"))
        t(ev("runner_on_skipped", n, PLAY1, "Measure this PC (Windows)", task_uuid="u-measure"))
    assert {h.status for h in hs.values()} == {RUNNING}
    t(ev("playbook_on_play_start", play=PLAY2))
    assert {h.status for h in hs.values()} == {WAITING}
    t(ev("runner_on_start", "bd-phucxa-01", PLAY2, "Gather the facts", task_uuid="u-gather"))
    t(ev("runner_on_start", "bd-phucxa-01", PLAY2, "Install the agent", task_uuid="u-install"))
    assert (hs["bd-phucxa-01"].status, hs["bd-phucxa-02"].status) == (RUNNING, WAITING)
    last = out.getvalue()[out.getvalue().rfind("\x1b[J") + 3:]
    assert "  bd-phucxa-02         đang chờ" in [ln.rstrip() for ln in last.splitlines()]
    # the second wave: the play's tasks start again, for the other PC
    t(ev("runner_on_start", "bd-phucxa-02", PLAY2, "Gather the facts", task_uuid="u-gather"))
    assert (hs["bd-phucxa-01"].status, hs["bd-phucxa-02"].status) == (WAITING, RUNNING)
    assert hs["bd-phucxa-02"].task == "Gather the facts" and hs["bd-phucxa-01"].task == ""
    assert PENDING not in {h.status for h in hs.values()}


def test_retry_hint_names_the_playbook():
    r = result({"bd-phucxa-02": FAILED})
    vi = View(INV, "vi", io.StringIO(), live=False)
    assert "wardwatch rollout --retry-failed -i inventory --playbook preflight" in vi.final(r, "inventory", "preflight")
    assert "--playbook" not in vi.final(r, "inventory", "site")
    en = View(INV, "en", io.StringIO(), live=False).final(r, "my inv", "uninstall")
    assert "wardwatch rollout --retry-failed -i 'my inv' --playbook uninstall" in en


LOST = ('Task failed: Data could not be sent to remote host "127.0.0.1". Make sure this host can be reached '
        "over SSH: [Errno 32] Broken pipe")


def test_a_lost_pipe_is_explained_by_asking_the_pcs_ssh_port(tmp_path):
    """ssh exiting before Ansible sent it the module leaves only "Broken pipe": the PC's SSH port
    is asked after the run. Refused there is said as refused; a PC whose port answers keeps
    Ansible's words, and so does a PC that failed for another reason."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        open_port, closed_port = listening.getsockname()[1], free_port("127.0.0.2")
        inv_file = tmp_path / "hosts.yml"
        inv_file.write_text(yaml.safe_dump({"all": {"children": {"district_a": {
            "vars": {"wardwatch_district_name": "A"}, "children": {"commune_a1": {
                "vars": {"wardwatch_commune_name": "A1"}, "hosts": {
                    "pc1": {"ansible_host": "127.0.0.2", "ansible_port": closed_port},
                    "pc2": {"ansible_host": "127.0.0.1", "ansible_port": open_port},
                    "pc3": {"ansible_host": "127.0.0.3", "ansible_port": closed_port}}}}}}}}))
        inv = load_inventory(inv_file)
        states = {n: HostState(n, "district_a", "commune_a1") for n in ("pc1", "pc2", "pc3")}
        states["pc1"].status = states["pc2"].status = UNREACHABLE
        states["pc1"].reason = states["pc2"].reason = LOST
        states["pc3"].status, states["pc3"].reason = FAILED, LOST  # not unreachable: left as it is
        explain_lost_pipes(states, inv, "en")
    assert states["pc1"].reason == "connection refused (SSH not running?)"
    assert states["pc2"].reason == LOST
    assert states["pc3"].reason == LOST

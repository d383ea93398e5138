"""The allow-list: every action `wardwatch fix` can run, each a task file of the fix role
(playbooks/roles/fix/tasks/<action>_{linux,windows}.yml). Nothing else can be run through it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    name: str
    areas: tuple[str, ...]        # the check's areas (collectors) that tell whether the problem is gone; () = all
    takes_printer: bool = False   # --printer NAME narrows it to one queue
    agent_service: bool = False   # the agent's service state counts too
    alerts: tuple[str, ...] = ()  # the alerts (alerts/runbooks/<name>.md) whose fix it is
    text: tuple[str, str] = ("", "")  # what it does: vi, en


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("printer-resume", ("printers",), takes_printer=True, alerts=("PrinterProblem", "NoWorkingPrinter"),
           text=("tiếp tục hàng đợi in đang tạm dừng và cho nhận lệnh in lại (cupsenable, cupsaccept; "
                 "Windows: Win32_Printer.Resume)",
                 "resume paused print queues and let them accept jobs (cupsenable, cupsaccept; "
                 "Windows: Win32_Printer.Resume)")),
    Action("printer-clear-jobs", ("printers",), takes_printer=True, alerts=("PrinterProblem", "NoWorkingPrinter"),
           text=("hủy các lệnh in bị kẹt trong hàng đợi (cancel -a; Windows: Remove-PrintJob)",
                 "cancel the jobs stuck in print queues (cancel -a; Windows: Remove-PrintJob)")),
    Action("spooler-restart", ("printers",), alerts=("PrinterProblem", "NoWorkingPrinter"),
           text=("khởi động lại dịch vụ in (systemctl restart cups; Windows: dừng Spooler, xóa tệp kẹt trong "
                 "spool\\PRINTERS, chạy lại)",
                 "restart the print spooler (systemctl restart cups; Windows: stop Spooler, remove the stuck "
                 "files in spool\\PRINTERS, start it)")),
    Action("agent-restart", (), agent_service=True, alerts=("CollectorFailing",),
           text=("khởi động lại dịch vụ wardwatch-agent", "restart the wardwatch-agent service")),
    Action("client-reinstall", ("vclient",), alerts=("VirtualClientMissing",),
           text=("chạy lại bước cài phần mềm ảo hóa như khi triển khai (vai trò virtual_client)",
                 "run the virtualized client's install again, as the rollout does (virtual_client role)")),
    Action("preflight", ("hardware",), alerts=("PCBelowMinimumSpec",),
           text=("kiểm tra lại máy theo cấu hình tối thiểu (không thay đổi gì)",
                 "check the PC against the minimum spec again (changes nothing)")),
)}


def allowed() -> str:
    return ", ".join(ACTIONS)


def runbook_command(action: str, pc: str = "PC", printer: bool = False) -> str:
    """The exact command a runbook names."""
    return f"wardwatch fix {pc} {action}" + (" --printer NAME" if printer else "")

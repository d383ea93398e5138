"""`wardwatch rollout`: the playbooks run through ansible-runner, watched host by host.

One run = one ansible-runner private data dir under the state dir
(`<state>/rollout/<inventory key>/`), its artifacts kept (`artifacts/<ident>/`)
with the environment left out: `suppress_env_files` keeps extra vars, env and
SSH keys out of `env/`, secret tasks are `no_log`, and the `env` that
ansible-runner records in each artifact's `command` file is removed after the
run. The latest result of every host is kept in `hosts.json`, so `--retry-failed`
can run again only the hosts that failed, were unreachable or were not reached
(a wave stopped by max_fail_percentage).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.files import write_atomic
from fleet import selection
from fleet.errors import EXIT_FAIL, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, FleetError
from fleet.hostkeys import openssh
from fleet.hostkeys.known_hosts import default_known_hosts
from fleet.inventory import Inventory, default_playbooks_dir

OK, CHANGED, FAILED, UNREACHABLE, NOT_RUN, RUNNING, PENDING, WAITING = (
    "ok", "changed", "failed", "unreachable", "not_run", "running", "pending", "waiting")
DONE_WELL = (OK, CHANGED)
TO_RETRY = (FAILED, UNREACHABLE, NOT_RUN)
PLAYBOOKS = {"site": "site.yml", "preflight": "preflight.yml", "uninstall": "uninstall.yml"}


def default_state_dir() -> Path:
    env = os.environ.get("WARDWATCH_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "wardwatch"


@dataclass
class HostState:
    name: str
    district: str = ""
    commune: str = ""
    status: str = PENDING
    task: str = ""       # the task running now, or the last one
    ok: int = 0
    changed: int = 0
    reason: str = ""     # why it failed / was unreachable (first line of the message)
    failed_task: str = ""
    last_play: str = ""  # the last play that had a task event for this host


@dataclass
class Options:
    inventory: Path
    playbook: str = "site"
    limit_hosts: list[str] | None = None   # exactly the PCs to run (fleet.selection); None: every PC
    check: bool = False
    forks: int = 10
    serial: list[Any] | None = None
    max_fail_percentage: int | None = None
    ssh_retries: int = 3
    timeout: int = 20                      # SSH connect timeout, seconds
    extravars: dict[str, Any] = field(default_factory=dict)
    playbooks_dir: Path = field(default_factory=default_playbooks_dir)
    state_dir: Path = field(default_factory=default_state_dir)
    keep_artifacts: int = 20
    vault_password_file: Path | None = None  # for group_vars/*/vault.yml encrypted with ansible-vault
    lang: str = "vi"                        # of the reasons recorded and shown (vi or en, never both)
    ansible_hosts: selection.AnsibleHosts | None = None  # Ansible's view of the inventory, if already loaded
    known_hosts: Path = field(default_factory=default_known_hosts)  # the PCs' host keys (inventory hostkeys)


@dataclass
class Result:
    ident: str
    rc: int
    status: str           # ansible-runner's: successful, failed, timeout, canceled
    hosts: dict[str, HostState]
    artifacts: Path
    check: bool

    @property
    def exit_code(self) -> int:
        states = [h.status for h in self.hosts.values()]
        if any(s in (FAILED, NOT_RUN) for s in states) or (self.rc != 0 and not states):
            return EXIT_FAIL
        if any(s == UNREACHABLE for s in states):
            return EXIT_UNREACHABLE
        return EXIT_OK if self.rc == 0 else EXIT_FAIL


def inventory_key(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


def run_dir(state_dir: Path, inventory: Path) -> Path:
    return state_dir / "rollout" / inventory_key(inventory)


def _first_line(text: Any, limit: int = 300) -> str:
    text = str(text or "").strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:limit]


# What SSH says, in words an operator can act on (host keys: fleet/hostkeys/openssh.py).
SSH_REASONS = (
    ("Connection refused", "máy từ chối kết nối / connection refused (SSH not running?)"),
    ("Connection timed out", "hết thời gian kết nối / connection timed out (PC off or link down?)"),
    ("No route to host", "không có đường tới máy / no route to host"),
    ("Permission denied", "bị từ chối đăng nhập / permission denied (SSH key or user)"),
    ("Could not resolve hostname", "không phân giải được tên máy / cannot resolve the host name"),
)


# Ansible's words when ssh exited before taking the module it was sent (pipelining): ssh's own reason
# (refused, timed out) is lost with it, so the PC's SSH port is asked once more after the run.
PIPE_LOST = "Data could not be sent to remote host"
PROBE_TIMEOUT = 3.0


def probe_reason(address: str, port: int, lang: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why nothing answers at address:port, in the words of SSH_REASONS; None if it answers."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        needle = "Connection refused"
    except TimeoutError:
        needle = "Connection timed out"
    except OSError as e:
        if e.errno not in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return None
        needle = "No route to host"
    return in_lang(dict(SSH_REASONS)[needle], lang)


def explain_lost_pipes(hosts: dict[str, HostState], inv: Inventory, lang: str) -> None:
    """The reason of each PC that was unreachable because ssh exited early, asked of its SSH port
    (all at once, PROBE_TIMEOUT at most)."""
    lost = [h for h in hosts.values() if h.status == UNREACHABLE and PIPE_LOST in h.reason]
    if not lost:
        return

    def ask(h: HostState) -> str | None:
        try:
            host = inv.host(h.name)
            return probe_reason(host.address, host.ssh_port, lang)
        except FleetError:  # not in the inventory, or a bad ansible_port: its reason stays as it is
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(lost))) as pool:
        for h, why in zip(lost, pool.map(ask, lost), strict=True):
            if why:
                h.reason = why


STOPPED_BEFORE_WAVE = "dừng trước đợt của máy này / stopped before its wave (max_fail_percentage)"


def in_lang(text: str, lang: str) -> str:
    """One language of a 'Vietnamese / English' text (the form of the tables above): `--lang en`
    shows English only. Text without that form is returned as it is."""
    vi, sep, en = text.partition(" / ")
    if not sep:
        return text
    return en if lang == "en" else vi


def _item_label(item: dict[str, Any]) -> str:
    label = item.get("_ansible_item_label", item.get("item"))
    if isinstance(label, (str, int, float)) and str(label).strip():
        return _first_line(label, 60)
    return ""


def failure_reason(res: dict[str, Any], lang: str = "vi") -> str:
    """The most telling line of a failed task's result; for a loop, the first failed item's own
    reason (the task's msg is only "One or more items failed")."""
    text = " ".join(str(res.get(k) or "") for k in ("msg", "stderr", "module_stderr"))
    host_key = openssh.explain(text)
    if host_key:
        return in_lang(host_key, lang)
    for needle, reason in SSH_REASONS:
        if needle in text:
            return in_lang(reason, lang)
    results = res.get("results")
    if isinstance(results, list):
        for r in results:
            if isinstance(r, dict) and r.get("failed"):
                why = failure_reason(r, lang)
                label = _item_label(r)
                if why:
                    return f"{label}: {why}" if label else why
    for key in ("msg", "stderr", "reason", "module_stderr", "stdout"):
        value = res.get(key)
        if value:
            return _first_line(value)
    return ""


class Tracker:
    """Turns ansible-runner events into per-host state; calls `on_change(host)` on each change."""

    def __init__(self, hosts: dict[str, HostState], on_change: Callable[[HostState | None, str], None],
                 final_play: str = "", where: Callable[[str], tuple[str, str]] | None = None, lang: str = "vi"):
        self.hosts = hosts
        self.lang = lang
        self.tasks_seen: set[str] = set()  # task uuids of this play: one seen again starts a new wave
        self.last_task = ""
        self.where = where  # host name -> (district, commune), for hosts met only in events
        self.on_change = on_change
        self.final_play = final_play  # a host that never reached it was stopped (max_fail_percentage)
        self.stats: dict[str, dict[str, int]] | None = None

    def host(self, name: str) -> HostState:
        h = self.hosts.get(name)
        if h is None:
            district, commune = self.where(name) if self.where else ("", "")
            h = self.hosts[name] = HostState(name, district, commune)
        return h

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        name = data.get("host")
        task = str(data.get("task") or "").strip()
        if name and kind.startswith("runner_on_"):
            self.host(name).last_play = str(data.get("play") or "")
        if kind == "playbook_on_play_start":
            self.tasks_seen, self.last_task = set(), ""
            self.wait(set())  # nobody runs until the play gives them a task
            self.on_change(None, str(data.get("play") or data.get("name") or ""))
        elif kind == "runner_on_start" and name:
            uuid = str(data.get("task_uuid") or "")
            if uuid and uuid != self.last_task:
                if uuid in self.tasks_seen:  # the play's tasks again: the next wave (serial) begins
                    self.wait({name})
                self.tasks_seen.add(uuid)
                self.last_task = uuid
            h = self.host(name)
            if h.status in (PENDING, WAITING, RUNNING, OK, CHANGED):
                h.status, h.task = RUNNING, task
                self.on_change(h, "start")
        elif kind == "runner_on_ok" and name:
            h = self.host(name)
            res = data.get("res") or {}
            h.ok += 1
            if res.get("changed"):
                h.changed += 1
            self.on_change(h, "changed" if res.get("changed") else "ok")
        elif kind == "runner_on_failed" and name and not data.get("ignore_errors"):
            h = self.host(name)
            h.status, h.failed_task = FAILED, task
            h.reason = failure_reason(data.get("res") or {}, self.lang)
            self.on_change(h, "failed")
        elif kind == "runner_on_unreachable" and name:
            h = self.host(name)
            h.status, h.failed_task = UNREACHABLE, task
            h.reason = failure_reason(data.get("res") or {}, self.lang)
            self.on_change(h, "unreachable")
        elif kind == "playbook_on_stats":
            self.stats = {k: dict(data.get(k) or {}) for k in
                          ("ok", "changed", "failures", "dark", "skipped", "processed", "rescued", "ignored")}
        return True

    def wait(self, keep: set[str]) -> None:
        """Hosts running a task of an earlier play or wave now wait (for their wave, or the others')."""
        for h in self.hosts.values():
            if h.status == RUNNING and h.name not in keep:
                h.status, h.task = WAITING, ""
                self.on_change(h, "waiting")

    def finish(self) -> None:
        """Final status of every host from the play recap (hosts never reached are not_run)."""
        stats = self.stats or {}
        processed = stats.get("processed", {})
        for name, h in self.hosts.items():
            if name in stats.get("dark", {}):
                h.status = UNREACHABLE
            elif stats.get("failures", {}).get(name):
                h.status = FAILED
            elif name not in processed:
                h.status = FAILED if h.status == FAILED else UNREACHABLE if h.status == UNREACHABLE else NOT_RUN
            elif self.final_play and h.last_play != self.final_play:
                h.status = NOT_RUN
                h.reason = in_lang(STOPPED_BEFORE_WAVE, self.lang)
            else:
                h.changed = stats.get("changed", {}).get(name, h.changed)
                h.status = CHANGED if h.changed else OK
                h.reason = ""
            h.task = ""


def final_play_name(playbook: Path) -> str:
    try:
        plays = yaml.safe_load(playbook.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as e:
        raise FleetError(f"{playbook}: cannot read the playbook: {e}") from None
    if isinstance(plays, list) and plays and isinstance(plays[-1], dict):
        return str(plays[-1].get("name") or "")
    return ""


class Store:
    """hosts.json: the latest result of every host of one inventory."""

    def __init__(self, directory: Path):
        self.path = directory / "hosts.json"

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise FleetError(f"{self.path}: cannot read the last results: {e}") from None
        return doc.get("hosts", {}) if isinstance(doc, dict) else {}

    def save(self, result: Result) -> None:
        hosts = self.load()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        for name, h in result.hosts.items():
            entry = asdict(h)
            entry.pop("task", None)
            hosts[name] = {**entry, "run": result.ident, "at": now}
        doc = {"hosts": dict(sorted(hosts.items())), "last_run": result.ident}
        write_atomic(self.path, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode())

    def to_retry(self) -> list[str]:
        return sorted(n for n, h in self.load().items() if h.get("status") in TO_RETRY)


def scrub_artifacts(artifact_dir: Path) -> None:
    """ansible-runner records the whole environment of the run in `command`: keep only the command."""
    for f in artifact_dir.glob("*/command"):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "env" in doc:
            doc.pop("env")
            f.write_text(json.dumps(doc), encoding="utf-8")
    for f in artifact_dir.glob("*/env.list"):
        f.unlink(missing_ok=True)


def ssh_args(known_hosts: Path) -> str:
    """Ansible's default ssh_args, and the host keys checked strictly against wardwatch's known_hosts
    only (the one `wardwatch inventory hostkeys` fills and diagnose reads). Put first, these win over
    any UserKnownHostsFile in the inventory's ansible_ssh_common_args (ssh keeps an option's first value)."""
    path = str(known_hosts.expanduser().resolve())
    if '"' in path:
        raise FleetError(f"--known-hosts: {path}: a path with a double quote cannot be given to ssh", EXIT_USAGE)
    path = path.replace("%", "%%")  # ssh expands %-tokens in UserKnownHostsFile
    return " ".join(["-C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
                     "-o", shlex.quote(f'UserKnownHostsFile="{path}"'), "-o", "GlobalKnownHostsFile=/dev/null",
                     "-o", "StrictHostKeyChecking=yes"])


def control_path_dir() -> str:
    """A short private directory for this run's SSH master connections (closed and removed at exit): a
    master left by an earlier run is never reused, so every run checks the host keys in known_hosts as
    they are now."""
    # A UNIX socket path holds at most 107 bytes, and ansible adds 41 (/%C) to this directory: a long
    # $TMPDIR would make every connection fail ("too long for Unix domain socket").
    base = tempfile.gettempdir()
    path = tempfile.mkdtemp(prefix="ww-ssh-", dir=base if len(base) <= 48 else "/tmp")
    atexit.register(_close_masters, Path(path))
    return path


def _close_masters(path: Path) -> None:
    for socket_path in sorted(path.glob("*")):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "wardwatch"],
                           capture_output=True, timeout=10, check=False)
    shutil.rmtree(path, ignore_errors=True)


def run(opts: Options, inv: Inventory, view: Callable[[HostState | None, str], None] | None = None) -> Result:
    try:
        import ansible_runner  # the operators' extra: imported only where a rollout runs
    except ImportError:
        raise FleetError("ansible-runner is not installed: pip install 'wardwatch[fleet]' / "
                         "chưa cài ansible-runner") from None

    bindir = str(Path(sys.executable).parent)  # ansible-playbook beside this Python (an unactivated venv)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])

    playbook = PLAYBOOKS.get(opts.playbook, opts.playbook)
    if not (opts.playbooks_dir / playbook).is_file():
        raise FleetError(f"{opts.playbooks_dir / playbook}: playbook not found / không tìm thấy playbook")
    directory = run_dir(opts.state_dir, opts.inventory)
    (directory / "artifacts").mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ident = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + ("-check" if opts.check else "") + f"-{os.getpid()}"

    targets = opts.limit_hosts if opts.limit_hosts is not None else [h.name for h in inv.hosts]
    if not targets:
        raise FleetError("no PC selected / không chọn được máy nào", EXIT_USAGE)
    hosts: dict[str, HostState] = {}
    for n in targets:
        h = inv.host(n)
        hosts[n] = HostState(n, h.district, h.commune)

    def where(name: str) -> tuple[str, str]:
        try:
            h = inv.host(name)
        except FleetError:
            return "", ""
        return h.district, h.commune

    tracker = Tracker(hosts, view or (lambda h, what: None), final_play_name(opts.playbooks_dir / playbook), where,
                      lang=opts.lang)

    # Ansible is handed exactly these PCs: their names, one a line, in a limit file kept with the run
    # (never a pattern: `a,b:&x` would apply `&x` to the last name only), checked with Ansible's own reading.
    limits = directory / "limits"
    limit_file = selection.write_limit_file(limits / f"{ident}.txt", hosts)
    for old in sorted(limits.glob("*.txt"))[:-max(opts.keep_artifacts, 1)]:
        old.unlink(missing_ok=True)
    ansible_hosts = opts.ansible_hosts or selection.AnsibleHosts(opts.inventory, opts.lang)
    selection.check_limit_file(ansible_hosts, limit_file, hosts, opts.lang)
    limit = f"@{limit_file}"

    extravars = {"preflight_lang": opts.lang, **opts.extravars}  # reasons in the operator's language only
    all_vars = inv.groups["all"].vars | inv.groups["all"].file_vars if "all" in inv.groups else {}
    serial = opts.serial if opts.serial is not None else all_vars.get("wardwatch_rollout_serial")
    if serial is not None:
        extravars["wardwatch_rollout_serial"] = serial
    mfp = opts.max_fail_percentage if opts.max_fail_percentage is not None else \
        all_vars.get("wardwatch_rollout_max_fail_percentage")
    if mfp is not None:
        extravars["wardwatch_rollout_max_fail_percentage"] = int(mfp)

    envvars = {
        "ANSIBLE_ROLES_PATH": str(opts.playbooks_dir / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args(opts.known_hosts),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control_path_dir(),
        "ANSIBLE_SSH_RETRIES": str(opts.ssh_retries),
        "ANSIBLE_TIMEOUT": str(opts.timeout),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }
    args = ["--check", "--diff"] if opts.check else []
    if opts.vault_password_file is not None:  # the file's name only: its content never reaches the artifacts
        args += ["--vault-password-file", shlex.quote(str(opts.vault_password_file.resolve()))]
    cmdline = " ".join(args) or None
    if view is not None:
        for h in hosts.values():
            view(h, "pending")
    r = ansible_runner.run(
        private_data_dir=str(directory),
        project_dir=str(opts.playbooks_dir),
        playbook=playbook,
        inventory=str(opts.inventory.resolve()),
        limit=limit,
        forks=opts.forks,
        extravars=extravars,
        envvars=envvars,
        cmdline=cmdline,
        suppress_env_files=True,
        quiet=True,
        ident=ident,
        artifact_dir=str(directory / "artifacts"),
        rotate_artifacts=opts.keep_artifacts,
        event_handler=tracker,
    )
    scrub_artifacts(directory / "artifacts")
    if tracker.stats is None and r.rc not in (0, None):
        # Ansible stopped before any play recap (a playbook or inventory error): say why.
        text = (directory / "artifacts" / ident / "stdout")
        lines = text.read_text(encoding="utf-8", errors="replace").splitlines() if text.exists() else []
        why = next((ln.strip() for ln in lines if "ERROR" in ln), "") or next(
            (ln.strip() for ln in reversed(lines) if ln.strip()), f"exit code {r.rc}")
        raise FleetError(f"ansible-playbook failed / ansible-playbook lỗi: {why[:300]} "
                         f"(artifacts: {directory / 'artifacts' / ident})", EXIT_FAIL)
    tracker.finish()
    explain_lost_pipes(tracker.hosts, inv, opts.lang)
    result = Result(ident, int(r.rc if r.rc is not None else 1), str(r.status), tracker.hosts,
                    directory / "artifacts" / ident, opts.check)
    if not result.check:
        Store(directory).save(result)
    return result


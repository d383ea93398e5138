"""Remote diagnosis of one PC over SSH (paramiko): the agent's own check, its service
state, its recent log lines, and the PC's view of its WAN targets.

Host keys are verified against a known_hosts file as OpenSSH does: a key not there
is refused unless `accept_new` (then it is recorded, like StrictHostKeyChecking=
accept-new); a key that differs from the recorded one is ALWAYS refused, with both
fingerprints. Passwords come from an environment variable and are never logged,
printed or put in an error message.

Gathering only (no text for people): fleet/diagnose_cmd.py renders `Diagnosis`.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import shlex
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from fleet.errors import EXIT_AUTH, EXIT_FAIL, EXIT_UNREACHABLE, EXIT_USAGE, FleetError
from fleet.hostkeys import known_hosts

# paramiko logs transport errors (with tracebacks) from its own thread; the errors we
# need reach us as exceptions, which become one line each.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

SERVICE = "wardwatch-agent"
LINUX_AGENTS = ("wardwatch-agent", "/opt/wardwatch/venv/bin/wardwatch-agent")
LINUX_CONFIG = "/etc/wardwatch/agent.yml"
LINUX_LOG_FILE = "/var/log/wardwatch/agent.log"
WINDOWS_AGENT = r"C:\Program Files\wardwatch\venv\Scripts\wardwatch-agent.exe"
WINDOWS_CONFIG = r"%ProgramData%\wardwatch\agent.yml"
WINDOWS_LOG_DIR = r"$env:ProgramData\wardwatch\logs"
NOT_FOUND_CODES = (127, 9009)  # POSIX shells, cmd.exe
MAX_OUTPUT = 4 * 2**20

MESSAGES: dict[str, dict[str, str]] = {
    "unknown_key": {
        "vi": "khóa máy chủ của {host} chưa được ghi nhận trong {known_hosts} ({key}): chạy wardwatch inventory "
              "hostkeys (hoặc đối chiếu dấu vân tay rồi chạy lại với --accept-new)",
        "en": "host key of {host} is not enrolled yet in {known_hosts} ({key}): run wardwatch inventory hostkeys "
              "(or check the fingerprint, then run again with --accept-new)"},
    "changed_key": {
        "vi": "KHÓA MÁY CHỦ CỦA {host} ĐÃ THAY ĐỔI: {known_hosts} ghi {expected}, máy trả về {got}; có thể bị "
              "giả mạo (man-in-the-middle). Nếu máy vừa cài lại, đối chiếu trên máy rồi xóa khóa cũ: "
              "ssh-keygen -R '{name}' -f {known_hosts} và chạy wardwatch inventory hostkeys",
        "en": "HOST KEY OF {host} HAS CHANGED: {known_hosts} has {expected}, the host sent {got}; this may be a "
              "man-in-the-middle. If the PC was reinstalled, remove the old key: "
              "ssh-keygen -R '{name}' -f {known_hosts} and run wardwatch inventory hostkeys"},
    "auth": {"vi": "đăng nhập {user}@{host} thất bại: sai mật khẩu hoặc khóa ({how})",
             "en": "authentication of {user}@{host} failed: wrong password or key ({how})"},
    "timeout": {"vi": "{host}: không trả lời sau {timeout:g} giây", "en": "{host}: no answer within {timeout:g} s"},
    "refused": {"vi": "{host}: không kết nối được ({why})", "en": "{host}: cannot connect ({why})"},
    "resolve": {"vi": "không tìm thấy máy {host} (tên không phân giải được: {why})",
                "en": "unknown host {host} (name does not resolve: {why})"},
    "ssh": {"vi": "{host}: lỗi SSH: {why}", "en": "{host}: SSH error: {why}"},
    "agent_missing": {"vi": "{host}: không tìm thấy wardwatch-agent trên máy (đã tìm: {where})",
                      "en": "{host}: wardwatch-agent is not installed on the PC (looked for: {where})"},
    "no_password": {"vi": "biến môi trường {var} (--password-env) chưa được đặt",
                    "en": "environment variable {var} (--password-env) is not set"},
    "key_encrypted": {"vi": "khóa {key} có mật khẩu: đặt mật khẩu vào một biến môi trường và dùng --password-env",
                      "en": "key {key} is encrypted: put its passphrase in an environment variable and use "
                            "--password-env"},
    "key_file": {"vi": "không đọc được khóa {key}: {why}", "en": "cannot read key {key}: {why}"},
    "known_hosts": {"vi": "{path}: không đọc được known_hosts: {why}", "en": "{path}: cannot read known_hosts: {why}"},
    "known_hosts_write": {"vi": "{path}: không ghi được known_hosts: {why}",
                          "en": "{path}: cannot write known_hosts: {why}"},
    "check_output": {"vi": "{host}: wardwatch-agent check không trả về JSON (mã {code}): {why}",
                     "en": "{host}: wardwatch-agent check gave no JSON (exit {code}): {why}"},
}


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: SHA256:<base64, no padding>."""
    return known_hosts.fingerprint(key.asbytes())


def describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {fingerprint(key)}"


@dataclass(frozen=True)
class Target:
    host: str       # as the operator named it
    address: str    # what we connect to
    port: int
    user: str

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


@dataclass
class Diagnosis:
    target: Target
    host_key: str = ""             # "ssh-ed25519 SHA256:..."
    host_key_recorded: bool = False  # newly added to known_hosts (--accept-new)
    platform: str = "linux"        # linux / windows
    check: dict[str, Any] | None = None
    check_exit: int | None = None
    service: str = "unknown"       # active, inactive, failed, running, stopped, ..., unknown
    service_detail: str = ""
    log_source: str = ""           # "journal", a file path, or "" if none could be read
    log_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def wan_items(self) -> list[dict[str, Any]]:
        return [i for i in (self.check or {}).get("items", []) if i.get("area") == "wan"]

    @property
    def other_items(self) -> list[dict[str, Any]]:
        return [i for i in (self.check or {}).get("items", []) if i.get("area") != "wan"]

    @property
    def service_ok(self) -> bool | None:
        if self.service in ("active", "running"):
            return True
        if self.service == "unknown":
            return None
        return False

    @property
    def ok(self) -> bool:
        return bool(self.check and self.check.get("ok")) and self.service_ok is not False


class _UnknownHostKeyError(Exception):
    def __init__(self, name: str, key: paramiko.PKey):
        super().__init__(name)
        self.name, self.key = name, key


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Unknown key: refused, or with accept_new appended to known_hosts (as OpenSSH's
    accept-new). A changed key never reaches here: paramiko raises BadHostKeyException."""

    def __init__(self, known_hosts: Path, accept_new: bool):
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.recorded = False

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.accept_new:
            raise _UnknownHostKeyError(hostname, key)
        path = self.known_hosts
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.recorded = True


def resolve_target(host: str, inventory: str | None, user: str | None, port: int | None,
                   lang: str = "en") -> Target:
    """The PC to reach: from the inventory when one is given (ansible_host, ansible_port,
    ansible_user; an unknown name is exit 2), else HOST as an address or DNS name."""
    address, inv_port, inv_user = host, None, None
    if inventory:
        from fleet.inventory import load_inventory

        h = load_inventory(inventory, lang=lang).host(host)
        address = h.address
        inv_port = h.vars.get("ansible_port")
        inv_user = h.vars.get("ansible_user")
    try:
        real_port = int(port or inv_port or 22)
    except (TypeError, ValueError):
        raise FleetError(f"{host}: bad ansible_port {inv_port!r}", EXIT_USAGE) from None
    return Target(host, str(address), real_port, str(user or inv_user or getpass.getuser()))


def _first(text: Any) -> str:
    """The first non-empty line of a message (an error stays one line)."""
    return next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "-")[:300]


def _msg(message: str, lang: str, /, **kw: Any) -> str:
    return MESSAGES[message][lang].format(**kw)


def connect(target: Target, *, known_hosts: Path, accept_new: bool = False, identity: str | None = None,
            password_env: str | None = None, timeout: float = 15.0, lang: str = "en"
            ) -> tuple[paramiko.SSHClient, str, bool]:
    """An authenticated SSH client, the host key's description, and whether it was just recorded."""
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise FleetError(_msg("no_password", lang, var=password_env), EXIT_USAGE)
    if identity and not Path(identity).is_file():
        raise FleetError(_msg("key_file", lang, key=identity, why="not found / không có tệp"), EXIT_USAGE)
    client = paramiko.SSHClient()
    if known_hosts.exists():
        try:
            client.load_system_host_keys(str(known_hosts))
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise FleetError(_msg("known_hosts", lang, path=known_hosts, why=_first(e)), EXIT_USAGE) from None
    policy = KnownHostsPolicy(known_hosts, accept_new)
    client.set_missing_host_key_policy(policy)
    where = f"{target.address}:{target.port}" if target.address == target.host else \
        f"{target.host} ({target.address}:{target.port})"
    explicit = bool(identity or password_env)
    try:
        client.connect(target.address, port=target.port, username=target.user, password=password,
                       key_filename=identity, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                       channel_timeout=timeout, allow_agent=not explicit, look_for_keys=not explicit)
    except _UnknownHostKeyError as e:
        client.close()
        raise FleetError(_msg("unknown_key", lang, host=where, known_hosts=known_hosts, key=describe(e.key)),
                         EXIT_AUTH) from None
    except paramiko.BadHostKeyException as e:
        client.close()
        raise FleetError(_msg("changed_key", lang, host=where, known_hosts=known_hosts,
                              expected=describe(e.expected_key), got=describe(e.key),
                              name=target.known_hosts_name), EXIT_AUTH) from None
    except paramiko.PasswordRequiredException:
        client.close()
        raise FleetError(_msg("key_encrypted", lang, key=identity), EXIT_USAGE) from None
    except paramiko.AuthenticationException:
        client.close()
        how = ", ".join(x for x in (f"password from ${password_env}" if password_env else "",
                                    f"key {identity}" if identity else "") if x) or "ssh-agent, ~/.ssh keys"
        raise FleetError(_msg("auth", lang, user=target.user, host=where, how=how), EXIT_AUTH) from None
    except socket.gaierror as e:
        client.close()
        raise FleetError(_msg("resolve", lang, host=target.address, why=_first(e.strerror or e)),
                         EXIT_UNREACHABLE) from None
    except TimeoutError:
        client.close()
        raise FleetError(_msg("timeout", lang, host=where, timeout=timeout), EXIT_UNREACHABLE) from None
    except paramiko.ssh_exception.NoValidConnectionsError as e:
        client.close()
        why = "; ".join(sorted({(err.strerror or str(err)) for err in e.errors.values()}))
        raise FleetError(_msg("refused", lang, host=where, why=why), EXIT_UNREACHABLE) from None
    except OSError as e:
        client.close()
        raise FleetError(_msg("refused", lang, host=where, why=_first(e.strerror or e)), EXIT_UNREACHABLE) from None
    except paramiko.SSHException as e:
        transport = client.get_transport()
        no_banner = transport is None or not getattr(transport, "remote_version", "")
        client.close()
        text = str(e)
        if no_banner or "banner" in text.lower() or "timeout" in text.lower() or "timed out" in text.lower():
            raise FleetError(_msg("timeout", lang, host=where, timeout=timeout), EXIT_UNREACHABLE) from None
        raise FleetError(_msg("ssh", lang, host=where, why=_first(text)), EXIT_UNREACHABLE) from None
    transport = client.get_transport()
    key = transport.get_remote_server_key() if transport else None
    return client, describe(key) if key else "", policy.recorded


def run_command(client: paramiko.SSHClient, command: str, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one remote command, bounded in time and size."""
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise FleetError("SSH session closed / phiên SSH đã đóng", EXIT_UNREACHABLE)
    chan = transport.open_session(timeout=timeout)
    try:
        chan.settimeout(timeout)
        chan.exec_command(command)
        deadline = time.monotonic() + timeout
        out, err = bytearray(), bytearray()
        while True:
            if chan.recv_ready():
                out += chan.recv(65536)
            elif chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            elif chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            else:
                if time.monotonic() > deadline:
                    raise TimeoutError()
                chan.status_event.wait(0.05)
            if len(out) + len(err) > MAX_OUTPUT:
                break
        # what arrived between the last read and the exit status
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        code = chan.recv_exit_status() if chan.exit_status_ready() else -1
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        chan.close()


def _linux_check_command(config: str, lang: str) -> str:
    q = shlex.quote
    lines = [f"cfg={q(config)}"]
    for agent in LINUX_AGENTS:
        lines.append(f"if command -v {q(agent)} >/dev/null 2>&1; then "
                     f"if [ -r \"$cfg\" ]; then exec {q(agent)} check --format json --lang {q(lang)} "
                     f"--config \"$cfg\"; else exec {q(agent)} check --format json --lang {q(lang)}; fi; fi")
    lines.append("echo 'wardwatch-agent: not found' >&2; exit 127")
    return "\n".join(lines)


def parse_sc_query(text: str) -> str:
    """`sc query <service>` (Windows): the STATE line's word, lowercased ("running",
    "stopped", "start_pending", ...); "missing" when the service does not exist (1060)."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].upper() == "STATE" and len(parts) >= 4:
            return parts[3].lower()
        if "1060" in line:
            return "missing"
    return "unknown"


def diagnose(target: Target, *, known_hosts: Path, accept_new: bool = False, identity: str | None = None,
             password_env: str | None = None, timeout: float = 15.0, command_timeout: float = 90.0,
             lang: str = "en", log_lines: int = 20, agent_config: str | None = None,
             log_file: str = LINUX_LOG_FILE, progress=None) -> Diagnosis:
    def step(what: str) -> None:
        if progress:
            progress(what)

    step("connect")
    client, key, recorded = connect(target, known_hosts=known_hosts, accept_new=accept_new, identity=identity,
                                    password_env=password_env, timeout=timeout, lang=lang)
    d = Diagnosis(target, host_key=key, host_key_recorded=recorded)
    try:
        code, out, _ = run_command(client, "uname -s", timeout)
        d.platform = "linux" if code == 0 and out.strip() else "windows"
        step("check")
        if d.platform == "linux":
            cmd = _linux_check_command(agent_config or LINUX_CONFIG, lang)
            where = ", ".join(LINUX_AGENTS)
        else:
            cfg = agent_config or WINDOWS_CONFIG
            cmd = f'"{WINDOWS_AGENT}" check --format json --lang {lang} --config "{cfg}"'
            where = WINDOWS_AGENT
        try:
            code, out, err = run_command(client, cmd, command_timeout)
        except TimeoutError:
            raise FleetError(_msg("timeout", lang, host=f"{target.host} (wardwatch-agent check)",
                                  timeout=command_timeout), EXIT_UNREACHABLE) from None
        if code in NOT_FOUND_CODES or (d.platform == "windows" and "is not recognized" in err):
            raise FleetError(_msg("agent_missing", lang, host=target.host, where=where), EXIT_FAIL)
        d.check_exit = code
        try:
            doc = json.loads(out)
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list) \
                    or not all(isinstance(i, dict) for i in doc["items"]) \
                    or not isinstance(doc.get("collectors") or {}, dict) \
                    or not all(isinstance(c, dict) for c in (doc.get("collectors") or {}).values()):
                raise ValueError("not the check's JSON")
            d.check = doc
        except ValueError:
            first = _first(err.strip() or out.strip() or "-")
            raise FleetError(_msg("check_output", lang, host=target.host, code=code, why=first), EXIT_FAIL) from None

        step("service")
        if d.platform == "linux":
            code, out, err = run_command(client, f"systemctl is-active {SERVICE}", timeout)
            state = out.strip().splitlines()[0] if out.strip() else ""
            if code in NOT_FOUND_CODES or not state or "not been booted" in err + out:
                d.service, d.service_detail = "unknown", (err.strip() or out.strip()).splitlines()[0][:200] \
                    if (err.strip() or out.strip()) else ""
            else:
                d.service = state
        else:
            code, out, err = run_command(client, f"sc query {SERVICE}", timeout)
            d.service = parse_sc_query(out + err)

        step("logs")
        n = int(log_lines)
        if d.platform == "linux":
            code, out, _ = run_command(client, f"journalctl -u {SERVICE} -n {n} --no-pager -q -o short-iso", timeout)
            lines = [x for x in out.splitlines() if x.strip() and not x.startswith("-- ")]
            if code == 0 and lines:
                d.log_source, d.log_lines = "journal", lines[-n:]
            else:
                code, out, _ = run_command(client, f"tail -n {n} {shlex.quote(log_file)}", timeout)
                if code == 0:
                    d.log_source, d.log_lines = log_file, out.splitlines()[-n:]
        else:
            ps = (f"Get-ChildItem -Path \"{WINDOWS_LOG_DIR}\" -Filter *.log | Sort-Object LastWriteTime | "
                  f"Select-Object -Last 1 | Get-Content -Tail {n}")
            code, out, _ = run_command(client, f'powershell -NoProfile -NonInteractive -Command "{ps}"', timeout)
            if code == 0:
                d.log_source, d.log_lines = WINDOWS_LOG_DIR, out.splitlines()[-n:]
    except TimeoutError:
        raise FleetError(_msg("timeout", lang, host=target.host, timeout=timeout), EXIT_UNREACHABLE) from None
    except (paramiko.SSHException, EOFError) as e:
        raise FleetError(_msg("ssh", lang, host=target.host, why=_first(e)), EXIT_UNREACHABLE) from None
    except OSError as e:  # the session dropped (connection reset, broken pipe)
        raise FleetError(_msg("ssh", lang, host=target.host, why=_first(e.strerror or e)), EXIT_UNREACHABLE) from None
    finally:
        client.close()
    return d

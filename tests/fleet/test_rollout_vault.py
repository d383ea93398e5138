"""Secrets in ansible-vault: `wardwatch rollout --vault-password-file` decrypts them for the
play, and neither the secret nor the vault password reaches the kept artifacts."""

import subprocess
import sys

from support import REPO

SECRET = "push-s3cret-vaulted"
VAULT_PASSWORD = "vault-pass-not-in-artifacts"

INVENTORY = """\
all:
  children:
    district_test:
      vars:
        wardwatch_district_name: "Thử nghiệm"
      children:
        commune_test:
          vars:
            wardwatch_commune_name: "Xã Thử"
          hosts:
            pc-local:
              ansible_host: 127.0.0.1
              ansible_connection: local
              ansible_python_interpreter: /usr/bin/python3
"""

PLAYBOOK = f"""\
- name: Vault check
  hosts: all
  gather_facts: false
  tasks:
    - name: The vaulted secret decrypts
      ansible.builtin.assert:
        that: wardwatch_agent_push_password == "{SECRET}"
      no_log: true
"""


def _rollout(tmp, *extra):
    cmd = [sys.executable, "-m", "fleet", "rollout", "--inventory", str(tmp / "inv/hosts.yml"),
           "--playbooks", str(tmp / "pb"), "--commune", "test", "--lang", "en", "--no-live", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)


def test_vaulted_secret_decrypts_and_stays_out_of_artifacts(tmp_path):
    (tmp_path / "inv/group_vars/all").mkdir(parents=True)
    (tmp_path / "pb/roles").mkdir(parents=True)
    (tmp_path / "inv/hosts.yml").write_text(INVENTORY)
    (tmp_path / "pb/site.yml").write_text(PLAYBOOK)
    vault = tmp_path / "inv/group_vars/all/vault.yml"
    vault.write_text(f"wardwatch_agent_push_password: {SECRET}\n")
    password = tmp_path / "vault-pass"
    password.write_text(VAULT_PASSWORD + "\n")
    subprocess.run(["ansible-vault", "encrypt", "--vault-password-file", str(password), str(vault)],
                   check=True, capture_output=True, timeout=60)
    assert vault.read_bytes().startswith(b"$ANSIBLE_VAULT")

    # the inventory check passes over the encrypted file (it cannot be read without the password)
    check = subprocess.run([sys.executable, "-m", "fleet", "inventory", "check", "--inventory",
                            str(tmp_path / "inv/hosts.yml")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr

    with_password = _rollout(tmp_path, "--vault-password-file", str(password), "--state-dir", str(tmp_path / "s1"))
    assert with_password.returncode == 0, with_password.stdout + with_password.stderr
    assert "1 ok" in with_password.stdout
    stored = subprocess.run(["grep", "-rlF", "-e", SECRET, "-e", VAULT_PASSWORD, str(tmp_path / "s1")],
                            capture_output=True, text=True).stdout
    assert stored == ""
    assert SECRET not in with_password.stdout + with_password.stderr

    without = _rollout(tmp_path, "--state-dir", str(tmp_path / "s2"))
    assert without.returncode != 0
    assert "no vault secrets found" in without.stderr
    assert len(without.stderr.strip().splitlines()) == 1


def test_missing_vault_password_file_is_one_line(tmp_path):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv/hosts.yml").write_text(INVENTORY)
    (tmp_path / "pb").mkdir()
    p = _rollout(tmp_path, "--vault-password-file", str(tmp_path / "nope"))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"wardwatch: --vault-password-file: {tmp_path / 'nope'}: no such file / không có tệp này"]

"""SSH host keys of the PCs: one known_hosts file that `wardwatch inventory hostkeys` fills
(after the operator confirms each fingerprint) and that `rollout` and `diagnose` read.

- `known_hosts.py`: where the file is, reading it as OpenSSH does, appending to it;
  fingerprints in OpenSSH's form (`SHA256:<base64, no padding>`, as `ssh-keygen -l`).
- `collect.py`: a PC's host key, from an SSH handshake (paramiko, no login).
- `command.py`: `wardwatch inventory hostkeys`.
"""

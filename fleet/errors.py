"""Errors of the operator commands: one line, a documented exit code, no traceback."""

from __future__ import annotations

# Exit codes of `wardwatch` (documented in the README):
EXIT_OK = 0
EXIT_FAIL = 1      # the command ran and found/produced a failure (hosts failed, NOT READY, ...)
EXIT_USAGE = 2     # bad input: arguments, inventory, config, unknown district/commune
EXIT_UNREACHABLE = 3  # a service it needs did not answer (Prometheus, SSH host)
EXIT_AUTH = 4      # SSH refused: authentication failed, or the host key is unknown or has changed


class FleetError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code

"""`wardwatch fix PC ACTION`: the fix of a runbook as one allow-listed, audited command (docs/fix.md).

actions.py: the allow-list; verdict.py: what the PC's own agent says about the problem an
action answers; audit.py: the operator's audit log; command.py: the command itself.
"""

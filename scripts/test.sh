#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (Debian packages,
# a virtualenv with wardwatch and its test tools) and runs the tests.
#   bash scripts/test.sh              every test
#   bash scripts/test.sh -k printers  pytest arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(sed -e 's/#.*//' scripts/debian-packages.txt | xargs)
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $packages 2>/dev/null | awk '$1 != "ii" {print $2}'; \
          for p in $packages; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$(echo "$missing" | xargs)" ]; then
    echo "== installing Debian packages: $(echo "$missing" | sort -u | xargs)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    # Debian's packages start their daemons (prometheus, alertmanager, ...) at install where they
    # can; the tests start their own on free ports and need none of them. A policy-rc.d that says
    # "do not start" (policy-rc.d(8)) holds only while these packages install, and only when the
    # machine has none of its own; nothing already running is stopped.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        trap '$SUDO rm -f "$policy"' EXIT
    fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $(echo "$missing" | sort -u | xargs)
    if [ -n "$policy" ]; then $SUDO rm -f "$policy"; trap - EXIT; fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PY" -m venv .venv
fi
echo "== installing wardwatch[fleet,test] into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[fleet,test]'

echo "== ruff"
.venv/bin/ruff check agent exporters fleet tests bench scripts fuzz alerts dashboards
echo "== pytest"
# As PID 1 (a container, unshare --pid) pytest reaps the daemons the tests' hosts leave to it
# (tests/conftest.py); the tests start their daemons on free ports and stop only those.
exec .venv/bin/python -m pytest "$@"

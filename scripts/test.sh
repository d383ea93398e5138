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
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $(echo "$missing" | sort -u | xargs)
fi
# Debian's packages start their daemons where systemd runs; the tests start their own.
for svc in prometheus prometheus-pushgateway prometheus-node-exporter prometheus-alertmanager; do
    pkill -x "$svc" 2>/dev/null || true
done

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PY" -m venv .venv
fi
echo "== installing wardwatch[fleet,test] into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[fleet,test]'

echo "== ruff"
.venv/bin/ruff check agent exporters fleet tests bench scripts fuzz alerts
echo "== pytest"
exec .venv/bin/python -m pytest "$@"

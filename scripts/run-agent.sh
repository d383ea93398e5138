#!/usr/bin/env bash
# Sets up and runs the wardwatch agent on this PC, on the built-in default config:
# installs python3/venv if missing, installs the agent (only its small set of
# dependencies) into .venv, prints the readable check, then runs the agent and
# shows its metrics. Ctrl-C stops it. Sends nothing beyond this machine.
#   WARDWATCH_PORT=10714 bash scripts/run-agent.sh   listen on 127.0.0.1:10714 instead of :10713
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=""
command -v python3 >/dev/null || need="python3"
python3 -c 'import venv, ensurepip' 2>/dev/null || need="$need python3-venv"
command -v curl >/dev/null || need="$need curl"
if [ -n "$need" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q .
PORT=${WARDWATCH_PORT:-10713}

echo "== wardwatch-agent check (tiếng Việt)"
.venv/bin/wardwatch-agent check || true
echo
echo "== wardwatch-agent check --lang en"
.venv/bin/wardwatch-agent check --lang en || true
echo
.venv/bin/wardwatch-agent run --listen "127.0.0.1:$PORT" &
agent=$!
trap 'kill $agent 2>/dev/null; wait $agent 2>/dev/null' EXIT INT TERM
agent_died() {  # the agent ended before serving: its own error is printed above
    local status=0
    wait "$agent" || status=$?
    trap - EXIT INT TERM
    echo "== the agent stopped at start (exit $status), see its error above; another port: WARDWATCH_PORT=10714 bash scripts/run-agent.sh" >&2
    exit $(( status == 0 ? 1 : status ))
}
# Until /healthz answers, or at once when the agent could not start (the port taken, ...).
up=""
for _ in $(seq 1 100); do
    kill -0 "$agent" 2>/dev/null || agent_died
    curl -fs --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && { up=1; break; }
    sleep 0.2
done
sleep 1
kill -0 "$agent" 2>/dev/null || agent_died  # what answered may be another program on that port
if [ -z "$up" ]; then
    echo "== the agent does not answer on http://127.0.0.1:$PORT/healthz; stopping it" >&2
    exit 1
fi
echo "== metrics: http://127.0.0.1:$PORT/metrics (first lines; Ctrl-C stops the agent)"
{ curl -fs --max-time 10 "http://127.0.0.1:$PORT/metrics" | grep -v '^#' | head -n 25; } || true  # head ends the pipe early
wait $agent

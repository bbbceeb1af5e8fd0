#!/usr/bin/env bash
# The demo: VS Code in the browser (code-server) with Gradient Monitor installed, a sample
# workspace, and its real PyTorch training script (demo/workspace/train.py, torch from the framework
# venv, the client the extension bundles) streaming into it, again and again: a gradient spike from
# a batch in the wrong units, then a NaN the monitor traces to its module and line. The dashboard
# opens when a run starts. Prints the URL to open. Ctrl-C stops everything.
#   DEMO_PORT=8080 (code-server), DEMO_STEPS=1500, DEMO_RATE=20 (steps per second)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
entry=$(bash scripts/ensure-code-server.sh)
port="${DEMO_PORT:-8080}"
state="${GRADIENT_MONITOR_CACHE:-$HOME/.cache/gradient-monitor}/demo"
rm -rf "$state"; mkdir -p "$state/user-data/User" "$state/extensions" "$state/home"
cp -r demo/workspace "$state/workspace"
version=$(node -p 'require("./package.json").version')
ext="$state/extensions/gradient-monitor.gradient-monitor-$version"
mkdir -p "$ext/clients/python" && cp -r package.json dist media README.md "$ext"/
# Laid out as the .vsix lays it out: the bundled Python client comes with the extension.
cp -r clients/python/gradient_monitor clients/python/bootstrap clients/python/pyproject.toml "$ext/clients/python/"
python=$(bash scripts/ensure-venv.sh)
cat > "$state/user-data/User/settings.json" <<'JSON'
{ "workbench.startupEditor": "none", "security.workspace.trust.enabled": false, "telemetry.telemetryLevel": "off", "update.mode": "none", "remote.autoForwardPorts": false }
JSON
printf 'auth: none\ncert: false\n' > "$state/config.yaml"

export GRADIENT_MONITOR_HOME="$state/home"
node "$entry" --config "$state/config.yaml" --bind-addr "127.0.0.1:$port" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$state/user-data" --extensions-dir "$state/extensions" "$state/workspace" > "$state/code-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do grep -q "HTTP server listening" "$state/code-server.log" && break; kill -0 $server 2>/dev/null || { cat "$state/code-server.log"; exit 1; }; sleep 0.2; done

echo
echo "Gradient Monitor demo: open  http://127.0.0.1:$port/?folder=$state/workspace"
echo "(from another machine: ssh -L $port:127.0.0.1:$port <this host>, then the same URL)"
echo "The sample training script (a spike, then a NaN) streams in as soon as VS Code is open in the browser."
echo

# The extension starts its endpoint when VS Code opens in a browser; its discovery file says where.
until [ -n "$(ls "$GRADIENT_MONITOR_HOME/endpoints/"*.json 2>/dev/null)" ]; do sleep 1; done
# The training script runs as a user's would from a terminal: it finds the endpoint through the
# discovery file and imports the client the extension bundles (its bootstrap folder on PYTHONPATH).
cd "$state/workspace"
steps="${DEMO_STEPS:-1500}"
while true; do
  PYTHONPATH="$ext/clients/python/bootstrap" "$python" train.py --steps "$steps" --rate "${DEMO_RATE:-20}" \
    --wrong-units-at $((steps / 5)) --negative-area-at $((steps * 4 / 5)) || sleep 2
done

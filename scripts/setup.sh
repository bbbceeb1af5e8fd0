#!/usr/bin/env bash
# Installs what the demo and the tests need, once per machine, and says exactly what is missing
# when it cannot. Heavy downloads are cached outside the clone under ~/.cache/gradient-monitor/:
# Debian packages (apt archives), the code-server build (keyed by version) and the Python venv with
# the real ML libraries (keyed by clients/python/requirements-frameworks.*).
#   scripts/setup.sh            npm packages, build, Debian packages, code-server
#   scripts/setup.sh --no-apt   skip Debian packages (report what is missing instead)
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${GRADIENT_MONITOR_CACHE:-$HOME/.cache/gradient-monitor}"
mkdir -p "$cache"

need_node_major=20
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt "$need_node_major" ]; then
  echo "setup: Node.js >= $need_node_major with npm is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "setup: Debian 12's own nodejs is 18; install Node.js 20 (for example the nodejs package of NodeSource's Debian repository), then rerun." >&2
  exit 1
fi

# Debian packages: the browser for the e2e tests and the demo, ripgrep and Kerberos headers for
# code-server's native build, PyTorch + websocket-client + pytest for the Python client's tests at the
# oldest torch it supports (Debian's 1.13), and python3-venv for the venv with the real ML libraries.
debs=(chromium ripgrep libkrb5-dev python3-torch python3-websocket python3-pytest python3-numpy python3-venv)
missing=()
for p in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${1:-}" = "--no-apt" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-debian}")
  archives="$cache/apt-$codename"
  mkdir -p "$archives/partial"
  echo "setup: installing Debian packages ${missing[*]} (archives cached in $archives)" >&2
  # Lists older than a day are refreshed; the archives folder keeps the .deb files for the next run.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then apt-get update -qq; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dir::Cache::archives="$archives" -o APT::Sandbox::User=root "${missing[@]}" >&2
fi

# npm packages (lockfile-exact), only when the lockfile changed since the last install.
stamp=node_modules/.gradient-monitor-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
npm run --silent build
bash scripts/ensure-code-server.sh >/dev/null
bash scripts/ensure-venv.sh >/dev/null

#!/usr/bin/env bash
# Installs code-server (a real VS Code served to a browser) once per machine into
# ~/.cache/gradient-monitor/code-server-<version>, then prints its launcher path.
# The recipe works without internet beyond the npm registry: the bundled ripgrep
# would download a binary, so scripts stay off and Debian's rg is put in its place.
set -euo pipefail
version="${CODE_SERVER_VERSION:-4.100.3}"
cache="${GRADIENT_MONITOR_CACHE:-$HOME/.cache/gradient-monitor}"
dest="$cache/code-server-$version"
bin="$dest/node_modules/code-server/out/node/entry.js"
if [ -f "$dest/.complete" ] && [ -f "$bin" ]; then
  echo "$bin"; exit 0
fi
command -v rg >/dev/null || { echo "ensure-code-server: Debian's ripgrep (/usr/bin/rg) is missing: apt-get install ripgrep" >&2; exit 1; }
dpkg -s libkrb5-dev >/dev/null 2>&1 || { echo "ensure-code-server: Debian's libkrb5-dev is missing: apt-get install libkrb5-dev" >&2; exit 1; }
rm -rf "$dest"; mkdir -p "$dest"
echo "ensure-code-server: installing code-server@$version into $dest (once per machine)" >&2
(
  cd "$dest"
  echo '{"name":"code-server-cache","private":true}' > package.json
  export npm_config_unsafe_perm=true npm_config_yes=true npm_config_fund=false npm_config_audit=false
  npm install --ignore-scripts --no-save "code-server@$version" >&2
  vs="node_modules/code-server/lib/vscode"
  (cd "$vs" && npm install --ignore-scripts --omit=dev >&2)
  mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
  cp "$(command -v rg)" "$vs/node_modules/@vscode/ripgrep/bin/rg"
  (cd "$vs" && npm rebuild >&2)
  (cd node_modules/code-server && npm rebuild argon2 >&2 || true)
  npm rebuild argon2 >&2 || true
)
touch "$dest/.complete"
echo "$bin"

#!/usr/bin/env bash
# Builds the Python venv with the real ML libraries (torch CPU, Transformers, Lightning, Accelerate,
# Keras 3, TensorFlow, JAX/optax/flax, TensorBoard) that the client and the quick-fix tests run in,
# once per machine, under ~/.cache/gradient-monitor/venv-<hash of the requirements>, and prints its
# python's path. Says which requirement could not be installed when pip fails.
#   scripts/ensure-venv.sh            build if needed, print the interpreter
#   scripts/ensure-venv.sh --relock   rebuild from the top-level pins and rewrite the lock file
set -euo pipefail
cd "$(dirname "$0")/.."
reqs=clients/python/requirements-frameworks.txt
lock=clients/python/requirements-frameworks.lock
cache="${GRADIENT_MONITOR_CACHE:-$HOME/.cache/gradient-monitor}"
python="${GRADIENT_MONITOR_PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "ensure-venv: $python is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  { echo "ensure-venv: the framework venv needs Python >= 3.10 (found $("$python" --version 2>&1))" >&2; exit 1; }
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
  { echo "ensure-venv: $python has no venv/ensurepip module (as root: apt-get install python3-venv)" >&2; exit 1; }
relock=0; [ "${1:-}" = "--relock" ] && relock=1
key=$(cat "$reqs" "$lock" | sha256sum | cut -c1-16)-$("$python" -c 'import sys; print("py%d%d" % sys.version_info[:2])')
dest="$cache/venv-$key"
if [ "$relock" = 0 ] && [ -f "$dest/.complete" ] && [ -x "$dest/bin/python" ]; then
  echo "$dest/bin/python"; exit 0
fi
rm -rf "$dest"; mkdir -p "$cache"
echo "ensure-venv: building $dest (once per machine, about 2 minutes and 3.5 GB)" >&2
"$python" -m venv "$dest"
log="$cache/venv-$key.pip.log"
# One retry: an index that cannot be reached at all (an offline mirror setup) fails fast instead of
# backing off five times per package.
pip_args=(install --disable-pip-version-check --retries "${PIP_RETRIES:-1}" -r "$reqs")
[ "$relock" = 1 ] || pip_args+=(-c "$lock")
if ! "$dest/bin/pip" "${pip_args[@]}" >"$log" 2>&1; then
  echo "ensure-venv: pip could not install the framework venv from $reqs; its complaint:" >&2
  grep -E "ERROR|No matching distribution|Could not find a version|conflict" "$log" | grep -v "is ignored" | head -20 >&2
  echo "ensure-venv: full log in $log" >&2
  rm -rf "$dest"; exit 1
fi
if [ "$relock" = 1 ]; then
  { echo "# pip freeze of a venv built from requirements-frameworks.txt (local version labels such as +cpu dropped,"
    echo "# so the same pins resolve from any index). Regenerate: scripts/ensure-venv.sh --relock"
    "$dest/bin/pip" freeze --disable-pip-version-check | sed 's/+cpu$//'; } > "$lock"
  echo "ensure-venv: rewrote $lock; run again to build the venv it keys" >&2
  rm -rf "$dest"; exit 0
fi
touch "$dest/.complete"
echo "$dest/bin/python"

#!/usr/bin/env bash
# The Python client's tests (clients/python/tests) against the real TypeScript endpoint (built here
# first), in three runs, each printing its own pytest summary line:
#   1. frameworks: the whole suite in the venv of scripts/ensure-venv.sh (torch 2.x, Transformers,
#      Lightning, Accelerate, Keras 3 with TensorFlow/JAX/torch, optax, flax); a framework missing
#      there is an error, not a skip (GRADIENT_MONITOR_REQUIRE_FRAMEWORKS=1);
#   2. oldest torch: the torch tests with Debian's python3 and its torch 1.13, the oldest supported;
#   3. oldest Python: 3.9 (GRADIENT_MONITOR_PY39, else python3.9, else pyenv's): the framework-free
#      tests when it has pytest and websocket-client, else a stdlib smoke run (tests/oldest_python_smoke.py);
#      skipped with a note when there is no Python 3.9 (a fresh Debian has none).
# With --junitxml=PATH in PYTEST_ADDOPTS (scripts/test-all.sh), run 1 writes PATH and the others
# PATH with -torch1.13 / -py3.9 before .xml; scripts/count-results.mjs counts every pytest*.xml.
# Extra arguments go to every pytest run (e.g. -k clip). Non-zero when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

junit=""
addopts=()
for opt in ${PYTEST_ADDOPTS:-}; do
  case "$opt" in
    --junitxml=*) junit="${opt#--junitxml=}" ;;
    *) addopts+=("$opt") ;;
  esac
done
unset PYTEST_ADDOPTS
junit_for() { [ -n "$junit" ] && echo "--junitxml=${junit%.xml}$1.xml"; }
[ -n "$junit" ] && rm -f "${junit%.xml}"-torch1.13.xml "${junit%.xml}"-py3.9.xml

npm run build --silent >/dev/null || { echo "test-python: npm run build failed" >&2; exit 1; }

echo "--- python (frameworks venv)"
if venv_python=$(bash scripts/ensure-venv.sh); then
  (cd clients/python && GRADIENT_MONITOR_REQUIRE_FRAMEWORKS=1 "$venv_python" -m pytest -q -p no:cacheprovider \
    $(junit_for "") "${addopts[@]}" "$@") || status=1
else
  echo "test-python: the framework venv could not be built (ensure-venv said why above)" >&2
  status=1
fi

echo "--- python (Debian python3, torch 1.13: the oldest torch supported)"
deb=/usr/bin/python3
missing=()
"$deb" -c "import torch" 2>/dev/null || missing+=(python3-torch)
"$deb" -c "import pytest" 2>/dev/null || missing+=(python3-pytest)
"$deb" -c "import websocket" 2>/dev/null || missing+=(python3-websocket)
"$deb" -c "import numpy" 2>/dev/null || missing+=(python3-numpy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-python: missing Debian packages: ${missing[*]} (as root: apt-get install -y ${missing[*]})" >&2
  status=1
else
  (cd clients/python && "$deb" -m pytest -q -p no:cacheprovider $(junit_for -torch1.13) "${addopts[@]}" "$@" \
    tests/test_pytorch.py tests/test_distributed.py tests/test_delivery.py tests/test_units.py tests/test_integrations.py \
    tests/test_nonfinite_origin.py tests/test_nonfinite_guard.py tests/test_stdlib_websocket.py tests/test_demo.py) || status=1
fi

echo "--- python 3.9 (the oldest Python supported; framework-free tests)"
py39="${GRADIENT_MONITOR_PY39:-}"
if [ -z "$py39" ]; then
  for candidate in python3.9 "$(pyenv root 2>/dev/null)"/versions/3.9*/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then py39=$candidate; break; fi
  done
fi
if [ -z "$py39" ]; then
  echo "test-python: skipped: no Python 3.9 on this machine (set GRADIENT_MONITOR_PY39 to one to run it)"
elif "$py39" -c "import pytest, websocket" 2>/dev/null; then
  (cd clients/python && "$py39" -m pytest -q -p no:cacheprovider $(junit_for -py3.9) "${addopts[@]}" "$@" \
    tests/test_units.py tests/test_integrations.py) || status=1
else
  echo "test-python: $py39 has no pytest/websocket-client: stdlib smoke run instead"
  "$py39" clients/python/tests/oldest_python_smoke.py || status=1
fi
exit $status

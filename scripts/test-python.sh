#!/usr/bin/env bash
# The Python client's test suite (clients/python/tests) with Debian's PyTorch, against the real
# TypeScript endpoint (built here first). Prints pytest's summary line; non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
missing=()
"$PY" -c "import torch" 2>/dev/null || missing+=(python3-torch)
"$PY" -c "import pytest" 2>/dev/null || missing+=(python3-pytest)
"$PY" -c "import websocket" 2>/dev/null || missing+=(python3-websocket)
"$PY" -c "import numpy" 2>/dev/null || missing+=(python3-numpy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-python: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
npm run build --silent >/dev/null  # the tests talk to dist/cli.js: never test a stale build
cd clients/python
exec "$PY" -m pytest -q -p no:cacheprovider "$@"

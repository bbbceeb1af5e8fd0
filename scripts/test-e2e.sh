#!/usr/bin/env bash
# End-to-end tests in real VS Code (code-server) driven by headless Chromium.
# Needs: a build (npm run build), code-server in the cache (installed on first use), /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/chromium ] || { echo "test-e2e: Debian's chromium is missing: apt-get install chromium" >&2; exit 1; }
bash scripts/ensure-code-server.sh >/dev/null
mkdir -p test-results
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout --test-timeout=300000 test/e2e/*.e2e.ts

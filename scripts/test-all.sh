#!/usr/bin/env bash
# The whole test suite: type check, lint, unit and integration tests (node's test runner), the Python
# client (pytest with real torch) and the end-to-end tests in real VS Code (code-server + Chromium).
# Installs what it needs first (scripts/setup.sh). Prints each runner's summary and a total line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
results=test-results
mkdir -p "$results"
rm -f "$results"/*.tap "$results"/pytest.xml
status=0

stage() { echo; echo "=== $1"; }

stage "type check"
npx tsc -p . || status=1
stage "lint (ESLint: layering and code rules; Prettier: formatting)"
npm run --silent lint || status=1

node_tests() { # name, files...
  local name=$1; shift
  node --import tsx --test --test-concurrency="${CONCURRENCY:-1}" --test-timeout=300000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$results/$name.tap" "$@" || status=1
}

stage "unit tests"
CONCURRENCY=2 node_tests unit test/unit/*.test.ts
stage "integration tests"
node_tests integration test/integration/*.test.ts
if [ -f scripts/test-python.sh ]; then
  stage "python client tests"
  PYTEST_ADDOPTS="--junitxml=$PWD/$results/pytest.xml" bash scripts/test-python.sh || status=1
fi
stage "end-to-end tests (code-server + chromium)"
node_tests e2e test/e2e/*.e2e.ts

stage "benchmark smoke (quick mode: proves the benchmarks run, asserts nothing about time)"
node bench/run-all.mjs --quick || status=1

# One closing line over every runner, from their machine-readable reports.
read -r passed failed skipped < <(node scripts/count-results.mjs "$results")
echo
echo "all: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || status=1
exit $status

#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it on Node.js 24 (scripts/node-env.sh).
# The run's output is kept in a log, and a runtime warning in it fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh --tests
source scripts/node-env.sh
log="$(mktemp -t avspl1t-test.XXXXXX.log)"
run() {
  echo "Node.js $(node --version) ($(command -v node)), npm $(npm --version)"
  npm ci --no-audit --no-fund
  npm run lint
  # The store and coordinator contract suites run on SQLite and PostgreSQL; `all`
  # makes a missing PostgreSQL an error rather than a silent SQLite-only run.
  AVSPL1T_TEST_DB=all npm test
}
run 2>&1 | tee "$log"
bash scripts/no-warnings.sh "$log"

#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh --tests
npm ci --no-audit --no-fund
npm run lint
# The store and coordinator contract suites run on SQLite and PostgreSQL; `all`
# makes a missing PostgreSQL an error rather than a silent SQLite-only run.
export AVSPL1T_TEST_DB=all
npm test

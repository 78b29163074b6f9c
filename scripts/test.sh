#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh --tests
npm ci --no-audit --no-fund
npm run lint
npm test

#!/usr/bin/env bash
# Fails when a log holds a runtime warning: a line that Node.js prints for a process warning
# ("(node:PID) [DEP0040] DeprecationWarning: ...", "(node:PID) Warning: NodeVersionSupportWarning: ...")
# or a warning kind named anywhere, e.g. by a library that prints its own.
# Usage: scripts/no-warnings.sh LOG
set -euo pipefail
kinds='DeprecationWarning|NodeVersionSupportWarning|ExperimentalWarning|TimeoutOverflowWarning|MaxListenersExceededWarning'
if grep -En "\(node:[0-9]+\) |$kinds" "$1" >&2; then
  echo "error: the warnings above were printed during the run ($1)" >&2
  exit 1
fi

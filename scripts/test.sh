#!/bin/bash
# The whole test suite: Check unit suites and the lab integration suite
# (real miniupnpd in network namespaces; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
meson test -C build --print-errorlogs --verbose --num-processes 1 "$@"

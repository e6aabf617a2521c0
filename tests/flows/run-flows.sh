#!/bin/bash
# The everyday-flows suite (flows.py) in a lab of its own: brings the lab
# up, runs the flows on every profile and with no network, tears it down.
# Needs root (see ../lab/preflight.sh).
# usage: run-flows.sh PYTHON PORTMAP_CLI FLOWS_CAPI [--python]
set -euo pipefail
python=$1 cli=$2 capi=$3 with_python=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/../lab/lab.sh"

. "$here/../lab/preflight.sh"
# its own lab and journal: it may run beside the other lab suites
export LAB_PREFIX=${FLOWS_LAB_PREFIX:-fl} LAB="$lab" PORTMAP_CLI=$cli FLOWS_CAPI=$capi
FLOWS_STATE=$(mktemp -d /tmp/portmap-flows.XXXXXX)
export FLOWS_STATE
trap '"$lab" down; rm -rf -- "$FLOWS_STATE"' EXIT
"$lab" down >/dev/null 2>&1 || true
LAB_SYSTEM_UPTIME=no "$lab" up --profile full
[ "$with_python" = --python ] && export FLOWS_PYTHON=1
cd "$here"
"$python" -m unittest -v flows

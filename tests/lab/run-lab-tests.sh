#!/bin/bash
# Bring up the lab router, run a test program inside the LAN namespace,
# tear the lab down. Needs root; outside CI a non-root run is skipped
# (exit 77), in CI (CI=true) it fails instead.
# usage: run-lab-tests.sh PROFILE TEST_BINARY LAB_PROBE PORTMAP_CLI [LAB_SPOOF]
set -euo pipefail
profile=$1 test_bin=$2 probe=$3 cli=$4 spoof=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/lab.sh"

. "$here/preflight.sh"

trap '"$lab" down' EXIT
# A real router reboot restarts its epoch; system_uptime=yes would hide it.
LAB_SYSTEM_UPTIME=no "$lab" up --profile "$profile"
rc=0
ip netns exec "${LAB_PREFIX:-pm}-lan" env LAB_PROFILE="$profile" LAB="$lab" LAB_PROBE="$probe" PORTMAP_CLI="$cli" LAB_SPOOF="$spoof" "$test_bin" || rc=$?
if [ "$rc" != 0 ]; then
    echo "--- miniupnpd log (tail) ---" >&2
    "$lab" log 2>/dev/null | tail -40 >&2 || true
fi
exit "$rc"

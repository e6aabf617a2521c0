#!/bin/bash
# Bring up the lab router, run the Python binding's lab tests inside the
# LAN namespace, tear the lab down. Needs root; outside CI a non-root run
# is skipped (exit 77), in CI (CI=true) it fails instead.
# usage: run-lab-tests.sh PYTHON [unittest arguments, default test_lab]
# Environment: LAB_PREFIX (namespace prefix, default pm), and what the
# tests need: PORTMAP_LIBRARY, PYTHONPATH (set by meson).
set -euo pipefail
python=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/../../../tests/lab/lab.sh"
lab=$(cd "$(dirname "$lab")" && pwd)/lab.sh
export LAB_PREFIX=${LAB_PREFIX:-pm}

. "$(dirname "$lab")/preflight.sh"

trap '"$lab" down' EXIT
# A real router reboot restarts its epoch; system_uptime=yes would hide it.
LAB_SYSTEM_UPTIME=no "$lab" up --profile full
rc=0
cd "$here"
ip netns exec "$LAB_PREFIX-lan" env LAB="$lab" LAB_PREFIX="$LAB_PREFIX" \
    "$python" -m unittest -v "${@:-test_lab}" || rc=$?
if [ "$rc" != 0 ]; then
    echo "--- miniupnpd log (tail) ---" >&2
    "$lab" log 2>/dev/null | tail -40 >&2 || true
fi
exit "$rc"

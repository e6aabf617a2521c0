#!/bin/bash
# Time to mapped on the lab's UPnP-only router: libportmap next to the bare
# exchange and `upnpc -r`, measured in the same run. Needs root.
# usage: bench/run-upnp.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
runs=${1:-20}
trap 'tests/lab/lab.sh down' EXIT
tests/lab/lab.sh up --profile upnp-only
tests/lab/lab.sh exec lan env LD_LIBRARY_PATH="$PWD/build/libportmap" build/bench/bench_upnp "$runs" 10.77.0.1

#!/bin/bash
# Time to mapped on the lab's UPnP-only router alone: libportmap next to the
# bare exchange and `upnpc -r`, measured in the same run (part of
# bench/run.sh). Needs root.
# usage: bench/run-upnp.sh [RUNS]
set -euo pipefail
BENCH_ONLY=upnp exec "$(dirname "$0")/run.sh" "$@"

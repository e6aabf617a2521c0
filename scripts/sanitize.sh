#!/bin/bash
# The test suite under sanitizers, as CI runs it after scripts/test.sh:
#   asan   the whole C suite (unit and lab) built with AddressSanitizer and
#          UndefinedBehaviorSanitizer; any report fails the run
#   tsan   the thread stress test and the fake-gateway suite under
#          ThreadSanitizer
# usage: scripts/sanitize.sh [asan|tsan]...   (default: both)
# The Python suites are left out: ctypes would load the instrumented
# library into an uninstrumented interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

run_asan() {
    local dir=build-asan
    [ -d "$dir" ] || meson setup "$dir" -Dbuildtype=debug -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
    ninja -C "$dir" >/dev/null
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C "$dir" --print-errorlogs --num-processes 1 --no-suite python
}

run_tsan() {
    local dir=build-tsan
    [ -d "$dir" ] || meson setup "$dir" -Dbuildtype=debug -Db_sanitize=thread >/dev/null
    ninja -C "$dir" >/dev/null
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        meson test -C "$dir" --print-errorlogs --num-processes 1 stress fakegw
}

[ $# -gt 0 ] || set -- asan tsan
for s in "$@"; do
    case $s in
    asan) run_asan ;;
    tsan) run_tsan ;;
    *) echo "sanitize.sh: unknown run '$s' (asan, tsan)" >&2; exit 2 ;;
    esac
done

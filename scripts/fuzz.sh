#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz (ASan + UBSan) over the in-tree
# corpus for a given time each.
#
#: Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#:   SECONDS per target (default 60); TARGETs default to all of them.
#:
#: Environment:
#:   FUZZ_BUILD  clang build directory (default build-fuzz; configured with
#:               CC=clang -Dfuzzing=true when missing)
#:   FUZZ_OUT    where new inputs, crashers and logs go (default $FUZZ_BUILD/fuzz-out)
#:   FUZZ_JOBS   targets run at the same time (default 1)
#:   FUZZ_NICE   nice level of the fuzzers (default 10)
#:   FUZZ_MERGE  1: at the end, merge the new inputs that add coverage into
#:               tests/fuzz/corpus/<target> (review them before committing)
#:
#: New inputs go to $FUZZ_OUT/<target>/corpus, never straight into the
#: tree. Crashers go to $FUZZ_OUT/<target>/crash-*; once the bug is fixed,
#: copy each into tests/fuzz/corpus/<target>/ so the unit suite replays it.
#: Exit status: 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	sed -n 's/^#: \{0,1\}//p' "$0"
	exit 2
}

secs=${1:-60}
[[ $secs =~ ^[0-9]+$ ]] || usage
[ $# -gt 0 ] && shift
all=$(sed -n "s/^  '\([a-z_]*\)': .*/\1/p" tests/fuzz/meson.build)
targets=${*:-$all}
for t in $targets; do
	if ! grep -qx "$t" <<<"$all"; then
		echo "fuzz.sh: unknown target '$t' (known: ${all//$'\n'/ })" >&2
		exit 2
	fi
done

build=${FUZZ_BUILD:-build-fuzz}
out=${FUZZ_OUT:-$build/fuzz-out}
jobs=${FUZZ_JOBS:-1}
nice_level=${FUZZ_NICE:-10}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzzing=true
elif ! meson configure "$build" | grep -Eq '^ *fuzzing +true'; then
	echo "fuzz.sh: $build is not a -Dfuzzing=true build" >&2
	exit 2
fi
exes=()
for t in $targets; do
	exes+=("tests/fuzz/fuzz_$t")
done
ninja -C "$build" "${exes[@]}"

run_one() {
	local t=$1 dir=$out/$1 dict=()
	mkdir -p "$dir/corpus"
	case $t in
	desc | soap | upnp_list | pinhole) dict=(-dict=tests/fuzz/upnp_xml.dict) ;;
	*) [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict") ;;
	esac
	# The first corpus directory is where libFuzzer writes; the in-tree one
	# only seeds it.
	nice -n "$nice_level" "$build/tests/fuzz/fuzz_$t" \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 \
		-print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" \
		"$dir/corpus" "tests/fuzz/corpus/$t" >"$dir.log" 2>&1 || true
	local last
	last=$(grep -E '^#[0-9]+' "$dir.log" | tail -n 1 || true)
	printf '%-10s %s\n' "$t" "${last:-no progress line, see $dir.log}"
}

mkdir -p "$out"
running=0
for t in $targets; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait

status=0
for t in $targets; do
	for f in "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* "$out/$t"/oom-*; do
		[ -e "$f" ] || continue
		echo "fuzz.sh: $t: $f (log: $out/$t.log)" >&2
		status=1
	done
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"$build/tests/fuzz/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$out/$t/corpus" \
			>"$out/$t.merge.log" 2>&1
		echo "$t: merged into tests/fuzz/corpus/$t ($(find "tests/fuzz/corpus/$t" -type f | wc -l) files)"
	fi
done
exit "$status"

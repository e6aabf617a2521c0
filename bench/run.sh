#!/bin/bash
# Every benchmark of bench/README.md in one run: builds (release) if
# needed, brings the lab up, runs each part on its router profile, prints
# the tables and writes them to $BENCH_BUILD/bench-results.md. Needs root.
#
# usage: bench/run.sh [RUNS]         (RUNS per measured case, default 20)
# environment:
#   LAB_PREFIX      lab namespaces' prefix (default bn)
#   BENCH_BUILD     build directory (default build-bench, set up with
#                   buildtype release when it does not exist)
#   BENCH_ONLY      parts to run, of: pcp cold upnp loss many natpmp none
#                   hold (default all)
#   MANY_MAPPINGS   mappings requested at once on the fake router
#                   (default 1000); MANY_LAB on miniupnpd (default 100)
#   HOLD_MAPPINGS   mappings held (default 1000)
#   HOLD_SECONDS    how long they are held (default 300)
#   HOLD_LIFETIME   their lease in seconds (default 60)
#   HOLD_PROTOCOLS  protocols of the hold, each a run (default "pcp natpmp")
#   NONE_TIMEOUT_MS client timeout with no router (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ]; then
	echo "usage: bench/run.sh [RUNS]" >&2
	exit 2
fi
[ "$(id -u)" -eq 0 ] || {
	echo "bench/run.sh: must run as root (the lab needs it)" >&2
	exit 1
}
export LAB_PREFIX=${LAB_PREFIX:-bn}
build=${BENCH_BUILD:-build-bench}
[[ $build == /* ]] || build=$PWD/$build
only=" ${BENCH_ONLY:-pcp cold upnp loss many natpmp none hold} "
many_n=${MANY_MAPPINGS:-1000}
many_lab=${MANY_LAB:-100}
hold_n=${HOLD_MAPPINGS:-1000}
hold_s=${HOLD_SECONDS:-300}
hold_l=${HOLD_LIFETIME:-60}
none_timeout=${NONE_TIMEOUT_MS:-2000}
lab=tests/lab/lab.sh
lab_state=${LAB_STATE_DIR:-/run/portmap-lab/$LAB_PREFIX}

for tool in natpmpc upnpc miniupnpd meson ninja; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
		echo "bench/run.sh: $tool is missing; scripts/setup.sh installs it" >&2
		exit 1
	}
done
if [ -z "${BENCH_NO_BUILD:-}" ]; then # set by `ninja bench`, which has built
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" -Dbuildtype=release -Dtests=false >/dev/null
	fi
	ninja -C "$build" >/dev/null
fi

wants() {
	[[ $only == *" $1 "* ]]
}

# The benchmarks and the lab's router run at nice -20: the machine may be
# shared, and what is measured is the library, not the neighbours' load.
bench() {
	"$lab" exec lan nice -n -20 env LD_LIBRARY_PATH="$build/libportmap" \
		LAB_NETNS_RTR="$LAB_PREFIX-rtr" PORTMAP_CLI="$build/tools/portmap-cli" \
		"$build/bench/$@"
}

router() {
	"$lab" router-stop
	"$lab" router-start --profile "$1"
	if [ "$1" != none ]; then
		renice -n -20 -p "$(cat "$lab_state/miniupnpd.pid")" >/dev/null
	fi
}

# The engine's polls that did not wait, under 30 % loss on the UPnP-only
# router (lost SYNs: connects pending for a second or more), from the
# count the library logs at close (-v): RUNS CLI requests, each a new
# process, IPv4 and IPv6.
loss_polls() {
	local i line a b c polls=0 work=0 due=0 n=0 t0 t1
	"$lab" loss 30
	t0=$(date +%s%N)
	for ((i = 0; i < $1; i++)); do
		line=$("$lab" exec lan env LD_LIBRARY_PATH="$build/libportmap" \
			"$build/tools/portmap-cli" -v --timeout 10 request $((28000 + i)) udp --once 2>&1 |
			sed -n 's/.*engine: \([0-9]*\) polls; without a wait: \([0-9]*\) for work queued, \([0-9]*\) for a timer already due.*/\1 \2 \3/p')
		[ -n "$line" ] || continue
		read -r a b c <<<"$line"
		n=$((n + 1))
		polls=$((polls + a)) work=$((work + b)) due=$((due + c))
	done
	t1=$(date +%s%N)
	"$lab" loss 0
	echo "Engine polls under 30 % loss, UPnP-only router: $n CLI requests (--once, IPv4 and IPv6), $(( (t1 - t0) / 1000000 )) ms in all"
	echo
	echo "| polls | without a wait, for work queued | without a wait, for a timer already due (busy loop) |"
	echo "|---|---|---|"
	echo "| $polls | $work | $due |"
	echo
}

out=$build/bench-results.md
trap '"$lab" down' EXIT
"$lab" up --profile full
renice -n -20 -p "$(cat "$lab_state/miniupnpd.pid")" >/dev/null

{
	echo "# libportmap benchmarks"
	echo
	echo "Command: \`bench/run.sh $runs\`$([ -n "${BENCH_ONLY:-}" ] && echo " (BENCH_ONLY=$BENCH_ONLY)")," \
		"hold: $hold_n mappings, $hold_l s lease, $hold_s s"
	echo
	echo "- date: $(date -u '+%F %T UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes')"
	echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- router: miniupnpd-nftables $(dpkg-query -W -f='${Version}' miniupnpd-nftables 2>/dev/null || echo '?') in the lab (prefix $LAB_PREFIX); benchmarks and router at nice -20"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo

	if wants pcp; then
		bench bench_mapped pcp "$runs"
	fi
	if wants cold; then
		bench bench_cold "$runs"
	fi
	if wants many; then
		# miniupnpd's cost per mapping grows with those it holds: fewer
		bench bench_many lab "$(( (runs + 3) / 4 ))" "$many_lab"
	fi
	if wants upnp; then
		router upnp-only
		bench bench_mapped upnp "$runs"
	fi
	if wants loss; then
		router upnp-only
		loss_polls "$runs"
	fi
	if wants natpmp || wants none || wants hold || wants many; then
		router none
	fi
	if wants many; then
		bench bench_many fake "$runs" "$many_n"
	fi
	if wants natpmp; then
		bench bench_mapped natpmp "$runs"
	fi
	if wants none; then
		bench bench_mapped none "$runs" "$none_timeout"
	fi
	if wants hold; then
		for p in ${HOLD_PROTOCOLS:-pcp natpmp}; do
			bench bench_hold -n "$hold_n" -t "$hold_s" -l "$hold_l" -p "$p"
		done
	fi
	echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
echo "bench/run.sh: written to $out" >&2

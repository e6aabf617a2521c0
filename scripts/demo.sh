#!/bin/bash
# The main job on the built-in lab router: set up, build, start the lab,
# map UDP 27015 from the LAN host with portmap-cli, show the router's rule,
# check that the WAN host reaches a service through it, release, tear down.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
lab=tests/lab/lab.sh
cli=$PWD/build/tools/portmap-cli
probe=$PWD/build/tests/lab-probe
export PORTMAP_STATE_DIR=/run/portmap-lab/demo-state

trap '"$lab" down' EXIT
LAB_SYSTEM_UPTIME=no "$lab" up --profile full
echo "== portmap-cli discover (in the LAN host)"
"$lab" exec lan "$cli" discover
echo "== portmap-cli request 27015 udp --once --json"
"$lab" exec lan "$cli" request 27015 udp --once --json
echo "== the router's DNAT rules"
"$lab" rules
echo "== a WAN host sends a datagram to 11.77.0.1:27015; the LAN host echoes it"
"$lab" exec lan "$probe" serve udp 27015 --count 1 --timeout 5 &
sleep 0.3
"$lab" exec wan "$probe" send udp 11.77.0.1 27015 hello-from-the-internet
wait
echo "== portmap-cli release 27015 udp"
"$lab" exec lan "$cli" release 27015 udp
"$lab" has-rule udp 27015 && { echo "rule still present" >&2; exit 1; }
echo "== done: mapped, reached from the WAN, released"

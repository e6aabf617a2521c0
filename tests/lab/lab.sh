#!/usr/bin/env bash
# libportmap test lab: three network namespaces and a real miniupnpd router,
# and on demand a second LAN host and a second router.
#
#   <P>-lan   lan0 10.77.0.2/24, default route via 10.77.0.1;
#             IPv6: 2001:db8:77:1::2/64 (stable, nodad, mngtmpaddr) plus a
#             kernel-made temporary (privacy) address in 2001:db8:77:1::/64,
#             which, with use_tempaddr=2, is the preferred source address;
#             default route via fe80::1 dev lan0
#   <P>-rtr   lan0 10.77.0.1/24, wan0 11.77.0.1/24, ip_forward=1, miniupnpd;
#             IPv6: lan0 fe80::1 (its only link-local) and 2001:db8:77:1::1/64,
#             wan0 2001:db8:11::1/64, forwarding=1 (routed, never NATed)
#   <P>-wan   wan0 11.77.0.2/24, no route to 10.77.0.0/24;
#             IPv6: wan0 2001:db8:11::2/64, route to 2001:db8:77:1::/64 via
#             2001:db8:11::1 (blocked by the router's firewall unless
#             miniupnpd opened a pinhole);
#             wan1 12.77.0.2/24 while router2 is up
#   <P>-isp   empty until `cgnat on`: then a carrier's NAT between the
#             router and the WAN host: in0 14.77.0.254/24 (the router's
#             wan0 becomes 14.77.0.1/24, default route via 14.77.0.254),
#             wan0 11.77.0.9/24 towards the WAN host; it masquerades what
#             leaves by wan0 to 11.77.0.9 and forwards nothing unasked in
#             (no mappings); IPv4 only (the router has no IPv6 WAN then)
#   <P>-lan2  lan0 10.77.0.5/24 and 2001:db8:77:1::5/64 (spoofer up): a
#             second host on the LAN
#   <P>-rtr2  lan0 10.78.0.1/24, wan0 12.77.0.1/24, its own miniupnpd
#             (router2 up); `move-lan rtr2` moves the LAN host there as
#             10.78.0.2/24, `move-lan rtr` back (router2 is IPv4-only:
#             there the LAN host has a link-local IPv6 address only)
#
# <P>-lan2 and <P>-rtr2 are empty until used, but exist from `up` on: the
# tests run under `ip netns exec`, whose private mount namespace would keep
# to itself a namespace created from there.
#
# A router's LAN side is a hub: its lan0 is one end of a veth pair whose
# other end sits on a bridge (br0) that learns no addresses and so floods
# every frame to every port; the LAN hosts' veths are its other ports. A
# second LAN host thus sees, and can answer, what the first sends.
#
# The veth pairs are created directly inside the lab namespaces, so the host's
# own network namespace is never touched (apart from `ip netns add/del`), and
# there is no link or route from the lab to the host network.
#
#: Usage: lab.sh up [--profile full|upnp-only|igdv1|pmp-only|none]
#:        lab.sh down
#:        lab.sh tls-dir                (prints the directory of the lab's TLS
#:                                      files, made by up with openssl: ca.pem,
#:                                      the lab's CA; server.pem and server.key,
#:                                      for 11.77.0.2, signed by it;
#:                                      other-ca.pem, a CA that signed nothing)
#:        lab.sh cgnat on|off           (a real double NAT: <P>-isp between the
#:                                      router and the WAN host; restarts the
#:                                      router, whose WAN address changes; NAT
#:                                      loopback is off meanwhile)
#:        lab.sh router-stop [--kill]
#:        lab.sh router-start [--profile P]
#:        lab.sh router-restart [--keep-leases]
#:        lab.sh router-crash           (power cut: killed, rules and leases gone; router-start after)
#:        lab.sh rules                  (prints "PROTO EXTPORT INTIP INTPORT")
#:        lab.sh has-rule tcp|udp EXTPORT
#:        lab.sh pinholes               (IPv6 pinholes: "PROTO INTADDR INTPORT",
#:                                      one a line; with a remote-host or
#:                                      remote-port restriction, also
#:                                      "from RADDR" and/or "sport RPORT")
#:        lab.sh has-pinhole tcp|udp ADDR PORT
#:        lab.sh addr6 lan|lan2|rtr|wan [stable|temporary|link]
#:                                      (an IPv6 address of that host's lan0
#:                                      (wan: wan0): stable, the default, is
#:                                      the global non-temporary one; temporary
#:                                      the preferred privacy address; link the
#:                                      link-local one)
#:        lab.sh loss PERCENT           (0 removes the loss rule)
#:        lab.sh hairpin on|off         (NAT loopback for LAN -> external; on after up)
#:        lab.sh exec lan|rtr|wan|lan2|rtr2|isp CMD...
#:        lab.sh log
#:        lab.sh spoofer up|down        (a second LAN host, <P>-lan2)
#:        lab.sh host2 up|down          (<P>-lan2 as an ordinary LAN host:
#:                                      default routes via the router, for
#:                                      a service mapped for it)
#:        lab.sh router2 up [--profile P] (a second router, <P>-rtr2;
#:                                      default: the first one's profile)
#:        lab.sh router2 down           (moves the LAN host back first)
#:        lab.sh router2 crash|start    (like router-crash, router-start)
#:        lab.sh router2 rules|log
#:        lab.sh router2 has-rule tcp|udp EXTPORT
#:        lab.sh move-lan rtr|rtr2      (re-plug the LAN host: new link,
#:                                      address and default route)
#:
#: Profiles: full (UPnP IGDv2 + NAT-PMP + PCP, default), upnp-only,
#:   igdv1 (UPnP only, force_igd_desc_v1), pmp-only (NAT-PMP + PCP), none
#:   (namespaces and nftables, no miniupnpd). The first router serves
#:   IPv6 too (PCP, UPnP pinholes): see tests/lab/IPV6-FACTS.md; in the
#:   UPnP-only profiles the lab refuses the PCP-over-IPv6 that miniupnpd
#:   would answer anyway.
#:
#: Environment: LAB_PREFIX (namespace prefix, default pm), LAB_STATE_DIR
#:   (default /run/portmap-lab/$LAB_PREFIX), LAB_HTTP_PORT (5000),
#:   LAB_MIN_LIFETIME (1), LAB_MAX_LIFETIME (86400), LAB_SYSTEM_UPTIME (yes;
#:   with yes the PCP/NAT-PMP epoch is the host uptime and does NOT drop when
#:   the router restarts, use no to get an epoch that restarts at 0).  The
#:   values given to `up` are remembered for router-start/router-restart.
#:   Per router start, not remembered (a test restarts the router with them
#:   and without them again): LAB_SECURE_MODE (yes: miniupnpd maps UPnP
#:   ports only to the host asking), LAB_PCP_THIRDPARTY (no: PCP's
#:   THIRD_PARTY option, a mapping for another LAN host, is refused with
#:   UNSUPP_OPTION; yes allows it).
set -euo pipefail

LAB_PREFIX=${LAB_PREFIX:-pm}
case $LAB_PREFIX in
'' | *[!A-Za-z0-9_-]*)
	echo "lab.sh: invalid LAB_PREFIX '$LAB_PREFIX'" >&2
	exit 2
	;;
esac
STATE_DIR=${LAB_STATE_DIR:-/run/portmap-lab/$LAB_PREFIX}
SETTINGS=$STATE_DIR/settings
# Settings given to `up` are remembered for the other subcommands; the
# environment overrides them.
s_http=5000 s_min=1 s_max=86400 s_uptime=yes
if [ "${1:-}" != up ] && [ -f "$SETTINGS" ]; then
	read -r s_http s_min s_max s_uptime <"$SETTINGS" || true
fi
HTTP_PORT=${LAB_HTTP_PORT:-$s_http}
MIN_LIFETIME=${LAB_MIN_LIFETIME:-$s_min}
MAX_LIFETIME=${LAB_MAX_LIFETIME:-$s_max}
SYSTEM_UPTIME=${LAB_SYSTEM_UPTIME:-$s_uptime}
MINIUPNPD=${LAB_MINIUPNPD:-/usr/sbin/miniupnpd}
for v in "$HTTP_PORT" "$MIN_LIFETIME" "$MAX_LIFETIME"; do
	if ! [[ $v =~ ^[0-9]{1,9}$ ]]; then
		echo "lab.sh: bad numeric setting '$v'" >&2
		exit 2
	fi
done
case $SYSTEM_UPTIME in
yes | no) ;;
*)
	echo "lab.sh: LAB_SYSTEM_UPTIME must be yes or no" >&2
	exit 2
	;;
esac
SECURE_MODE=${LAB_SECURE_MODE:-yes}
PCP_THIRDPARTY=${LAB_PCP_THIRDPARTY:-no}
for v in "$SECURE_MODE" "$PCP_THIRDPARTY"; do
	case $v in
	yes | no) ;;
	*)
		echo "lab.sh: LAB_SECURE_MODE and LAB_PCP_THIRDPARTY must be yes or no" >&2
		exit 2
		;;
	esac
done
READY_TIMEOUT=10 # seconds

NS_LAN=$LAB_PREFIX-lan
NS_RTR=$LAB_PREFIX-rtr
NS_WAN=$LAB_PREFIX-wan
NS_LAN2=$LAB_PREFIX-lan2
NS_RTR2=$LAB_PREFIX-rtr2
NS_ISP=$LAB_PREFIX-isp

LAN_NET=10.77.0.0/24
LAN_RTR_IP=10.77.0.1
LAN_HOST_IP=10.77.0.2
WAN_RTR_IP=11.77.0.1
WAN_HOST_IP=11.77.0.2
# cgnat on: the router's WAN link is the carrier's inner link (public-
# looking too: miniupnpd refuses a reserved external address), the
# carrier's NAT faces the WAN host with an address of its own
CGNAT_FILE=$STATE_DIR/cgnat
CGNAT_RTR_IP=14.77.0.1
CGNAT_IN_IP=14.77.0.254
CGNAT_OUT_IP=11.77.0.9
if [ -f "$CGNAT_FILE" ]; then
	WAN_RTR_IP=$CGNAT_RTR_IP
fi
TLS_DIR=$STATE_DIR/tls
UUID=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b

LAN2_HOST_IP=10.77.0.5
# fixed, so that a router's neighbour entry stays right across move-lan
LAN_HOST_MAC=02:77:00:00:00:02
LAN2_HOST_MAC=02:77:00:00:00:05

# IPv6 (first router only): routed, not NATed
LAN6_NET=2001:db8:77:1::/64
LAN6_RTR_LL=fe80::1
LAN6_RTR_IP=2001:db8:77:1::1
LAN6_HOST_IP=2001:db8:77:1::2
LAN6_HOST2_IP=2001:db8:77:1::5
WAN6_RTR_IP=2001:db8:11::1
WAN6_HOST_IP=2001:db8:11::2
LAN_AT=$STATE_DIR/lan-at # rtr or rtr2: where the LAN host is plugged in
RTR_IPV6=yes              # the first router routes IPv6, the second does not

# router_files DIR: the state files of the router whose state lives in DIR
router_files() {
	RTR_DIR=$1
	CONF=$RTR_DIR/miniupnpd.conf
	PIDFILE=$RTR_DIR/miniupnpd.pid     # written by this script
	MUPIDFILE=$RTR_DIR/miniupnpd.d.pid # passed to miniupnpd -P
	LEASES=$RTR_DIR/miniupnpd.leases
	LOG=$RTR_DIR/miniupnpd.log
	PROFILE_FILE=$RTR_DIR/profile
}
router_files "$STATE_DIR"

# The router functions below work on the second router after this (call it
# in a subshell to keep the first one's values).
use_router2() {
	NS_RTR=$NS_RTR2
	LAN_NET=10.78.0.0/24
	LAN_RTR_IP=10.78.0.1
	LAN_HOST_IP=10.78.0.2
	WAN_RTR_IP=12.77.0.1
	WAN_HOST_IP=12.77.0.2
	UUID=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
	RTR_IPV6=no
	router_files "$STATE_DIR/rtr2"
}

die() {
	echo "lab.sh: $*" >&2
	exit 1
}

usage() {
	sed -n 's/^#: \{0,1\}//p' "$0" >&2
	exit 2
}

ns_exists() {
	[ -e "/run/netns/$1" ]
}

# nsx NS CMD... : run CMD in namespace NS
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

check_profile() {
	case $1 in
	full | upnp-only | igdv1 | pmp-only | none) ;;
	*) die "unknown profile '$1' (full, upnp-only, igdv1, pmp-only, none)" ;;
	esac
}

# ---------------------------------------------------------------- namespaces

new_ns() {
	ip netns add "$1"
	# no duplicate address detection: no address is ever tentative
	nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$1" link set lo up
}

# hub_port NS PORT: a port of NS's hub that floods and never learns
hub_port() {
	# a switch port has no address of its own (IPv6 would give it one)
	nsx "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
	ip -n "$1" link set "$2" master br0
	nsx "$1" bridge link set dev "$2" learning off flood on mcast_flood on
	ip -n "$1" link set "$2" up
}

# lan_hub NS ADDR [LL6 ADDR6]: the router's LAN side, lan0 with ADDR (and
# with LL6 as its only link-local address and ADDR6/64), behind a hub
lan_hub() {
	local ns=$1 addr=$2 ll6=${3:-} addr6=${4:-}
	# the bridge must not send bridged frames through the router's nftables
	nsx "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 \
		2>/dev/null || true
	# The bridge is only a switch: without ARP it cannot answer for the
	# router's address with its own MAC (frames sent there would reach the
	# router on br0, not lan0, and miss the rules written for lan0).
	ip -n "$ns" link add br0 type bridge mcast_snooping 0
	ip -n "$ns" link set br0 arp off
	nsx "$ns" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
	ip -n "$ns" link add lan0 type veth peer name lan0p
	hub_port "$ns" lan0p
	ip -n "$ns" addr add "$addr/24" dev lan0
	if [ -n "$ll6" ]; then
		nsx "$ns" sysctl -qw net.ipv6.conf.lan0.disable_ipv6=0 net.ipv6.conf.lan0.accept_dad=0
		ip -n "$ns" link set lan0 addrgenmode none
		ip -n "$ns" addr add "$ll6/64" dev lan0 scope link nodad
		ip -n "$ns" addr add "$addr6/64" dev lan0 nodad
	fi
	ip -n "$ns" link set lan0 up
	ip -n "$ns" link set br0 up
}

# plug HOST_NS MAC ADDR RTR_NS PORT [ADDR6 [GW6]]: a host's lan0 with
# ADDR/24, cabled to port PORT of the router's hub; with ADDR6, also
# ADDR6/64 and, with GW6, a temporary address made from it (use_tempaddr=2,
# mngtmpaddr) and a default route via GW6.
plug() {
	local host=$1 mac=$2 addr=$3 rtr=$4 port=$5 addr6=${6:-} gw6=${7:-}
	ip -n "$host" link add lan0 address "$mac" type veth peer name "$port" netns "$rtr"
	hub_port "$rtr" "$port"
	ip -n "$host" addr add "$addr/24" dev lan0
	nsx "$host" sysctl -qw net.ipv6.conf.lan0.disable_ipv6=0 net.ipv6.conf.lan0.accept_dad=0
	ip -n "$host" link set lan0 up
	if [ -n "$addr6" ] && [ -n "$gw6" ]; then
		nsx "$host" sysctl -qw net.ipv6.conf.lan0.use_tempaddr=2
		ip -n "$host" addr add "$addr6/64" dev lan0 nodad mngtmpaddr
		ip -n "$host" -6 route add default via "$gw6" dev lan0
	elif [ -n "$addr6" ]; then
		ip -n "$host" addr add "$addr6/64" dev lan0 nodad
	fi
}

build_namespaces() {
	local ns
	for ns in "$NS_LAN" "$NS_RTR" "$NS_WAN" "$NS_LAN2" "$NS_RTR2" "$NS_ISP"; do
		new_ns "$ns"
	done

	# veth pairs are created inside the lab namespaces, never in the host's.
	lan_hub "$NS_RTR" "$LAN_RTR_IP" "$LAN6_RTR_LL" "$LAN6_RTR_IP"
	plug "$NS_LAN" "$LAN_HOST_MAC" "$LAN_HOST_IP" "$NS_RTR" lanh "$LAN6_HOST_IP" "$LAN6_RTR_LL"
	ip -n "$NS_LAN" route add default via "$LAN_RTR_IP" dev lan0
	echo rtr >"$LAN_AT"

	nsx "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	wan_link
}

# wan_link: the router's wan0 cabled straight to the WAN host's wan0
wan_link() {
	ip -n "$NS_WAN" link add wan0 type veth peer name wan0 netns "$NS_RTR"
	ip -n "$NS_RTR" addr add "$WAN_RTR_IP/24" dev wan0
	ip -n "$NS_RTR" addr add "$WAN6_RTR_IP/64" dev wan0 nodad
	ip -n "$NS_RTR" link set wan0 up

	ip -n "$NS_WAN" addr add "$WAN_HOST_IP/24" dev wan0
	ip -n "$NS_WAN" addr add "$WAN6_HOST_IP/64" dev wan0 nodad
	ip -n "$NS_WAN" link set wan0 up
	ip -n "$NS_WAN" -6 route add "$LAN6_NET" via "$WAN6_RTR_IP" dev wan0
}

# cgnat_link: the router's wan0 on the carrier's inner link, the carrier's
# NAT between it and the WAN host; the carrier forwards only what the
# inside asked for (no mappings) and masquerades it to its own address
cgnat_link() {
	ip -n "$NS_RTR" link add wan0 type veth peer name in0 netns "$NS_ISP"
	ip -n "$NS_RTR" addr add "$CGNAT_RTR_IP/24" dev wan0
	# no IPv6 beyond the router now; its address only keeps miniupnpd's
	# ext_ifname6 as it was
	ip -n "$NS_RTR" addr add "$WAN6_RTR_IP/64" dev wan0 nodad
	ip -n "$NS_RTR" link set wan0 up
	ip -n "$NS_RTR" route add default via "$CGNAT_IN_IP" dev wan0
	ip -n "$NS_ISP" addr add "$CGNAT_IN_IP/24" dev in0
	ip -n "$NS_ISP" link set in0 up

	ip -n "$NS_WAN" link add wan0 type veth peer name wan0 netns "$NS_ISP"
	ip -n "$NS_WAN" addr add "$WAN_HOST_IP/24" dev wan0
	ip -n "$NS_WAN" addr add "$WAN6_HOST_IP/64" dev wan0 nodad
	ip -n "$NS_WAN" link set wan0 up
	ip -n "$NS_ISP" addr add "$CGNAT_OUT_IP/24" dev wan0
	ip -n "$NS_ISP" link set wan0 up
	nsx "$NS_ISP" sysctl -qw net.ipv4.ip_forward=1
	nsx "$NS_ISP" nft -f - <<EOF
table ip cgnat {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "in0" oifname "wan0" accept
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "wan0" snat to $CGNAT_OUT_IP
	}
}
EOF
}

# cgnat on|off: the router's WAN side rebuilt, its nftables made again for
# its new external address, miniupnpd restarted to take it
cgnat_set() {
	local want=$1 profile
	ns_exists "$NS_ISP" || die "lab is not up (no namespace $NS_ISP)"
	if [ "$want" = on ] && [ -f "$CGNAT_FILE" ]; then return 0; fi
	if [ "$want" = off ] && [ ! -f "$CGNAT_FILE" ]; then return 0; fi
	profile=$(current_profile)
	router_stop KILL
	hairpin_off
	ip -n "$NS_RTR" link del wan0 2>/dev/null || true
	ip -n "$NS_WAN" link del wan0 2>/dev/null || true
	ip -n "$NS_ISP" link del in0 2>/dev/null || true
	nsx "$NS_ISP" nft flush ruleset
	nsx "$NS_RTR" nft delete table inet filter
	if [ "$want" = on ]; then
		touch -- "$CGNAT_FILE"
		WAN_RTR_IP=$CGNAT_RTR_IP
		cgnat_link || die "failed to build the carrier's NAT"
		setup_nft
	else
		rm -f -- "$CGNAT_FILE"
		WAN_RTR_IP=11.77.0.1
		wan_link || die "failed to cable the router to the WAN host again"
		setup_nft
		hairpin_on
	fi
	router_start "$profile"
}

# The lab's CA and the HTTPS checker's certificate (for the WAN host's
# address, signed by the CA), short-lived, made fresh at each up
tls_make() {
	mkdir -m 700 -p -- "$TLS_DIR"
	(
		cd "$TLS_DIR" &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout ca.key -out ca.pem -days 2 -subj "/CN=portmap lab CA" \
				-addext basicConstraints=critical,CA:TRUE \
				-addext keyUsage=critical,keyCertSign,cRLSign &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout server.key -out server.csr -subj "/CN=$WAN_HOST_IP" &&
			printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
				"$WAN_HOST_IP" >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
				-extfile server.ext -out server.pem &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=another CA" \
				-addext basicConstraints=critical,CA:TRUE \
				-addext keyUsage=critical,keyCertSign,cRLSign
	) >/dev/null 2>&1 || die "openssl could not make the lab's certificates (scripts/setup.sh installs openssl)"
	# the checker runs as root in the WAN namespace; the tests read ca.pem
	chmod 644 -- "$TLS_DIR/ca.pem" "$TLS_DIR/other-ca.pem"
}

# The forward chain serves both families: IPv6 is routed (never NATed: the
# masquerade rule matches IPv4 only), so a packet from the WAN to a LAN
# host's IPv6 address passes only as the answer of a connection the LAN side
# opened (ct state) or through an accept rule (a pinhole) that miniupnpd
# writes in chain miniupnpd. Neighbour discovery is not forwarded and never
# filtered (no input/output filter chains).
setup_nft() {
	sed "s/WAN_RTR_IP/$WAN_RTR_IP/g" <<'EOF' | nsx "$NS_RTR" nft -f -
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "lan0" accept
		jump miniupnpd
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
		oifname "wan0" ip daddr != WAN_RTR_IP masquerade
	}
	chain miniupnpd {
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
EOF
}

# NAT loopback ("hairpin"), the way routers that offer it behave: a LAN host
# connecting to the router's external address reaches the mapped service.
# miniupnpd's DNAT rules match only packets that enter on wan0, so the router
# sends such packets out of wan0 un-NATed (policy route, conntrack zone 1),
# the WAN host turns them straight back (it forwards, no NAT), and on the
# second pass, in zone 0, they meet miniupnpd's own rules like any packet
# from the Internet; the answer goes back through zone 0's NAT. The LAN
# side is SNATed to the router's LAN address as real routers do, so the
# LAN host never sees a packet from itself.
HAIRPIN_TABLE=77
hairpin_on() {
	hairpin_off
	nsx "$NS_RTR" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.lan0.send_redirects=0
	ip -n "$NS_RTR" route add default via "$WAN_HOST_IP" dev wan0 table $HAIRPIN_TABLE
	ip -n "$NS_RTR" rule add pref 10 iif lan0 to "$WAN_RTR_IP" lookup $HAIRPIN_TABLE
	# the local table is consulted after the hairpin rule
	ip -n "$NS_RTR" rule add pref 20 lookup local
	ip -n "$NS_RTR" rule del pref 0 lookup local
	nsx "$NS_WAN" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.wan0.rp_filter=0 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.wan0.send_redirects=0
	nsx "$NS_RTR" nft -f - <<EOF
table ip hairpin {
	chain loopback_zone {
		type filter hook prerouting priority raw; policy accept;
		iifname "lan0" ip daddr $WAN_RTR_IP ct zone set 1
	}
	chain loopback_snat {
		type nat hook postrouting priority 110; policy accept;
		oifname "lan0" ct status dnat ip saddr $LAN_NET masquerade
	}
}
EOF
}

hairpin_off() {
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	if nsx "$NS_RTR" nft list table ip hairpin >/dev/null 2>&1; then
		nsx "$NS_RTR" nft delete table ip hairpin
	fi
	if [ -z "$(ip -n "$NS_RTR" rule show pref 0)" ]; then
		ip -n "$NS_RTR" rule add pref 0 lookup local
	fi
	while ip -n "$NS_RTR" rule del pref 10 2>/dev/null; do :; done
	while ip -n "$NS_RTR" rule del pref 20 2>/dev/null; do :; done
	ip -n "$NS_RTR" route flush table $HAIRPIN_TABLE 2>/dev/null || true
	nsx "$NS_WAN" sysctl -qw net.ipv4.ip_forward=0
}

flush_miniupnpd_chains() {
	local c
	for c in miniupnpd prerouting_miniupnpd postrouting_miniupnpd; do
		nsx "$NS_RTR" nft flush chain inet filter "$c"
	done
}

kill_ns_processes() {
	local ns=$1 pids pid i
	ns_exists "$ns" || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	[ -n "$pids" ] || return 0
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

lab_down() {
	local ns
	router_stop KILL
	(use_router2 && router_stop KILL)
	for ns in "$NS_LAN" "$NS_LAN2" "$NS_RTR" "$NS_RTR2" "$NS_WAN" "$NS_ISP"; do
		kill_ns_processes "$ns"
		if ns_exists "$ns"; then
			ip netns del "$ns"
		fi
	done
	rm -rf -- "$STATE_DIR"
}

# ---------------------------------------------------------------- miniupnpd

write_config() {
	local profile=$1 natpmp=yes upnp=yes igdv1=no
	case $profile in
	full) ;;
	upnp-only) natpmp=no ;;
	igdv1)
		natpmp=no
		igdv1=yes
		;;
	pmp-only) upnp=no ;;
	esac
	# IPv6 needs no ipv6_listening_ip: miniupnpd 2.3.1 gives control points
	# the (last) global address of lan0, here 2001:db8:77:1::1. That option
	# would BIND the HTTP, SSDP and PCP IPv6 sockets to the address, so HTTP
	# over IPv4 would be refused and PCP to fe80::1 ignored.
	local ipv6="ipv6_disable=yes"
	if [ "$RTR_IPV6" = yes ]; then
		ipv6="ext_ifname6=wan0"
	fi
	cat >"$CONF" <<EOF
# generated by tests/lab/lab.sh (profile $profile)
ext_ifname=wan0
listening_ip=lan0
$ipv6
http_port=$HTTP_PORT
enable_natpmp=$natpmp
enable_upnp=$upnp
force_igd_desc_v1=$igdv1
secure_mode=$SECURE_MODE
pcp_allow_thirdparty=$PCP_THIRDPARTY
system_uptime=$SYSTEM_UPTIME
notify_interval=60
clean_ruleset_interval=600
uuid=$UUID
serial=12345678
model_number=1
friendly_name=portmap-lab
lease_file=$LEASES
min_lifetime=$MIN_LIFETIME
max_lifetime=$MAX_LIFETIME
allow 1-65535 $LAN_NET 1-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}

# alive PID: the process exists and is not a zombie (the lab's miniupnpd is
# re-parented to init, which may take a while to reap it).
alive() {
	local st
	st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

router_pid() {
	local pid
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE")
	[ -n "$pid" ] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = miniupnpd ] || return 1
	alive "$pid" || return 1
	echo "$pid"
}

# router_stop [TERM|KILL]: TERM is a graceful shutdown (miniupnpd 2.3.1 exits
# within ~50 ms and leaves its nft rules and lease file in place); KILL is a
# power cut.
router_stop() {
	local sig=${1:-TERM} pid i
	if pid=$(router_pid); then
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 40; i++)); do
				alive "$pid" || break
				sleep 0.05
			done
		fi
	fi
	rm -f -- "$PIDFILE" "$MUPIDFILE"
}

# is_bound PROTO(u|t) PORT : is something listening on PORT in the router ns
is_bound() {
	[ -n "$(nsx "$NS_RTR" ss -Hln"$1" "sport = :$2" 2>/dev/null)" ]
}

now_us() {
	local t=${EPOCHREALTIME/[.,]/}
	echo "$((10#$t))"
}

wait_ready() {
	local profile=$1 pid="" deadline
	deadline=$(($(now_us) + READY_TIMEOUT * 1000000))
	while [ "$(now_us)" -lt "$deadline" ]; do
		if ! pid=$(router_pid); then
			echo "lab.sh: miniupnpd exited; log tail:" >&2
			tail -n 30 "$LOG" >&2 || true
			return 1
		fi
		case $profile in
		full | pmp-only) is_bound u 5351 || { sleep 0.1 && continue; } ;;
		esac
		case $profile in
		full | upnp-only | igdv1) is_bound t "$HTTP_PORT" || { sleep 0.1 && continue; } ;;
		esac
		return 0
	done
	echo "lab.sh: miniupnpd (pid $pid) not ready after $READY_TIMEOUT s; log tail:" >&2
	tail -n 30 "$LOG" >&2 || true
	return 1
}

# miniupnpd 2.3.1 opens its PCP socket for IPv6 ([::]:5351) and answers PCP
# there (MAP opens pinholes) even with enable_natpmp=no. In the profiles
# without NAT-PMP/PCP, the router's input refuses it the way a closed port
# does (ICMPv6 port unreachable), as IPv4 PCP is refused: they stay UPnP-only.
pcp6_block() {
	local profile=$1
	if nsx "$NS_RTR" nft list table inet nopcp6 >/dev/null 2>&1; then
		nsx "$NS_RTR" nft delete table inet nopcp6
	fi
	case $profile in
	upnp-only | igdv1) ;;
	*) return 0 ;;
	esac
	nsx "$NS_RTR" nft -f - <<'EOF'
table inet nopcp6 {
	chain input {
		type filter hook input priority -5; policy accept;
		meta nfproto ipv6 udp dport 5351 reject with icmpv6 type port-unreachable
	}
}
EOF
}

router_start() {
	local profile=$1 pid
	check_profile "$profile"
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	mkdir -p -- "$RTR_DIR"
	echo "$profile" >"$PROFILE_FILE"
	pcp6_block "$profile"
	[ "$profile" = none ] && return 0
	router_pid >/dev/null && die "miniupnpd is already running"
	write_config "$profile"
	touch "$LEASES"
	{
		echo "=== $(date '+%F %T') starting miniupnpd (profile $profile)"
	} >>"$LOG"
	# setsid: detach from the caller's process group/terminal; no fork here
	# because a background job of a non-interactive shell is never a group
	# leader, so $! is the pid of miniupnpd itself (ip netns exec and sh
	# exec too).
	# -d logs to stderr ($LOG), and with no /dev/log syslog() also writes
	# every line to /dev/console, which on a serial console blocks for 2-10
	# ms a line and holds each answer up by tens of ms. ip netns exec runs
	# in a mount namespace of its own (slave of the host's), so the console
	# is replaced by /dev/null for miniupnpd only.
	setsid ip netns exec "$NS_RTR" sh -c 'mount --bind /dev/null /dev/console 2>/dev/null; exec "$@"' \
		sh "$MINIUPNPD" -d -f "$CONF" -P "$MUPIDFILE" </dev/null >>"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	# wait until exec has happened so that router_pid() recognises it
	local i
	for ((i = 0; i < 20; i++)); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = miniupnpd ] && break
		alive "$pid" || break
		sleep 0.05
	done
	if ! wait_ready "$profile"; then
		router_stop
		return 1
	fi
}

current_profile() {
	if [ -f "$PROFILE_FILE" ]; then cat "$PROFILE_FILE"; else echo full; fi
}

# ---------------------------------------------------------------- rules

# Print "PROTO EXTPORT INTERNAL_IP INTERNAL_PORT" for each DNAT rule.
# miniupnpd 2.3.1 writes rules that nft 1.0.6 lists as e.g.
#   iif "wan0" @nh,72,8 0x11 th dport 27015 dnat ip to 10.77.0.2:27015
# but other spellings (meta l4proto udp, udp dport 27015, @th,16,16 0x6987,
# dnat to ...) are accepted as well.
list_rules() {
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	nsx "$NS_RTR" nft -a list chain inet filter prerouting_miniupnpd |
		awk '
		function num(s,   v, i, c) {
			if (s !~ /^0x[0-9a-fA-F]+$/) return s + 0
			v = 0
			for (i = 3; i <= length(s); i++) {
				c = index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
				v = v * 16 + c
			}
			return v
		}
		/dnat/ {
			proto = ""; eport = ""; iip = ""; iport = ""
			n = split($0, w, /[ \t]+/)
			for (i = 1; i <= n; i++) {
				if (w[i] == "@nh,72,8" && i < n) {
					v = num(w[i + 1])
					if (v == 6) proto = "tcp"; else if (v == 17) proto = "udp"
				} else if ((w[i] == "l4proto" || w[i] == "protocol") && i < n) {
					if (w[i + 1] ~ /^(tcp|udp)$/) proto = w[i + 1]
					else if (num(w[i + 1]) == 6) proto = "tcp"
					else if (num(w[i + 1]) == 17) proto = "udp"
				} else if ((w[i] == "tcp" || w[i] == "udp") && w[i + 1] == "dport") {
					proto = w[i]; eport = num(w[i + 2])
				} else if (w[i] == "th" && w[i + 1] == "dport") {
					eport = num(w[i + 2])
				} else if (w[i] == "@th,16,16" && i < n) {
					eport = num(w[i + 1])
				} else if (w[i] == "to" && i < n && w[i + 1] ~ /^[0-9.]+(:[0-9]+)?$/) {
					split(w[i + 1], a, ":"); iip = a[1]; iport = a[2]
				}
			}
			if (iport == "") iport = eport
			if (proto != "" && eport != "" && iip != "")
				print proto, eport, iip, iport
		}'
}

# proto_port CMD PROTO PORT: exits 2 unless PROTO is tcp or udp (any case)
# and PORT a number; sets PROTO to the lower-case protocol
proto_port() {
	case $2 in
	tcp | udp | TCP | UDP) PROTO=${2,,} ;;
	*)
		echo "lab.sh: $1: protocol must be tcp or udp" >&2
		exit 2
		;;
	esac
	if ! [[ $3 =~ ^[0-9]+$ ]]; then
		echo "lab.sh: $1: bad port '$3'" >&2
		exit 2
	fi
}

has_rule() {
	local proto eport=$2
	proto_port has-rule "$1" "$2"
	proto=$PROTO
	list_rules | awk -v p="$proto" -v e="$eport" '
		$1 == p && $2 == e + 0 { found = 1 } END { exit !found }'
}

# awk functions for IPv6 addresses: expand6("2001:db8::2") gives the 32 hex
# digits (lower case; "" if not an address), compress6(32 hex digits) the
# RFC 5952 text ("2001:db8::2").
AWK_IPV6='
function expand6(a,   n, i, g, h, k, out, z, left, right, nl, nr) {
	a = tolower(a)
	if (a !~ /^[0-9a-f:]+$/) return ""
	if (index(a, "::")) {
		left = substr(a, 1, index(a, "::") - 1)
		right = substr(a, index(a, "::") + 2)
		if (index(right, "::")) return ""
		nl = left == "" ? 0 : split(left, g, ":")
		nr = right == "" ? 0 : split(right, h, ":")
		if (nl + nr > 7) return ""
		out = ""
		for (i = 1; i <= nl; i++) out = out sprintf("%4s", g[i])
		for (i = 0; i < 8 - nl - nr; i++) out = out "0000"
		for (i = 1; i <= nr; i++) out = out sprintf("%4s", h[i])
	} else {
		if (split(a, g, ":") != 8) return ""
		out = ""
		for (i = 1; i <= 8; i++) out = out sprintf("%4s", g[i])
	}
	gsub(/ /, "0", out)
	return length(out) == 32 ? out : ""
}
function compress6(x,   i, g, best, blen, run, rlen, out) {
	x = tolower(x)
	sub(/^0x/, "", x)
	while (length(x) < 32) x = "0" x
	best = 0; blen = 0; run = 0; rlen = 0
	for (i = 1; i <= 8; i++) {
		g[i] = substr(x, 4 * i - 3, 4)
		sub(/^0+/, "", g[i])
		if (g[i] == "") g[i] = "0"
		if (g[i] == "0") {
			if (rlen == 0) run = i
			rlen++
			if (rlen > blen) { best = run; blen = rlen }
		} else rlen = 0
	}
	if (blen < 2) best = 0
	out = ""
	for (i = 1; i <= 8; i++) {
		if (best && i == best) { out = out "::"; i += blen - 1; continue }
		if (out != "" && out !~ /::$/) out = out ":"
		out = out g[i]
	}
	return out
}
function num(s,   v, i, c) {
	if (s !~ /^0x[0-9a-fA-F]+$/) return s + 0
	v = 0
	for (i = 3; i <= length(s); i++) {
		c = index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
		v = v * 16 + c
	}
	return v
}
function protoname(s) {
	if (s ~ /^(tcp|udp)$/) return s
	if (num(s) == 6) return "tcp"
	if (num(s) == 17) return "udp"
	return ""
}'

# Print "PROTO INTADDR INTPORT [from RADDR] [sport RPORT]" for each IPv6
# pinhole (accept rule for an IPv6 destination) in chain miniupnpd; "from"
# and "sport" appear only when the pinhole is limited to one remote host or
# port. miniupnpd 2.3.1 writes rules that nft 1.0.6 lists as e.g.
#   iif "wan0" th dport 27018 th sport 5555 @nh,192,128 0x20010db8007700010000000000000002
#     @nh,64,128 0x20010db8001100000000000000000002 @nh,48,8 0x6 accept
# (@nh,192,128 = ip6 daddr, @nh,64,128 = ip6 saddr, @nh,48,8 = nexthdr);
# ip6 daddr/saddr, meta l4proto, ip6 nexthdr, tcp/udp dport spellings are
# accepted as well. The IPv4 rules of the chain (@nh,128,32 ...) are skipped.
list_pinholes() {
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	nsx "$NS_RTR" nft list chain inet filter miniupnpd |
		awk "$AWK_IPV6"'
		/accept/ {
			proto = ""; iaddr = ""; iport = ""; raddr = ""; rport = ""
			n = split($0, w, /[ \t]+/)
			for (i = 1; i <= n; i++) {
				if (w[i] == "@nh,192,128" && i < n) iaddr = compress6(w[i + 1])
				else if (w[i] == "@nh,64,128" && i < n) raddr = compress6(w[i + 1])
				else if (w[i] == "ip6" && w[i + 1] == "daddr") iaddr = compress6(expand6(w[i + 2]))
				else if (w[i] == "ip6" && w[i + 1] == "saddr") raddr = compress6(expand6(w[i + 2]))
				else if (w[i] == "@nh,48,8" && i < n) proto = protoname(w[i + 1])
				else if ((w[i] == "l4proto" || w[i] == "nexthdr") && i < n) proto = protoname(w[i + 1])
				else if ((w[i] == "tcp" || w[i] == "udp") && w[i + 1] == "dport") { proto = w[i]; iport = num(w[i + 2]) }
				else if ((w[i] == "tcp" || w[i] == "udp") && w[i + 1] == "sport") { proto = w[i]; rport = num(w[i + 2]) }
				else if (w[i] == "th" && w[i + 1] == "dport") iport = num(w[i + 2])
				else if (w[i] == "th" && w[i + 1] == "sport") rport = num(w[i + 2])
				else if (w[i] == "@th,16,16" && i < n) iport = num(w[i + 1])
				else if (w[i] == "@th,0,16" && i < n) rport = num(w[i + 1])
			}
			if (proto != "" && iaddr != "" && iport != "") {
				line = proto " " iaddr " " iport
				if (raddr != "") line = line " from " raddr
				if (rport != "") line = line " sport " rport
				print line
			}
		}'
}

has_pinhole() {
	local proto addr=$2 port=$3
	proto_port has-pinhole "$1" "$3"
	proto=$PROTO
	addr=$(awk "$AWK_IPV6"'BEGIN { x = expand6(ARGV[1]); ARGV[1] = ""; if (x != "") print compress6(x) }' "$addr")
	if [ -z "$addr" ]; then
		echo "lab.sh: has-pinhole: bad IPv6 address '$2'" >&2
		exit 2
	fi
	list_pinholes | awk -v p="$proto" -v a="$addr" -v e="$port" '
		$1 == p && $2 == a && $3 == e + 0 { found = 1 } END { exit !found }'
}

# addr6 lan|lan2|rtr|wan [stable|temporary|link]: one IPv6 address of that
# host's lan0 (the WAN host: wan0), without the prefix length
addr6() {
	local host=$1 kind=${2:-stable} ns dev=lan0 sel
	case $host in
	lan) ns=$NS_LAN ;;
	lan2) ns=$NS_LAN2 ;;
	rtr) ns=$NS_RTR ;;
	wan) ns=$NS_WAN dev=wan0 ;;
	*) die "addr6: host must be lan, lan2, rtr or wan" ;;
	esac
	case $kind in
	stable) sel="scope global primary -deprecated" ;;
	temporary) sel="scope global temporary -deprecated" ;;
	link) sel="scope link" ;;
	*) die "addr6: kind must be stable, temporary or link" ;;
	esac
	ns_exists "$ns" || die "lab is not up (no namespace $ns)"
	# shellcheck disable=SC2086 # $sel is a list of words
	ip -n "$ns" -6 -o addr show dev "$dev" $sel 2>/dev/null |
		awk '{ sub(/\/.*/, "", $4); print $4; found = 1; exit } END { exit !found }' ||
		die "addr6: no $kind address on $host"
}

set_loss() {
	local pct=$1
	if ! [[ $pct =~ ^[0-9]+$ ]] || [ "$pct" -gt 100 ]; then
		die "loss: PERCENT must be 0..100"
	fi
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	if nsx "$NS_RTR" nft list table inet lab >/dev/null 2>&1; then
		nsx "$NS_RTR" nft delete table inet lab
	fi
	[ "$pct" -eq 0 ] && return 0
	local match="numgen random mod 100 < $pct "
	[ "$pct" -eq 100 ] && match=""
	nsx "$NS_RTR" nft -f - <<EOF
table inet lab {
	chain input {
		type filter hook input priority -10; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		iifname "lan0" ${match}drop
	}
}
EOF
}

# ---------------------------------------------------------------- more hosts

spoofer_down() {
	ns_exists "$NS_LAN2" || die "lab is not up (no namespace $NS_LAN2)"
	kill_ns_processes "$NS_LAN2"
	ip -n "$NS_LAN2" link del lan0 2>/dev/null || true # and its hub port
}

# A second host on the first router's LAN, for forging replies: it has no
# default route, only the LAN and the multicast groups on it.
spoofer_up() {
	spoofer_down
	plug "$NS_LAN2" "$LAN2_HOST_MAC" "$LAN2_HOST_IP" "$NS_RTR" lan2h "$LAN6_HOST2_IP"
	ip -n "$NS_LAN2" route add 224.0.0.0/4 dev lan0
}

# The second LAN host as an ordinary one (a console, a NAS): a service
# there answers the WAN host through a mapping made for it by the first.
host2_up() {
	spoofer_up
	ip -n "$NS_LAN2" route add default via "$LAN_RTR_IP" dev lan0
	ip -n "$NS_LAN2" -6 route add default via "$LAN6_RTR_LL" dev lan0
}

lan_at() {
	if [ -f "$LAN_AT" ]; then cat "$LAN_AT"; else echo rtr; fi
}

# Unplugging deletes the LAN host's lan0 (and with it the hub port at the
# other end); plugging makes a new one: the LAN namespace sees the link,
# its address and its default route go and come back, as when a laptop
# roams to another network.
move_lan() {
	local to=$1 rtr addr gw
	ns_exists "$NS_LAN" || die "lab is not up (no namespace $NS_LAN)"
	local addr6="" gw6=""
	case $to in
	rtr) rtr=$NS_RTR addr=$LAN_HOST_IP gw=$LAN_RTR_IP addr6=$LAN6_HOST_IP gw6=$LAN6_RTR_LL ;;
	rtr2)
		nsx "$NS_RTR2" ip link show br0 >/dev/null 2>&1 || die "router2 is not up"
		rtr=$NS_RTR2
		addr=$(use_router2 && echo "$LAN_HOST_IP")
		gw=$(use_router2 && echo "$LAN_RTR_IP")
		;;
	*) usage ;;
	esac
	ip -n "$NS_LAN" link del lan0 2>/dev/null || true
	plug "$NS_LAN" "$LAN_HOST_MAC" "$addr" "$rtr" lanh "$addr6" "$gw6"
	ip -n "$NS_LAN" route add default via "$gw" dev lan0
	echo "$to" >"$LAN_AT"
}

router2_down() {
	local l
	ns_exists "$NS_RTR2" || die "lab is not up (no namespace $NS_RTR2)"
	if [ "$(lan_at)" = rtr2 ]; then
		move_lan rtr
	fi
	(use_router2 && router_stop KILL)
	kill_ns_processes "$NS_RTR2"
	nsx "$NS_RTR2" nft flush ruleset
	# wan0 takes the WAN host's wan1 with it, lan0 its hub port lan0p
	for l in wan0 lan0 br0; do
		ip -n "$NS_RTR2" link del "$l" 2>/dev/null || true
	done
	rm -rf -- "$STATE_DIR/rtr2"
}

# The second router: like the first, with its own LAN and a public WAN
# address of its own, reached by the WAN host over wan1. No hairpin.
router2_up() {
	local profile=$1
	router2_down
	# errexit does not apply left of ||: every step is chained
	(
		use_router2 &&
			lan_hub "$NS_RTR" "$LAN_RTR_IP" &&
			ip -n "$NS_WAN" link add wan1 type veth peer name wan0 netns "$NS_RTR" &&
			ip -n "$NS_RTR" addr add "$WAN_RTR_IP/24" dev wan0 &&
			ip -n "$NS_RTR" link set wan0 up &&
			nsx "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 &&
			ip -n "$NS_WAN" addr add "$WAN_HOST_IP/24" dev wan1 &&
			ip -n "$NS_WAN" link set wan1 up &&
			setup_nft &&
			router_start "$profile"
	) || {
		router2_down
		die "failed to build router2"
	}
}

# ---------------------------------------------------------------- main

[ $# -ge 1 ] || usage
[ "$(id -u)" -eq 0 ] || die "must run as root"
cmd=$1
shift

parse_profile_opt() {
	PROFILE=$1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--profile)
			[ $# -ge 2 ] || die "--profile needs an argument"
			PROFILE=$2
			shift 2
			;;
		--profile=*)
			PROFILE=${1#--profile=}
			shift
			;;
		*) die "unknown option '$1'" ;;
		esac
	done
	check_profile "$PROFILE"
}

case $cmd in
up)
	parse_profile_opt full "$@"
	lab_down
	mkdir -p -- "$STATE_DIR"
	echo "$HTTP_PORT $MIN_LIFETIME $MAX_LIFETIME $SYSTEM_UPTIME" >"$SETTINGS"
	if ! { build_namespaces && setup_nft && hairpin_on; }; then
		lab_down
		die "failed to build the lab"
	fi
	tls_make
	if ! router_start "$PROFILE"; then
		exit 1
	fi
	;;
down)
	[ $# -eq 0 ] || usage
	lab_down
	;;
router-stop)
	case ${1:-} in
	'') router_stop TERM ;;
	--kill) router_stop KILL ;;
	*) usage ;;
	esac
	;;
router-start)
	parse_profile_opt "$(current_profile)" "$@"
	router_start "$PROFILE"
	;;
router-restart)
	keep=no
	while [ $# -gt 0 ]; do
		case $1 in
		--keep-leases) keep=yes ;;
		*) die "unknown option '$1'" ;;
		esac
		shift
	done
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	profile=$(current_profile)
	router_stop KILL
	flush_miniupnpd_chains
	[ "$keep" = yes ] || rm -f -- "$LEASES"
	router_start "$profile"
	;;
router-crash)
	[ $# -eq 0 ] || usage
	ns_exists "$NS_RTR" || die "lab is not up (no namespace $NS_RTR)"
	router_stop KILL
	flush_miniupnpd_chains
	rm -f -- "$LEASES"
	;;
rules)
	[ $# -eq 0 ] || usage
	list_rules
	;;
has-rule)
	[ $# -eq 2 ] || usage
	has_rule "$1" "$2"
	;;
pinholes)
	[ $# -eq 0 ] || usage
	list_pinholes
	;;
has-pinhole)
	[ $# -eq 3 ] || usage
	has_pinhole "$1" "$2" "$3"
	;;
addr6)
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	addr6 "$@"
	;;
tls-dir)
	[ $# -eq 0 ] || usage
	[ -f "$TLS_DIR/ca.pem" ] || die "lab is not up (no $TLS_DIR/ca.pem)"
	echo "$TLS_DIR"
	;;
cgnat)
	[ $# -eq 1 ] || usage
	case $1 in
	on | off) cgnat_set "$1" ;;
	*) usage ;;
	esac
	;;
hairpin)
	[ $# -eq 1 ] || usage
	case $1 in
	on)
		[ ! -f "$CGNAT_FILE" ] || die "hairpin on: NAT loopback needs cgnat off"
		hairpin_on
		;;
	off) hairpin_off ;;
	*) usage ;;
	esac
	;;
loss)
	[ $# -eq 1 ] || usage
	set_loss "$1"
	;;
exec)
	[ $# -ge 2 ] || usage
	case $1 in
	lan) ns=$NS_LAN ;;
	rtr) ns=$NS_RTR ;;
	wan) ns=$NS_WAN ;;
	lan2) ns=$NS_LAN2 ;;
	rtr2) ns=$NS_RTR2 ;;
	isp) ns=$NS_ISP ;;
	*) die "exec: namespace must be lan, rtr, wan, lan2, rtr2 or isp" ;;
	esac
	shift
	ns_exists "$ns" || die "lab is not up (no namespace $ns)"
	exec ip netns exec "$ns" "$@"
	;;
log)
	[ $# -eq 0 ] || usage
	[ -f "$LOG" ] || die "no log ($LOG)"
	cat -- "$LOG"
	;;
spoofer)
	[ $# -eq 1 ] || usage
	case $1 in
	up) spoofer_up ;;
	down) spoofer_down ;;
	*) usage ;;
	esac
	;;
host2)
	[ $# -eq 1 ] || usage
	case $1 in
	up) host2_up ;;
	down) spoofer_down ;;
	*) usage ;;
	esac
	;;
router2)
	[ $# -ge 1 ] || usage
	sub=$1
	shift
	case $sub in
	up)
		parse_profile_opt "$(current_profile)" "$@"
		router2_up "$PROFILE"
		;;
	down)
		[ $# -eq 0 ] || usage
		router2_down
		;;
	rules)
		[ $# -eq 0 ] || usage
		use_router2
		list_rules
		;;
	crash)
		[ $# -eq 0 ] || usage
		use_router2
		nsx "$NS_RTR" ip link show br0 >/dev/null 2>&1 || die "router2 is not up"
		router_stop KILL
		flush_miniupnpd_chains
		rm -f -- "$LEASES"
		;;
	start)
		[ $# -eq 0 ] || usage
		use_router2
		nsx "$NS_RTR" ip link show br0 >/dev/null 2>&1 || die "router2 is not up"
		router_start "$(current_profile)"
		;;
	has-rule)
		[ $# -eq 2 ] || usage
		use_router2
		has_rule "$1" "$2"
		;;
	log)
		[ $# -eq 0 ] || usage
		use_router2
		[ -f "$LOG" ] || die "no log ($LOG)"
		cat -- "$LOG"
		;;
	*) usage ;;
	esac
	;;
move-lan)
	[ $# -eq 1 ] || usage
	move_lan "$1"
	;;
-h | --help | help) usage ;;
*) usage ;;
esac

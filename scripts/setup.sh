#!/bin/bash
# Install what libportmap needs to build and test on Debian 12, and build it.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    build-essential meson ninja-build pkg-config check
    libnatpmp-dev libminiupnpc-dev
    miniupnpd-nftables miniupnpc natpmpc nftables iproute2 binutils
    python3 python3-venv
    # the Python binding: its build backend (setuptools, wheel; the -whl
    # files for pip's build isolation offline) and its type check
    python3-setuptools python3-wheel python3-setuptools-whl python3-wheel-whl python3-mypy
    # portmap-cli: HTTPS checkers (check --via https://); the live status test
    libcurl4-openssl-dev tmux
    # the lab's HTTPS checker (tests/lab/echoip-tls.py): its certificates
    openssl
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing packages (${missing[*]}); run as root" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    # miniupnpd's package asks debconf questions otherwise.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian package may start a miniupnpd of its own on the host; the lab
# runs its own inside a namespace, so a stray host daemon is stopped.
if command -v systemctl >/dev/null && systemctl is-active --quiet miniupnpd 2>/dev/null; then
    systemctl disable --now miniupnpd >/dev/null 2>&1 || true
fi

if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built into ./build" >&2

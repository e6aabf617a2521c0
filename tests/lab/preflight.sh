# Sourced by the scripts that bring up a lab: it needs root (network
# namespaces) and the router's tools. Outside CI a non-root run is
# skipped (exit 77), in CI (CI=true) it fails instead.
if [ "$(id -u)" != 0 ]; then
    echo "lab tests need root (network namespaces)" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
for tool in miniupnpd nft ip openssl python3; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
        echo "lab tests need $tool: run scripts/setup.sh" >&2
        exit 1
    fi
done

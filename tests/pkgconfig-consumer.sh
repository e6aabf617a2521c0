#!/bin/bash
# The examples, built out of tree the way a user would: `meson install` into
# a temporary DESTDIR, then `cc example.c $(pkg-config --cflags --libs
# portmap)` against what was installed there, and the programs run against
# the installed library (--version, --help: no network).
# usage: pkgconfig-consumer.sh BUILD_DIR SOURCE_DIR VERSION B_SANITIZE
set -euo pipefail
build=$1 src=$2 version=$3 sanitize=$4

if [ "$sanitize" != none ]; then
    # an instrumented library needs an instrumented program; the plain
    # build runs this test
    echo "skipped: the library is built with -fsanitize=$sanitize" >&2
    exit 77
fi
for tool in pkg-config "${CC:-cc}"; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

unset LD_LIBRARY_PATH # meson test points it at the build tree
tmp=$(mktemp -d /tmp/portmap-consumer-XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
dest=$tmp/root

DESTDIR=$dest meson install -C "$build" --no-rebuild --quiet

pc=$(find "$dest" -name portmap.pc -print -quit)
[ -n "$pc" ] || { echo "FAIL: no portmap.pc installed" >&2; exit 1; }
lib=$(find "$dest" -name 'libportmap.so.0' -print -quit)
[ -n "$lib" ] || { echo "FAIL: no libportmap.so.0 installed" >&2; exit 1; }
[ -f "$(dirname "$lib")/libportmap.so" ] || { echo "FAIL: no libportmap.so link" >&2; exit 1; }
for h in portmap.h version.h common.h; do
    [ -n "$(find "$dest" -path "*/include/portmap/$h" -print -quit)" ] ||
        { echo "FAIL: portmap/$h not installed" >&2; exit 1; }
done
# the API reference: every page of doc/man3
for page in "$src"/doc/man3/*.3; do
    [ -n "$(find "$dest" -path "*/man/man3/$(basename "$page")" -print -quit)" ] ||
        { echo "FAIL: man page $(basename "$page") not installed" >&2; exit 1; }
done
# the installed portmap.pc, never a system one; the system's for what it
# requires (miniupnpc, privately); paths inside the DESTDIR
PKG_CONFIG_LIBDIR=$(dirname "$pc"):$(pkg-config --variable pc_path pkg-config)
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH='' PKG_CONFIG_SYSROOT_DIR=$dest

[ "$(pkg-config --modversion portmap)" = "$version" ] ||
    { echo "FAIL: pkg-config says $(pkg-config --modversion portmap), not $version" >&2; exit 1; }
flags=$(pkg-config --cflags --libs portmap)
echo "pkg-config --cflags --libs portmap: $flags"
case $flags in
*"-I$dest/"*) ;;
*) echo "FAIL: the include path is not the installed one" >&2; exit 1 ;;
esac

mkdir "$tmp/out"
cd "$tmp/out" # nothing of the source or build tree on the include path
for ex in game-server event-pipe; do
    # shellcheck disable=SC2086 # word splitting of the flags is wanted
    "${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -o "$ex" "$src/examples/$ex.c" $flags
    # the binary must use the installed library
    resolved=$(LD_LIBRARY_PATH=$(dirname "$lib") ldd "./$ex" | awk '$1 == "libportmap.so.0" { print $3 }')
    [ "$(realpath "$resolved")" = "$(realpath "$lib")" ] ||
        { echo "FAIL: $ex loads '$resolved', not the installed library" >&2; exit 1; }
    out=$(LD_LIBRARY_PATH=$(dirname "$lib") "./$ex" --version)
    echo "$out"
    [ "$out" = "$ex with libportmap $version" ] || { echo "FAIL: $ex --version: $out" >&2; exit 1; }
    LD_LIBRARY_PATH=$(dirname "$lib") "./$ex" --help | grep -q "^usage: $ex" ||
        { echo "FAIL: $ex --help" >&2; exit 1; }
done
echo "ok: the examples build and run against the installed library"

#!/bin/bash
# The API reference (doc/man3) covers the API: every symbol the shared
# library exports has a page of its own name, and the page it leads to
# (directly or through a .so link) names it under NAME, declares it under
# SYNOPSIS and describes it below; every page documents only functions that
# exist; every identifier of the public headers (types, enum values,
# macros) is explained somewhere in the reference; and the pages format
# without groff warnings.
# usage: doc-symbols.sh LIBPORTMAP_SO DOC_DIR INCLUDE_DIR
set -euo pipefail
so=$1 doc=$2 inc=$3
man3=$doc/man3
fail=0
bad() {
    echo "FAIL: $*" >&2
    fail=1
}

# section NAME FILE: the text of one .SH section
section() {
    awk -v s="$1" '/^\.SH/ { on = ($0 ~ "^\\.SH \"?" s) ; next } on' "$2"
}

exported=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
[ "$(echo "$exported" | wc -l)" -ge 15 ] || bad "too few exported symbols: $exported"

for sym in $exported; do
    page=$man3/$sym.3
    if [ ! -f "$page" ]; then
        bad "$sym: no doc/man3/$sym.3"
        continue
    fi
    target=$(sed -n 's/^\.so man3\///p' "$page")
    if [ -n "$target" ]; then
        page=$man3/$target
        [ -f "$page" ] || { bad "$sym: .so to a missing page $target"; continue; }
    fi
    # (grep reads the whole text: grep -q on a pipe would fail it under pipefail)
    grep -qw -- "$sym" <<<"$(section NAME "$page")" || bad "$sym: not under NAME in $(basename "$page")"
    grep -q -- "$sym(" <<<"$(section SYNOPSIS "$page")" ||
        bad "$sym: no prototype under SYNOPSIS in $(basename "$page")"
    grep -qw -- "$sym" <<<"$(section DESCRIPTION "$page")" || bad "$sym: not described in $(basename "$page")"
done

# no page for a function that is not exported (a stale or misspelt name)
for page in "$man3"/portmap_*.3; do
    name=$(basename "$page" .3)
    grep -qx -- "$name" <<<"$exported" || bad "doc/man3/$name.3 documents no exported symbol"
    for proto in $(section SYNOPSIS "$page" | grep -o 'portmap_[a-z_]*(' | tr -d '('); do
        grep -qx -- "$proto" <<<"$exported" || bad "$name.3 declares $proto, which is not exported"
    done
done

# every identifier of the headers, but the include guards and the build switch
idents=$(grep -ohE '\b(portmap|PORTMAP)_[A-Za-z0-9_]+' "$inc"/portmap/*.h | sort -u |
    grep -vxE 'PORTMAP_(PORTMAP|COMMON|VERSION)_H|PORTMAP_BUILDING_LIBRARY')
for id in $idents; do
    grep -qw -- "$id" "$man3"/*.3 || bad "$id (in the headers) is not in the reference"
done

if command -v groff >/dev/null; then
    for page in "$man3"/*.3; do
        grep -q '^\.so ' "$page" && continue
        out=$(cd "$doc" && groff -man -ww -z "man3/$(basename "$page")" 2>&1) || true
        [ -z "$out" ] || bad "$(basename "$page"): groff: $out"
    done
fi

[ "$fail" = 0 ] && echo "ok: $(echo "$exported" | wc -l) exported symbols, $(echo "$idents" | wc -l) header identifiers documented"
exit "$fail"

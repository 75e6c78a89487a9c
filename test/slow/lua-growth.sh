#!/bin/sh
# lua-growth.sh BUILD_DIR [WORK_DIR]
#
# Lua 5.4 from Debian's sources, built with capri-cc at -O2 with
# _FORTIFY_SOURCE=2 (so longjmp is __longjmp_chk), runs test/slow/lua-errors.lua
# with a 64 KiB main stack: errors raised deep in nested C calls, across
# linked chunks, caught near the top, for many rounds. Then the same
# interpreter is built with full LTO, and the checkpoints of both builds
# are counted (calls to __morestack in the binary). Both builds also run in
# stack verification mode. Exit 1 on any failure.
set -eu
build=$(cd "$1" && pwd)
work=${2:-$build/lua-growth}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
mkdir -p "$work"

src=$("$root/scripts/debian-source.sh" lua5.4 "$build/lua/source")
echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$src/src/lua5.4-deb-multiarch.h"
sources=$(cd "$src/src" && ls *.c | grep -v -e '^luac\.c$' -e '^onelua\.c$')
flags="-O2 -D_FORTIFY_SOURCE=2 -DLUA_USE_LINUX"

for mode in plain lto; do
    out="$work/$mode"
    mkdir -p "$out"
    extra=
    [ "$mode" = lto ] && extra=-flto
    for f in $sources; do
        # shellcheck disable=SC2086
        "$build/bin/capri-cc" $flags $extra -c "$src/src/$f" -o "$out/${f%.c}.o"
    done
    # shellcheck disable=SC2086
    "$build/bin/capri-cc" $flags $extra "$out"/*.o -o "$out/lua" -lm
done

# The fortified interpreter jumps through __longjmp_chk.
if ! nm "$work/plain/ldo.o" | grep -q ' U __longjmp_chk'; then
    echo "lua-growth: the interpreter does not call __longjmp_chk" >&2
    exit 1
fi

status=0
for mode in plain lto; do
    echo "== Lua 5.4 ($mode), 64 KiB main stack"
    if ! (ulimit -s 64 && "$work/$mode/lua" "$here/lua-errors.lua" 150 200); then
        echo "lua-growth: lua ($mode) failed" >&2
        status=1
    fi
done

# Stack verification: every checkpoint of the interpreter grows onto a
# painted chunk, scanned when the call returns; a bound below what its call
# used stops the program. The error script (fewer rounds: every call is a
# growth) per file and under LTO, and the benchmark script (some 60 times
# slower than without verification: two minutes) per file.
for mode in plain lto; do
    echo "== Lua 5.4 ($mode) under CAPRI_VERIFY_STACKS=1"
    bench="$root/bench/growth/lua/bench.lua"
    [ "$mode" = plain ] || bench=
    if ! (ulimit -s 64 && CAPRI_VERIFY_STACKS=1 "$work/$mode/lua" "$here/lua-errors.lua" 150 20 &&
          { [ -z "$bench" ] || CAPRI_VERIFY_STACKS=1 "$work/$mode/lua" "$bench" >/dev/null; }); then
        echo "lua-growth: lua ($mode) failed stack verification" >&2
        status=1
    fi
done

count() { objdump -d --no-show-raw-insn "$1" | grep -c 'call.*<__morestack'; }
plain=$(count "$work/plain/lua")
lto=$(count "$work/lto/lua")
echo "== checkpoints in the Lua interpreter: $plain per-file, $lto with full LTO"
[ "$lto" -lt "$plain" ] || { echo "lua-growth: LTO did not save checkpoints" >&2; status=1; }
exit $status

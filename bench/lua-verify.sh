#!/bin/sh
# lua-verify.sh BUILD_DIR [WORK_DIR]
#
# Builds the Lua 5.4 interpreter from Debian's sources with capri-cc at -O0
# and -O2, runs it, and checks every frame estimate of the plugin against
# the backend's corrected sizes (capri-stack verify). Exit 1 if any estimate
# is below its backend size. Writes verify-O0.json and verify-O2.json in
# WORK_DIR (default BUILD_DIR/lua).
set -eu
build=$(cd "$1" && pwd)
work=${2:-$build/lua}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$work"

src=$("$root/scripts/debian-source.sh" lua5.4 "$work/source")
# Debian's patches include a header generated at package build time.
echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$src/src/lua5.4-deb-multiarch.h"

# The interpreter: every .c of src/ except luac.c and the one-file build.
sources=$(cd "$src/src" && ls *.c | grep -v -e '^luac\.c$' -e '^onelua\.c$')

status=0
for opt in O0 O2; do
    out="$work/$opt"
    mkdir -p "$out"
    for f in $sources; do
        "$build/bin/capri-cc" -"$opt" -g -DLUA_USE_LINUX -c "$src/src/$f" -o "$out/${f%.c}.o"
    done
    "$build/bin/capri-cc" -"$opt" "$out"/*.o -o "$out/lua" -lm
    # It runs, and it computes.
    result=$("$out/lua" -e 'local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end
                         local t = {} for i = 1, 100 do t[i] = tostring(i) end
                         print(fib(20), #table.concat(t, ","), string.format("%5.2f", math.pi))')
    if [ "$result" != "$(printf '6765\t291\t 3.14')" ]; then
        echo "lua-verify: lua ($opt) printed '$result'" >&2
        status=1
    fi
    echo "== Lua 5.4 at -$opt"
    "$build/bin/capri-stack" verify "$out/lua" || status=1
    "$build/bin/capri-stack" verify --format json "$out/lua" > "$work/verify-$opt.json" || status=1
done
exit $status

#!/bin/sh
# run.sh BUILD_DIR
#
# The cost of stack-limit checks, side by side in one run: recursive fib,
# binary trees and the Lua 5.4 interpreter (Debian's sources) running
# lua/bench.lua, each built five ways:
#
#   base    clang-19 -O2 -fno-plt -Wl,-z,now     no plugin: the baseline
#   capri   BUILD_DIR/bin/capri-cc -O2, with libcapri (capri-cc links the
#           whole archive; its constructors give main its limit word)
#   csplit  clang-19 -O2 -fno-plt -fsplit-stack, gold, -z now: split-stack
#           on the same code as base
#   gcc     gcc -O2, gold                         gcc split-stack's baseline
#   split   gcc -O2 -fsplit-stack, gold           split-stack as gcc does it
#
# base has the code-generation flags capri-cc adds besides the plugin
# (-fno-plt, -z now), so capri / base is the plugin's cost (with libcapri's).
# gcc's split-stack is compared with gcc without -fsplit-stack, since gcc and
# clang differ by more than any check costs (gcc inlines fib into itself);
# clang's split-stack puts the same checks on exactly base's code.
#
# Every program runs RUNS times (default 5), interleaved and in rotating
# order, for wall and CPU time (timeit.py; medians); then CG_RUNS times
# (default 3) under valgrind --tool=callgrind with a smaller input for
# instruction counts (median), minus the count of the same program doing no work (fib 0,
# binary_trees 0, bench.lua 0), so that start-up (dynamic linking,
# libcapri's constructors, split-stack's set-up) is not counted as checks.
# Lua's string-hash seed is fixed at compile time (-Dluai_makeseed): it
# otherwise mixes the time and addresses, and hash collisions then move the
# instruction count by tenths of a percent from run to run and build to
# build. Every build's output must equal the baseline's. report.py prints
# the tables (Markdown).
#
# Environment: RUNS, CG_RUNS; inputs FIB_N (default 42) and FIB_N_CG (30),
# BT_DEPTH (18) and BT_DEPTH_CG (13), LUA_SCALE (100) and LUA_SCALE_CG (2).
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/growth"
mkdir -p "$out"

runs=${RUNS:-5}
cg_runs=${CG_RUNS:-3}
fib_n=${FIB_N:-42}
fib_n_cg=${FIB_N_CG:-30}
bt_depth=${BT_DEPTH:-18}
bt_depth_cg=${BT_DEPTH_CG:-13}
lua_scale=${LUA_SCALE:-100}
lua_scale_cg=${LUA_SCALE_CG:-2}

for tool in gcc ld.gold valgrind dpkg-source objdump nm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        "$root/scripts/install-deps.sh" --bench
        break
    fi
done

clang=/usr/lib/llvm-19/bin/clang
capri_cc="$build/bin/capri-cc"
variants="base capri csplit gcc split"
capri_runtime="linked by capri-cc"

# cc VARIANT ARGS...: compile (or link) with VARIANT's compiler and flags.
cc() {
    v=$1
    shift
    case $v in
    base) "$clang" -O2 -fno-plt "$@" ;;
    capri) "$capri_cc" -O2 "$@" ;;
    csplit) "$clang" -O2 -fno-plt -fsplit-stack "$@" ;;
    gcc) gcc -O2 "$@" ;;
    split) gcc -O2 -fsplit-stack "$@" ;;
    esac
}
# link VARIANT OUTPUT OBJECTS... [-lLIB...]
link() {
    v=$1
    o=$2
    shift 2
    case $v in
    base) cc base "$@" -Wl,-z,now -o "$o" ;;
    capri)
        # capri-cc links libcapri itself; one that does not (older ones) gets
        # it here, the whole archive, as capri-cc links it.
        cc capri "$@" -o "$o"
        if ! nm "$o" | grep -q ' T capri_spawn$'; then
            cc capri "$@" -Wl,--whole-archive "$build/lib/libcapri.a" -Wl,--no-whole-archive \
                -lpthread -ldl -o "$o"
            capri_runtime="linked by run.sh (capri-cc did not link it)"
        fi ;;
    csplit) cc csplit -fuse-ld=gold "$@" -Wl,-z,now -o "$o" ;;
    gcc | split) cc "$v" -fuse-ld=gold "$@" -o "$o" ;;
    esac
}
# checks OBJECTS...: instructions that read the limit word %fs:0x70 (one per
# check, capri's or split-stack's) in the workload's own code.
checks() {
    objdump -d --no-show-raw-insn "$@" | grep -c '%fs:0x70' || true
}

results="$out/results.txt"
: > "$results"
echo "meta runs $runs" >> "$results"
echo "meta cg_runs $cg_runs" >> "$results"
# The sources BUILD_DIR was configured from, and their commit.
srcdir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
commit=$(git -C "${srcdir:-$root}" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")
if [ -n "$(git -C "${srcdir:-$root}" status --porcelain -- passes runtime tools 2>/dev/null)" ]; then
    commit="$commit with uncommitted changes in passes/, runtime/ or tools/"
fi
echo "meta commit $commit" >> "$results"
echo "meta input fib $fib_n $fib_n_cg" >> "$results"
echo "meta input bt $bt_depth $bt_depth_cg" >> "$results"
echo "meta input lua $lua_scale $lua_scale_cg" >> "$results"

echo "building fib and binary trees" >&2
for w in fib binary_trees; do
    for v in $variants; do
        mkdir -p "$out/$v"
        cc "$v" -Wall -Wextra -c "$here/$w.c" -o "$out/$v/$w.o"
        link "$v" "$out/$v/$w" "$out/$v/$w.o"
    done
done
for v in $variants; do
    n=$(checks "$out/$v/fib.o")
    echo "checks fib $v $n" >> "$results"
    n=$(checks "$out/$v/binary_trees.o")
    echo "checks bt $v $n" >> "$results"
done

echo "building Lua 5.4 (Debian's sources)" >&2
src=$("$root/scripts/debian-source.sh" lua5.4 "$build/lua/source")
# Debian's patches include a header generated at package build time.
echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$src/src/lua5.4-deb-multiarch.h"
# shellcheck disable=SC2010,SC2035 # Lua's file names are plain
lua_sources=$(cd "$src/src" && ls *.c | grep -v -e '^luac\.c$' -e '^onelua\.c$')
# build_lua VARIANT: every Lua object and the interpreter; 1 if a step fails.
build_lua() {
    d="$out/$1/lua-obj"
    rm -rf "$d" "$out/$1/lua"
    mkdir -p "$d"
    for f in $lua_sources; do
        cc "$1" -DLUA_USE_LINUX '-Dluai_makeseed(L)=0x5eedu' -c "$src/src/$f" -o "$d/${f%.c}.o" || return 1
    done
    link "$1" "$out/$1/lua" "$d"/*.o -lm || return 1
}
# A variant whose compiler cannot build Lua is left out of Lua's runs (clang
# 19's segmented stacks refuse variadic functions, and Lua has some): the
# report says so, with the compiler's message.
lua_skip=
for v in $variants; do
    if build_lua "$v" 2> "$out/$v/lua-build.err"; then
        n=$(checks "$out/$v/lua-obj"/*.o)
        echo "checks lua $v $n" >> "$results"
    elif [ "$v" = csplit ]; then
        lua_skip="$lua_skip $v"
        why=$(grep -m1 -o 'error: .*' "$out/$v/lua-build.err" || echo "the build failed")
        echo "skip lua $v $why" >> "$results"
        echo "run.sh: Lua ($v) does not build: $why" >&2
    else
        cat "$out/$v/lua-build.err" >&2
        exit 1
    fi
done
# has WORKLOAD VARIANT: whether that program was built.
has() {
    [ "$1" != lua ] && return 0
    case " $lua_skip " in *" $2 "*) return 1 ;; esac
    return 0
}

echo "meta capri_runtime $capri_runtime" >> "$results"

# prog WORKLOAD VARIANT INPUT: the command line.
prog() {
    case $1 in
    fib) echo "$out/$2/fib $3" ;;
    bt) echo "$out/$2/binary_trees $3" ;;
    lua) echo "$out/$2/lua $here/lua/bench.lua $3" ;;
    esac
}
input() {
    case $1 in
    fib) [ "$2" = cg ] && echo "$fib_n_cg" || echo "$fib_n" ;;
    bt) [ "$2" = cg ] && echo "$bt_depth_cg" || echo "$bt_depth" ;;
    lua) [ "$2" = cg ] && echo "$lua_scale_cg" || echo "$lua_scale" ;;
    esac
}

# order K: the variants rotated by K places (K = 0: the baseline first).
order() {
    # shellcheck disable=SC2086 # the list, split on purpose
    set -- $(($1 % 5)) $variants
    k=$1
    shift
    while [ "$k" -gt 0 ]; do
        first=$1
        shift
        set -- "$@" "$first"
        k=$((k - 1))
    done
    echo "$@"
}

i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    echo "run $i of $runs" >&2
    for w in fib bt lua; do
        for v in $(order $((i - 1))); do
            has "$w" "$v" || continue
            # shellcheck disable=SC2046
            t=$(python3 "$here/timeit.py" "$out/$w.$v.out" $(prog "$w" "$v" "$(input "$w" wall)"))
            echo "time $w $v ${t% *}" >> "$results"
            echo "cpu $w $v ${t#* }" >> "$results"
            if [ "$i" = 1 ] && [ "$v" != base ] && [ -f "$out/$w.base.out" ] &&
                ! cmp -s "$out/$w.base.out" "$out/$w.$v.out"; then
                echo "run.sh: $w ($v) printed something else than the baseline:" >&2
                diff "$out/$w.base.out" "$out/$w.$v.out" >&2 || true
                exit 1
            fi
        done
    done
done

# ir WORKLOAD VARIANT INPUT: instructions executed (callgrind's total).
ir() {
    cgout="$out/callgrind.out"
    # shellcheck disable=SC2046
    valgrind --tool=callgrind --callgrind-out-file="$cgout" $(prog "$1" "$2" "$3") \
        > "$out/$1.$2.cg.out" 2> "$out/$1.$2.cg.err" || {
        echo "run.sh: $1 ($2) failed under callgrind:" >&2
        cat "$out/$1.$2.cg.err" >&2
        exit 1
    }
    awk '$1 == "summary:" { print $2 }' "$cgout"
}
i=0
while [ "$i" -lt "$cg_runs" ]; do
    i=$((i + 1))
    echo "callgrind run $i of $cg_runs" >&2
    for w in fib bt lua; do
        for v in $(order $((i - 1))); do
            has "$w" "$v" || continue
            n=$(ir "$w" "$v" "$(input "$w" cg)")
            n0=$(ir "$w" "$v" 0)
            echo "ir $w $v $n" >> "$results"
            echo "ir0 $w $v $n0" >> "$results"
        done
    done
done

python3 "$here/report.py" "$results"

#!/bin/sh
# run.sh BUILD_DIR CMAKE CLANG [WORK_DIR]
#
# Installs the build into a fresh prefix (cmake --install --prefix) and
# builds test/install/sample against it, as a project outside capri's tree:
#   (a) with CMake: find_package(Capri), capri_instrument(), Capri::runtime;
#   (b) with make: the installed capri-cc, and clang with pkg-config's flags.
# Every program must run (threads spawn, block, join) and carry capri's
# metadata: the installed capri-stack must report its functions. The prefix
# is moved once before (b), so nothing may depend on where it was installed.
# WORK_DIR (default: a temporary directory, removed on success) keeps the
# prefix and the builds.
set -eu
build=$(cd "$1" && pwd)
cmake=$2
clang=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${4:-}" ]; then
    work=$4
    rm -rf "$work"
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/capri-install.XXXXXX")
fi
work=$(cd "$work" && pwd)

fail() {
    echo "install test: $*" >&2
    echo "install test: files kept in $work" >&2
    exit 1
}

# Keeps the caller's compiler settings out of the sample builds.
unset CC CFLAGS LDFLAGS CPPFLAGS PKG_CONFIG_PATH CMAKE_PREFIX_PATH CAPRI_CLANG \
      CAPRI_PLUGIN CAPRI_RUNTIME 2>/dev/null || :

prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" ||
    fail "cmake --install failed (see $work/install.log)"
echo "== installed files"
(cd "$prefix" && find . -type f -o -type l | sort)
for f in bin/capri-cc bin/capri-stack bin/capri-graph include/capri.h \
         share/man/man1/capri-cc.1 share/man/man1/capri-stack.1 share/capri/gdb/capri.py; do
    [ -e "$prefix/$f" ] || fail "$f is not installed"
done
# Nothing installed may name the build tree.
if grep -rl -F "$build" "$prefix/bin/capri-cc" "$prefix"/lib*/pkgconfig "$prefix"/lib*/cmake; then
    fail "installed files above name the build tree $build"
fi

# check NAME PROGRAM: it runs, and capri-stack reads its metadata.
check() {
    out=$("$2") || fail "$1: $2 exited with status $?"
    [ "$out" = "sample: 4 threads, sum 20" ] || fail "$1: printed '$out'"
    "$stack" --format=json --output "$2.json" "$2" || fail "$1: capri-stack failed on $2"
    python3 - "$2.json" <<'PY' || fail "$1: capri-stack's report lacks the sample's functions"
import json, sys
report = json.load(open(sys.argv[1]))
names = {step["function"] for root in report["roots"] for step in root["path"]}
names |= {root["function"] for root in report["roots"]}
missing = {"main", "sample_worker"} - names
if missing:
    print("not in the report:", ", ".join(sorted(missing)), file=sys.stderr)
    sys.exit(1)
PY
    echo "$1: ran, capri-stack reports main and sample_worker"
}

# (a) CMake: find_package(Capri) from the prefix.
stack=$prefix/bin/capri-stack
"$cmake" -S "$here/sample" -B "$work/cmake-build" -DCMAKE_C_COMPILER="$clang" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake-configure.log" 2>&1 ||
    fail "configuring the sample failed (see $work/cmake-configure.log)"
"$cmake" --build "$work/cmake-build" --verbose > "$work/cmake-build.log" 2>&1 ||
    fail "building the sample with CMake failed (see $work/cmake-build.log)"
check cmake "$work/cmake-build/sample"

# (b) make with capri-cc and pkg-config, from the prefix moved elsewhere.
mv "$prefix" "$work/moved"
prefix=$work/moved
stack=$prefix/bin/capri-stack
mkdir -p "$work/make-build"
cp "$here/sample/Makefile" "$here/sample/sample.c" "$work/make-build/"
PATH=$prefix/bin:$PATH PKG_CONFIG_PATH=$(echo "$prefix"/lib*/pkgconfig) \
    make -C "$work/make-build" CLANG="$clang" CFLAGS="-O2 -g" > "$work/make-build.log" 2>&1 ||
    fail "building the sample with make failed (see $work/make-build.log)"
check capri-cc "$work/make-build/sample-cc"
check pkg-config "$work/make-build/sample-pc"

[ -n "${4:-}" ] || rm -rf "$work"
echo "install test: passed"

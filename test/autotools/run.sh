#!/bin/sh
# run.sh BUILD_DIR [WORK_DIR]
#
# capri-cc as a drop-in for cc on an autotools project nobody here wrote:
# GNU hello from Debian's sources (scripts/debian-source.sh), configured
# and built out of its tree with CC=capri-cc, the capri-cc of a fresh
# install of BUILD_DIR (cmake --install into WORK_DIR/prefix; CMAKE names
# cmake when it is not on PATH). configure's probes (preprocessing,
# dependency output, version queries, test links and runs, -Werror checks)
# must all see a plain C compiler; the program must run, its own test suite
# must pass, and the installed capri-stack must read it. WORK_DIR defaults
# to BUILD_DIR/autotools. Exit 1 on any failure.
set -eu
build=$(cd "$1" && pwd)
work=${2:-$build/autotools}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
cmake=${CMAKE:-cmake}
mkdir -p "$work"
work=$(cd "$work" && pwd)

fail() {
    echo "autotools test: $*" >&2
    exit 1
}

unset CC CFLAGS CPPFLAGS LDFLAGS LIBS CAPRI_CLANG CAPRI_PLUGIN CAPRI_RUNTIME 2>/dev/null || :

src=$("$root/scripts/debian-source.sh" hello "$work/source")
[ -x "$src/configure" ] || fail "no configure script in $src"

prefix=$work/prefix
rm -rf "$prefix" "$work/hello-build"
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" ||
    fail "cmake --install failed (see $work/install.log)"
PATH=$prefix/bin:$PATH
export PATH

mkdir -p "$work/hello-build"
cd "$work/hello-build"
echo "== configure (CC=capri-cc)"
CC=capri-cc CFLAGS="-O2 -g" "$src/configure" > configure.out 2>&1 ||
    { tail -n 30 configure.out; fail "configure failed (see $work/hello-build/config.log)"; }
grep -e '^checking for gcc' -e '^checking whether the C compiler works' \
     -e '^checking whether capri-cc accepts -g' -e '^checking how to run the C preprocessor' \
     -e '^checking dependency style' configure.out
# A probe that fails only because of capri-cc shows up as a wrong answer.
grep -q '^checking whether capri-cc accepts -g\.\.\. yes' configure.out ||
    fail "configure found that capri-cc does not accept -g"
grep -q '^checking dependency style of capri-cc\.\.\. gcc3' configure.out ||
    fail "configure found no gcc-style dependency output in capri-cc"
echo "== make"
make -j2 > make.out 2>&1 || { tail -n 30 make.out; fail "make failed"; }
echo "== run"
greeting=$(./hello) || fail "hello exited with status $?"
[ "$greeting" = "Hello, world!" ] || fail "hello printed '$greeting'"
greeting=$(./hello -g 'Hello, capri')
[ "$greeting" = "Hello, capri" ] || fail "hello -g printed '$greeting'"
echo "$greeting"
echo "== make check"
make check > check.out 2>&1 || { tail -n 30 check.out; fail "hello's tests failed"; }
grep -E '^# (TOTAL|PASS|FAIL)' check.out || :
echo "== capri-stack"
capri-stack hello > stack.txt || fail "capri-stack failed on hello"
head -n 12 stack.txt
grep -Eq '^ +(>= )?[0-9]+ +main ' stack.txt || fail "capri-stack does not report hello's main"
echo "autotools test: passed"

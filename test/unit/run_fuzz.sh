#!/bin/sh
# run_fuzz.sh FUZZER KIND WORKDIR CLANG PYTHON MKCAPRI LLVM_BIN RUNS
#
# Build a small seed corpus (hand-made records compiled into objects, a
# linked program, an archive; for KIND=metadata just the capri_meta bytes),
# then run a libFuzzer target for a bounded number of runs. Everything lives
# in WORKDIR, which is recreated each time.
set -eu
fuzzer=$1 kind=$2 work=$3 clang=$4 python=$5 mkcapri=$6 llvm_bin=$7 runs=$8

rm -rf "$work"
mkdir -p "$work/seeds" "$work/corpus"
cd "$work"

cat > a.spec <<'SPEC'
module source=a.c flags=yield_sites
fn main file=a.c line=1 frame=64 stack=64
  call named helper line=2
  site unknown flags=stored line=2 column=3 frame=64 live=8
  call named read line=7
  site direct flags=stored primitive=read line=7 frame=64 live=16 dead=4096 dead_objects=buf=4096;tmp=64
  call local walk line=3
  call indirect type=0x11 ir=0x22 line=4 flags=cast
  call asm line=5
  call named puts line=6 flags=codegen
fn walk linkage=static line=10 frame=32 bound=3 stack=16
  call local walk line=11
fn cb line=20 frame=16 flags=address_taken,leaf type=0x11 ir=0x22
fn vla line=30 frame=8 flags=dynamic_alloca align=6
ref extern_cb type=0x11 ir=0x22
alias cb_alias fn=cb linkage=weak
alias walk_alias fn=walk linkage=static
SPEC
cat > b.spec <<'SPEC'
module source=b.c flags=coarse
fn helper file=b.c line=1 frame=48 linkage=weak stack=128
  call named main line=2 flags=tail
  call indirect type=0x33 ir=0x22 line=3 flags=type_coarse
SPEC
cat > c.spec <<'SPEC'
module source=c.c pad_before=8 version=1.3
fn lonely file=c.c line=1 frame=4
SPEC
for s in a b c; do
  "$python" "$mkcapri" $s.spec $s.c
  "$clang" -fstack-size-section -c $s.c -o $s.o
  "$clang" -fstack-size-section -fPIC -c $s.c -o $s.pic.o
done
"$clang" a.o b.o -o prog
"$clang" -shared a.pic.o b.pic.o -o lib.so
"$llvm_bin/llvm-ar" rcs lib.a a.o b.o c.o
"$llvm_bin/ld.lld" -r a.o b.o c.o -o abc.o

if [ "$kind" = metadata ]; then
  for o in a.o b.o c.o abc.o prog; do
    "$llvm_bin/llvm-objcopy" -O binary --only-section=capri_meta $o seeds/$o.meta
  done
else
  cp a.o b.o c.o abc.o prog lib.so lib.a seeds/
fi

exec "$fuzzer" -runs="$runs" -timeout=10 -max_total_time=120 -rss_limit_mb=2048 \
  -max_len=65536 corpus seeds

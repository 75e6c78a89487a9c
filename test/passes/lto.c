// Under full LTO the pre-link compiles write no record (only type
// identities, with KCFI removed), and the link (lld --load-pass-plugin)
// analyses the whole program and writes one record, flagged LTO.
// ThinLTO is rejected with a clear error.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang-capri -flto -O2 -fsanitize=kcfi -fno-sanitize=function -c %s -o %t/a.o
// RUN: %clang-capri -flto -O2 -fsanitize=kcfi -fno-sanitize=function -c %S/Inputs/lto-b.c -o %t/b.o
// RUN: llvm-dis %t/a.o -o - | FileCheck %s --check-prefix=PRELINK
// RUN: %clang -flto -fuse-ld=lld -O2 %t/a.o %t/b.o -o %t/prog -Wl,--load-pass-plugin=%plugin
// RUN: %t/prog
// RUN: llvm-readelf -x capri_meta %t/prog | FileCheck %s --check-prefix=LINKED
// RUN: llvm-readelf -S %t/prog | FileCheck %s --check-prefix=ONE
//
// RUN: not %clang-capri -flto=thin -O2 -c %s -o %t/thin.o 2>&1 | FileCheck %s --check-prefix=THIN

int leaf_in_b(int x);
int (*volatile indirect)(int) = leaf_in_b;

// Runs: an indirect call with no KCFI check left behind.
int main(void) { return indirect(3) + leaf_in_b(1) == 6 ? 0 : 1; }

// PRELINK-NOT: capri_meta
// PRELINK-NOT: kcfi
// PRELINK: !capri.type_id

// The header: magic, version, then flags = LTO (types from KCFI) | YIELD_SITES.
// LINKED: Hex dump of section 'capri_meta':
// LINKED-NEXT: 0x{{[0-9a-f]+}} 43505249 01000300 {{[0-9a-f]+}} 30000000
// LINKED-NEXT: 0x{{[0-9a-f]+}} 41000000

// ONE-COUNT-1: capri_meta
// THIN: error: capri: ThinLTO (-flto=thin) is not supported

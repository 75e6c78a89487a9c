// Callbacks of the same IR type (i32 (ptr)) but different C types must not
// be taken for each other: with KCFI type identities, the indirect call in
// run_int_cb reaches only int callbacks, so no recursion cycle appears.
// Without type identities (no -fsanitize=kcfi) the IR type is all there is,
// and the analysis says the result is coarse.
//
// RUN: %clang -O0 -fsanitize=kcfi -fno-sanitize=function -S -emit-llvm %s -o %t.ll
// RUN: %opt-capri -passes='capri-type-ids,print<capri-callgraph>,print<capri-stack>' -disable-output %t.ll | FileCheck %s --check-prefix=KCFI
// RUN: %clang -O0 -S -emit-llvm %s -o %t.coarse.ll
// RUN: %opt-capri -passes='print<capri-callgraph>,print<capri-stack>' -disable-output %t.coarse.ll | FileCheck %s --check-prefix=COARSE

struct point { int x, y; };
typedef int (*int_cb)(int *);
typedef int (*point_cb)(struct point *);

int run_point_cb(point_cb f, struct point *p);

static int int_cb_impl(int *v) { return *v + 1; }

// Calls back into run_point_cb: if the two callback types were confused,
// run_int_cb -> point_cb_impl -> run_point_cb -> ... would look recursive.
static int point_cb_impl(struct point *p) { return p->x + p->y; }

int run_int_cb(int_cb f, int *v) { return f(v); }
int run_point_cb(point_cb f, struct point *p) { return f(p); }

int main(void) {
  int v = 1;
  struct point p = {1, 2};
  return run_int_cb(int_cb_impl, &v) + run_point_cb(point_cb_impl, &p);
}

// KCFI: capri call graph (C type ids)
// KCFI-LABEL: function run_int_cb
// KCFI-NEXT:   call indirect <indirect type
// KCFI-NEXT:     -> int_cb_impl
// KCFI-NOT:      -> point_cb_impl
// KCFI-LABEL: function run_point_cb
// KCFI-NEXT:   call indirect <indirect type
// KCFI-NEXT:     -> point_cb_impl
// KCFI-NOT:      -> int_cb_impl
// KCFI-NOT: {{^}}cycle

// COARSE: capri call graph (IR types only)
// COARSE-LABEL: function run_int_cb
// COARSE-NEXT:   call indirect <indirect ir-type
// COARSE-DAG:     -> int_cb_impl
// COARSE-DAG:     -> point_cb_impl

// Function pointers in structs resolve by C type like any other indirect
// call; a function called through a pointer of another type is an edge to
// that function flagged "cast"; -fsave-optimization-record carries the
// frame remarks with their numbers.
//
// RUN: %clang -O0 -fsanitize=kcfi -fno-sanitize=function -S -emit-llvm %s -o %t.ll
// RUN: %opt-capri -passes='capri-type-ids,print<capri-callgraph>' -disable-output %t.ll | FileCheck %s
// RUN: %clang-capri -O2 -fsanitize=kcfi -fno-sanitize=function -c %s -o %t.o -fsave-optimization-record -foptimization-record-file=%t.yaml
// RUN: FileCheck %s --check-prefix=YAML < %t.yaml

struct vtable {
  int (*read)(void *self, char *buf, int n);
  int (*close)(void *self);
};

static int file_read(void *self, char *buf, int n) { (void)self; buf[0] = 'x'; return n; }
static int file_close(void *self) { (void)self; return 0; }
static int sock_close(void *self) { (void)self; return 1; }

const struct vtable file_ops = {file_read, file_close};
int (*volatile closer)(void *) = sock_close;

int drain(const struct vtable *v, void *self) {
  char buf[16];
  int n = v->read(self, buf, sizeof buf);
  return n + v->close(self);
}

long as_long(long x) { return x + 1; }

// Called through another type: the IR keeps the callee.
int call_cast(void) { return ((int (*)(int))as_long)(41); }

// CHECK-LABEL: function drain
// CHECK:   call indirect <indirect type [[READ:0x[0-9a-f]+]]>
// CHECK-NEXT:     -> file_read
// CHECK-NEXT:   call indirect <indirect type
// CHECK-DAG:     -> file_close
// CHECK-DAG:     -> sock_close
// CHECK-LABEL: function call_cast
// CHECK-NEXT:   call external as_long cast

// YAML: Pass:            capri-frame
// YAML: Name:            FrameBound
// YAML: Function:        drain
// YAML: FrameBytes:      '{{[0-9]+}}'

// Live-state remarks (-Rpass-analysis=capri-live-state) on C code: objects
// are named from debug info, the largest dead ones listed; a function
// compiled at -O0 has no lifetime markers, so everything counts as live.
//
// RUN: %clang-capri -O2 -g -c %s -o /dev/null -Rpass-analysis=capri-live-state 2>&1 | FileCheck %s
// RUN: %clang-capri -O0 -g -c %s -o /dev/null -Rpass-analysis=capri-live-state 2>&1 | FileCheck %s --check-prefix=O0
// Without debug info the IR names are gone too (clang discards them).
// RUN: %clang-capri -O2 -c %s -o /dev/null -Rpass-analysis=capri-live-state 2>&1 | FileCheck %s --check-prefix=NODEBUG

#include <stddef.h>

long read(int fd, void *buf, unsigned long n);
void fill(char *p, size_t n);
long handle(char *r);

struct request {
    char data[64];
};

long serve(int fd)
{
    struct request req;
    {
        char path[4096];
        fill(path, sizeof path);
        __builtin_memcpy(req.data, path, sizeof req.data);
    }
    long n = read(fd, req.data, sizeof req.data);
    // CHECK: live-state-remarks.c:[[@LINE-1]]:{{[0-9]+}}: remark: direct yield site read(): frame {{[0-9]+}} bytes, live {{6[4-9]|7[0-9]|8[0-9]}} bytes, dead 4096 bytes; dead here: path (4 KiB) [-Rpass-analysis=capri-live-state]
    // O0: live-state-remarks.c:[[@LINE-2]]:{{[0-9]+}}: remark: direct yield site read(): frame {{[0-9]+}} bytes, live {{[0-9]+}} bytes, dead 0 bytes (no lifetime markers: every object counted live)
    // NODEBUG: remark: direct yield site read(): frame {{[0-9]+}} bytes, live {{[0-9]+}} bytes, dead 4096 bytes; dead here: <unnamed> (4 KiB)
    return n + handle(req.data);
}

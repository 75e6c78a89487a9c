// -capri-shrink-yield-frames on C: the program's results are the same
// with and without the pass, the 4 KiB buffer leaves the frame that
// blocks in read (the remark), and capri-stack's dead-state finding for
// that read goes away.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang-capri -O2 -g %s -o %t/plain
// RUN: %clang-capri -O2 -g %s -o %t/shrunk -mllvm -capri-shrink-yield-frames -Rpass=capri-shrink 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: %t/plain | FileCheck %s
// RUN: %t/shrunk | FileCheck %s
// RUN: not %capri-stack --fail-on dead-state %t/plain | FileCheck %s --check-prefix=PLAIN
// RUN: %capri-stack --fail-on dead-state %t/shrunk | FileCheck %s --check-prefix=SHRUNK
// REMARK: remark: moved path (4096 bytes) out of the frame of serve into serve.capri.shrink
// CHECK: served 7 bytes of /srv/www/3/index.html (21): hello, 
// PLAIN: at {{.*}}shrink-run.c:[[#LINE:]], read(): {{.*}}`path` (4 KiB) is dead here
// PLAIN: Result: FAIL: dead-state (1)
// SHRUNK-NOT: `path`
// SHRUNK: Result: clean

#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) static long serve(int fd, int id, char *out, size_t len)
{
    size_t name_len;
    {
        char path[4096];
        snprintf(path, sizeof path, "/srv/www/%d/index.html", id);
        name_len = strlen(path);
        snprintf(out, len, "%s (%zu)", path, name_len);
    }
    char req[64];
    long n = read(fd, req, sizeof req - 1);
    if (n < 0)
        return -1;
    req[n] = '\0';
    size_t used = strlen(out);
    snprintf(out + used, len - used, ": %s", req);
    return n;
}

int main(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    if (write(p[1], "hello, ", 7) != 7)
        return 1;
    char out[256];
    long n = serve(p[0], 3, out, sizeof out);
    printf("served %ld bytes of %s\n", n, out);
    return 0;
}

/*
 * Resolving the next definitions of the interposed I/O calls (io_next.h).
 */
#include "io_next.h"

#include "interpose.h"
#include "log.h"

struct io_next io_next_fn;

/* A sanitizer's interceptors, when one is linked (interpose.c). */
#define IO_NEXT_WEAK(name, ret, params)                                                  \
    extern ret __interceptor_##name params __attribute__((weak));
IO_NEXT_LIST(IO_NEXT_WEAK)
#undef IO_NEXT_WEAK

void io_next_resolve(void)
{
#define IO_NEXT_RESOLVE(name, ret, params)                                               \
    if (!load_relaxed(&io_next_fn.name))                                                 \
        store_relaxed(&io_next_fn.name,                                                  \
                      (ret(*) params)interpose_next(#name, (void *)__interceptor_##name));
    IO_NEXT_LIST(IO_NEXT_RESOLVE)
#undef IO_NEXT_RESOLVE
    /* Every libc has read: without it the dynamic linker is not there to
     * ask (a -static program), and every interposer would call NULL. */
    if (!load_relaxed(&io_next_fn.read))
        capri_fatal("libc's read was not found through the dynamic linker: a program "
                    "linked with -static cannot use libcapri; link it dynamically");
}

/* Before the program's constructors (101: libcapri's own). */
__attribute__((constructor(101))) static void io_next_init(void) { io_next_resolve(); }

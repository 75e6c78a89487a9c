/*
 * Finding the next definition of a symbol libcapri interposes.
 *
 * Two link layouts matter, and they need opposite answers:
 *
 *  - libcapri.a linked into the program: our strong definition of, say,
 *    `sigaction` wins over a sanitizer's weak one in the same executable,
 *    so nobody calls the sanitizer's interceptor unless we do. The next
 *    definition is the interceptor (`__interceptor_<name>`, which the
 *    sanitizer then chains to libc).
 *  - libcapri.so with the sanitizer runtime in the executable: the
 *    executable's interceptor comes first in the lookup order and already
 *    ran; it found *us* with dlsym(RTLD_NEXT) as its "real" function.
 *    Calling the interceptor again would loop, so the next definition is
 *    dlsym(RTLD_NEXT) from libcapri.so (libc).
 *
 * They are told apart by where the global definition of `name` lives: in
 * the object that holds libcapri (we are first: use the interceptor when
 * there is one) or elsewhere (someone before us chains to us: RTLD_NEXT).
 *
 * Not async-signal-safe (dlsym, dladdr): resolve in constructors.
 */
#include "interpose.h"

#include <dlfcn.h>
#include <stddef.h>

/* The load address of the object that defines addr, or NULL. */
static void *object_of(const void *addr)
{
    Dl_info info;
    if (!addr || !dladdr(addr, &info))
        return NULL;
    return info.dli_fbase;
}

/* True when the definition of `name` that the program's calls bind to is
 * in the same object as libcapri (so our interposer is the first one). */
static int libcapri_binds_first(const char *name)
{
    void *global = dlsym(RTLD_DEFAULT, name);
    void *ours = object_of((const void *)&interpose_next);
    if (!global || !ours)
        return 1;
    return object_of(global) == ours;
}

void *interpose_next(const char *name, void *interceptor)
{
    if (interceptor && libcapri_binds_first(name))
        return interceptor;
    return dlsym(RTLD_NEXT, name);
}

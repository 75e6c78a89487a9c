/* libcapri's messages, async-signal-safe but for log_append_place (see log.h). */
#include "log.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "thread.h"

char *log_append(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

char *log_append_u64(char *p, char *end, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

char *log_append_hex(char *p, char *end, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    p = log_append(p, end, "0x");
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

static void emit(const char *kind, const char *msg, const struct capri_thread *t)
{
    char buf[512];
    char *p = buf, *end = buf + sizeof buf - 1;
    p = log_append(p, end, "capri: ");
    p = log_append(p, end, kind);
    p = log_append(p, end, msg);
    if (t) {
        p = log_append(p, end, " (thread ");
        p = log_append_u64(p, end, (unsigned long long)t->handle);
        p = log_append(p, end, " \"");
        p = log_append(p, end, thread_name(t));
        p = log_append(p, end, "\")");
    }
    *p++ = '\n';
    sys_write(2, buf, (size_t)(p - buf));
}

void capri_warn(const char *msg) { emit("warning: ", msg, NULL); }

_Noreturn void capri_fatal(const char *msg)
{
    emit("fatal: ", msg, NULL);
    abort();
}

_Noreturn void capri_fatal_thread(const char *msg, const struct capri_thread *t)
{
    emit("fatal: ", msg, t);
    abort();
}

char *log_append_place(char *p, char *end, const void *addr)
{
    Dl_info info;
    if (!dladdr(addr, &info) || !info.dli_fname)
        return log_append_hex(log_append(p, end, "?? at "), end, (uintptr_t)addr);
    if (info.dli_sname) {
        p = log_append(p, end, info.dli_sname);
        p = log_append_hex(log_append(p, end, "+"), end, (uintptr_t)addr - (uintptr_t)info.dli_saddr);
    } else {
        p = log_append(p, end, "??");
    }
    p = log_append(log_append(p, end, " ("), end, info.dli_fname);
    p = log_append_hex(log_append(p, end, "+"), end, (uintptr_t)addr - (uintptr_t)info.dli_fbase);
    return log_append(p, end, ")");
}

/* libcapri's messages: written with write(2) directly, so they work in
 * signal handlers and never touch stdio's locks or errno. */
#ifndef CAPRI_LOG_H
#define CAPRI_LOG_H

struct capri_thread;

/* "capri: warning: <msg>" once per call site is the caller's business. */
void capri_warn(const char *msg);
/* "capri: fatal: <msg>" and abort. */
_Noreturn void capri_fatal(const char *msg);
/* "capri: fatal: <msg> (thread <id> "<name>")" and abort. */
_Noreturn void capri_fatal_thread(const char *msg, const struct capri_thread *t);
/* Appends decimal/hex numbers to a buffer (async-signal-safe helpers). */
char *log_append(char *p, char *end, const char *s);
char *log_append_u64(char *p, char *end, unsigned long long v);
char *log_append_hex(char *p, char *end, unsigned long long v);
/* "name+0xoff (object+0xoff)" for a code address ("??" for a function
 * without a dynamic symbol: the object's offset is for addr2line; "?? at
 * 0x..." outside any object). Not async-signal-safe: dladdr takes the
 * loader's lock. */
char *log_append_place(char *p, char *end, const void *addr);

#endif

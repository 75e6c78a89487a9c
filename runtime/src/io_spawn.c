/*
 * What a new program sees (docs/io-design.md, "fork, exec, spawn"): the
 * O_NONBLOCK capri set on sockets it created (listeners, sockets sendfile
 * writes to) must not reach another program, which would find its
 * inherited descriptors non-blocking. Before fork (the pthread_atfork
 * prepare handler: fork.c; it runs for daemon and forkpty too), before
 * each exec call, and before posix_spawn, popen and system, capri clears
 * the flags it holds on every descriptor that is not close-on-exec. The
 * child shares those descriptions, so the process goes on without the
 * flags on them: accept waits for readiness and then accepts as libc
 * would, connect and sendfile are libc's (descriptors made close-on-exec,
 * as servers make theirs, keep the fast paths).
 *
 * The nonblock gate keeps a try that relies on capri's flag (set the flag,
 * then accept, connect or sendfile) from running while a fork or exec
 * clears the flags, where it would block its kernel thread, and from
 * setting a flag again between the clearing and the fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io_next.h"
#include "io_wait.h"
#include "sys.h"

/* reactor.c refers to this, so a static link always takes this file. */
const int io_spawn_linked = 1;

/* Tries inside the gate, and how many forks or execs hold it closed. */
static unsigned gate_users;
static unsigned gate_closed;

void nonblock_gate_enter(void)
{
    for (;;) {
        __atomic_fetch_add(&gate_users, 1u, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&gate_closed, __ATOMIC_SEQ_CST))
            return;
        /* A fork or exec is clearing the flags: wait (it is short). */
        __atomic_fetch_sub(&gate_users, 1u, __ATOMIC_SEQ_CST);
        while (load_acquire(&gate_closed))
            cpu_relax();
    }
}

void nonblock_gate_leave(void) { __atomic_fetch_sub(&gate_users, 1u, __ATOMIC_RELEASE); }

/* Clears capri's flag on fd's description and marks it exported: another
 * program may hold the description from now on, so the flag must never
 * come back; the calls take their flag-free paths (accept waits for
 * readiness, then accepts as libc would). */
static void export_one(int fd, struct fd_entry *e)
{
    long fl = sys_call6(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
    if (fl >= 0 && (fl & O_NONBLOCK) && load_relaxed(&e->capri_nonblock))
        sys_call6(SYS_fcntl, fd, F_SETFL, fl & ~(long)O_NONBLOCK, 0, 0, 0);
    store_relaxed(&e->exported, (uint8_t)1);
    store_relaxed(&e->capri_nonblock, (uint8_t)0);
}

/* fork and exec: every descriptor capri flagged or may flag (a socket this
 * process made) that another program can inherit. */
static void clear_inheritable(int fd, struct fd_entry *e)
{
    long fd_flags = sys_call6(SYS_fcntl, fd, F_GETFD, 0, 0, 0, 0);
    if (fd_flags < 0)
        return;
    if (fd_flags & FD_CLOEXEC) {
        /* Gone at exec, but a forked child may dup2 it to a number that
         * stays and exec: that clears the flag on the description this
         * process shares. From now on the flag is checked before a try
         * relies on it (io_fd.c). */
        if (load_relaxed(&e->capri_nonblock))
            store_relaxed(&e->flag_unsure, (uint8_t)1);
        return;
    }
    export_one(fd, e);
}

/* posix_spawn with file actions: a dup2 action can hand a close-on-exec
 * descriptor to the new program too. */
static void clear_any(int fd, struct fd_entry *e)
{
    if (sys_call6(SYS_fcntl, fd, F_GETFD, 0, 0, 0, 0) >= 0)
        export_one(fd, e);
}

static void gate_close(void)
{
    /* The gate is seq_cst both ways: a try that entered before the close
     * is waited for; one that comes after waits for the reopening. */
    __atomic_fetch_add(&gate_closed, 1u, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&gate_users, __ATOMIC_SEQ_CST) != 0)
        cpu_relax();
}

void nonblock_gate_close_and_clear(void)
{
    gate_close();
    fd_table_each_flaggable(clear_inheritable);
}

/* A descriptor sent to another process: the receiver shares its
 * description. The gate is closed at the first one that needs it. */
static void export_passed(int fd, void *arg)
{
    bool *closed = arg;
    struct fd_entry *e = fd_entry(fd, false);
    if (!e || !(load_relaxed(&e->capri_nonblock) || load_relaxed(&e->created)))
        return;
    if (!*closed) {
        gate_close();
        *closed = true;
    }
    export_one(fd, e);
}

void io_sending_fds(const struct msghdr *msg)
{
    if (!io_table_context())
        return;
    bool closed = false;
    io_each_passed_fd(msg, export_passed, &closed);
    if (closed)
        nonblock_gate_reopen();
}

void nonblock_gate_reopen(void) { __atomic_fetch_sub(&gate_closed, 1u, __ATOMIC_RELEASE); }

void nonblock_gate_reset_in_child(void)
{
    /* Only the forking thread exists: nobody is inside the gate. */
    store_relaxed(&gate_users, 0u);
    store_release(&gate_closed, 0u);
}

/* ---- exec: the flags go first; if exec fails, the process goes on ------------ */

/* `call` with capri's flags cleared first (exec, posix_spawn, popen: they
 * return once the new program runs, or failed to; glibc's spawn waits for
 * its child's exec, so the gate stays closed that long only). */
#define CLEARED_FIRST(type, call)                                                        \
    do {                                                                                 \
        if (io_table_context())                                                          \
            nonblock_gate_close_and_clear();                                             \
        type result_ = (call);                                                           \
        if (io_table_context())                                                          \
            nonblock_gate_reopen();                                                      \
        return result_;                                                                  \
    } while (0)
int execve(const char *path, char *const argv[], char *const envp[])
{
    CLEARED_FIRST(int, IO_NEXT(execve)(path, argv, envp));
}

int execv(const char *path, char *const argv[]) { CLEARED_FIRST(int, IO_NEXT(execv)(path, argv)); }

int execvp(const char *file, char *const argv[]) { CLEARED_FIRST(int, IO_NEXT(execvp)(file, argv)); }

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    CLEARED_FIRST(int, IO_NEXT(execvpe)(file, argv, envp));
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    CLEARED_FIRST(int, IO_NEXT(fexecve)(fd, argv, envp));
}

/* The list forms: their arguments as an array (on the heap: a capri
 * thread's stack is small, and the image goes at exec anyway). */
static char **gather(const char *arg0, va_list ap, char ***envp)
{
    va_list count;
    va_copy(count, ap);
    size_t n = 1;
    if (arg0)
        while (va_arg(count, char *) != NULL)
            n++;
    va_end(count);
    char **argv = malloc((n + 1) * sizeof *argv);
    if (!argv)
        return NULL;
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++)
        argv[i] = arg0 ? va_arg(ap, char *) : NULL; /* the last is the NULL */
    if (envp)
        *envp = va_arg(ap, char **);
    return argv;
}

int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **argv = gather(arg, ap, NULL);
    va_end(ap);
    if (!argv) {
        errno = ENOMEM;
        return -1;
    }
    int r = execv(path, argv);
    free(argv);
    return r;
}

int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **argv = gather(arg, ap, NULL);
    va_end(ap);
    if (!argv) {
        errno = ENOMEM;
        return -1;
    }
    int r = execvp(file, argv);
    free(argv);
    return r;
}

int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    char **envp = NULL;
    char **argv = gather(arg, ap, &envp);
    va_end(ap);
    if (!argv) {
        errno = ENOMEM;
        return -1;
    }
    int r = execve(path, argv, envp);
    free(argv);
    return r;
}

/* ---- spawning: the child is exec'd at once; the parent goes on ------------------ */

/* With file actions, close-on-exec descriptors too (a dup2 action). */
static void clear_for_spawn(const posix_spawn_file_actions_t *actions)
{
    if (!io_table_context())
        return;
    gate_close();
    fd_table_each_flaggable(actions ? clear_any : clear_inheritable);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    clear_for_spawn(actions);
    int r = IO_NEXT(posix_spawn)(pid, path, actions, attr, argv, envp);
    if (io_table_context())
        nonblock_gate_reopen();
    return r;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    clear_for_spawn(actions);
    int r = IO_NEXT(posix_spawnp)(pid, file, actions, attr, argv, envp);
    if (io_table_context())
        nonblock_gate_reopen();
    return r;
}

FILE *popen(const char *command, const char *mode)
{
    CLEARED_FIRST(FILE *, IO_NEXT(popen)(command, mode));
}

/* system waits for its child, in libc: the gate cannot stay closed that
 * long (every accept and sendfile try would wait), so it reopens before
 * the call. A try on another kernel thread in the microseconds before the
 * child starts may set a flag again (documented). */
int system(const char *command)
{
    if (io_table_context()) {
        nonblock_gate_close_and_clear();
        nonblock_gate_reopen();
    }
    return IO_NEXT(system)(command);
}

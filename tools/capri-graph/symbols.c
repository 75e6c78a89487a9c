/*
 * Address-only sites to source lines (symbols.h). One addr2line run per
 * address: a dump names few of them, and a run per address needs no
 * protocol with a long-lived child.
 */
#include "symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The offset as a file virtual address: a position-independent object's
 * base is its address 0; a fixed-address executable's base is where its
 * first segment starts (dladdr's base is the mapping's start). */
static unsigned long file_address(const char *object, unsigned long offset)
{
    int fd = open(object, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return offset;
    Elf64_Ehdr eh;
    unsigned long base = 0;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_type == ET_EXEC) {
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_LOAD) {
                base = ph.p_vaddr & ~(unsigned long)0xfff;
                break;
            }
        }
    }
    close(fd);
    return base + offset;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
}

int symbols_lookup(const char *object, unsigned long offset, struct symbol *out)
{
    memset(out, 0, sizeof *out);
    char addr[32];
    snprintf(addr, sizeof addr, "0x%lx", file_address(object, offset));
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"addr2line", "-f", "-C", "-e", (char *)object, addr, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "addr2line", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return -1;
    }
    FILE *in = fdopen(fds[0], "r");
    char fn[256] = "", where[640] = "";
    if (in) {
        if (!fgets(fn, sizeof fn, in) || !fgets(where, sizeof where, in))
            fn[0] = where[0] = 0;
        fclose(in);
    } else {
        close(fds[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    chomp(fn);
    chomp(where);
    if (strcmp(fn, "??") != 0)
        snprintf(out->function, sizeof out->function, "%s", fn);
    /* "file:line" or "file:line (discriminator n)"; "??:0" or "??:?" when unknown. */
    char *colon = strrchr(where, ':');
    if (colon && strncmp(where, "??", 2) != 0) {
        *colon = 0;
        out->line = (unsigned)strtoul(colon + 1, NULL, 10);
        snprintf(out->file, sizeof out->file, "%s", where);
    }
    return out->function[0] || out->file[0] ? 0 : -1;
}

/*
 * Metadata registration: records handed over by module constructors are
 * validated when the runtime starts; a record this libcapri cannot read (a
 * newer major version, corrupt) stops the program with a message naming
 * the problem, and an unregistered record is no longer read. Each case runs
 * in a child process, before the runtime starts there.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capri.h"
#include "md_builder.h"
#include "modules.h"
#include "test.h"

void __capri_register_module(void *record);
void __capri_unregister_module(void *record);

static uint8_t *record_of_version(uint16_t major, size_t *size)
{
    struct mdb b;
    mdb_init(&b);
    b.major = major;
    uint32_t f = mdb_fn(&b, "worker", 64);
    uint32_t g = mdb_fn(&b, "helper", 32);
    mdb_local(&b, f, g);
    uint8_t *rec = mdb_build(&b, size);
    mdb_free(&b);
    return rec;
}

static void *nothing(void *arg) { return arg; }

/* Runs body in a child with stderr captured; returns the wait status. */
static int child(void (*body)(void), char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        body();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < errlen && (n = read(fds[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = 0;
    close(fds[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static void start_runtime(void)
{
    capri_t t;
    if (capri_spawn(&t, nothing, NULL, NULL) != 0 || capri_join(t, NULL) != 0)
        _exit(3);
}

static void good_records(void)
{
    size_t size;
    __capri_register_module(record_of_version(1, &size));
    __capri_register_module(record_of_version(1, &size));
    start_runtime();
    _exit(modules_load() == 2 ? 0 : 4);
}

static void newer_record(void)
{
    size_t size;
    __capri_register_module(record_of_version(1, &size));
    __capri_register_module(record_of_version(2, &size));
    start_runtime();
}

static void corrupt_record(void)
{
    size_t size;
    uint8_t *rec = record_of_version(1, &size);
    struct capri_md_header *h = (struct capri_md_header *)rec;
    h->function_count = 1000000; /* tables far larger than the record */
    __capri_register_module(rec);
    start_runtime();
}

static void unregistered_record(void)
{
    size_t size;
    uint8_t *bad = record_of_version(2, &size);
    __capri_register_module(bad);
    __capri_register_module(record_of_version(1, &size));
    __capri_unregister_module(bad); /* a dlclose'd module: no longer read */
    start_runtime();
    _exit(modules_load() == 1 ? 0 : 4);
}

static void test_good(void)
{
    char err[1024];
    int st = child(good_records, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(strlen(err), 0);
}

static void test_newer_version(void)
{
    char err[1024];
    int st = child(newer_record, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK_CONTAINS(err, "capri: fatal: unreadable capri metadata record (newer version)");
    CHECK_CONTAINS(err, "is newer than this reader's version 1.");
    CHECK_CONTAINS(err, "use a capri built from the same release as the plugin");
}

static void test_corrupt(void)
{
    char err[1024];
    int st = child(corrupt_record, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK_CONTAINS(err, "capri: fatal: unreadable capri metadata record");
}

static void test_unregistered(void)
{
    char err[1024];
    int st = child(unregistered_record, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    RUN(test_good);
    RUN(test_newer_version);
    RUN(test_corrupt);
    RUN(test_unregistered);
    return test_summary("test_modules");
}

// The blocking graph end to end: a program built without the plugin parks
// in read() and in capri_sem_wait; CAPRI_BLOCKING_GRAPH writes the dump at
// exit, and capri-graph names the address-only sites from their objects'
// debug information, draws the edges with counts and writes SVG.
// RUN: %clang -g -O1 -I %src_root/runtime/include %s %capri-rt-link -o %t
// RUN: rm -f %t.json %t.json.dot
// RUN: env CAPRI_SCHEDULERS=1 CAPRI_BLOCKING_GRAPH=%t.json %t
// RUN: FileCheck %s --check-prefix=JSON < %t.json
// RUN: FileCheck %s --check-prefix=RAWDOT < %t.json.dot
// RUN: %capri-graph %t.json > %t.dot
// RUN: FileCheck %s --check-prefix=DOT < %t.dot
// RUN: %capri-graph --no-symbols --output %t.nosym.dot %t.json
// RUN: FileCheck %s --check-prefix=NOSYM < %t.nosym.dot
// RUN: not %capri-graph %s 2> %t.err
// RUN: FileCheck %s --check-prefix=BAD < %t.err
//
// JSON: "version": 1
// JSON: "kind": "address"
// JSON: "count": 3,
// RAWDOT: digraph blocking_graph {
// RAWDOT: -> {{.*}}[label="3 x
//
// DOT: digraph blocking_graph {
// DOT-DAG: [label="wait_for_byte\nblocking-graph.c:39\nwaiting 0"]
// DOT-DAG: [label="wait_for_turn\nblocking-graph.c:46\nwaiting 0"]
// DOT-DAG: [label="3 x {{[0-9.]+}} us\n{{[0-9]+}}% of time", penwidth={{[0-9.]+}}, color=
// NOSYM: [label="{{.*}}blocking-graph.c.tmp+0x{{[0-9a-f]+}}\nwaiting 0"]
// BAD: capri-graph: {{.*}}blocking-graph.c: expected a value
#include <capri.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];
static capri_sem_t turn;

static __attribute__((noinline)) void wait_for_byte(void)
{
    char c;
    if (read(fds[0], &c, 1) != 1)
        perror("read");
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void wait_for_turn(void)
{
    capri_sem_wait(&turn);
    __asm__ volatile("" ::: "memory");
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        wait_for_byte();
        wait_for_turn();
    }
    return NULL;
}

int main(void)
{
    if (pipe(fds) != 0)
        return 1;
    capri_sem_init(&turn, 0);
    capri_t t;
    if (capri_spawn(&t, worker, NULL, NULL) != 0)
        return 1;
    /* Each sleep lets the worker reach its next wait first. */
    for (int i = 0; i < 3; i++) {
        capri_sleep_ns(1000000);
        if (write(fds[1], "x", 1) != 1)
            return 1;
        capri_sleep_ns(1000000);
        capri_sem_post(&turn);
    }
    return capri_join(t, NULL);
}

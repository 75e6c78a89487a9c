/*
 * The program gdb's backtrace-across-chunks tests debug
 * (test/unit/gdb/CMakeLists.txt, unit.gdb.grow.*): stack growth through
 * __morestack, called by hand as the plugin's checks will call it.
 *
 *  - "grower" (4 KiB first chunk) recurses through level(0..5), each level
 *    calling the next through __morestack, so the recursion spans six
 *    chunks; in the innermost level it calls grow_stop_here(), where gdb
 *    breaks and runs `bt`. The needs are chosen so that the chunks come
 *    from different size classes, whose slabs the pool carved at different
 *    times: the chain goes to higher and to lower addresses (gdb accepts a
 *    caller frame at a lower address than its callee's only across a frame
 *    named __morestack). The program prints how often each happened.
 *  - "chunk-sleeper" grows three chunks deep and blocks there on a
 *    semaphore (`capri bt chunk-sleeper` unwinds it from its saved context
 *    through the chunks).
 *
 * Run without gdb it checks the chunk addresses, cleans up and exits 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capri.h"
#include "grow.h"
#include "limit.h"

#define LEVELS 5

/* Per level, the need of its growth: chunk classes 2, 0, 3, 1, 0 (16, 4,
 * 32, 8, 4 KiB), after a first chunk of class 0. */
static const uint64_t level_need[LEVELS] = {12000, 1000, 28000, 6000, 1000};
uintptr_t chunk_limit[LEVELS + 1];
int went_up, went_down;
static volatile int sink;

__attribute__((noinline)) void grow_stop_here(void);
__attribute__((noinline)) void grow_stop_here(void) { __asm__ volatile("" ::: "memory"); }

struct level_block {
    int n;
    int result;
};

static void level_thunk(void *p);

__attribute__((noinline)) static int level(int n)
{
    chunk_limit[n] = limit_read();
    if (n == LEVELS) {
        for (int i = 0; i < LEVELS; i++) {
            went_up += chunk_limit[i + 1] > chunk_limit[i];
            went_down += chunk_limit[i + 1] < chunk_limit[i];
        }
        grow_stop_here();
        return n;
    }
    struct level_block b = {n + 1, 0};
    __morestack(level_thunk, &b, level_need[n]);
    return b.result + 1;
}

static void level_thunk(void *p)
{
    struct level_block *b = p;
    b->result = level(b->n);
}

static void *grower_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)level(0);
}

/* ---- a thread blocked three chunks deep ---------------------------------- */

static capri_sem_t sleeper_ready, sleeper_go;

static void sleeper_thunk(void *p);

__attribute__((noinline)) static int sleeper_level(int n)
{
    if (n == 3) {
        capri_sem_post(&sleeper_ready);
        capri_sem_wait(&sleeper_go);
        return n;
    }
    struct level_block b = {n + 1, 0};
    __morestack(sleeper_thunk, &b, 20000);
    sink += b.result;
    return b.result + 1;
}

static void sleeper_thunk(void *p)
{
    struct level_block *b = p;
    b->result = sleeper_level(b->n);
}

static void *sleeper_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)sleeper_level(0);
}

int main(void)
{
    if (capri_config(CAPRI_CONFIG_SCHEDULERS, 1) != 0)
        return 1;
    capri_sem_init(&sleeper_ready, 0);
    capri_sem_init(&sleeper_go, 0);
    capri_attr_t sattr;
    memset(&sattr, 0, sizeof sattr);
    sattr.name = "chunk-sleeper";
    capri_t sleeper;
    if (capri_spawn(&sleeper, sleeper_main, NULL, &sattr) != 0)
        return 1;
    capri_sem_wait(&sleeper_ready);

    capri_attr_t gattr;
    memset(&gattr, 0, sizeof gattr);
    gattr.name = "grower";
    gattr.stack_size = 4096;
    capri_t grower;
    void *r = NULL;
    if (capri_spawn(&grower, grower_main, NULL, &gattr) != 0 || capri_join(grower, &r) != 0)
        return 1;
    printf("grow_bt: chunk addresses went up %d and down %d times\n", went_up, went_down);

    capri_sem_post(&sleeper_go);
    void *s = NULL;
    if (capri_join(sleeper, &s) != 0)
        return 1;
    int ok = (intptr_t)r == 2 * LEVELS && (intptr_t)s == 6 && went_up > 0 && went_down > 0;
    printf("grow_bt: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

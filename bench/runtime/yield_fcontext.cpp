// yield_fcontext: Boost.Context fcontext switches among 100 contexts, round
// robin, on one kernel thread (the peer of yield_capri).
//
// 100 contexts made with make_fcontext on malloc'ed 64 KiB stacks; context
// k jumps to context k+1 (mod 100) with jump_fcontext, ITERS times each,
// doing the same counter work as yield_capri. The context that arrives
// stores the fcontext of the one it came from in that one's slot, so the
// slots always hold the suspended contexts. No scheduler, no queue: the
// cheapest possible round robin, the floor a scheduler's yield is held to.
//
// Checks: the counter ends at 100 * ITERS, and every context finds that
// exactly 99 others ran between two of its turns.
//
// Output: "yield.fcontext <ns per switch>". Usage: yield_fcontext [ITERS] [NTHREADS]
#include <boost/context/detail/fcontext.hpp>

#include "common.h"

namespace ctx = boost::context::detail;

enum { MAX_THREADS = 10000 };
static int nthreads = 100;
static const std::size_t STACK = 64 * 1024;

static long iters;
static ctx::fcontext_t slot[MAX_THREADS]; // suspended contexts
static ctx::fcontext_t main_ctx;
static uint64_t progress, anomalies;

static void entry(ctx::transfer_t t)
{
    int me = (int)(intptr_t)t.data;
    int prev = (me + nthreads - 1) % nthreads;
    int next = (me + 1) % nthreads;
    if (me == 0)
        main_ctx = t.fctx;
    else
        slot[prev] = t.fctx;
    for (long i = 0; i < iters; i++) {
        uint64_t before = ++progress;
        if (me == nthreads - 1 && i == iters - 1)
            ctx::jump_fcontext(main_ctx, nullptr); // the very last switch; never resumed
        t = ctx::jump_fcontext(slot[next], (void *)(intptr_t)next);
        slot[prev] = t.fctx;
        if (progress - before != (uint64_t)nthreads - 1)
            anomalies++;
    }
    std::abort(); // unreachable: the last context left through main_ctx
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? std::atol(argv[1]) : 100000;
    nthreads = argc > 2 ? std::atoi(argv[2]) : 100;
    if (nthreads < 2 || nthreads > MAX_THREADS)
        bench_fail("NTHREADS must be 2..%d", MAX_THREADS);
    for (int i = 0; i < nthreads; i++) {
        char *mem = static_cast<char *>(std::malloc(STACK));
        slot[i] = ctx::make_fcontext(mem + STACK, STACK, entry);
    }
    uint64_t t0 = bench_now_ns();
    ctx::jump_fcontext(slot[0], (void *)(intptr_t)0);
    uint64_t t1 = bench_now_ns();
    uint64_t switches = (uint64_t)nthreads * (uint64_t)iters;
    if (progress != switches)
        bench_fail("counter %llu, expected %llu", (unsigned long long)progress,
                   (unsigned long long)switches);
    // A context's first jump lands in a fresh context, whose "before" was
    // taken by nobody: only the first round may count as anomalies.
    if (anomalies > 2 * (uint64_t)nthreads)
        bench_fail("%llu anomalies", (unsigned long long)anomalies);
    bench_result("yield.fcontext", (double)(t1 - t0) / (double)switches);
    return 0;
}

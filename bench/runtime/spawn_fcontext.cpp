// spawn_fcontext: a Boost.Context fcontext made on a pooled stack and run to
// completion, one at a time (the peer of spawn_capri).
//
// One 64 KiB stack, allocated and touched once (a warm pool of one, the
// best case for a pool): each pair is make_fcontext on it, a jump into the
// new context, which computes its result and jumps back with it (the
// context is then finished and its stack reused). That is what a spawn and
// join cost with no scheduler, no handle and no bookkeeping.
//
// Checks: every context hands back arg + 1.
//
// Output: "spawn.fcontext <ns per pair>". Usage: spawn_fcontext [N]
#include <boost/context/detail/fcontext.hpp>

#include <cstring>

#include "common.h"

namespace ctx = boost::context::detail;

static void entry(ctx::transfer_t t)
{
    ctx::jump_fcontext(t.fctx, (char *)t.data + 1);
    std::abort(); // a finished context is never resumed
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? std::atol(argv[1]) : 10000000;
    const std::size_t stack = 64 * 1024;
    char *mem = static_cast<char *>(std::malloc(stack));
    std::memset(mem, 0, stack);
    char *top = mem + stack;
    long warm = 10000;
    uint64_t t0 = 0;
    for (long i = 0; i < warm + n; i++) {
        if (i == warm)
            t0 = bench_now_ns();
        ctx::fcontext_t c = ctx::make_fcontext(top, stack, entry);
        ctx::transfer_t t = ctx::jump_fcontext(c, (void *)(intptr_t)i);
        if (t.data != (void *)(intptr_t)(i + 1))
            bench_fail("context %ld returned %p", i, t.data);
    }
    uint64_t t1 = bench_now_ns();
    bench_result("spawn.fcontext", (double)(t1 - t0) / (double)n);
    return 0;
}

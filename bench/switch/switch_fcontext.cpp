// Two Boost.Context fcontexts alternating: ns per switch (jump_fcontext).
#include <boost/context/detail/fcontext.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace ctx = boost::context::detail;

static long rounds;
static ctx::fcontext_t ping_ctx, pong_ctx;

static void pong(ctx::transfer_t t)
{
    for (;;)
        t = ctx::jump_fcontext(t.fctx, nullptr);
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? std::atol(argv[1]) : 10000000;
    const std::size_t stack = 64 * 1024;
    char *mem = static_cast<char *>(std::malloc(stack));
    pong_ctx = ctx::make_fcontext(mem + stack, stack, pong);
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ctx::transfer_t t = ctx::jump_fcontext(pong_ctx, nullptr);
    for (long i = 1; i < rounds; i++)
        t = ctx::jump_fcontext(t.fctx, nullptr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    std::printf("%.2f\n", ns / (2.0 * rounds)); // two jumps per round
    return 0;
}

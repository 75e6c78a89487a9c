/* The other file of test/e2e/bounds-startup.c: every call into it from
 * there is a cross-file checkpoint, which the plugin charges its external
 * reserve (16 KiB) and libcapri rebuilds from these frames at start-up. */
__attribute__((noinline)) int other_leaf(int x)
{
    volatile char buf[400];
    buf[x % 400] = (char)x;
    return buf[(x + 1) % 400];
}

__attribute__((noinline)) int other_chain(int x)
{
    volatile char buf[200];
    buf[x % 200] = (char)x;
    return other_leaf(x) + buf[(x + 3) % 200];
}

/* Eight integer arguments: two go on the stack. */
__attribute__((noinline)) long other_args(long a, long b, long c, long d, long e, long f, long g,
                                          long h)
{
    volatile char buf[300];
    buf[(a + h) % 300] = (char)g;
    return a + b + c + d + e + f + g + h + buf[(b + 7) % 300];
}

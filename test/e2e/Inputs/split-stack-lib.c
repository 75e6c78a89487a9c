/* Built by gcc, with and without -fsplit-stack, for split-stack.c: a
 * recursion whose frames a split-stack prologue checks. */
int gcc_deep(int n)
{
    volatile char buf[256];
    buf[n & 255] = (char)n;
    return n > 0 ? gcc_deep(n - 1) + buf[n & 255] : 0;
}

/* The other file of the shared object of test/e2e/bounds-dlopen.c. VARIANT
 * builds a different file (another build-id) with the same functions. */
__attribute__((noinline)) int plug_leaf(int x)
{
    volatile char buf[300];
    buf[x % 300] = (char)x;
#ifdef VARIANT
    buf[(x + 9) % 300] = (char)VARIANT;
#endif
    return buf[(x + 1) % 300];
}

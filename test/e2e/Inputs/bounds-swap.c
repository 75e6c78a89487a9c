/* A dependency of the shared object of test/e2e/bounds-dlopen.c: its
 * constructor runs before the object's own (and so before the object's
 * records register) and, when told to, replaces the object's file on disk
 * with another build, so the file libcapri reads is not the one loaded. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void swap(void)
{
    const char *from = getenv("SWAP_FROM"), *to = getenv("SWAP_TO");
    if (from && to && rename(from, to) != 0)
        perror("rename");
}

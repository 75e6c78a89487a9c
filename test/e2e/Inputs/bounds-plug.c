/* A shared object for test/e2e/bounds-dlopen.c: its calls into its other
 * file (bounds-plug2.c) and into the program (host_leaf) are cross-file
 * checkpoints, rewritten when the object's records register at dlopen. */
#include "bounds_dump.h"

int plug_leaf(int x);
int host_leaf(int x);

int plug_run(int x)
{
    return plug_leaf(x) + host_leaf(x + 1);
}

void plug_dump(const char *tag)
{
    bounds_dump(tag);
}

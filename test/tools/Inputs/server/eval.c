#include "server.h"

/* eval and apply call each other with no declared bound. */
int eval(int depth)
{
    volatile char scratch[96];
    scratch[0] = (char)depth;
    return depth <= 0 ? scratch[0] : apply(depth - 1);
}

int apply(int depth)
{
    return eval(depth / 2) + 1;
}

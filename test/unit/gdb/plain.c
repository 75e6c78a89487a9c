/* A program without libcapri: tools/gdb/capri.py must say so. */
#include <stdio.h>

int main(void)
{
    puts("no capri here");
    return 0;
}

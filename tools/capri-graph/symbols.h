/*
 * Symbolising an address-only site: addr2line on the object it lies in.
 */
#ifndef CAPRI_GRAPH_SYMBOLS_H
#define CAPRI_GRAPH_SYMBOLS_H

struct symbol {
    char function[256];
    char file[512];
    unsigned line;
};

/* The function and source line at `offset` from the object's load base
 * (what libcapri's dump gives): 0, or -1 when nothing is known. */
int symbols_lookup(const char *object, unsigned long offset, struct symbol *out);

#endif

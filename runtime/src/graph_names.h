/*
 * Naming a blocking-graph site for the dump: from its yield-site
 * descriptor (instrumented code), or as an address in an object
 * (uninstrumented code; tools/capri-graph symbolises it offline).
 */
#ifndef CAPRI_GRAPH_NAMES_H
#define CAPRI_GRAPH_NAMES_H

#include <stdbool.h>
#include <stdint.h>

enum graph_site_kind { GRAPH_KIND_START, GRAPH_KIND_DESCRIPTOR, GRAPH_KIND_ADDRESS };

struct graph_name {
    enum graph_site_kind kind;
    const char *file, *function, *primitive; /* "" when unknown */
    uint32_t line, column;
    uintptr_t address; /* the descriptor's, or the return address */
    const char *object; /* the object holding it ("" when unknown) */
    char object_buf[512]; /* its resolved path, when it fits */
    uintptr_t offset;  /* address - the object's load base */
};

/* Fills *out; false when the site must not be read or shown (its module
 * was unloaded: the descriptor's memory may be gone). */
bool graph_name_site(uintptr_t site, struct graph_name *out);

#endif

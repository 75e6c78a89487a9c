/*
 * Site names for the blocking-graph dump (graph_names.h). Runs only in a
 * dump, never on a switch or a park.
 */
#include "graph_names.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "capri_metadata.h"
#include "graph.h"
#include "modules.h"

/* The registered record holding addr, or NULL; *dead says it was
 * unregistered (an object being closed: its memory may be gone). */
static const struct capri_md_header *record_of(uintptr_t addr, bool *dead)
{
    *dead = false;
    for (struct capri_md_header *h = modules_first(); h; h = modules_next(h)) {
        uintptr_t lo = (uintptr_t)h;
        if (addr >= lo && addr - lo < h->record_size) {
            *dead = modules_dead(h) != 0;
            return h;
        }
    }
    return NULL;
}

/* The object holding addr and addr's offset from its load base. */
static void place(uintptr_t addr, struct graph_name *out)
{
    Dl_info info;
    if (dladdr((const void *)addr, &info) && info.dli_fname) {
        /* The loader names the program as it was started ("./prog",
         * "/proc/self/exe"): a tool reading the dump later, elsewhere,
         * needs the file itself. */
        char *real = realpath(info.dli_fname[0] ? info.dli_fname : "/proc/self/exe", NULL);
        if (real && strlen(real) < sizeof out->object_buf) {
            strcpy(out->object_buf, real);
            out->object = out->object_buf;
        } else {
            out->object = info.dli_fname;
        }
        free(real);
        out->offset = addr - (uintptr_t)info.dli_fbase;
        if (info.dli_sname && out->kind == GRAPH_KIND_ADDRESS)
            out->function = info.dli_sname;
    }
}

/* A descriptor's fields, from its module's YIELD_SITES section (the
 * record was validated when it was registered; its strings stay mapped
 * while it is). */
static void describe(const struct capri_md_header *h, uintptr_t site, struct graph_name *out)
{
    size_t size = h->record_size >= sizeof *h ? h->record_size : sizeof *h;
    size_t offset = 0;
    struct capri_md_module m;
    char err[64];
    if (capri_md_next((const uint8_t *)h, size, &offset, &m, err, sizeof err) != CAPRI_MD_OK)
        return;
    uint32_t i = capri_md_yield_site_at(&m, (const void *)site);
    if (i == UINT32_MAX)
        return;
    struct capri_md_yield_site_entry y;
    capri_md_yield_site(&m, i, &y);
    out->file = capri_md_string(&m, y.file);
    out->line = y.line;
    out->column = y.column;
    out->primitive = capri_md_string(&m, y.primitive);
    if (y.function < m.function_count) {
        struct capri_md_function_entry f;
        capri_md_function(&m, y.function, &f);
        out->function = capri_md_string(&m, f.name);
    }
}

bool graph_name_site(uintptr_t site, struct graph_name *out)
{
    memset(out, 0, sizeof *out);
    out->file = out->function = out->primitive = out->object = "";
    if (site == GRAPH_START) {
        out->kind = GRAPH_KIND_START;
        out->function = "(thread start)";
        return true;
    }
    if (site & 1u) {
        out->kind = GRAPH_KIND_ADDRESS;
        out->address = site & ~(uintptr_t)1;
        /* A return address: the call is the byte before it (it may be the
         * last instruction of its function). */
        place(out->address - 1, out);
        out->offset += 1;
        return true;
    }
    out->kind = GRAPH_KIND_DESCRIPTOR;
    out->address = site;
    bool dead;
    const struct capri_md_header *h = record_of(site, &dead);
    if (dead)
        return false;
    place(site, out);
    if (h)
        describe(h, site, out);
    return true;
}

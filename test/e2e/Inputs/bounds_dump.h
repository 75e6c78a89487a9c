/* For the bounds tests: a program reads its own capri records (the section
 * capri_meta, between the linker's __start_/__stop_ symbols) with the
 * metadata parser libcapri carries, and prints every table checkpoint:
 *
 *   <tag> slot <source>:<slot> <caller> -> <callee> region <plugin's> args <stack args> table <now> same|changed
 *
 * ("same": the slot holds the plugin's bound).
 *
 * Compile with -I<src>/runtime/metadata. */
#ifndef BOUNDS_DUMP_H
#define BOUNDS_DUMP_H

#include <capri_metadata.h>
#include <stdio.h>
#include <string.h>

extern const uint8_t __start_capri_meta[] __attribute__((weak));
extern const uint8_t __stop_capri_meta[] __attribute__((weak));

static const char *bounds_dump_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void bounds_dump(const char *tag)
{
    const uint8_t *start = __start_capri_meta, *stop = __stop_capri_meta;
    if (!start || !stop) {
        printf("%s: no records\n", tag);
        return;
    }
    size_t off = 0;
    struct capri_md_module m;
    char err[160];
    enum capri_md_status st;
    while ((st = capri_md_next(start, (size_t)(stop - start), &off, &m, err, sizeof err)) ==
           CAPRI_MD_OK) {
        uint64_t table;
        memcpy(&table, m.record + m.bounds_table_offset, 8);
        const volatile uint64_t *slots = (const volatile uint64_t *)(uintptr_t)table;
        for (uint32_t i = 0; i < m.checkpoint_count; i++) {
            struct capri_md_checkpoint_entry cp;
            capri_md_checkpoint(&m, i, &cp);
            if (cp.bound == CAPRI_MD_NO_BOUND)
                continue;
            struct capri_md_function_entry f, g;
            struct capri_md_call_entry c;
            capri_md_function(&m, cp.function, &f);
            capri_md_call(&m, cp.call, &c);
            const char *callee = "<indirect>";
            if (c.kind == CAPRI_MD_CALL_LOCAL) {
                capri_md_function(&m, c.callee, &g);
                callee = capri_md_string(&m, g.name);
            } else if (c.kind == CAPRI_MD_CALL_NAMED) {
                callee = capri_md_string(&m, c.callee);
            }
            uint64_t now = slots[cp.bound];
            printf("%s slot %s:%u %s -> %s region %u args %u table %llu %s\n", tag,
                   bounds_dump_base(capri_md_string(&m, m.module.source_file)), cp.bound,
                   capri_md_string(&m, f.name), callee, cp.region, cp.stack_args,
                   (unsigned long long)now, now == cp.region ? "same" : "changed");
        }
    }
    if (st != CAPRI_MD_END)
        printf("%s: bad record: %s\n", tag, err);
}

#endif

/*
 * libFuzzer target: the metadata parser on arbitrary bytes. It walks every
 * record and touches every accessor, so any out-of-bounds read shows up
 * under AddressSanitizer.
 */
#include "capri_metadata.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly `size` bytes, so reads past it are caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    size_t offset = 0;
    volatile size_t sink = 0;
    for (int guard = 0; guard < 1000; guard++) {
        struct capri_md_module m;
        char err[128];
        enum capri_md_status st = capri_md_next(copy, size, &offset, &m, err, sizeof err);
        sink += strlen(err);
        if (st != CAPRI_MD_OK)
            break;
        for (uint32_t i = 0; i <= m.function_count; i++) {
            struct capri_md_function_entry f;
            capri_md_function(&m, i, &f);
            sink += strlen(capri_md_string(&m, f.name)) + strlen(capri_md_string(&m, f.file));
            sink += capri_md_address_slot(&m, i);
        }
        for (uint32_t i = 0; i <= m.call_count; i++) {
            struct capri_md_call_entry c;
            capri_md_call(&m, i, &c);
            sink += strlen(capri_md_string(&m, c.callee)) + strlen(capri_md_string(&m, c.file));
        }
        for (uint32_t i = 0; i <= m.reference_count; i++) {
            struct capri_md_reference_entry r;
            capri_md_reference(&m, i, &r);
            sink += strlen(capri_md_string(&m, r.name));
        }
        for (uint32_t i = 0; i <= m.alias_count; i++) {
            struct capri_md_alias_entry a;
            capri_md_alias(&m, i, &a);
            sink += strlen(capri_md_string(&m, a.name));
            if (i < m.alias_count && a.function >= m.function_count)
                abort(); /* the parser promised valid indices */
        }
        for (uint32_t i = 0; i <= m.yield_site_count; i++) {
            struct capri_md_yield_site_entry y;
            capri_md_yield_site(&m, i, &y);
            sink += strlen(capri_md_string(&m, y.file)) + strlen(capri_md_string(&m, y.primitive)) +
                    strlen(capri_md_string(&m, y.dead_objects));
            if (i < m.yield_site_count && y.function >= m.function_count)
                abort();
            if (i < m.yield_site_count &&
                capri_md_yield_site_at(&m, m.yield_sites + (size_t)i * m.yield_site_entry_size) != i)
                abort();
        }
        sink += strlen(capri_md_string(&m, m.module.source_file));
        sink += strlen(capri_md_string(&m, UINT32_MAX));
    }
    free(copy);
    (void)sink;
    return 0;
}

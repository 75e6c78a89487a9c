/* Compiled without the plugin: stands in for libcapri's side of the site
 * word. Each "primitive" takes the word and clears it, as libcapri's entry
 * does, and names the site from the records linked into the program
 * (capri_md_yield_site_at on the record that holds the address). */
#include "capri_metadata.h"

#include <stdio.h>

extern __thread const void *__capri_yield_site __attribute__((tls_model("initial-exec")));
extern const uint8_t __start_capri_meta[] __attribute__((weak));
extern const uint8_t __stop_capri_meta[] __attribute__((weak));

static const char *kinds[] = { "direct", "transitive", "unknown" };

static void describe(const char *who, const void *site)
{
    if (!site) {
        printf("%s: no site\n", who);
        return;
    }
    size_t size = (size_t)(__stop_capri_meta - __start_capri_meta), off = 0;
    struct capri_md_module m;
    char err[128];
    while (capri_md_next(__start_capri_meta, size, &off, &m, err, sizeof err) == CAPRI_MD_OK) {
        const uint8_t *p = site;
        if (p < m.record || p >= m.record + m.record_size)
            continue;
        uint32_t i = capri_md_yield_site_at(&m, site);
        if (i == UINT32_MAX)
            break;
        struct capri_md_yield_site_entry y;
        capri_md_yield_site(&m, i, &y);
        struct capri_md_function_entry f;
        capri_md_function(&m, y.function, &f);
        printf("%s: %s site %u in %s at line %u, primitive '%s', flags %u\n", who,
               y.kind < 3 ? kinds[y.kind] : "?", i, capri_md_string(&m, f.name), y.line,
               capri_md_string(&m, y.primitive), y.flags);
        return;
    }
    printf("%s: %p is no descriptor\n", who, site);
}

void capri_yield(void)
{
    const void *site = __capri_yield_site;
    __capri_yield_site = 0;
    describe("capri_yield", site);
}

/* Code without metadata that does not park: sees the caller's unknown site. */
int not_parking(int x)
{
    describe("not_parking", __capri_yield_site);
    return x + 1;
}

void show_word(const char *when)
{
    describe(when, __capri_yield_site);
}

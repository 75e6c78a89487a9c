/*
 * The reports: text for people, JSON for scripts, SARIF for code-scanning
 * services, DOT for pictures. All read the same model and analysis.
 */
#ifndef CAPRI_STACK_REPORT_H
#define CAPRI_STACK_REPORT_H

#include "analysis.h"

#include <stdio.h>

struct report {
    const struct inputs *inputs;
    const struct model *model;
    const struct analysis *analysis;
    unsigned fail_on; /* bit (1 << enum finding) for each --fail-on class */
    int exit_code;    /* what the run exits with */
};

/* Is this finding class selected and present? */
int report_fails(const struct report *r, enum finding f);

void report_text(FILE *out, const struct report *r);
void report_json(FILE *out, const struct report *r);
void report_sarif(FILE *out, const struct report *r);
void report_dot(FILE *out, const struct report *r);

/* "file:line", "file", or "" when unknown; written into buf. */
const char *location(char *buf, size_t len, const char *file, uint32_t line);

/* A node's display name: functions and externals by name, others described. */
const char *node_label(const struct model *m, uint32_t node);

/* What a checkpoint's call reaches, for the reports: the name called, or
 * "<indirect>" / "<inline asm>". */
const char *checkpoint_callee(const struct model *m, const struct checkpoint *cp);

/* "indirect" or "asm", and the type identity of a site, for the findings. */
const char *site_kind(const struct call_site *s);

/*
 * Where to point a finding about a call: the call's own file:line, or, when
 * the call has no line (code generation's calls like __stack_chk_fail, or
 * calls LLVM moved and gave line 0), the calling function's definition.
 * Returns 1 in that second case.
 */
int call_location(const struct model *m, const struct call_site *s, const char **file,
                  uint32_t *line);

/* The same as text: "a.c:12", or "a.c:3 (in function f)" after the fallback. */
const char *call_location_text(char *buf, size_t len, const struct model *m,
                               const struct call_site *s);

/* Modules (records) without C-level type ids (built without -fsanitize=kcfi). */
int module_is_coarse(const struct model *m, size_t module);
size_t coarse_module_count(const struct model *m);

/*
 * A note naming the coarse modules (at most a few, "and N more"), or NULL
 * when there are none or --indirect ir-type makes it moot. Caller frees.
 */
char *coarse_types_note(const struct model *m);

/* "1 other function", "2 other functions": count and a noun, pluralised with "s". */
const char *plural(char *buf, size_t len, size_t count, const char *noun);

/* A size for people: "312 B", "4 KiB", "8.2 KiB", "1.5 MiB". */
const char *format_bytes(char *buf, size_t len, uint64_t bytes);

/* What a yield site calls: its primitive, the callee's name, "<indirect>" or
 * "<inline asm>". */
const char *yield_site_callee(const struct model *m, const struct yield_site *y);

/* Where a yield site is: "file:line" (its own, else its call's). */
const char *yield_site_location(char *buf, size_t len, const struct model *m,
                                const struct yield_site *y);

/*
 * The finding message of a yield site: "at knot.c:120, read(): frame 8.2
 * KiB, live 312 B; `path` (1 KiB) is dead here". Caller frees.
 */
char *yield_site_message(const struct model *m, const struct yield_site *y);

/* Why a figure is a lower bound, as "recursion", "dynamic-alloca" or both. */
const char *unbounded_reason(unsigned unbounded);

#endif

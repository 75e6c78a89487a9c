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

/* "indirect" or "asm", and the type identity of a site, for the findings. */
const char *site_kind(const struct call_site *s);

/* Why a figure is a lower bound, as "recursion", "dynamic-alloca" or both. */
const char *unbounded_reason(unsigned unbounded);

#endif

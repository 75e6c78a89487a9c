/*
 * capri-stack verify: check the plugin's frame estimates against the
 * backend's sizes. The estimates are the fallback bounds wherever
 * .stack_sizes is missing at run time, so an estimate below the real frame
 * is a bug in the plugin's frame model. Every function that has both figures
 * is compared with the corrected backend size (model.c); any underestimate
 * fails the run.
 */
#include "verify.h"
#include "json.h"
#include "table.h"

#include <stdlib.h>

#define VERIFY_SCHEMA_VERSION 1

struct comparison {
    uint32_t function;
    uint64_t estimate, backend, corrected;
    double ratio;
};

static int by_shortfall(const void *x, const void *y)
{
    const struct comparison *p = x, *q = y;
    uint64_t sp = p->corrected - p->estimate, sq = q->corrected - q->estimate;
    if (sp != sq)
        return sp > sq ? -1 : 1;
    return p->function < q->function ? -1 : p->function > q->function;
}

static int by_ratio(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q;
}

/*
 * A weak definition that lost to another one: once linked (or merged with
 * ld -r) its address slot points at the winner's code, so the backend size
 * found there is not its own frame and comparing would be noise.
 */
static int is_shadowed_copy(const struct model *m, const struct function *f)
{
    if (!f->overridden || f->entry.linkage == CAPRI_MD_LINK_INTERNAL)
        return 0;
    uint32_t w = model_lookup(m, f->name);
    if (w == NONE)
        return 0;
    const struct function *winner = &m->functions[w];
    return winner != f && winner->address == f->address &&
           m->modules[winner->module].object == m->modules[f->module].object;
}

static void summarise(struct verify_summary *s, const struct model *m)
{
    memset(s, 0, sizeof *s);
    s->functions = m->function_count;
    double *ratios = xmalloc((m->function_count ? m->function_count : 1) * sizeof *ratios);
    for (uint32_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        uint64_t estimate = f->entry.frame_estimate;
        if (is_shadowed_copy(m, f)) {
            s->duplicates++;
            continue;
        }
        if (!f->has_backend) {
            s->without_backend++;
            continue;
        }
        if (estimate == 0) { /* the plugin had no estimate for it */
            s->without_estimate++;
            continue;
        }
        uint64_t corrected = corrected_backend_size(f->backend, &f->entry,
                                                    m->modules[f->module].object->elf_machine);
        double ratio = (double)estimate / (double)corrected;
        ratios[s->compared++] = ratio;
        s->sum_estimates = sat_add(s->sum_estimates, estimate);
        s->sum_corrected = sat_add(s->sum_corrected, corrected);
        if (estimate < corrected) {
            GROW(s->under, s->under_cap, s->under_count + 1);
            s->under[s->under_count++] = (struct comparison){ i, estimate, f->backend, corrected,
                                                              ratio };
        }
    }
    if (s->compared > 0) {
        sort_array(ratios, s->compared, sizeof *ratios, by_ratio);
        size_t n = s->compared;
        s->median = n % 2 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
        size_t rank = (n * 9 + 9) / 10; /* nearest rank: ceil(0.9 n) */
        s->p90 = ratios[rank - 1];
        s->max = ratios[n - 1];
        s->min = ratios[0];
        s->sum_ratio = s->sum_corrected ? (double)s->sum_estimates / (double)s->sum_corrected : 0;
    }
    free(ratios);
    sort_array(s->under, s->under_count, sizeof *s->under, by_shortfall);
}

static void print_text(FILE *out, const struct verify_summary *s, const struct model *m)
{
    fprintf(out, "capri-stack verify: %zu function%s, %zu compared (%zu without a backend size, "
            "%zu without an estimate)\n", s->functions, s->functions == 1 ? "" : "s",
            s->compared, s->without_backend, s->without_estimate);
    if (s->duplicates)
        fprintf(out, "note: %zu weak definition%s that lost to another copy at the same address "
                "%s not compared\n", s->duplicates, s->duplicates == 1 ? "" : "s",
                s->duplicates == 1 ? "was" : "were");
    fprintf(out, "\nUnderestimates: %zu\n", s->under_count);
    if (s->under_count) {
        struct table t;
        table_init(&t, 5, (1u << 1) | (1u << 2) | (1u << 3));
        table_row(&t, "FUNCTION", "ESTIMATE", "BACKEND", "CORRECTED", "DEFINED AT");
        for (size_t i = 0; i < s->under_count; i++) {
            const struct comparison *c = &s->under[i];
            const struct function *f = &m->functions[c->function];
            char loc[512], est[32], back[32], corr[32];
            if (!*f->file)
                snprintf(loc, sizeof loc, "(%s)", m->modules[f->module].object->name);
            else if (f->line)
                snprintf(loc, sizeof loc, "%s:%u", f->file, f->line);
            else
                snprintf(loc, sizeof loc, "%s", f->file);
            snprintf(est, sizeof est, "%llu", (unsigned long long)c->estimate);
            snprintf(back, sizeof back, "%llu", (unsigned long long)c->backend);
            snprintf(corr, sizeof corr, "%llu", (unsigned long long)c->corrected);
            table_row(&t, f->name, est, back, corr, loc);
        }
        table_print(out, &t, 2);
    }
    fprintf(out, "\nEstimate / corrected backend size per function: median %.2f, p90 %.2f, "
            "max %.2f, min %.2f\n", s->median, s->p90, s->max, s->min);
    fprintf(out, "Sum of estimates / sum of corrected backend sizes: %llu / %llu = %.2f\n",
            (unsigned long long)s->sum_estimates, (unsigned long long)s->sum_corrected,
            s->sum_ratio);
    if (s->under_count)
        fprintf(out, "\nResult: FAIL: %zu underestimate%s\n", s->under_count,
                s->under_count == 1 ? "" : "s");
    else
        fprintf(out, "\nResult: clean: no estimate is below its corrected backend size\n");
}

static void print_json(FILE *out, const struct verify_summary *s, const struct model *m)
{
    struct json j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_uint(&j, "schema_version", VERIFY_SCHEMA_VERSION);
    json_string(&j, "kind", "verify");
    json_object_begin(&j, "tool");
    json_string(&j, "name", "capri-stack");
    json_string(&j, "version", CAPRI_STACK_VERSION);
    json_object_end(&j);
    json_uint(&j, "functions", s->functions);
    json_uint(&j, "compared", s->compared);
    json_uint(&j, "without_backend", s->without_backend);
    json_uint(&j, "without_estimate", s->without_estimate);
    json_uint(&j, "duplicates", s->duplicates);
    json_uint(&j, "underestimate_count", s->under_count);
    json_array_begin(&j, "underestimates");
    for (size_t i = 0; i < s->under_count; i++) {
        const struct comparison *c = &s->under[i];
        const struct function *f = &m->functions[c->function];
        json_object_begin(&j, NULL);
        json_string(&j, "function", f->name);
        json_string(&j, "file", f->file);
        json_uint(&j, "line", f->line);
        json_string(&j, "object", m->modules[f->module].object->name);
        json_uint(&j, "estimate", c->estimate);
        json_uint(&j, "backend", c->backend);
        json_uint(&j, "corrected_backend", c->corrected);
        json_double(&j, "ratio", c->ratio);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_begin(&j, "ratio");
    json_double(&j, "median", s->median);
    json_double(&j, "p90", s->p90);
    json_double(&j, "max", s->max);
    json_double(&j, "min", s->min);
    json_object_end(&j);
    json_uint(&j, "sum_estimates", s->sum_estimates);
    json_uint(&j, "sum_corrected_backend", s->sum_corrected);
    json_double(&j, "sum_ratio", s->sum_ratio);
    json_uint(&j, "exit_code", s->under_count ? EXIT_FINDINGS : EXIT_CLEAN);
    json_object_end(&j);
    json_finish(&j);
}

int verify_run(FILE *out, const struct model *m, int json, struct error *err)
{
    struct verify_summary s;
    summarise(&s, m);
    if (s.compared == 0) {
        free(s.under);
        return errorf(err, "verify: no function has both a plugin estimate and a backend frame "
                      "size: compile with -fstack-size-section, and keep .stack_sizes "
                      "(llvm-strip removes it)");
    }
    if (json)
        print_json(out, &s, m);
    else
        print_text(out, &s, m);
    int rc = s.under_count ? EXIT_FINDINGS : EXIT_CLEAN;
    free(s.under);
    return rc;
}

void verify_summarise(struct verify_summary *s, const struct model *m)
{
    summarise(s, m);
}

/* capri-stack verify: plugin frame estimates against corrected backend sizes. */
#ifndef CAPRI_STACK_VERIFY_H
#define CAPRI_STACK_VERIFY_H

#include "model.h"

#include <stdio.h>

struct comparison;

struct verify_summary {
    size_t functions;        /* all function entries */
    size_t compared;         /* with both an estimate and a backend size */
    size_t without_backend;  /* not in .stack_sizes */
    size_t without_estimate; /* frame_estimate 0 */
    size_t duplicates;       /* losing weak copies at the winner's address */
    struct comparison *under; /* underestimates, largest shortfall first */
    size_t under_count, under_cap;
    double median, p90, max, min; /* of estimate / corrected backend */
    uint64_t sum_estimates, sum_corrected;
    double sum_ratio;
};

/* Fill s (free s->under afterwards). */
void verify_summarise(struct verify_summary *s, const struct model *m);

/*
 * Print the comparison (text, or JSON when json is set) and return the exit
 * code: 0 clean, 1 with underestimates; -1 with err set when nothing could
 * be compared.
 */
int verify_run(FILE *out, const struct model *m, int json, struct error *err);

#endif

/* capri_config() and the CAPRI_* environment variables. */
#ifndef CAPRI_CONFIG_H
#define CAPRI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct runtime_config {
    uint32_t schedulers; /* 0: one per CPU sched_getaffinity allows */
    size_t stack_size;
    int guard;           /* 1: guard pages; 0: none */
    uint32_t max_threads;
    int dense;           /* 1: dense mode (sub-page first chunks, canaries) */
    uint32_t spare_schedulers; /* the monitor's (0: none) */
    uint32_t time_slice_us;    /* 0: no preemption */
};

/* The settings: defaults, then the environment, then capri_config calls.
 * Seals the configuration (later capri_config calls get EBUSY). A malformed
 * variable is reported and ignored. Returns 0. */
int config_resolve(struct runtime_config *out);

#endif

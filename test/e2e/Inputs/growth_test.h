/* Helpers the stack-growth tests share (C and C++). */
#ifndef CAPRI_GROWTH_TEST_H
#define CAPRI_GROWTH_TEST_H

#include <capri.h>
#include <stdint.h>
#include <stdlib.h>

/* Chunks the pool has lent out, all classes together. */
static inline uint64_t growth_chunks_in_use(void) {
  struct capri_pool_stats st;
  if (capri_pool_stats(&st) != 0)
    abort();
  uint64_t n = 0;
  for (int i = 0; i < CAPRI_CHUNK_CLASSES; i++)
    n += st.chunks_in_use[i];
  return n;
}

/* One scheduler: each scheduler sets a reserve chunk aside at its first
 * growth, which would show in the counts if a thread were stolen. */
static inline void growth_one_scheduler(void) {
  if (capri_config(CAPRI_CONFIG_SCHEDULERS, 1) != 0)
    abort();
}

#endif

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

/* Whether the program runs in stack verification mode. */
static inline int growth_verifying(void) {
  const char *v = getenv("CAPRI_VERIFY_STACKS");
  return v && v[0] && !(v[0] == '0' && !v[1]);
}

/* Chunk counts taken in main before and after match. Under stack
 * verification main's own calls grow too, and main keeps the chunk it
 * last left cached (one more than before at most). */
static inline int growth_counts_match(uint64_t before, uint64_t after) {
  return after == before || (growth_verifying() && after <= before + 1);
}

/* One scheduler and no spares: each scheduler sets a reserve chunk aside
 * at its first growth, which would show in the counts if a thread were
 * stolen. */
static inline void growth_one_scheduler(void) {
  if (capri_config(CAPRI_CONFIG_SCHEDULERS, 1) != 0 ||
      capri_config(CAPRI_CONFIG_SPARE_SCHEDULERS, 0) != 0)
    abort();
}

#endif

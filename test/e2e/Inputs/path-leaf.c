/* A leaf (no loop yield point, whose cold call would make it call out), so
 * the worst path ends in a frame that may use the red zone. */
__attribute__((annotate("capri.no_yield_points")))
int leaf_work(volatile char *buf, int n) {
  volatile char local[512];
  for (int i = 0; i < 512; i++)
    local[i] = buf[(i * 7 + n) & 2047];
  return local[n & 511];
}

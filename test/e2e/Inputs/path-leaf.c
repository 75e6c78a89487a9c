int leaf_work(volatile char *buf, int n) {
  volatile char local[512];
  for (int i = 0; i < 512; i++)
    local[i] = buf[(i * 7 + n) & 2047];
  return local[n & 511];
}

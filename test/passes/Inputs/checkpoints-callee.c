// The other file of checkpoints-cross-module.c.
static int leaf(int n) {
  volatile char buf[2500];
  buf[n] = 1;
  return buf[0];
}

int work(int n) { return leaf(n) + 1; }

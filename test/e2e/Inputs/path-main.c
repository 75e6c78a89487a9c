/* main -> middle (path-middle.c) -> leaf_work (path-leaf.c): the deepest
 * path crosses both files. small() is a shallower branch. */
int middle(int n);

static int small(int n) {
  volatile int scratch[4] = {n, n, n, n};
  return scratch[n & 3];
}

int main(int argc, char **argv) {
  (void)argv;
  int r = middle(argc) + small(argc);
  return r == -1000000; /* never: exit 0, but keep the calls */
}

int leaf_work(volatile char *buf, int n);

int middle(int n) {
  volatile char buf[2048];
  for (int i = 0; i < 2048; i++)
    buf[i] = (char)(i + n);
  return leaf_work(buf, n);
}

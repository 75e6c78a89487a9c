int leaf_in_b(int x) {
  volatile char scratch[512];
  for (int i = 0; i < 512; i++)
    scratch[i] = (char)i;
  return scratch[(x + 1) & 511];
}

// The other half of growth-cross-file.c's mutual recursion.
long is_even(long n);

long is_odd(long n) {
  volatile char local[40];
  local[0] = (char)n;
  return n == 0 ? 0 : is_even(n - 1) + (local[0] & 0);
}

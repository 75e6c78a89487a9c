int ping(int n);

int pong(int n) {
  volatile char scratch[96];
  scratch[n & 63] = (char)n;
#ifdef NO_CYCLE
  return scratch[n & 63];
#else
  return n <= 0 ? scratch[n & 63] : ping(n - 1) * 2; /* (written above) */
#endif
}

/* ping (here) and pong (pong.c) call each other: a recursion cycle that
 * only the whole program shows. */
int pong(int n);

int ping(int n) {
  volatile char scratch[64];
  scratch[n & 63] = (char)n;
  return n <= 0 ? scratch[0] : pong(n - 1) + 1;
}

int main(int argc, char **argv) {
  (void)argv;
  return ping(argc) < 0;
}

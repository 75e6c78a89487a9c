// A variable-size array in a program built with the plugin but without
// libcapri (growth-vla.c): it links, and runs as before.
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static int fill(int n) {
  char buf[n];
  memset(buf, 1, (size_t)n);
  return buf[n - 1];
}

int main(int argc, char **argv) {
  (void)argv;
  printf("vla without libcapri: %d\n", fill(argc * 100));
  return 0;
}

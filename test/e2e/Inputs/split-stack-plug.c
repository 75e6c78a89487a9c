/* A shared object built with the capri plugin that also holds gcc
 * split-stack code (split-stack-lib.c), for split-stack.c. */
int gcc_deep(int n);

int plug_run(int n) { return gcc_deep(n) + 1; }

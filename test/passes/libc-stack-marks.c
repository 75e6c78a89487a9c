// The stack marks in passes/LibcStackMarks.def hold on this machine: each
// function is called on a painted stack in a fresh process, through the
// paths listed below, and the most stack it used (bytes below the stack
// pointer at the call, return address included) must not exceed the table.
// Every table entry must be measured here. Run the binary with "print" to
// see the raw figures when updating the table (printf, which is not in the
// table, is measured for the record).
//
// RUN: %clang -O1 -I%src_root/passes %s -o %t -Wl,-z,now
// RUN: %t | FileCheck %s
//
// The table assumes immediate binding: with lazy binding, the first call
// through a PLT slot runs the dynamic linker's resolver too, which saves the
// vector registers on the stack (hundreds to thousands of bytes).
// RUN: %t print | FileCheck %s --check-prefix=NOW
// RUN: %clang -O1 -I%src_root/passes %s -o %t.lazy -Wl,-z,lazy
// RUN: env -u LD_BIND_NOW %t.lazy print | FileCheck %s --check-prefix=LAZY
// NOW:  strnlen (first call through the PLT): 8{{$}}
// LAZY: strnlen (first call through the PLT): {{[1-9][0-9][0-9]+$}}
//
// CHECK-NOT: EXCEEDED
// CHECK-NOT: UNMEASURED
// CHECK:     checked 21 table entries
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct {
  const char *name;
  unsigned long bytes;
} table[] = {
#define CAPRI_LIBC_MARK(N, B) {#N, B},
#include "LibcStackMarks.def"
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

// run_on(top, fn, a, b, c, x): fn(a, b, c) with x in the first vector
// register, and the stack pointer at `top` when the call instruction
// executes.
__asm__(".text\n"
        ".globl run_on\n"
        ".type run_on,@function\n"
        "run_on:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  mov %rdi, %rsp\n"
        "  mov %rsi, %r11\n"
        "  mov %rdx, %rdi\n"
        "  mov %rcx, %rsi\n"
        "  mov %r8, %rdx\n"
        "  mov $1, %eax\n" // vector registers used, for variadic callees
        "  call *%r11\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size run_on, .-run_on\n");
long run_on(void *top, void *fn, long a, long b, long c, double x);

// run_strnlen_plt(top, s): strnlen(s, 16) through this program's PLT slot
// (strnlen's address is taken nowhere, so the slot is an ordinary lazy one).
__asm__(".text\n"
        ".globl run_strnlen_plt\n"
        ".type run_strnlen_plt,@function\n"
        "run_strnlen_plt:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  mov %rdi, %rsp\n"
        "  mov %rsi, %rdi\n"
        "  mov $16, %esi\n"
        "  call strnlen@PLT\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size run_strnlen_plt, .-run_strnlen_plt\n");
long run_strnlen_plt(void *top, const char *s);

#define STACK_SIZE (256 * 1024)
static unsigned char *stack;
static unsigned char paint;
static size_t used;

static void scan(void) {
  size_t i = 0;
  while (i < STACK_SIZE && stack[i] == paint)
    i++;
  if (STACK_SIZE - i > used)
    used = STACK_SIZE - i;
}

static void measure(void *fn, long a, long b, long c, double x) {
  memset(stack, paint, STACK_SIZE);
  run_on(stack + STACK_SIZE, fn, a, b, c, x);
  scan();
}

// The child's report, by write() alone (it may run in a signal handler).
static void scan_and_report(void) {
  scan();
  char buf[32];
  int n = sizeof buf;
  buf[--n] = '\n';
  size_t u = used;
  do
    buf[--n] = (char)('0' + u % 10);
  while ((u /= 10) && n > 0);
  if (write(3, buf + n, sizeof buf - n) < 0)
    _exit(3);
}
#define CALL(fn, a, b, c) measure((void *)(fn), (long)(a), (long)(b), (long)(c), 0.0)
#define CALL_D(fn, a, x) measure((void *)(fn), (long)(a), 0, 0, x)

static char dst[70000], src[70000], src2[70000], line[20000];

static void memcpy_big(void) { CALL(memcpy, dst, src, 65536); }
static void memcpy_small(void) { CALL(memcpy, dst, src, 7); }
static void memmove_overlap(void) { CALL(memmove, dst + 1, dst, 65536); }
static void memset_big(void) { CALL(memset, dst, 1, 65536); }
static void memcmp_equal(void) { CALL(memcmp, src, src2, 65536); }
static void strlen_long(void) { CALL(strlen, src, 0, 0); }
static void strcmp_equal(void) { CALL(strcmp, src, src2, 0); }
static void strchr_miss(void) { CALL(strchr, src, 'q', 0); }
static void memchr_miss(void) { CALL(memchr, src, 'q', 65536); }
static void bcmp_equal(void) { CALL(bcmp, src, src2, 65536); }
static void strspn_long(void) { CALL(strspn, src, "xyz", 0); }
static void strspn_many(void) { CALL(strspn, src, "abcdefghijklmnopqrstuvwxyz", 0); }
static void errno_location(void) { CALL(__errno_location, 0, 0, 0); }
static void ctype_b_loc(void) { CALL(__ctype_b_loc, 0, 0, 0); }
static void malloc_first(void) { CALL(malloc, 100, 0, 0); }
static void malloc_first_mmap(void) { CALL(malloc, 1 << 20, 0, 0); }
static void malloc_warm(void) {
  free(malloc(100));
  CALL(malloc, 100, 0, 0);
  CALL(malloc, 100, 0, 0);
}
static void malloc_grow(void) {
  free(malloc(100));
  CALL(malloc, 100000, 0, 0);
}
static void calloc_first(void) { CALL(calloc, 10, 10, 0); }
static void calloc_mmap(void) { CALL(calloc, 1 << 20, 1, 0); }
static void realloc_null(void) { CALL(realloc, 0, 100, 0); }
static void realloc_grow(void) {
  void *p = malloc(100);
  (void)malloc(16);
  CALL(realloc, p, 1 << 20, 0);
}
static void free_small(void) { CALL(free, malloc(100), 0, 0); }
static void free_mmap(void) { CALL(free, malloc(1 << 20), 0, 0); }
static void free_consolidate(void) {
  void *a = malloc(5000), *b = malloc(5000);
  (void)malloc(16);
  free(a);
  CALL(free, b, 0, 0);
}
static void free_trim(void) { CALL(free, malloc(100000), 0, 0); }
static jmp_buf env;
static void setjmp_plain(void) { CALL(_setjmp, env, 0, 0); }
static void sigsetjmp_nomask(void) { CALL(__sigsetjmp, env, 0, 0); }
static void sigsetjmp_mask(void) { CALL(__sigsetjmp, env, 1, 0); }
static void setjmp_bsd(void) { CALL(setjmp, env, 0, 0); }
// __stack_chk_fail never returns: it aborts. The SIGABRT handler, on an
// alternate stack, reads the painted stack and reports.
void __stack_chk_fail(void) __attribute__((noreturn));
static void scan_and_report(void);
static void on_abort(int sig) {
  (void)sig;
  scan_and_report();
  _exit(0);
}
static void stack_chk_fail(void) {
  static char altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_abort;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGABRT, &sa, 0);
  CALL(__stack_chk_fail, 0, 0, 0);
}
static void strnlen_plt(void) {
  memset(stack, paint, STACK_SIZE);
  run_strnlen_plt(stack + STACK_SIZE, "abc");
  scan();
}

// Not in the table (the stack depends on the format): measured for the
// record, printed with "print".
static void printf_int(void) { CALL(printf, "%d %s\n", 42, "abc"); }
static void printf_positional(void) { CALL(printf, "%2$s %1$d\n", 42, "abc"); }
static void printf_double(void) { CALL_D(printf, "%.3f\n", 3.25); }
static void printf_wide_precision(void) { CALL_D(printf, "%.3000f\n", 1e308); }
static void puts_first(void) { CALL(puts, "hello", 0, 0); }
static void puts_flush(void) {
  puts("x");
  CALL(puts, line, 0, 0);
}

static const struct {
  const char *fn, *path;
  void (*run)(void);
} paths[] = {
    {"memcpy", "65536 bytes", memcpy_big},
    {"memcpy", "7 bytes", memcpy_small},
    {"memmove", "overlapping", memmove_overlap},
    {"memset", "65536 bytes", memset_big},
    {"memcmp", "equal", memcmp_equal},
    {"strlen", "long", strlen_long},
    {"strnlen", "first call through the PLT", strnlen_plt},
    {"strcmp", "equal", strcmp_equal},
    {"strchr", "not found", strchr_miss},
    {"memchr", "not found", memchr_miss},
    {"bcmp", "equal", bcmp_equal},
    {"strspn", "3 accepted bytes", strspn_long},
    {"strspn", "26 accepted bytes", strspn_many},
    {"__errno_location", "", errno_location},
    {"__ctype_b_loc", "", ctype_b_loc},
    {"malloc", "first call", malloc_first},
    {"malloc", "first call, mmap-sized", malloc_first_mmap},
    {"malloc", "warm", malloc_warm},
    {"malloc", "heap growth", malloc_grow},
    {"calloc", "first call", calloc_first},
    {"calloc", "mmap-sized", calloc_mmap},
    {"realloc", "of NULL", realloc_null},
    {"realloc", "growing to mmap", realloc_grow},
    {"free", "small", free_small},
    {"free", "mmap-sized", free_mmap},
    {"free", "consolidating", free_consolidate},
    {"free", "trimming", free_trim},
    {"_setjmp", "", setjmp_plain},
    {"setjmp", "saving the signal mask", setjmp_bsd},
    {"__sigsetjmp", "without the signal mask", sigsetjmp_nomask},
    {"__sigsetjmp", "saving the signal mask", sigsetjmp_mask},
    {"__stack_chk_fail", "to abort()", stack_chk_fail},
    {"printf", "\"%d %s\"", printf_int},
    {"printf", "\"%2$s %1$d\"", printf_positional},
    {"printf", "\"%.3f\" of 3.25", printf_double},
    {"printf", "\"%.3000f\" of 1e308", printf_wide_precision},
    {"puts", "first call", puts_first},
    {"puts", "flushing", puts_flush},
};
#define PATHS (sizeof paths / sizeof paths[0])

// A fresh process per path and paint byte, so first-call paths are first.
static size_t run_child(const char *self, unsigned idx, unsigned char p) {
  int fds[2];
  if (pipe(fds))
    exit(2);
  pid_t pid = fork();
  if (pid == 0) {
    char a[16], b[16];
    snprintf(a, sizeof a, "%u", idx);
    snprintf(b, sizeof b, "%u", p);
    dup2(fds[1], 3);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(self, self, "child", a, b, (char *)0);
    _exit(127);
  }
  close(fds[1]);
  char buf[32] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
    printf("path %u failed\n", idx);
    exit(1);
  }
  return strtoul(buf, 0, 10);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "child")) {
    stack = mmap(0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, 'x', sizeof src - 1);
    memset(src2, 'x', sizeof src2 - 1);
    memset(line, 'z', sizeof line - 1);
    paint = (unsigned char)atoi(argv[3]);
    paths[atoi(argv[2])].run();
    scan_and_report();
    return 0;
  }
  int print = argc == 2 && !strcmp(argv[1], "print");
  size_t worst[TABLE_SIZE] = {0};
  int measured[TABLE_SIZE] = {0};
  for (unsigned i = 0; i < PATHS; i++) {
    // Two paints: a byte written with the paint's own value is missed once.
    size_t a = run_child("/proc/self/exe", i, 0xa5), b = run_child("/proc/self/exe", i, 0x5a);
    size_t u = a > b ? a : b;
    if (print)
      printf("%s (%s): %zu\n", paths[i].fn, paths[i].path, u);
    for (unsigned t = 0; t < TABLE_SIZE; t++) {
      if (strcmp(table[t].name, paths[i].fn))
        continue;
      measured[t] = 1;
      if (u > worst[t])
        worst[t] = u;
      if (u > table[t].bytes)
        printf("EXCEEDED: %s (%s) used %zu bytes, the table says %lu\n", paths[i].fn,
               paths[i].path, u, table[t].bytes);
    }
  }
  for (unsigned t = 0; t < TABLE_SIZE; t++) {
    if (!measured[t])
      printf("UNMEASURED: %s has no path here\n", table[t].name);
    else
      printf("%s: worst %zu, table %lu\n", table[t].name, worst[t], table[t].bytes);
  }
  printf("checked %zu table entries\n", TABLE_SIZE);
  return 0;
}

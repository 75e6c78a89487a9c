/*
 * test_io_file.c with CAPRI_IO_URING=0: every read the page cache cannot
 * answer goes to the thread pool, which must start (4 threads), grow for
 * 200 concurrent readers (up to 64), hand a cancelled reader its read's
 * own outcome, and be absent in a forked child until its first read.
 */
#define IO_FILE_POOL 1
#include "test_io_file.c"

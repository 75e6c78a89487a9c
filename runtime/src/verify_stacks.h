/*
 * Stack verification (CAPRI_VERIFY_STACKS=1): every checkpoint grows, onto
 * a painted chunk, and when the region returns the chunk is scanned for
 * the lowest word its frames wrote. A region that went deeper than its
 * checkpoint's bound stops the program with the call named: the bound was
 * wrong (the plugin's estimate, a libc mark, the start-up rewrite), and
 * without this mode it would be found only when the guard page fires, or
 * not at all in dense mode.
 *
 * How every checkpoint is made to fail: the limit word gets bit 61 set
 * (limit_for_stack adds __capri_limit_poison), which puts it above any stack
 * pointer, so both the small form (sp below the limit) and the table form
 * (sp below limit + bound; bounds are capped at 2^40) take the slow path.
 * Every limit the runtime computes carries the bit, so comparisons between
 * limits, and the request bit 62, work as before.
 */
#ifndef CAPRI_VERIFY_STACKS_H
#define CAPRI_VERIFY_STACKS_H

#include <stdint.h>

#include "limit.h" /* LIMIT_VERIFY, __capri_limit_poison */

struct grow_link;

/* Reads CAPRI_VERIFY_STACKS (idempotent): libcapri's constructor that
 * sets the main thread's limit calls it first. */
void verify_stacks_init(void);

/* On a new chunk, before the region runs on it: paints it below the link
 * record and remembers what the region may use. */
void verify_stacks_paint(struct grow_link *l, uint64_t need);
/* When the region has returned normally (not by an unwind or a jump):
 * the scan, and the report if it went too deep. */
void verify_stacks_check(const struct grow_link *l);

/* A capri thread's first chunk: its entry region runs there, unchecked
 * (every checkpoint grows in this mode), so the bottom LIMIT_SLACK bytes,
 * which only the slack of a small check may use, stay unwritten unless the
 * entry region went past what its chunk was sized for. Painted at the
 * spawn, checked when the thread exits (a thread that never exits is not
 * checked). */
struct capri_thread;
void verify_stacks_paint_first(const struct capri_thread *t);
void verify_stacks_check_first(const struct capri_thread *t);

#endif

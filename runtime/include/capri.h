/*
 * capri: threads that cost what events cost.
 *
 * The public API of libcapri. For now this header holds the annotations the
 * capri compiler plugin understands; the threading API follows.
 */
#ifndef CAPRI_H
#define CAPRI_H

/*
 * CAPRI_RECURSION_BOUND(n): declare that at most n activations of this
 * function are on a thread's stack at once. The recursion cycle through the
 * function then gets a finite stack bound: n times the frames of every
 * function in the cycle, instead of "unbounded". The cycle must pass through
 * a bounded function on every loop (otherwise it stays unbounded).
 *
 *     CAPRI_RECURSION_BOUND(64) static int walk(struct node *n) { ... }
 *
 * Without the plugin the annotation has no effect.
 */
#define CAPRI_RECURSION_BOUND(n) __attribute__((annotate("capri.recursion_bound=" #n)))

#endif

/* Plain pthreads get a stack limit and a signal stack (pthread_wrap.c). */
#ifndef CAPRI_PTHREAD_WRAP_H
#define CAPRI_PTHREAD_WRAP_H

#include <pthread.h>

/* Sets this kernel thread's limit word from its real stack, and zeroes it
 * again when the thread exits. */
void kernel_thread_set_limit(void);

/* pthread_create without libcapri's set-up: for the scheduler threads,
 * which install their own signal stacks and whose contexts carry limits. */
int pthread_create_plain(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

#endif

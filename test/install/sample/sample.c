/* A program outside capri's tree, built against an installed capri: a few
 * capri threads block on a channel until main hands each a number, sleep,
 * and return it doubled; main joins them and checks the sum. */
#include <capri.h>
#include <stdint.h>
#include <stdio.h>

#define SAMPLE_THREADS 4

static capri_chan_t sample_work;

static void *sample_worker(void *arg)
{
    intptr_t n = 0;
    (void)arg;
    if (capri_chan_recv(sample_work, &n) != 0)
        return NULL;
    capri_sleep_ns(1000000);
    return (void *)(n * 2);
}

int main(void)
{
    capri_t threads[SAMPLE_THREADS];
    intptr_t sum = 0;

    if (capri_chan_create(&sample_work, sizeof(intptr_t), 0) != 0)
        return 1;
    for (int i = 0; i < SAMPLE_THREADS; i++)
        if (capri_spawn(&threads[i], sample_worker, NULL, NULL) != 0)
            return 1;
    for (intptr_t i = 1; i <= SAMPLE_THREADS; i++)
        if (capri_chan_send(sample_work, &i) != 0)
            return 1;
    for (int i = 0; i < SAMPLE_THREADS; i++) {
        void *result = NULL;
        if (capri_join(threads[i], &result) != 0)
            return 1;
        sum += (intptr_t)result;
    }
    capri_chan_destroy(sample_work);
    printf("sample: %d threads, sum %ld\n", SAMPLE_THREADS, (long)sum);
    return sum == SAMPLE_THREADS * (SAMPLE_THREADS + 1) ? 0 : 1;
}

#include <capri.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int jobs[2];          /* a pipe: main writes jobs, workers read them */
static capri_chan_t done;    /* workers report here */
static capri_mutex_t lock;   /* zero-initialised: ready to use */
static long total;

static void *worker(void *arg)
{
    char msg[8];
    if (read(jobs[0], msg, sizeof msg) != sizeof msg) /* parks this thread only */
        return NULL;
    long n = strtol(msg, NULL, 10);
    capri_mutex_lock(&lock);
    total += n;
    capri_mutex_unlock(&lock);
    capri_chan_send(done, &n);
    return arg;
}

int main(void)
{
    capri_t t[4];
    char msg[8];
    long n;
    if (pipe(jobs) || capri_chan_create(&done, sizeof n, 4))
        return 1;
    for (int i = 0; i < 4; i++)
        capri_spawn(&t[i], worker, NULL, NULL);
    for (int i = 1; i <= 4; i++) /* 8-byte writes to a pipe are atomic */
        write(jobs[1], msg, snprintf(msg, sizeof msg, "%7d", i * 10) + 1);
    for (int i = 0; i < 4; i++) {
        capri_chan_recv(done, &n);
        printf("a worker took job %ld\n", n);
    }
    for (int i = 0; i < 4; i++)
        capri_join(t[i], NULL);
    printf("total %ld\n", total);
    return 0;
}

/*
 * ca_roundtrip: the C floor of Channel Access round trips on one channel.
 *
 *   ca_roundtrip <pv> [window_s=3] [warmup_s=0.5]
 *
 * Preemptive context, as the Python clients use.  Two phases, each a warm-up
 * then a measurement window, one operation at a time (no pipelining):
 *   get:   ca_array_get(DBR_DOUBLE, 1) + ca_pend_io()        -- a blocking read
 *   putcb: ca_array_put_callback(DBR_DOUBLE, 1) + ca_flush_io(), then wait
 *          for the completion callback (posted by libca's auxiliary thread)
 *          on a semaphore                                    -- a confirmed write
 * Prints one JSON line: per phase ops/s and CPU us per op (getrusage
 * RUSAGE_SELF, all threads; user and sys).
 */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cadef.h>

#include "bench_common.h"

static sem_t done_sem;
static int put_status;

static void put_done(struct event_handler_args args)
{
    put_status = args.status;
    sem_post(&done_sem);
}

static int do_get(chid ch, double *counter)
{
    double value;
    int st = ca_array_get(DBR_DOUBLE, 1, ch, &value);
    if (st == ECA_NORMAL) st = ca_pend_io(5.0);
    *counter += value; /* touch it */
    return st;
}

static int do_putcb(chid ch, double *counter)
{
    double value = (*counter += 1.0);
    int st = ca_array_put_callback(DBR_DOUBLE, 1, ch, &value, put_done, NULL);
    if (st != ECA_NORMAL) return st;
    ca_flush_io();
    while (sem_wait(&done_sem) && errno == EINTR) {}
    return put_status;
}

/* Runs op for warmup then window seconds; prints "name": {...} */
static int phase(const char *name, int (*op)(chid, double *), chid ch,
                 double window, double warmup)
{
    double counter = 0;
    unsigned long n = 0;
    double t = now(), end = t + warmup;
    while (now() < end)
        if (op(ch, &counter) != ECA_NORMAL) return -1;
    struct cpu_sample c0 = cpu_now();
    double t0 = now();
    end = t0 + window;
    do {
        if (op(ch, &counter) != ECA_NORMAL) return -1;
        n++;
    } while (now() < end);
    double t1 = now();
    struct cpu_sample c1 = cpu_now();
    double wall = t1 - t0, user = c1.user - c0.user, sys = c1.sys - c0.sys;
    printf("\"%s\": {\"ops\": %lu, \"seconds\": %.4f, \"ops_per_s\": %.1f, "
           "\"cpu_us_per_op\": %.4f, \"user_us_per_op\": %.4f, \"sys_us_per_op\": %.4f}",
           name, n, wall, n / wall, (user + sys) * 1e6 / n, user * 1e6 / n, sys * 1e6 / n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <pv> [window_s=3] [warmup_s=0.5]\n", argv[0]);
        return 2;
    }
    const char *pv = argv[1];
    double window = argc > 2 ? atof(argv[2]) : 3.0;
    double warmup = argc > 3 ? atof(argv[3]) : 0.5;
    if (sem_init(&done_sem, 0, 0)) { perror("sem_init"); return 1; }

    SEVCHK(ca_context_create(ca_enable_preemptive_callback), "ca_context_create");
    chid ch;
    if (connect_one("ca_roundtrip", pv, &ch)) return 1;
    printf("{");
    if (phase("get", do_get, ch, window, warmup)) {
        fprintf(stderr, "ca_roundtrip: get failed\n");
        return 1;
    }
    printf(", ");
    if (phase("putcb", do_putcb, ch, window, warmup)) {
        fprintf(stderr, "ca_roundtrip: put callback failed\n");
        return 1;
    }
    printf("}\n");
    fflush(stdout);
    ca_clear_channel(ch);
    ca_context_destroy();
    return 0;
}

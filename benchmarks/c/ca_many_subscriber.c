/*
 * ca_many_subscriber: the CPU floor of a client subscribed to many counter PVs.
 *
 *   ca_many_subscriber <prefix> <n> [window_s=5] [warmup_s=2] [connect_timeout_s=30]
 *
 * Connects <prefix>0 .. <prefix>(n-1) (ca_create_channel for each, then one
 * ca_pend_io() until all are connected: the connect time), then subscribes
 * each with DBR_TIME_DOUBLE, count 1, DBE_VALUE|DBE_ALARM.  Every PV is a
 * counter that the IOC increments by one at each processing, so the callback
 * keeps the last value per PV and counts a gap (value - last - 1) whenever
 * the new value skipped some: an update the client never saw.
 *
 * After the warm-up the callback counters, the per-PV last values, wall time
 * and process CPU (getrusage RUSAGE_SELF: user + sys of all threads) are
 * sampled, and again after the window; one JSON line goes to stdout:
 *   {"updates", "missed", "produced", "seconds", "cpu_s", "cpu_user_s",
 *    "cpu_sys_s", "connect_s", "rss_bytes", ...}
 * with produced = the sum over PVs of how far each counter advanced in the
 * window (what the IOC published), and rss_bytes read at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <pthread.h>

#include <cadef.h>

#include "bench_common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double *last_value;               /* per PV; NAN until the first update */
static unsigned long long n_updates, n_missed, n_errors;

static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static void on_update(struct event_handler_args args)
{
    size_t i = (size_t)args.usr;
    if (args.status != ECA_NORMAL || !args.dbr) {
        __atomic_add_fetch(&n_errors, 1, __ATOMIC_RELAXED);
        return;
    }
    double value = ((const struct dbr_time_double *)args.dbr)->value;
    pthread_mutex_lock(&lock);
    double previous = last_value[i];
    if (!isnan(previous) && value > previous + 1)
        n_missed += (unsigned long long)(value - previous - 1);
    last_value[i] = value;
    n_updates++;
    pthread_mutex_unlock(&lock);
}

/* the counters and a copy of the last values, taken together */
static void snapshot(size_t n, double *values, unsigned long long *updates,
                     unsigned long long *missed)
{
    pthread_mutex_lock(&lock);
    memcpy(values, last_value, n * sizeof *values);
    *updates = n_updates;
    *missed = n_missed;
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <prefix> <n> [window_s=5] [warmup_s=2] "
                "[connect_timeout_s=30]\n", argv[0]);
        return 2;
    }
    const char *prefix = argv[1];
    size_t n = strtoul(argv[2], NULL, 10);
    double window = argc > 3 ? atof(argv[3]) : 5.0;
    double warmup = argc > 4 ? atof(argv[4]) : 2.0;
    double connect_timeout = argc > 5 ? atof(argv[5]) : 30.0;
    if (n < 1) { fprintf(stderr, "ca_many_subscriber: n must be >= 1\n"); return 2; }

    chid *channels = calloc(n, sizeof *channels);
    evid *events = calloc(n, sizeof *events);
    double *start = malloc(n * sizeof *start), *end = malloc(n * sizeof *end);
    last_value = malloc(n * sizeof *last_value);
    if (!channels || !events || !start || !end || !last_value) { perror("malloc"); return 1; }
    for (size_t i = 0; i < n; i++) last_value[i] = NAN;

    SEVCHK(ca_context_create(ca_enable_preemptive_callback), "ca_context_create");
    double connect_start = now();
    if (connect_numbered("ca_many_subscriber", prefix, n, channels, connect_timeout)) return 1;
    double connect_s = now() - connect_start;
    for (size_t i = 0; i < n; i++)
        SEVCHK(ca_create_subscription(DBR_TIME_DOUBLE, 1, channels[i], DBE_VALUE | DBE_ALARM,
                                      on_update, (void *)i, &events[i]),
               "ca_create_subscription");
    ca_flush_io();

    sleep_s(warmup);
    unsigned long long u0, m0, u1, m1;
    snapshot(n, start, &u0, &m0);
    struct cpu_sample c0 = cpu_now();
    double t0 = now();

    sleep_s(window);

    snapshot(n, end, &u1, &m1);
    struct cpu_sample c1 = cpu_now();
    double t1 = now();
    long rss = rss_bytes();

    double produced = 0;
    size_t unseen = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(start[i]) || isnan(end[i])) { unseen++; continue; }
        produced += end[i] - start[i];
    }
    double wall = t1 - t0, user = c1.user - c0.user, sys = c1.sys - c0.sys;
    unsigned long long updates = u1 - u0;
    printf("{\"updates\": %llu, \"missed\": %llu, \"produced\": %.0f, \"unseen\": %zu, "
           "\"seconds\": %.4f, \"cpu_s\": %.4f, \"cpu_user_s\": %.4f, \"cpu_sys_s\": %.4f, "
           "\"vol_ctx_switches\": %ld, \"connect_s\": %.4f, \"rss_bytes\": %ld, "
           "\"channels\": %zu, \"errors\": %llu, \"backend\": \"C libca\"}\n",
           updates, m1 - m0, produced, unseen, wall, user + sys, user, sys, c1.nvcsw - c0.nvcsw,
           connect_s, rss, n, __atomic_load_n(&n_errors, __ATOMIC_RELAXED));
    fflush(stdout);

    for (size_t i = 0; i < n; i++) ca_clear_subscription(events[i]);
    for (size_t i = 0; i < n; i++) ca_clear_channel(channels[i]);
    ca_context_destroy();
    return updates ? 0 : 1;
}

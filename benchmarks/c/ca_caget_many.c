/*
 * ca_caget_many: the C floor of reading many PVs at once (a "list caget").
 *
 *   ca_caget_many <prefix> <n> [iterations=20] [timeout_s=30]
 *
 * Preemptive context.  Cold: ca_create_channel for <prefix>0 .. <prefix>(n-1),
 * one ca_pend_io() until all are connected, then the first read of all of
 * them (connect_s, cold_s = connect + that read).  Warm, <iterations> times:
 * ca_array_get_callback(DBR_DOUBLE, 1) on each of the n channels, one
 * ca_flush_io(), then wait (a semaphore posted by the callback that
 * completes the n-th get) until every value is in: one "caget of n PVs".
 * Each callback stores its value in a per-channel array.
 *
 * Prints one JSON line: {"connect_s", "cold_s", "gets": [wall s of each warm
 * caget], "cpu_s" (user + sys over the warm ones), "cpu_user_s", "cpu_sys_s",
 * "iterations", "channels", "errors", "backend"}.
 */
#include <errno.h>
#include <math.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cadef.h>

#include "bench_common.h"

static sem_t all_done;
static double *values;
static size_t n_channels;
static unsigned long pending;            /* gets outstanding in this round */
static unsigned long n_errors;

static void on_get(struct event_handler_args args)
{
    size_t i = (size_t)args.usr;
    if (args.status != ECA_NORMAL || !args.dbr)
        __atomic_add_fetch(&n_errors, 1, __ATOMIC_RELAXED);
    else
        values[i] = *(const double *)args.dbr;
    if (__atomic_sub_fetch(&pending, 1, __ATOMIC_ACQ_REL) == 0)
        sem_post(&all_done);
}

static int caget_all(chid *channels)
{
    __atomic_store_n(&pending, n_channels, __ATOMIC_RELEASE);
    for (size_t i = 0; i < n_channels; i++) {
        int st = ca_array_get_callback(DBR_DOUBLE, 1, channels[i], on_get, (void *)i);
        if (st != ECA_NORMAL) {
            fprintf(stderr, "ca_caget_many: ca_array_get_callback: %s\n", ca_message(st));
            return -1;
        }
    }
    ca_flush_io();
    while (sem_wait(&all_done) && errno == EINTR) {}
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <prefix> <n> [iterations=20] [timeout_s=30]\n", argv[0]);
        return 2;
    }
    const char *prefix = argv[1];
    n_channels = strtoul(argv[2], NULL, 10);
    int iterations = argc > 3 ? atoi(argv[3]) : 20;
    double timeout = argc > 4 ? atof(argv[4]) : 30.0;
    if (n_channels < 1 || iterations < 1) {
        fprintf(stderr, "ca_caget_many: n and iterations must be >= 1\n");
        return 2;
    }
    chid *channels = calloc(n_channels, sizeof *channels);
    values = malloc(n_channels * sizeof *values);
    double *gets = malloc(iterations * sizeof *gets);
    if (!channels || !values || !gets) { perror("malloc"); return 1; }
    if (sem_init(&all_done, 0, 0)) { perror("sem_init"); return 1; }

    SEVCHK(ca_context_create(ca_enable_preemptive_callback), "ca_context_create");
    double t0 = now();
    if (connect_numbered("ca_caget_many", prefix, n_channels, channels, timeout)) return 1;
    double connect_s = now() - t0;
    if (caget_all(channels)) return 1;
    double cold_s = now() - t0;

    double checksum = 0;
    struct cpu_sample c0 = cpu_now();
    for (int k = 0; k < iterations; k++) {
        double g0 = now();
        if (caget_all(channels)) return 1;
        gets[k] = now() - g0;
        checksum += values[k % n_channels];
    }
    struct cpu_sample c1 = cpu_now();
    double user = c1.user - c0.user, sys = c1.sys - c0.sys;

    printf("{\"connect_s\": %.6f, \"cold_s\": %.6f, \"gets\": [", connect_s, cold_s);
    for (int k = 0; k < iterations; k++) printf("%s%.6f", k ? ", " : "", gets[k]);
    printf("], \"cpu_s\": %.6f, \"cpu_user_s\": %.6f, \"cpu_sys_s\": %.6f, "
           "\"iterations\": %d, \"channels\": %zu, \"errors\": %lu, \"checksum\": %.1f, "
           "\"backend\": \"C libca\"}\n",
           user + sys, user, sys, iterations, n_channels,
           __atomic_load_n(&n_errors, __ATOMIC_RELAXED), isnan(checksum) ? -1.0 : checksum);
    fflush(stdout);
    for (size_t i = 0; i < n_channels; i++) ca_clear_channel(channels[i]);
    ca_context_destroy();
    return n_errors ? 1 : 0;
}

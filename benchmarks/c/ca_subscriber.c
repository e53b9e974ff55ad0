/*
 * ca_subscriber: the CPU floor of a Channel Access monitor client.
 *
 *   ca_subscriber <pv> [type=DBR_DOUBLE] [window_s=5] [warmup_s=1]
 *
 * Preemptive context; one subscription (count 0 = server's current length,
 * DBE_VALUE|DBE_ALARM) of the requested DBR type (DBR_DOUBLE,
 * DBR_TIME_DOUBLE, ... as spelled in dbr_text[]).  Each callback memcpy()s
 * the dbr into a preallocated buffer -- the least any client has to do to
 * hand the data on -- and counts updates and bytes.
 *
 * After a warm-up the updates, wall time and process CPU time (getrusage
 * RUSAGE_SELF: user+sys of all threads) are measured over the window, and
 * one JSON line is printed on stdout:
 *   {"updates": n, "seconds": wall, "cpu_s": cpu, "cpu_us_per_update": ..,
 *    "updates_per_s": .., "mb_per_s": .., ...}
 * plus diagnostics: user/sys split and voluntary context switches over the
 * window (vol_ctx_switches / updates ~ wake-ups per update: if each update
 * arrives in its own TCP segment the cost is dominated by the wake-up and
 * recv() path, not by the copy) and minor page faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cadef.h>

#include "bench_common.h"

static void *copy_buf;
static size_t copy_buf_size;
static unsigned long n_updates = 0;      /* updated from CA aux thread */
static unsigned long long n_bytes = 0;
static unsigned long n_errors = 0;

static void on_update(struct event_handler_args args)
{
    if (args.status != ECA_NORMAL || !args.dbr) {
        __atomic_add_fetch(&n_errors, 1, __ATOMIC_RELAXED);
        return;
    }
    size_t nbytes = dbr_size_n(args.type, args.count);
    if (nbytes > copy_buf_size) nbytes = copy_buf_size; /* cannot happen */
    memcpy(copy_buf, args.dbr, nbytes);
    __atomic_add_fetch(&n_bytes, (unsigned long long)nbytes, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_updates, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <pv> [type=DBR_DOUBLE] [window_s=5] [warmup_s=1]\n",
                argv[0]);
        return 2;
    }
    const char *pv = argv[1];
    const char *type_name = argc > 2 ? argv[2] : "DBR_DOUBLE";
    double window = argc > 3 ? atof(argv[3]) : 5.0;
    double warmup = argc > 4 ? atof(argv[4]) : 1.0;

    long type = -1;
    for (long t = 0; t < dbr_text_dim - 1; t++)
        if (strcmp(type_name, dbr_text[t]) == 0) { type = t; break; }
    if (type < 0) {
        fprintf(stderr, "ca_subscriber: unknown DBR type %s\n", type_name);
        return 2;
    }

    SEVCHK(ca_context_create(ca_enable_preemptive_callback), "ca_context_create");
    chid ch;
    if (connect_one("ca_subscriber", pv, &ch)) return 1;
    unsigned long nelm = ca_element_count(ch);
    copy_buf_size = dbr_size_n(type, nelm);
    copy_buf = malloc(copy_buf_size);
    if (!copy_buf) { perror("malloc"); return 1; }
    memset(copy_buf, 0, copy_buf_size); /* fault the pages in now */

    evid ev;
    SEVCHK(ca_create_subscription(type, 0, ch, DBE_VALUE | DBE_ALARM,
                                  on_update, NULL, &ev), "ca_create_subscription");
    ca_flush_io();

    sleep_s(warmup);
    unsigned long u0 = __atomic_load_n(&n_updates, __ATOMIC_RELAXED);
    unsigned long long b0 = __atomic_load_n(&n_bytes, __ATOMIC_RELAXED);
    struct cpu_sample c0 = cpu_now();
    double t0 = now();

    sleep_s(window);

    unsigned long u1 = __atomic_load_n(&n_updates, __ATOMIC_RELAXED);
    unsigned long long b1 = __atomic_load_n(&n_bytes, __ATOMIC_RELAXED);
    struct cpu_sample c1 = cpu_now();
    double t1 = now();

    unsigned long n = u1 - u0;
    double wall = t1 - t0;
    double cpu_user = c1.user - c0.user, cpu_sys = c1.sys - c0.sys;
    double cpu = cpu_user + cpu_sys;
    double mb = (double)(b1 - b0) / 1e6;
    char per_update[32];
    if (n) snprintf(per_update, sizeof per_update, "%.4f", cpu * 1e6 / n);
    else strcpy(per_update, "null");
    printf("{\"updates\": %lu, \"seconds\": %.4f, \"cpu_s\": %.4f, "
           "\"cpu_us_per_update\": %s, \"updates_per_s\": %.1f, \"mb_per_s\": %.3f, "
           "\"cpu_user_s\": %.4f, \"cpu_sys_s\": %.4f, "
           "\"vol_ctx_switches\": %ld, \"invol_ctx_switches\": %ld, \"minor_faults\": %ld, "
           "\"type\": \"%s\", \"elements\": %lu, \"errors\": %lu}\n",
           n, wall, cpu, per_update, n / wall, mb / wall,
           cpu_user, cpu_sys, c1.nvcsw - c0.nvcsw, c1.nivcsw - c0.nivcsw, c1.minflt - c0.minflt,
           dbr_text[type], nelm, __atomic_load_n(&n_errors, __ATOMIC_RELAXED));
    fflush(stdout);

    ca_clear_subscription(ev);
    ca_clear_channel(ch);
    ca_context_destroy();
    free(copy_buf);
    return n ? 0 : 1;
}

/*
 * bench_common.h: what the C benchmark clients share -- the clocks, sleeping, and
 * connecting channels the way every client of the benchmarks does.
 *
 * Header only (static inline): build.py compiles each program from its one .c file, which
 * finds this header beside it.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdio.h>
#include <time.h>
#include <sys/resource.h>

#include <cadef.h>

/* wall time in seconds, monotonic */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* process CPU so far (getrusage RUSAGE_SELF: all threads, libca's included) */
struct cpu_sample { double user, sys; long nvcsw, nivcsw, minflt; };

static inline struct cpu_sample cpu_now(void)
{
    struct rusage ru;
    struct cpu_sample c;
    getrusage(RUSAGE_SELF, &ru);
    c.user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
    c.sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    c.nvcsw = ru.ru_nvcsw;   /* voluntary context switches ~ thread wake-ups */
    c.nivcsw = ru.ru_nivcsw;
    c.minflt = ru.ru_minflt; /* page faults: first touches of fresh memory */
    return c;
}

/* sleeps s seconds, resumed after a signal */
static inline void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts)) {}
}

/* A channel to pv, connected within 5 s: 0, or -1 after saying why on stderr. */
static inline int connect_one(const char *program, const char *pv, chid *ch)
{
    SEVCHK(ca_create_channel(pv, NULL, NULL, 0, ch), "ca_create_channel");
    int st = ca_pend_io(5.0);
    if (st != ECA_NORMAL) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", program, pv, ca_message(st));
        return -1;
    }
    return 0;
}

/* Channels to <prefix>0 .. <prefix>(n-1), created together and then connected by one
 * ca_pend_io(timeout): 0, or -1 after saying why on stderr. */
static inline int connect_numbered(const char *program, const char *prefix, size_t n,
                                   chid *channels, double timeout)
{
    char name[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%zu", prefix, i);
        SEVCHK(ca_create_channel(name, NULL, NULL, 0, &channels[i]), "ca_create_channel");
    }
    int st = ca_pend_io(timeout);
    if (st != ECA_NORMAL) {
        fprintf(stderr, "%s: not all of %zu channels connected: %s\n", program, n,
                ca_message(st));
        return -1;
    }
    return 0;
}

#endif

/*
 * Helpers shared by the C benches: a monotonic nanosecond clock, medians,
 * and the one output line every bench ends with (bench/README.md):
 *   BENCH <name>: ours=<v><unit> peer(<what>)=<v><unit> ratio=<ours/peer>
 * Benches alternate ours and peer in rounds (ABBA order, so slow drift of the
 * machine hits both equally) and report medians over the rounds.
 */
#ifndef VOID_BENCH_H
#define VOID_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Prints the BENCH line for costs measured in n paired rounds: ours and peer
 * are the medians of ours[] and peer[]; ratio is the median of the per-round
 * ratios ours[r]/peer[r], so that a slow patch of the shared machine, which
 * hits both halves of a round alike, cancels out. Sorts a copy of the data. */
static inline void bench_report_rounds(const char *name,
                                       const char *peer_name,
                                       const char *unit,
                                       const double *ours,
                                       const double *peer,
                                       int n)
{
    double *o = malloc((size_t)n * sizeof(double));
    double *p = malloc((size_t)n * sizeof(double));
    double *q = malloc((size_t)n * sizeof(double));
    if (o == NULL || p == NULL || q == NULL) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        o[i] = ours[i];
        p[i] = peer[i];
        q[i] = ours[i] / peer[i];
    }
    printf("BENCH %s: ours=%.3f%s peer(%s)=%.3f%s ratio=%.3f\n",
           name,
           bench_median(o, n),
           unit,
           peer_name,
           bench_median(p, n),
           unit,
           bench_median(q, n));
    fflush(stdout);
    free(o);
    free(p);
    free(q);
}

/* Runs ours() and peer() (each returns the cost of one operation) once to
 * warm up, then n rounds alternating which goes first (ABBA order, so that
 * neither side always runs on a warmer cache), and prints the BENCH line of
 * bench_report_rounds. n is at most 1024. */
static inline void bench_compare_rounds(const char *name,
                                        const char *peer_name,
                                        const char *unit,
                                        double (*ours)(void),
                                        double (*peer)(void),
                                        int n)
{
    double o[1024], p[1024];
    if (n <= 0 || n > 1024) {
        abort();
    }
    ours();
    peer();
    for (int r = 0; r < n; r++) {
        if (r % 2 == 0) {
            o[r] = ours();
            p[r] = peer();
        } else {
            p[r] = peer();
            o[r] = ours();
        }
    }
    bench_report_rounds(name, peer_name, unit, o, p, n);
}

/* Prints the BENCH line for a cost (time per operation): lower is better. */
static inline void
bench_report(const char *name, const char *peer, const char *unit, double ours, double theirs)
{
    printf("BENCH %s: ours=%.3f%s peer(%s)=%.3f%s ratio=%.3f\n",
           name,
           ours,
           unit,
           peer,
           theirs,
           unit,
           ours / theirs);
    fflush(stdout);
}

#endif

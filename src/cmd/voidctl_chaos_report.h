/*
 * voidctl chaos: figures and reports that need no cluster (docs/chaos.md).
 * Throughput and latency percentiles of the writer's history over a time
 * window, the live one-line summary of `voidctl chaos continuous`, and the
 * self-contained HTML report (inline SVG, no script, no external resource).
 * Kept apart from voidctl_chaos.c, which drives the faults.
 */
#ifndef VOID_CMD_VOIDCTL_CHAOS_REPORT_H
#define VOID_CMD_VOIDCTL_CHAOS_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One write of the engine's writer, wall clock. */
struct chaos_sample {
    uint64_t invoke_ns;
    uint64_t ack_ns; /* 0: never acknowledged */
    int ok;          /* acknowledged with VOID_SM_OK */
};

/* The writes invoked in [from_ns, to_ns): acknowledged ones per second of
 * the window and the latency percentiles of those acknowledged (NaN-free:
 * -1 when none was). */
struct chaos_window {
    uint64_t invoked, acked;
    double ops_per_s;
    double p50_ms, p99_ms, max_ms;
};

void chaos_window_stats(const struct chaos_sample *s,
                        size_t count,
                        uint64_t from_ns,
                        uint64_t to_ns,
                        struct chaos_window *out);

/* The value at quantile p (0..1) of sorted[0..count) by nearest rank; -1
 * when count is 0. */
double chaos_quantile(const double *sorted, size_t count, double p);

/* Sorts v[0..count) ascending (doubles). */
void chaos_sort(double *v, size_t count);

/* Running totals for the live summary of continuous mode. */
struct chaos_live {
    uint32_t experiments, survived;
    uint32_t by_kind[64];
    double *recovery; /* recovery times seen so far, seconds */
    size_t count_recovery, cap_recovery;
};

/* Adds one finished experiment (its fault index, provisional verdict and
 * recovery time, < 0 for none); 0 or -1 (out of memory). */
int chaos_live_add(struct chaos_live *l, uint32_t fault, int survived, double recovery_s);

/* Prints the one-line summary: experiments, faults by kind (names[k] for
 * kind k < kinds), survival, recovery p50/p99, acknowledged writes, elapsed
 * time. On a terminal the line is rewritten in place (\r), else one line
 * per call. */
void chaos_live_print(FILE *out,
                      const struct chaos_live *l,
                      const char *const *names,
                      uint32_t kinds,
                      uint64_t acked,
                      double elapsed_s);

void chaos_live_fini(struct chaos_live *l);

/* Writes the HTML report of a run to path: report is the run's JSON
 * document (docs/chaos.md, "The report"), samples the writer's history,
 * run_start_ns the wall clock the report's seconds count from. 0, or -1
 * after a message on stderr. */
int chaos_html_write(const char *path,
                     const json_t *report,
                     const struct chaos_sample *samples,
                     size_t count,
                     uint64_t run_start_ns);

/* 1 when path ends in ".html" or ".htm" (the report is HTML, not JSON). */
int chaos_report_is_html(const char *path);

#endif

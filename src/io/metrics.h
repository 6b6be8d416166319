/*
 * A writer of the Prometheus text exposition format (version 0.0.4), and the
 * histograms the driver records for it (docs/operations.md, section 4).
 *
 * Output is grouped in families: void__metrics_family writes a family's
 * "# HELP" and "# TYPE" lines, then its samples follow. The writer keeps the
 * format's rules so that `promtool check metrics` accepts what it writes:
 * help text and label values are escaped, a histogram's buckets are
 * cumulative and end with le="+Inf", its _sum and _count follow them, and a
 * family's samples stay together (the caller writes each family once; a
 * family opened twice is a bug, checked under VOID_DEBUG).
 *
 * Values are integers: a counter or gauge in its base unit, or a fixed-point
 * integer with `digits` decimals (nanoseconds are seconds with 9 digits), so
 * a scrape formats no floating point and prints exact sums.
 *
 * Bounded output: the writer never writes past out[cap). When a family does
 * not fit, everything of it is taken back, nothing after it is written, and
 * void__metrics_finish returns VOID_EFULL and ends the output with a comment
 * line naming the first family left out (room for it is held back from the
 * start): a scrape has complete families only, and says that it is cut.
 *
 * Threads: a writer and a histogram belong to one thread at a time; the
 * caller locks (the node copies its histograms into its snapshot under its
 * lock and renders from there).
 */
#ifndef VOID_IO_METRICS_H
#define VOID_IO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define VOID_METRICS_BUCKETS_MAX  16  /* upper bounds of a histogram, +Inf not counted */
#define VOID_METRICS_NAME_MAX     96  /* a family's name, with its NUL */
#define VOID_METRICS_TAIL         160 /* held back for the truncation comment */
#define VOID_METRICS_FAMILIES_MAX 256 /* families remembered for the VOID_DEBUG check */

enum void__metrics_type {
    VOID_METRICS_COUNTER = 1,  /* name ends in _total */
    VOID_METRICS_GAUGE = 2,    /* name does not end in _total */
    VOID_METRICS_HISTOGRAM = 3 /* name ends in its unit (_seconds, _bytes) */
};

/* Bucket layout of a histogram: static, shared by every histogram of a kind.
 * upper[] increases strictly and is in the observed integer unit; it is
 * printed with `digits` decimals (9: nanoseconds shown as seconds). */
struct void__metrics_buckets {
    uint32_t count; /* 1..VOID_METRICS_BUCKETS_MAX */
    unsigned digits;
    uint64_t upper[VOID_METRICS_BUCKETS_MAX];
};

/* A histogram: per-bucket counts (not cumulative; counts[count] is the
 * overflow past the last bound), the number and sum of observations. */
struct void__metrics_histogram {
    const struct void__metrics_buckets *buckets; /* borrowed, static */
    uint64_t counts[VOID_METRICS_BUCKETS_MAX + 1];
    uint64_t count;
    uint64_t sum; /* in the observed unit; wraps after 584 years of nanoseconds */
};

struct void__metrics_writer {
    char *out;
    size_t cap; /* bytes usable for families: the buffer less VOID_METRICS_TAIL */
    size_t len;
    size_t family_start;               /* len where the open family began */
    char family[VOID_METRICS_NAME_MAX]; /* the open family; "" none */
    enum void__metrics_type type;
    int rc;                            /* 0, or VOID_EFULL once a family did not fit */
    char first_cut[VOID_METRICS_NAME_MAX]; /* the first family left out */
    uint32_t families;                 /* complete families written */
#if defined(VOID_DEBUG) && VOID_DEBUG
    uint32_t count_names;
    char names[VOID_METRICS_FAMILIES_MAX][VOID_METRICS_NAME_MAX];
#endif
};

/* Sets h up, empty, with the bucket layout b (borrowed; static). Cannot
 * fail. */
void void__metrics_histogram_init(struct void__metrics_histogram *h,
                                  const struct void__metrics_buckets *b);

/* Counts one observation v (in the layout's integer unit) into h. Cannot
 * fail. */
void void__metrics_histogram_observe(struct void__metrics_histogram *h, uint64_t v);

/* Starts writing into out[0..cap) (borrowed until void__metrics_finish);
 * cap must exceed VOID_METRICS_TAIL. Cannot fail. */
void void__metrics_init(struct void__metrics_writer *w, char *out, size_t cap);

/* Closes the open family and opens family `name` (a valid metric name, its
 * suffix right for type) with its help text (any text; escaped here). Both
 * borrowed for the call. Cannot fail: a family that does not fit is taken
 * back by the sample that overflows, and nothing is written after it. */
void void__metrics_family(struct void__metrics_writer *w,
                          const char *name,
                          enum void__metrics_type type,
                          const char *help);

/* One sample of the open counter or gauge family: `name{label="value"} v`,
 * or `name v` when label is NULL. label is a valid label name, value any
 * text (escaped here); both borrowed for the call. Cannot fail. */
void void__metrics_u64(struct void__metrics_writer *w,
                       const char *label,
                       const char *value,
                       uint64_t v);

/* As void__metrics_u64 for a gauge (or a counter, v >= 0) of fixed-point v
 * with `digits` decimals (v = -1500, digits 3: "-1.5"). Cannot fail. */
void void__metrics_fixed(struct void__metrics_writer *w,
                         const char *label,
                         const char *value,
                         int64_t v,
                         unsigned digits);

/* The samples of histogram h (borrowed for the call) in the open histogram
 * family: _bucket lines with cumulative counts and le="+Inf", _sum, _count;
 * with label="value" on each when label is not NULL. Cannot fail. */
void void__metrics_histogram(struct void__metrics_writer *w,
                             const char *label,
                             const char *value,
                             const struct void__metrics_histogram *h);

/* Closes the open family and ends the output; *len is set to the bytes
 * written (complete families, and the truncation comment on VOID_EFULL).
 * Returns 0, or VOID_EFULL when a family did not fit (w->first_cut names
 * it). */
int void__metrics_finish(struct void__metrics_writer *w, size_t *len);

/* Writes v with `digits` implied decimals into buf (at least 32 bytes) as the
 * shortest exact decimal ("0.00025", "-3", "1.5"); returns its length.
 * Cannot fail. */
size_t void__metrics_format_fixed(int64_t v, unsigned digits, char *buf);

#endif

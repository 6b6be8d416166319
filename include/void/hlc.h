/*
 * Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks",
 * OPODIS 2014), with the max-offset guard of CockroachDB.
 *
 * A timestamp is (wall_ns, logical): wall_ns is nanoseconds since the Unix
 * epoch taken from the node's disciplined physical clock (the timekeeper),
 * logical breaks ties among events with the same wall part. Guarantees:
 *
 *  - now() is strictly increasing per clock, even when the physical clock
 *    steps backwards: the wall part then holds and logical counts up.
 *  - update(remote) returns a timestamp greater than both the previous local
 *    timestamp and remote (receive is after send).
 *  - a remote timestamp whose wall part is more than max_offset_ns ahead of
 *    local physical time is rejected (VOID_EHLC_AHEAD) and counted, never
 *    merged, so one Byzantine node cannot drag every clock into the future.
 *  - logical is bounded by logical_max. When a tick would exceed it, the wall
 *    part advances by 1 ns and logical restarts at 0: time stays strictly
 *    monotonic, the clock runs at most 1 ns per logical_max events ahead of
 *    physical time, and the event is counted in overflows.
 *
 * The core functions take physical time as an argument (the *_at variants),
 * so protocol cores stay pure. void_hlc_now() / void_hlc_update() read the
 * clock function given at init, for drivers.
 */
#ifndef VOID_HLC_H
#define VOID_HLC_H

#include <stddef.h>
#include <stdint.h>

#define VOID_HLC_ENCODED_SIZE      12 /* 8 bytes wall_ns + 4 bytes logical, big-endian */
#define VOID_HLC_MAX_OFFSET_NS_DEF 500000000ull /* 500 ms, as CockroachDB */
#define VOID_HLC_FORMAT_MAX        48 /* "2026-11-25T14:13:40.123456789Z/4294967295" + NUL */

struct void_hlc_ts {
    uint64_t wall_ns;
    uint32_t logical;
};

/* Reads physical time in ns since the epoch. Used only by the non-_at calls. */
typedef uint64_t (*void_clock_fn)(void *ctx);

struct void_hlc_config {
    uint64_t max_offset_ns; /* 0 means VOID_HLC_MAX_OFFSET_NS_DEF */
    uint32_t logical_max;   /* 0 means UINT32_MAX; small values are for tests */
    void_clock_fn clock;    /* may be NULL if only the _at calls are used */
    void *clock_ctx;        /* borrowed for the clock's lifetime */
};

struct void_hlc {
    struct void_hlc_ts last;
    uint64_t max_offset_ns;
    uint32_t logical_max;
    void_clock_fn clock;
    void *clock_ctx;
    /* counters, for metrics */
    uint64_t count_rejected_ahead;
    uint64_t count_overflows;
    uint64_t count_backwards; /* physical clock read below the last wall part */
};

/* Initialises h from config (copied; NULL means all defaults). Cannot fail. */
void void_hlc_init(struct void_hlc *h, const struct void_hlc_config *config);

/* Timestamp for a local or send event at physical time phys_ns. Cannot fail. */
struct void_hlc_ts void_hlc_now_at(struct void_hlc *h, uint64_t phys_ns);

/* Same, reading physical time from the configured clock (which must be set). */
struct void_hlc_ts void_hlc_now(struct void_hlc *h);

/* Merges a remote timestamp on receive at physical time phys_ns and stores the
 * receive event's timestamp in *out (may be NULL). Returns 0, or
 * VOID_EHLC_AHEAD when remote.wall_ns > phys_ns + max_offset_ns; then h is
 * unchanged but for count_rejected_ahead. */
int void_hlc_update_at(struct void_hlc *h,
                       uint64_t phys_ns,
                       struct void_hlc_ts remote,
                       struct void_hlc_ts *out);

/* Same, reading physical time from the configured clock. */
int void_hlc_update(struct void_hlc *h, struct void_hlc_ts remote, struct void_hlc_ts *out);

/* -1, 0 or 1 as a is before, equal to or after b. Cannot fail. */
int void_hlc_compare(struct void_hlc_ts a, struct void_hlc_ts b);

/* Writes 12 bytes, big-endian, so that memcmp order equals compare order. */
void void_hlc_encode(struct void_hlc_ts ts, uint8_t out[VOID_HLC_ENCODED_SIZE]);
struct void_hlc_ts void_hlc_decode(const uint8_t in[VOID_HLC_ENCODED_SIZE]);

/* Formats as "2026-11-25T14:13:40.123456789Z/7" (UTC, logical after the
 * slash) into buf of size cap (VOID_HLC_FORMAT_MAX is always enough).
 * Returns the length written, or VOID_ERANGE if cap is too small. */
int void_hlc_format(struct void_hlc_ts ts, char *buf, size_t cap);

/* Parses what void_hlc_format writes; also accepts "WALLNS/LOGICAL" and a
 * plain "WALLNS" (logical 0), and a time without fraction or logical part.
 * Returns 0 or VOID_EPARSE. */
int void_hlc_parse(const char *s, struct void_hlc_ts *out);

#endif

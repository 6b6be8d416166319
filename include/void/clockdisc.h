/*
 * Clock discipline: the pure core of the timekeeper, after RFC 5905
 * sections 10-12 and chrony, in miniature.
 *
 * Inputs are NTP samples (offset of a server relative to the *system*
 * clock, measured by the caller), poll ticks and kiss-o'-death codes, each
 * with the system-clock reading sys_ns at which it happened. Nothing here
 * reads a clock, a socket or a random source.
 *
 *  - Per server: a clock filter over the last VOID_CLOCKDISC_FILTER samples
 *    (the lowest-delay sample wins; jitter is the RMS of the other offsets
 *    around it), an 8-bit reach register, and a poll interval that doubles
 *    after a run of good samples and halves on a miss, within the configured
 *    bounds. KoD RATE doubles the interval (and its floor); DENY and RSTR
 *    drop the server for good. After unreach_polls unanswered polls in a row
 *    a server is unreachable: its samples are discarded and it leaves the
 *    selection until it answers again (failover to the others).
 *  - Across servers: Marzullo's intersection over [offset - rootdist,
 *    offset + rootdist]. The servers whose interval covers the region where
 *    most intervals overlap are truechimers, provided they are a strict
 *    majority of the usable servers; the rest are falsetickers. Truechimers
 *    are combined, weighted by 1 / root distance. A falseticker stays out
 *    of later selections while it disagrees with the last majority's
 *    verdict, so that losing one honest server of three does not hand the
 *    liar a tie.
 *  - The virtual clock is system clock + correction. The correction follows
 *    the combined offset: its frequency part (the estimated drift of the
 *    system clock: per server a least-squares fit of its raw offsets over
 *    time, combined like the offsets, bounded by freq_ppm_max) plus a phase part slewed at no more
 * than slew_ppm_max. So the correction never jumps and changes at most (freq_ppm_max +
 * slew_ppm_max) ns per ms of system time; with both below 10^6 ppm the virtual clock never runs
 * backwards while the system clock runs forwards, and void_clockdisc_now() clamps it to be
 * non-decreasing even when the system clock steps back.
 *  - An alert callback fires when |combined offset| exceeds
 *    alert_offset_ns, when a usable server disagrees with the combined
 *    offset by more than alert_disagree_ns, or when no majority can be
 *    found; once per onset, not per sample.
 */
#ifndef VOID_CLOCKDISC_H
#define VOID_CLOCKDISC_H

#include "void/ntp.h"

#include <stdint.h>

#define VOID_CLOCKDISC_SERVERS_MAX        16
#define VOID_CLOCKDISC_FILTER             8                /* samples kept per server */
#define VOID_CLOCKDISC_POLL_MIN_DEF       16000000000ull   /* 16 s */
#define VOID_CLOCKDISC_POLL_MAX_DEF       1024000000000ull /* 1024 s */
#define VOID_CLOCKDISC_SLEW_PPM_DEF       500
#define VOID_CLOCKDISC_FREQ_PPM_DEF       500
#define VOID_CLOCKDISC_UNREACH_DEF        4
#define VOID_CLOCKDISC_ALERT_OFFSET_DEF   100000000ll /* 100 ms */
#define VOID_CLOCKDISC_ALERT_DISAGREE_DEF 50000000ll  /* 50 ms */
#define VOID_CLOCKDISC_PPM_MAX            100000      /* 10 %: sanity bound on both rates */

enum void_clockdisc_state {
    VOID_CLOCKDISC_NONE = 0,    /* no usable sample yet */
    VOID_CLOCKDISC_TRUECHIMER,  /* selected and combined */
    VOID_CLOCKDISC_FALSETICKER, /* outside the majority intersection */
    VOID_CLOCKDISC_NO_MAJORITY, /* has samples, but no majority exists */
    VOID_CLOCKDISC_UNREACHABLE, /* unreach_polls polls unanswered */
    VOID_CLOCKDISC_DENIED,      /* KoD DENY or RSTR: never polled again */
};

enum void_clockdisc_alert_kind {
    VOID_CLOCKDISC_ALERT_OFFSET = 1, /* |combined offset| > alert_offset_ns */
    VOID_CLOCKDISC_ALERT_DISAGREE,   /* a server is > alert_disagree_ns from the rest */
    VOID_CLOCKDISC_ALERT_NO_MAJORITY /* usable servers exist but do not agree */
};

struct void_clockdisc_alert {
    enum void_clockdisc_alert_kind kind;
    uint64_t sys_ns;
    int64_t combined_offset_ns;
    int64_t value_ns; /* the offending offset or disagreement */
    uint32_t server;  /* the disagreeing server (DISAGREE only) */
};

/* Called from inside void_clockdisc_sample(), _tick() or _kod(); alert is
 * borrowed for the call; must not call back into d. */
typedef void (*void_clockdisc_alert_fn)(void *ctx, const struct void_clockdisc_alert *alert);

struct void_clockdisc_config {
    uint32_t count_servers;    /* 1..VOID_CLOCKDISC_SERVERS_MAX */
    uint64_t poll_min_ns;      /* 0: default; also the first interval */
    uint64_t poll_max_ns;      /* 0: default; >= poll_min_ns */
    uint32_t slew_ppm_max;     /* 0: default 500; phase correction rate bound */
    uint32_t freq_ppm_max;     /* 0: default 500; largest drift compensated */
    uint32_t unreach_polls;    /* 0: default 4; misses in a row -> unreachable */
    int64_t alert_offset_ns;   /* 0: default 100 ms */
    int64_t alert_disagree_ns; /* 0: default 50 ms */
    /* 1: apply the first combined offset at once if void_clockdisc_now() was
     * never called (nobody can see that step); everything later is slewed. */
    int step_before_first_read;
    void_clockdisc_alert_fn alert; /* may be NULL */
    void *alert_ctx;               /* borrowed until fini */
};

struct void_clockdisc_filter_entry {
    int64_t offset_ns;
    int64_t delay_ns;
    int64_t rootdist_ns; /* root delay / 2 + root dispersion + delay / 2 */
    uint64_t sys_ns;
};

/* Read-only for callers; fields are valid after any call. */
struct void_clockdisc_server {
    struct void_clockdisc_filter_entry filter[VOID_CLOCKDISC_FILTER];
    uint32_t count_filter; /* valid entries, newest at (next_filter - 1) */
    uint32_t next_filter;
    enum void_clockdisc_state state;
    uint8_t reach; /* bit 0: the last poll was answered */
    uint8_t stratum;
    uint8_t outstanding; /* polled, no answer yet */
    uint32_t missed;     /* unanswered polls in a row */
    uint32_t good_run;   /* answered polls in a row since the last interval change */
    uint64_t poll_ns;
    uint64_t poll_floor_ns; /* raised by KoD RATE */
    uint64_t next_poll_ns;
    /* clock filter output */
    int64_t offset_ns;
    int64_t delay_ns;
    int64_t jitter_ns;
    int64_t rootdist_ns; /* of the selected sample plus jitter */
    double freq;         /* slope of this server's offsets over system time */
    int have_freq;
    /* counters */
    uint64_t count_samples;
    uint64_t count_polls;
    uint64_t count_kod;
};

struct void_clockdisc {
    struct void_clockdisc_config config;
    struct void_clockdisc_server servers[VOID_CLOCKDISC_SERVERS_MAX];
    /* selection */
    int have_combined;
    int64_t combined_offset_ns;
    int64_t combined_rootdist_ns;
    uint64_t combined_sys_ns; /* when the last majority was found */
    uint32_t count_truechimers;
    double combined_freq;
    double freq; /* estimated system clock error, d(offset)/d(sys), dimensionless */
    /* virtual clock */
    double corr_ns;  /* correction at corr_sys_ns */
    double phase_ns; /* phase still to slew in */
    uint64_t corr_sys_ns;
    int corr_started;
    uint64_t last_virtual_ns;
    int read; /* void_clockdisc_now() has been called */
    /* alerts currently raised (bit per kind), to fire once per onset */
    uint32_t alerts_active;
    uint64_t count_alerts;
};

/* Initialises d from config (copied; unset fields get defaults). All servers
 * are due for a poll at the first tick. Returns 0 or VOID_EINVAL (no servers,
 * too many, poll_max < poll_min, a rate above VOID_CLOCKDISC_PPM_MAX). */
int void_clockdisc_init(struct void_clockdisc *d, const struct void_clockdisc_config *config);

/* Cannot fail; d may be reused after a new init. */
void void_clockdisc_fini(struct void_clockdisc *d);

/* Poll tick at system time sys_ns: sets bit i of *poll_mask for each server
 * the caller must send a request to now. A server still outstanding from
 * its previous poll counts a miss. Returns the system time of the next due
 * poll (the caller arms a timer for it). Cannot fail. */
uint64_t void_clockdisc_tick(struct void_clockdisc *d, uint64_t sys_ns, uint32_t *poll_mask);

/* A validated sample from server (offset relative to the system clock),
 * received at system time sys_ns; *sample is copied (borrowed for the call). Updates the filter,
 * the selection, the correction target and the alerts. Returns 0, or VOID_EINVAL for a server index
 * out of range, or VOID_ENTP_KOD_DENY if the server was dropped (the sample is ignored). */
int void_clockdisc_sample(struct void_clockdisc *d,
                          uint32_t server,
                          uint64_t sys_ns,
                          const struct void_ntp_sample *sample);

/* A kiss-o'-death from server (err is VOID_ENTP_KOD_RATE, _DENY, _RSTR or
 * _KOD): RATE doubles the interval and its floor, DENY/RSTR drop the server
 * and rerun the selection, other codes count only. Returns 0 or VOID_EINVAL. */
int void_clockdisc_kod(struct void_clockdisc *d, uint32_t server, uint64_t sys_ns, int err);

/* Virtual (disciplined) time for system time sys_ns. Non-decreasing over
 * successive calls. Cannot fail. */
uint64_t void_clockdisc_now(struct void_clockdisc *d, uint64_t sys_ns);

/* Current correction (virtual - system) in ns at the last call's time, and
 * the estimated frequency error in ppm. Cannot fail. */
int64_t void_clockdisc_correction_ns(const struct void_clockdisc *d);
double void_clockdisc_freq_ppm(const struct void_clockdisc *d);

/* "truechimer", "falseticker", ... Never NULL. */
const char *void_clockdisc_state_name(enum void_clockdisc_state state);

#endif

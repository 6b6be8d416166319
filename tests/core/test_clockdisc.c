/*
 * Simulation tests of the clock discipline core (src/core/clockdisc.c).
 *
 * A small deterministic world, seeded by void_prng: true time T advances in
 * 50 ms steps; the local system clock reads sys0 + T * (1 + drift); each
 * server's clock reads T + its own error (zero for an honest server). An
 * exchange with server i at true time T goes through the real packet code
 * (void_ntp_sample): forward and backward one-way delays differ (asymmetry)
 * and carry random jitter; replies arrive later in true time, so the core
 * sees exactly what a client on a drifting machine would. A server can be
 * dead for a while (no replies).
 *
 * Every step checks the two safety properties: the virtual clock never runs
 * backwards, and the correction never changes faster than
 * slew_ppm_max + freq_ppm_max. After a settling time, the virtual clock must
 * stay within the stated bound of true time (VIRTUAL_ERR_BOUND_NS).
 *
 * A failure prints its seed. VOID_CLOCKDISC_SEED_OFFSET=k shifts every
 * scenario's seed by k (to explore), VOID_CLOCKDISC_TRACE=1 prints one line
 * per simulated minute (to debug).
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/clockdisc.h"
#include "void/error.h"
#include "void/ntp.h"
#include "void/prng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS                   1000000ll
#define US                   1000ll
#define S                    1000000000ll
#define STEP_NS              (50 * MS)
#define SIM_SERVERS_MAX      5
#define VIRTUAL_ERR_BOUND_NS (1 * MS) /* stated bound: 1 ms after settling */
#define SETTLE_NS            (20 * 60 * S)

struct sim_server {
    int64_t error_ns;    /* server clock minus true time */
    int64_t base_fwd_ns; /* one-way delays before jitter */
    int64_t base_back_ns;
    int64_t jitter_ns;                   /* uniform extra delay in [0, jitter] each way */
    int64_t dead_from_ns, dead_until_ns; /* true-time window without replies */
    /* the one exchange in flight */
    int pending;
    int64_t reply_at_ns; /* true time the reply arrives */
    uint64_t t1_sys_ns;
    struct void_ntp_packet reply;
};

struct sim {
    uint64_t seed;
    struct void_prng prng;
    double drift;    /* system clock rate error, e.g. 500e-6 */
    int64_t sys0_ns; /* system clock reading at T = 0 */
    uint32_t n;
    struct sim_server servers[SIM_SERVERS_MAX];
    struct void_clockdisc disc;
    int64_t t_ns;      /* true time */
    int64_t settle_ns; /* accuracy is measured from here on */
    int trace;         /* VOID_CLOCKDISC_TRACE set: print a line per minute */
    uint64_t next_tick_sys;
    /* observations */
    uint64_t last_virtual;
    int64_t last_corr;
    uint64_t last_sys;
    int64_t max_err_after_settle;
    uint32_t alerts[4];
};

static const uint64_t EPOCH_NS = 1795000000ull * 1000000000ull; /* an arbitrary 2026 date */

static uint64_t sys_at(const struct sim *w, int64_t t_ns)
{
    return (uint64_t)((int64_t)EPOCH_NS + w->sys0_ns + t_ns + (int64_t)((double)t_ns * w->drift));
}

static void on_alert(void *ctx, const struct void_clockdisc_alert *a)
{
    struct sim *w = ctx;
    w->alerts[a->kind]++;
}

static void sim_init(struct sim *w, uint64_t seed, uint32_t n, double drift, int64_t sys0_ns)
{
    memset(w, 0, sizeof(*w));
    /* VOID_CLOCKDISC_SEED_OFFSET=k reruns every scenario on other seeds. */
    const char *off = getenv("VOID_CLOCKDISC_SEED_OFFSET");
    seed += off != NULL ? strtoull(off, NULL, 10) : 0;
    w->seed = seed;
    void_prng_seed(&w->prng, seed);
    w->n = n;
    w->drift = drift;
    w->sys0_ns = sys0_ns;
    w->settle_ns = SETTLE_NS;
    w->trace = getenv("VOID_CLOCKDISC_TRACE") != NULL;
    for (uint32_t i = 0; i < n; i++) {
        struct sim_server *s = &w->servers[i];
        /* asymmetric paths: forward 0.2-1.2 ms, back 0.1-0.5 ms */
        s->base_fwd_ns = (int64_t)void_prng_range(&w->prng, 200 * US, 1200 * US);
        s->base_back_ns = (int64_t)void_prng_range(&w->prng, 100 * US, 500 * US);
        s->jitter_ns = 300 * US;
        s->dead_from_ns = s->dead_until_ns = -1;
    }
    struct void_clockdisc_config c = {.count_servers = n, .alert = on_alert, .alert_ctx = w};
    assert_int_equal(void_clockdisc_init(&w->disc, &c), 0);
    w->last_sys = sys_at(w, 0);
    w->last_virtual = void_clockdisc_now(&w->disc, w->last_sys);
}

static int dead(const struct sim_server *s, int64_t t)
{
    return t >= s->dead_from_ns && t < s->dead_until_ns;
}

/* Sends a request to server i at true time T: the server stamps it with its
 * own clock, the reply is scheduled for the backward delay later. */
static void sim_send(struct sim *w, uint32_t i)
{
    struct sim_server *s = &w->servers[i];
    int64_t fwd = s->base_fwd_ns + (int64_t)void_prng_below(&w->prng, (uint64_t)s->jitter_ns);
    int64_t back = s->base_back_ns + (int64_t)void_prng_below(&w->prng, (uint64_t)s->jitter_ns);
    int64_t hold = 20 * US;
    uint64_t xmt = void_prng_next(&w->prng) | 1;
    s->pending = !dead(s, w->t_ns);
    s->t1_sys_ns = sys_at(w, w->t_ns);
    s->reply_at_ns = w->t_ns + fwd + hold + back;
    uint64_t t2 = (uint64_t)((int64_t)EPOCH_NS + w->t_ns + fwd + s->error_ns);
    memset(&s->reply, 0, sizeof(s->reply));
    s->reply.version = 4;
    s->reply.mode = VOID_NTP_MODE_SERVER;
    s->reply.stratum = 2;
    s->reply.root_delay = 0x00000020;      /* ~0.5 ms */
    s->reply.root_dispersion = 0x00000010; /* ~0.25 ms */
    s->reply.origin_ts = xmt;
    s->reply.receive_ts = void_ntp_ts_from_unix_ns(t2);
    s->reply.transmit_ts = void_ntp_ts_from_unix_ns(t2 + (uint64_t)hold);
    assert_int_equal(void_ntp_check_reply(&s->reply, xmt), 0);
}

static void sim_deliver(struct sim *w, uint32_t i)
{
    struct sim_server *s = &w->servers[i];
    uint64_t t4 = sys_at(w, s->reply_at_ns);
    struct void_ntp_sample sample;
    assert_int_equal(void_ntp_sample(&s->reply, s->t1_sys_ns, t4, &sample), 0);
    s->pending = 0;
    assert_int_equal(void_clockdisc_sample(&w->disc, i, t4, &sample), 0);
}

/* The per-step safety checks and the accuracy bound after settling. */
static void sim_check(struct sim *w)
{
    uint64_t sys = sys_at(w, w->t_ns);
    uint64_t v = void_clockdisc_now(&w->disc, sys);
    int64_t corr = void_clockdisc_correction_ns(&w->disc);
    if (v < w->last_virtual) {
        fail_msg("seed %llu: virtual clock ran backwards at T=%lld",
                 (unsigned long long)w->seed,
                 (long long)w->t_ns);
    }
    const struct void_clockdisc_config *c = &w->disc.config;
    double dt = (double)(sys - w->last_sys);
    double bound = (double)(c->slew_ppm_max + c->freq_ppm_max) * 1e-6 * dt + 2.0;
    if ((double)llabs(corr - w->last_corr) > bound) {
        fail_msg("seed %llu: correction moved %lld ns in %.0f ns (bound %.0f)",
                 (unsigned long long)w->seed,
                 (long long)(corr - w->last_corr),
                 dt,
                 bound);
    }
    int64_t err = (int64_t)(v - EPOCH_NS) - w->t_ns;
    if (w->t_ns >= w->settle_ns && llabs(err) > w->max_err_after_settle) {
        w->max_err_after_settle = llabs(err);
    }
    w->last_virtual = v;
    w->last_corr = corr;
    w->last_sys = sys;
}

/* One line per simulated minute on stderr, for VOID_CLOCKDISC_TRACE=1. */
static void sim_trace(const struct sim *w)
{
    const struct void_clockdisc *d = &w->disc;
    fprintf(stderr,
            "seed %llu T=%5llds corr=%.3fms combined=%.3fms phase=%.3fms freq=%+.2fppm "
            "err=%.3fms poll0=%llus states=",
            (unsigned long long)w->seed,
            (long long)(w->t_ns / S),
            d->corr_ns / 1e6,
            (double)d->combined_offset_ns / 1e6,
            d->phase_ns / 1e6,
            void_clockdisc_freq_ppm(d),
            ((double)(int64_t)(w->last_virtual - EPOCH_NS) - (double)w->t_ns) / 1e6,
            (unsigned long long)(d->servers[0].poll_ns / S));
    for (uint32_t i = 0; i < w->n; i++) {
        fprintf(stderr, "%s%s", i ? "," : "", void_clockdisc_state_name(d->servers[i].state));
    }
    fprintf(stderr, "\n");
}

/* Runs the world until true time end_ns. */
static void sim_run(struct sim *w, int64_t end_ns)
{
    for (; w->t_ns < end_ns; w->t_ns += STEP_NS) {
        for (uint32_t i = 0; i < w->n; i++) {
            if (w->servers[i].pending && w->servers[i].reply_at_ns <= w->t_ns) {
                sim_deliver(w, i);
            }
        }
        uint64_t sys = sys_at(w, w->t_ns);
        if (sys >= w->next_tick_sys) {
            uint32_t mask = 0;
            w->next_tick_sys = void_clockdisc_tick(&w->disc, sys, &mask);
            for (uint32_t i = 0; i < w->n; i++) {
                if (mask & (1u << i)) {
                    sim_send(w, i);
                }
            }
        }
        sim_check(w);
        if (w->trace && w->t_ns % (60 * S) == 0) {
            sim_trace(w);
        }
    }
}

static void assert_converged(const struct sim *w)
{
    if (w->max_err_after_settle > VIRTUAL_ERR_BOUND_NS) {
        fail_msg("seed %llu drift %.0f ppm: error %lld ns after settling exceeds %lld ns",
                 (unsigned long long)w->seed,
                 w->drift * 1e6,
                 (long long)w->max_err_after_settle,
                 (long long)VIRTUAL_ERR_BOUND_NS);
    }
    print_message("seed %llu drift %+.0f ppm: max |virtual - true| after settling %lld us, "
                  "freq estimate %+.1f ppm\n",
                  (unsigned long long)w->seed,
                  w->drift * 1e6,
                  (long long)(w->max_err_after_settle / US),
                  void_clockdisc_freq_ppm(&w->disc));
}

/* Setup: 3 honest servers with asymmetric, jittery paths; local drift of
 * -500, -137, 0, +250 and +500 ppm; system clock initially 40 ms off.
 * Action: one simulated hour. Expected: never backwards, rate-bounded, and
 * within 1 ms of true time from minute 20 on; the frequency estimate lands
 * within 5 ppm of the negated drift. */
static void test_clockdisc_converges_under_drift_jitter_and_asymmetry(void **state)
{
    (void)state;
    static const double drifts[] = {-500e-6, -137e-6, 0.0, 250e-6, 500e-6};
    static struct sim w;
    for (size_t k = 0; k < sizeof(drifts) / sizeof(drifts[0]); k++) {
        sim_init(&w, 1000 + k, 3, drifts[k], (k % 2 ? -1 : 1) * 40 * MS);
        sim_run(&w, 60 * 60 * S);
        assert_converged(&w);
        /* offset = true - sys drifts at -drift / (1 + drift) */
        double want_ppm = -drifts[k] * 1e6 / (1 + drifts[k]);
        assert_true(fabs(void_clockdisc_freq_ppm(&w.disc) - want_ppm) < 5.0);
        for (uint32_t i = 0; i < 3; i++) {
            assert_int_equal(w.disc.servers[i].state, VOID_CLOCKDISC_TRUECHIMER);
        }
    }
}

/* Setup: 3 servers, one serving time 30 ms fast; then 4 servers, one 3 s
 * fast; drift +/-300 ppm. Action: one simulated hour each. Expected: the
 * wrong server is a falseticker, the honest ones truechimers, the virtual
 * clock within 1 ms of true time after settling, and one DISAGREE alert per
 * run where the error exceeds the 50 ms threshold (raised once, not per
 * sample). */
static void test_clockdisc_rejects_one_falseticker(void **state)
{
    (void)state;
    static struct sim w;
    static const struct {
        uint32_t n;
        int64_t error_ns;
        double drift;
    } cases[] = {{3, 30 * MS, 300e-6}, {4, 3 * S, -300e-6}, {5, -500 * MS, 100e-6}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        sim_init(&w, 2000 + k, cases[k].n, cases[k].drift, 10 * MS);
        uint32_t bad = (uint32_t)k % cases[k].n;
        w.servers[bad].error_ns = cases[k].error_ns;
        sim_run(&w, 60 * 60 * S);
        assert_converged(&w);
        for (uint32_t i = 0; i < cases[k].n; i++) {
            assert_int_equal(w.disc.servers[i].state,
                             i == bad ? VOID_CLOCKDISC_FALSETICKER : VOID_CLOCKDISC_TRUECHIMER);
        }
        /* only errors beyond the 50 ms default threshold raise an alert */
        assert_int_equal(w.alerts[VOID_CLOCKDISC_ALERT_DISAGREE],
                         llabs(cases[k].error_ns) > VOID_CLOCKDISC_ALERT_DISAGREE_DEF);
    }
}

/* Setup: 3 servers, server 2 serving time 1 s fast, drift +200 ppm.
 * Action: server 0 (honest) dies at minute 30 for good; two simulated
 * hours. Expected: the survivor and the liar do not tie: server 2 stays a
 * falseticker, server 1 is the lone truechimer, and the virtual clock stays
 * within 1 ms of true time. */
static void test_clockdisc_falseticker_stays_out_when_an_honest_server_dies(void **state)
{
    (void)state;
    static struct sim w;
    sim_init(&w, 3500, 3, 200e-6, -15 * MS);
    w.servers[2].error_ns = 1 * S;
    w.servers[0].dead_from_ns = 30 * 60 * S;
    w.servers[0].dead_until_ns = INT64_MAX;
    sim_run(&w, 120 * 60 * S);
    assert_int_equal(w.disc.servers[0].state, VOID_CLOCKDISC_UNREACHABLE);
    assert_int_equal(w.disc.servers[1].state, VOID_CLOCKDISC_TRUECHIMER);
    assert_int_equal(w.disc.servers[2].state, VOID_CLOCKDISC_FALSETICKER);
    assert_int_equal(w.alerts[VOID_CLOCKDISC_ALERT_NO_MAJORITY], 0);
    assert_converged(&w);
}

/* Setup: 3 honest servers, drift -400 ppm. Action: server 0 dies at minute
 * 30 and comes back at minute 80; server 2 dies at minute 100 and comes back
 * at minute 150; three simulated hours. Expected: each dead server becomes
 * unreachable (while the others keep the clock within 1 ms of true time:
 * failover) and is a truechimer again after it returns. */
static void test_clockdisc_fails_over_when_servers_die_and_return(void **state)
{
    (void)state;
    static struct sim w;
    sim_init(&w, 3000, 3, -400e-6, 25 * MS);
    w.servers[0].dead_from_ns = 30 * 60 * S;
    w.servers[0].dead_until_ns = 80 * 60 * S;
    w.servers[2].dead_from_ns = 100 * 60 * S;
    w.servers[2].dead_until_ns = 150 * 60 * S;
    sim_run(&w, 79 * 60 * S);
    assert_int_equal(w.disc.servers[0].state, VOID_CLOCKDISC_UNREACHABLE);
    assert_int_equal(w.disc.servers[0].count_filter, 0);
    assert_int_equal(w.disc.count_truechimers, 2);
    sim_run(&w, 149 * 60 * S);
    assert_int_equal(w.disc.servers[0].state, VOID_CLOCKDISC_TRUECHIMER);
    assert_int_equal(w.disc.servers[2].state, VOID_CLOCKDISC_UNREACHABLE);
    sim_run(&w, 180 * 60 * S);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(w.disc.servers[i].state, VOID_CLOCKDISC_TRUECHIMER);
    }
    assert_converged(&w);
}

/* Setup: 3 honest servers, no drift, the system clock 1 s behind true time.
 * Action: run 100 simulated seconds. Expected: the correction has grown by
 * about slew_ppm_max * 100 s = 50 ms (no jump to 1 s; sim_check asserted
 * the rate on every step) and an OFFSET alert was raised once; from minute
 * 40 on the 1 s is slewed away and the clock is within 1 ms. */
static void test_clockdisc_slews_at_bounded_rate_never_jumps(void **state)
{
    (void)state;
    static struct sim w;
    sim_init(&w, 4000, 3, 0.0, -1 * S);
    sim_run(&w, 100 * S);
    int64_t corr = void_clockdisc_correction_ns(&w.disc);
    assert_true(corr > 45 * MS);
    assert_true(corr < 55 * MS); /* 50 ms of phase plus the noise of the frequency fit */
    assert_int_equal(w.alerts[VOID_CLOCKDISC_ALERT_OFFSET], 1);
    w.settle_ns = 40 * 60 * S; /* 1 s at 500 ppm takes 2000 s */
    sim_run(&w, 60 * 60 * S);
    assert_converged(&w);
}

static struct void_ntp_sample sample_at(int64_t offset_ns)
{
    struct void_ntp_sample s = {.offset_ns = offset_ns, .delay_ns = 200 * US, .stratum = 1};
    return s;
}

/* Setup: two cores with step_before_first_read, one server 2 s ahead.
 * Action: a sample to each; read the first core's clock only after the
 * sample, the second's before it. Expected: the unread core takes the 2 s
 * at once; the core that was already read slews (no visible step). */
static void test_clockdisc_steps_only_before_first_read(void **state)
{
    (void)state;
    struct void_clockdisc a, b;
    struct void_clockdisc_config c = {.count_servers = 1, .step_before_first_read = 1};
    assert_int_equal(void_clockdisc_init(&a, &c), 0);
    assert_int_equal(void_clockdisc_init(&b, &c), 0);
    struct void_ntp_sample s = sample_at(2 * S);
    uint64_t t = 100 * (uint64_t)S;
    uint64_t before = void_clockdisc_now(&b, t);
    assert_int_equal(void_clockdisc_sample(&a, 0, t, &s), 0);
    assert_int_equal(void_clockdisc_sample(&b, 0, t, &s), 0);
    assert_int_equal(void_clockdisc_now(&a, t + MS), t + MS + 2 * S);
    uint64_t after = void_clockdisc_now(&b, t + MS);
    assert_true(after >= before);
    assert_true(after <= t + MS + 1000); /* 1 ms at most 500 ppm: 500 ns of slew */
    void_clockdisc_fini(&a);
    void_clockdisc_fini(&b);
}

/* Setup: a fresh core. Action: read the virtual clock at system time 10 s,
 * then at 5 s (the system clock stepped back). Expected: the second reading
 * is not below the first. */
static void test_clockdisc_now_holds_when_system_clock_steps_back(void **state)
{
    (void)state;
    struct void_clockdisc d;
    struct void_clockdisc_config c = {.count_servers = 1};
    assert_int_equal(void_clockdisc_init(&d, &c), 0);
    uint64_t a = void_clockdisc_now(&d, 10 * (uint64_t)S);
    uint64_t b = void_clockdisc_now(&d, 5 * (uint64_t)S);
    assert_int_equal(a, 10 * (uint64_t)S);
    assert_true(b >= a);
    assert_int_equal(void_clockdisc_now(&d, 11 * (uint64_t)S), 11 * (uint64_t)S);
    void_clockdisc_fini(&d);
}

/* Setup: two servers that disagree by 1 s. Action: one sample from each.
 * Expected: neither is selected (no majority of two), a NO_MAJORITY alert
 * fires once, and the correction is not moved toward either. */
static void test_clockdisc_two_disagreeing_servers_have_no_majority(void **state)
{
    (void)state;
    static struct sim w; /* only for its alert counters */
    memset(&w, 0, sizeof(w));
    struct void_clockdisc d;
    struct void_clockdisc_config c = {.count_servers = 2, .alert = on_alert, .alert_ctx = &w};
    assert_int_equal(void_clockdisc_init(&d, &c), 0);
    uint32_t mask;
    void_clockdisc_tick(&d, 1 * S, &mask);
    assert_int_equal(mask, 3);
    struct void_ntp_sample s0 = sample_at(0), s1 = sample_at(1 * S);
    assert_int_equal(void_clockdisc_sample(&d, 0, 1 * S + MS, &s0), 0);
    assert_int_equal(void_clockdisc_sample(&d, 1, 1 * S + MS, &s1), 0);
    assert_int_equal(d.servers[0].state, VOID_CLOCKDISC_NO_MAJORITY);
    assert_int_equal(d.servers[1].state, VOID_CLOCKDISC_NO_MAJORITY);
    assert_int_equal(w.alerts[VOID_CLOCKDISC_ALERT_NO_MAJORITY], 1);
    assert_int_equal(void_clockdisc_now(&d, 2 * S), 2 * S);
    void_clockdisc_fini(&d);
}

/* Setup: two servers, both polled. Action: server 0 answers with KoD RATE,
 * server 1 with KoD DENY; then tick far into the future. Expected: server
 * 0's interval (and floor) doubled; server 1 is denied, ignored if it sends
 * a sample, and never polled again; an out-of-range index is EINVAL. */
static void test_clockdisc_kod_rate_backs_off_and_deny_drops(void **state)
{
    (void)state;
    struct void_clockdisc d;
    struct void_clockdisc_config c = {.count_servers = 2, .poll_min_ns = 16 * S};
    assert_int_equal(void_clockdisc_init(&d, &c), 0);
    uint32_t mask;
    void_clockdisc_tick(&d, 0, &mask);
    assert_int_equal(mask, 3);
    assert_int_equal(void_clockdisc_kod(&d, 0, MS, VOID_ENTP_KOD_RATE), 0);
    assert_int_equal(void_clockdisc_kod(&d, 1, MS, VOID_ENTP_KOD_DENY), 0);
    assert_int_equal(d.servers[0].poll_ns, 32 * S);
    assert_int_equal(d.servers[0].poll_floor_ns, 32 * S);
    assert_int_equal(d.servers[1].state, VOID_CLOCKDISC_DENIED);
    struct void_ntp_sample s = sample_at(0);
    assert_int_equal(void_clockdisc_sample(&d, 1, 2 * MS, &s), VOID_ENTP_KOD_DENY);
    assert_int_equal(void_clockdisc_sample(&d, 7, 2 * MS, &s), VOID_EINVAL);
    assert_int_equal(void_clockdisc_kod(&d, 9, 2 * MS, VOID_ENTP_KOD_RATE), VOID_EINVAL);
    for (int k = 1; k <= 20; k++) {
        void_clockdisc_tick(&d, (uint64_t)k * 1000 * S, &mask);
        assert_int_equal(mask & 2u, 0);
    }
    /* the interval never falls below the raised floor, also after misses */
    assert_true(d.servers[0].poll_ns >= 32 * S);
    assert_int_equal(d.servers[0].state, VOID_CLOCKDISC_UNREACHABLE);
    void_clockdisc_fini(&d);
}

/* Setup: 5 servers fed by an adversary: random offsets up to +-2^61 ns,
 * random delays and root distances, samples for random (also denied and
 * out-of-range) servers at random times, random KoDs, ticks, and a system
 * clock that sometimes steps back. Action: 20000 random inputs per seed.
 * Expected: no crash or sanitizer report, the virtual clock never
 * decreases, and the correction never moves faster than the rate bound. */
static void test_clockdisc_survives_byzantine_inputs(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct void_prng p;
        void_prng_seed(&p, seed);
        struct void_clockdisc d;
        struct void_clockdisc_config c = {.count_servers = 5, .poll_min_ns = 1 * S};
        assert_int_equal(void_clockdisc_init(&d, &c), 0);
        uint64_t sys = 1795000000ull * S, last_v = 0, last_sys = sys;
        int64_t last_corr = 0;
        for (int k = 0; k < 20000; k++) {
            sys += void_prng_below(&p, 2 * (uint64_t)S);
            if (void_prng_chance(&p, 1, 50)) {
                sys -= void_prng_below(&p, 10 * (uint64_t)S); /* the system clock steps back */
            }
            uint32_t srv = (uint32_t)void_prng_below(&p, 6), mask;
            struct void_ntp_sample smp = {
                .offset_ns = (int64_t)void_prng_next(&p) >> 3,
                .delay_ns = (int64_t)void_prng_below(&p, 10 * (uint64_t)S),
                .root_delay_ns = (int64_t)void_prng_below(&p, 16 * (uint64_t)S),
                .root_disp_ns = (int64_t)void_prng_below(&p, 8 * (uint64_t)S),
                .stratum = (uint8_t)void_prng_below(&p, 16)};
            if (void_prng_chance(&p, 1, 3)) {
                smp.offset_ns = (int64_t)void_prng_below(&p, 2 * MS) - MS; /* near the truth */
            }
            switch (void_prng_below(&p, 4)) {
            case 0:
                void_clockdisc_tick(&d, sys, &mask);
                break;
            case 1:
                void_clockdisc_kod(&d, srv, sys, VOID_ENTP_KOD_RATE - (int)void_prng_below(&p, 4));
                break;
            default:
                (void)void_clockdisc_sample(&d, srv, sys, &smp);
                break;
            }
            uint64_t v = void_clockdisc_now(&d, sys);
            assert_true(v >= last_v);
            int64_t corr = void_clockdisc_correction_ns(&d);
            if (sys > last_sys) {
                double bound = 1000e-6 * (double)(sys - last_sys) + 2.0;
                assert_true((double)llabs(corr - last_corr) <= bound);
                last_sys = sys;
                last_corr = corr;
            }
            last_v = v;
        }
        void_clockdisc_fini(&d);
    }
}

/* Setup: one server, poll bounds 16..128 s. Action: answer 4 polls, then 4
 * more, then 4 more; then miss two polls. Expected: the interval doubles
 * after each run of 4 answers up to the 128 s maximum, halves on each miss,
 * and the reach register shows the answered and missed polls. */
static void test_clockdisc_poll_interval_adapts_within_bounds(void **state)
{
    (void)state;
    struct void_clockdisc d;
    struct void_clockdisc_config c = {
        .count_servers = 1, .poll_min_ns = 16 * S, .poll_max_ns = 128 * S, .unreach_polls = 8};
    assert_int_equal(void_clockdisc_init(&d, &c), 0);
    uint64_t sys = 1000 * S, next = 0;
    uint32_t mask;
    struct void_ntp_sample smp = sample_at(0);
    static const uint64_t want[] = {32, 64, 128};
    for (int run = 0; run < 3; run++) {
        for (int k = 0; k < 4; k++) {
            next = void_clockdisc_tick(&d, sys, &mask);
            assert_int_equal(mask, 1);
            assert_int_equal(void_clockdisc_sample(&d, 0, sys + MS, &smp), 0);
            sys = next;
        }
        assert_int_equal(d.servers[0].poll_ns, want[run] * S);
    }
    assert_int_equal(d.servers[0].reach, 0xff);
    for (int k = 0; k < 3; k++) { /* the third tick counts the second miss */
        next = void_clockdisc_tick(&d, sys, &mask);
        assert_int_equal(mask, 1);
        sys = next;
    }
    assert_int_equal(d.servers[0].poll_ns, 32 * S);
    assert_int_equal(d.servers[0].reach, 0xf8);
    void_clockdisc_fini(&d);
}

/* Setup: configs with no servers, too many servers, max poll below min
 * poll, and an absurd slew rate. Action: init each. Expected: VOID_EINVAL. */
static void test_clockdisc_init_rejects_bad_config(void **state)
{
    (void)state;
    struct void_clockdisc d;
    struct void_clockdisc_config c = {0};
    assert_int_equal(void_clockdisc_init(&d, &c), VOID_EINVAL);
    c.count_servers = VOID_CLOCKDISC_SERVERS_MAX + 1;
    assert_int_equal(void_clockdisc_init(&d, &c), VOID_EINVAL);
    c.count_servers = 2;
    c.poll_min_ns = 64 * S;
    c.poll_max_ns = 16 * S;
    assert_int_equal(void_clockdisc_init(&d, &c), VOID_EINVAL);
    c.poll_max_ns = 0;
    c.slew_ppm_max = VOID_CLOCKDISC_PPM_MAX + 1;
    assert_int_equal(void_clockdisc_init(&d, &c), VOID_EINVAL);
    c.slew_ppm_max = 0;
    assert_int_equal(void_clockdisc_init(&d, &c), 0);
    assert_int_equal(d.config.slew_ppm_max, VOID_CLOCKDISC_SLEW_PPM_DEF);
    void_clockdisc_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clockdisc_converges_under_drift_jitter_and_asymmetry),
        cmocka_unit_test(test_clockdisc_rejects_one_falseticker),
        cmocka_unit_test(test_clockdisc_fails_over_when_servers_die_and_return),
        cmocka_unit_test(test_clockdisc_falseticker_stays_out_when_an_honest_server_dies),
        cmocka_unit_test(test_clockdisc_slews_at_bounded_rate_never_jumps),
        cmocka_unit_test(test_clockdisc_now_holds_when_system_clock_steps_back),
        cmocka_unit_test(test_clockdisc_steps_only_before_first_read),
        cmocka_unit_test(test_clockdisc_two_disagreeing_servers_have_no_majority),
        cmocka_unit_test(test_clockdisc_kod_rate_backs_off_and_deny_drops),
        cmocka_unit_test(test_clockdisc_survives_byzantine_inputs),
        cmocka_unit_test(test_clockdisc_poll_interval_adapts_within_bounds),
        cmocka_unit_test(test_clockdisc_init_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Clock discipline core: per-server clock filters and reachability, the
 * Marzullo-style selection that separates truechimers from falsetickers, the
 * weighted combine, a least-squares frequency estimate and the slewed
 * virtual clock. See include/void/clockdisc.h for the contract.
 *
 * Offsets are always relative to the system clock, which nobody steps or
 * slews, so the combined offset drifts linearly at the system clock's
 * frequency error; its slope is the frequency estimate. Older filter samples
 * are projected to "now" with that estimate, otherwise at 500 ppm a sample
 * two minutes old would be 60 ms stale.
 */
#include "void/clockdisc.h"

#include "void/assert.h"
#include "void/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DISPERSION_RATE   15e-6 /* RFC 5905 PHI: error growth of an aging sample */
#define GOOD_RUN_TO_RELAX 4     /* answered polls in a row before the interval doubles */

/* Round to nearest without a libm call: void_clockdisc_now() runs under
 * every HLC timestamp. |x| stays far below 2^63 (offsets are bounded by
 * the NTP era, +-2^31 s). */
static int64_t round_ns(double x)
{
    return (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
}

static uint64_t u64_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t u64_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void apply_defaults(struct void_clockdisc_config *c)
{
    c->poll_min_ns = c->poll_min_ns ? c->poll_min_ns : VOID_CLOCKDISC_POLL_MIN_DEF;
    c->poll_max_ns =
        c->poll_max_ns ? c->poll_max_ns : u64_max(VOID_CLOCKDISC_POLL_MAX_DEF, c->poll_min_ns);
    c->slew_ppm_max = c->slew_ppm_max ? c->slew_ppm_max : VOID_CLOCKDISC_SLEW_PPM_DEF;
    c->freq_ppm_max = c->freq_ppm_max ? c->freq_ppm_max : VOID_CLOCKDISC_FREQ_PPM_DEF;
    c->unreach_polls = c->unreach_polls ? c->unreach_polls : VOID_CLOCKDISC_UNREACH_DEF;
    c->alert_offset_ns = c->alert_offset_ns ? c->alert_offset_ns : VOID_CLOCKDISC_ALERT_OFFSET_DEF;
    c->alert_disagree_ns =
        c->alert_disagree_ns ? c->alert_disagree_ns : VOID_CLOCKDISC_ALERT_DISAGREE_DEF;
}

int void_clockdisc_init(struct void_clockdisc *d, const struct void_clockdisc_config *config)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT(config != NULL);
    memset(d, 0, sizeof(*d));
    struct void_clockdisc_config c = *config;
    apply_defaults(&c);
    if (c.count_servers == 0 || c.count_servers > VOID_CLOCKDISC_SERVERS_MAX ||
        c.poll_max_ns < c.poll_min_ns || c.slew_ppm_max > VOID_CLOCKDISC_PPM_MAX ||
        c.freq_ppm_max > VOID_CLOCKDISC_PPM_MAX || c.alert_offset_ns < 0 ||
        c.alert_disagree_ns < 0) {
        return VOID_EINVAL;
    }
    d->config = c;
    for (uint32_t i = 0; i < c.count_servers; i++) {
        d->servers[i].poll_ns = c.poll_min_ns;
        d->servers[i].poll_floor_ns = c.poll_min_ns;
        d->servers[i].state = VOID_CLOCKDISC_NONE;
    }
    VOID_ASSERT(d->config.poll_min_ns > 0);
    return 0;
}

void void_clockdisc_fini(struct void_clockdisc *d)
{
    VOID_ASSERT(d != NULL);
    memset(d, 0, sizeof(*d));
}

const char *void_clockdisc_state_name(enum void_clockdisc_state state)
{
    switch (state) {
    case VOID_CLOCKDISC_NONE:
        return "none";
    case VOID_CLOCKDISC_TRUECHIMER:
        return "truechimer";
    case VOID_CLOCKDISC_FALSETICKER:
        return "falseticker";
    case VOID_CLOCKDISC_NO_MAJORITY:
        return "no-majority";
    case VOID_CLOCKDISC_UNREACHABLE:
        return "unreachable";
    case VOID_CLOCKDISC_DENIED:
        return "denied";
    }
    return "unknown";
}

/* ---- virtual clock ------------------------------------------------------ */

/* Moves the correction from corr_sys_ns to sys_ns: the frequency part in
 * full, the phase part at most slew_ppm_max. Time never runs backwards
 * here: a sys_ns at or before the last one leaves everything unchanged. */
static void advance(struct void_clockdisc *d, uint64_t sys_ns)
{
    if (!d->corr_started) {
        d->corr_started = 1;
        d->corr_sys_ns = sys_ns;
        return;
    }
    if (sys_ns <= d->corr_sys_ns) {
        return;
    }
    double dt = (double)(sys_ns - d->corr_sys_ns);
    double max_step = (double)d->config.slew_ppm_max * 1e-6 * dt;
    double step = d->phase_ns;
    if (step > max_step) {
        step = max_step;
    } else if (step < -max_step) {
        step = -max_step;
    }
    d->corr_ns += d->freq * dt + step;
    d->phase_ns -= step;
    d->corr_sys_ns = sys_ns;
    VOID_ASSERT(fabs(d->freq) <= (double)d->config.freq_ppm_max * 1e-6 + 1e-12);
}

uint64_t void_clockdisc_now(struct void_clockdisc *d, uint64_t sys_ns)
{
    VOID_ASSERT(d != NULL);
    advance(d, sys_ns);
    int64_t corr = round_ns(d->corr_ns);
    uint64_t v;
    if (corr < 0) {
        uint64_t back = (uint64_t)(-(corr + 1)) + 1;
        v = back > sys_ns ? 0 : sys_ns - back;
    } else {
        v = sys_ns + (uint64_t)corr;
    }
    d->read = 1;
    uint64_t prev = d->last_virtual_ns;
    if (v < prev) {
        v = prev; /* the system clock stepped back: hold */
    }
    d->last_virtual_ns = v;
    VOID_ASSERT(v >= prev);
    return v;
}

int64_t void_clockdisc_correction_ns(const struct void_clockdisc *d)
{
    return round_ns(d->corr_ns);
}

double void_clockdisc_freq_ppm(const struct void_clockdisc *d)
{
    return d->freq * 1e6;
}

/* A new combined offset and frequency at sys_ns: bring the correction up
 * to sys_ns with the old frequency, then aim the phase slew at the new
 * offset and run on at the new frequency. */
static void discipline(struct void_clockdisc *d, uint64_t sys_ns, int64_t offset_ns, double freq)
{
    advance(d, sys_ns);
    double fmax = (double)d->config.freq_ppm_max * 1e-6;
    d->freq = freq > fmax ? fmax : (freq < -fmax ? -fmax : freq);
    d->phase_ns = (double)offset_ns - d->corr_ns;
    if (d->config.step_before_first_read && !d->read) {
        d->corr_ns = (double)offset_ns; /* nobody has read the clock: nobody sees the step */
        d->phase_ns = 0;
    }
    VOID_ASSERT(fabs(d->freq) <= fmax);
}

/* ---- clock filter ------------------------------------------------------- */

static void clear_filter(struct void_clockdisc_server *s)
{
    s->count_filter = 0;
    s->next_filter = 0;
    s->offset_ns = 0;
    s->delay_ns = 0;
    s->jitter_ns = 0;
    s->rootdist_ns = 0;
    s->have_freq = 0;
}

/* Least-squares slope of the server's raw filter offsets over system time:
 * how fast the system clock drifts against this server. Raw samples only,
 * never projected ones, so that an error in the estimate cannot feed back
 * into itself. Needs three samples spanning at least a second; bounded by
 * fmax. */
static void fit_frequency(struct void_clockdisc_server *s, double fmax)
{
    uint32_t n = s->count_filter;
    s->have_freq = 0;
    if (n < 3) {
        return;
    }
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (uint32_t i = 0; i < n; i++) {
        t0 = u64_min(t0, s->filter[i].sys_ns);
        t1 = u64_max(t1, s->filter[i].sys_ns);
    }
    if (t1 - t0 < 1000000000ull) {
        return;
    }
    double mx = 0, my = 0;
    for (uint32_t i = 0; i < n; i++) {
        mx += (double)(s->filter[i].sys_ns - t0);
        my += (double)s->filter[i].offset_ns;
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0;
    for (uint32_t i = 0; i < n; i++) {
        double dx = (double)(s->filter[i].sys_ns - t0) - mx;
        sxy += dx * ((double)s->filter[i].offset_ns - my);
        sxx += dx * dx;
    }
    VOID_ASSERT(sxx > 0);
    /* Bounded like the clock's own estimate: a server whose time runs away
     * faster than that is wrong, and its projections must stay finite. */
    double f = sxy / sxx;
    s->freq = f > fmax ? fmax : (f < -fmax ? -fmax : f);
    s->have_freq = 1;
}

/* Offset of filter entry e projected from its time to sys_ns with the
 * server's own frequency estimate, or the clock's until it has one. */
static double projected(const struct void_clockdisc *d,
                        const struct void_clockdisc_server *s,
                        const struct void_clockdisc_filter_entry *e,
                        uint64_t sys_ns)
{
    double age = sys_ns > e->sys_ns ? (double)(sys_ns - e->sys_ns) : 0.0;
    return (double)e->offset_ns + (s->have_freq ? s->freq : d->freq) * age;
}

/* The filter output: the sample of lowest distance, i.e. half its delay
 * plus the dispersion it gathered with age (RFC 5905 section 10: a fresh
 * sample beats a slightly faster but stale one), projected to sys_ns;
 * jitter as the RMS distance of the others from it; and the root distance
 * of the chosen sample plus jitter and age dispersion. */
static void run_filter(struct void_clockdisc *d, struct void_clockdisc_server *s, uint64_t sys_ns)
{
    VOID_ASSERT(s->count_filter > 0);
    VOID_ASSERT(s->count_filter <= VOID_CLOCKDISC_FILTER);
    uint32_t best = 0;
    double best_dist = 0;
    for (uint32_t i = 0; i < s->count_filter; i++) {
        const struct void_clockdisc_filter_entry *e = &s->filter[i];
        double age = sys_ns > e->sys_ns ? (double)(sys_ns - e->sys_ns) : 0.0;
        double dist = (double)e->delay_ns / 2 + age * DISPERSION_RATE;
        if (i == 0 || dist < best_dist) {
            best = i;
            best_dist = dist;
        }
    }
    const struct void_clockdisc_filter_entry *b = &s->filter[best];
    double off = projected(d, s, b, sys_ns);
    double sq = 0;
    for (uint32_t i = 0; i < s->count_filter; i++) {
        double diff = projected(d, s, &s->filter[i], sys_ns) - off;
        sq += diff * diff;
    }
    double jitter = s->count_filter > 1 ? sqrt(sq / (s->count_filter - 1)) : 0.0;
    double age = sys_ns > b->sys_ns ? (double)(sys_ns - b->sys_ns) : 0.0;
    s->offset_ns = round_ns(off);
    s->delay_ns = b->delay_ns;
    s->jitter_ns = round_ns(jitter);
    s->rootdist_ns = b->rootdist_ns + s->jitter_ns + round_ns(age * DISPERSION_RATE);
}

static void add_to_filter(struct void_clockdisc_server *s,
                          uint64_t sys_ns,
                          const struct void_ntp_sample *sample)
{
    struct void_clockdisc_filter_entry *e = &s->filter[s->next_filter];
    e->offset_ns = sample->offset_ns;
    e->delay_ns = sample->delay_ns;
    e->rootdist_ns = sample->root_delay_ns / 2 + sample->root_disp_ns + sample->delay_ns / 2;
    e->sys_ns = sys_ns;
    s->next_filter = (s->next_filter + 1) % VOID_CLOCKDISC_FILTER;
    if (s->count_filter < VOID_CLOCKDISC_FILTER) {
        s->count_filter++;
    }
    VOID_ASSERT(s->count_filter > 0 && s->next_filter < VOID_CLOCKDISC_FILTER);
}

/* ---- selection and combine ---------------------------------------------- */

struct endpoint {
    int64_t value;
    int type; /* -1 start, +1 end: starts sort first on ties (closed intervals) */
};

static int usable(const struct void_clockdisc_server *s)
{
    return s->count_filter > 0 && s->state != VOID_CLOCKDISC_UNREACHABLE &&
           s->state != VOID_CLOCKDISC_DENIED;
}

/* Whether s takes part in the selection at sys_ns. A server that the last
 * majority voted a falseticker stays out while it still disagrees with that
 * majority's verdict (projected to now): otherwise, once one honest server
 * of three dies, the liar and the survivor would tie and the clock would
 * lose its reference. It is readmitted as soon as it agrees again. */
static int
candidate(const struct void_clockdisc *d, const struct void_clockdisc_server *s, uint64_t sys_ns)
{
    if (!usable(s)) {
        return 0;
    }
    if (s->state != VOID_CLOCKDISC_FALSETICKER || !d->have_combined) {
        return 1;
    }
    double age = sys_ns > d->combined_sys_ns ? (double)(sys_ns - d->combined_sys_ns) : 0.0;
    double ref = (double)d->combined_offset_ns + d->combined_freq * age;
    return fabs((double)s->offset_ns - ref) <= (double)(s->rootdist_ns + d->combined_rootdist_ns);
}

/* Marzullo's sweep over the candidates in the bit mask cand: the region
 * [*lo, *hi] covered by the most intervals; returns how many cover it.
 * Insertion sort: at most 32 endpoints. */
static uint32_t intersect(const struct void_clockdisc *d, uint32_t cand, int64_t *lo, int64_t *hi)
{
    struct endpoint ep[2 * VOID_CLOCKDISC_SERVERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        const struct void_clockdisc_server *s = &d->servers[i];
        if (cand & (1u << i)) {
            ep[n++] = (struct endpoint){s->offset_ns - s->rootdist_ns, -1};
            ep[n++] = (struct endpoint){s->offset_ns + s->rootdist_ns, +1};
        }
    }
    for (uint32_t i = 1; i < n; i++) {
        struct endpoint key = ep[i];
        uint32_t j = i;
        while (j > 0 && (ep[j - 1].value > key.value ||
                         (ep[j - 1].value == key.value && ep[j - 1].type > key.type))) {
            ep[j] = ep[j - 1];
            j--;
        }
        ep[j] = key;
    }
    uint32_t count = 0, best = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ep[i].type < 0) {
            count++;
            if (count > best) {
                best = count;
                *lo = ep[i].value;
                VOID_ASSERT(i + 1 < n);
                *hi = ep[i + 1].value;
            }
        } else {
            count--;
        }
    }
    VOID_ASSERT(count == 0);
    return best;
}

static void raise_alert(struct void_clockdisc *d,
                        enum void_clockdisc_alert_kind kind,
                        int on,
                        const struct void_clockdisc_alert *a)
{
    uint32_t bit = 1u << (uint32_t)kind;
    if (!on) {
        d->alerts_active &= ~bit;
        return;
    }
    if (d->alerts_active & bit) {
        return; /* already raised: once per onset */
    }
    d->alerts_active |= bit;
    d->count_alerts++;
    if (d->config.alert != NULL) {
        d->config.alert(d->config.alert_ctx, a);
    }
}

/* Offset and disagreement alerts after a successful combine. The offset
 * that matters is the virtual clock's error (combined offset minus the
 * correction), which is what the HLC sees. */
static void check_alerts(struct void_clockdisc *d, uint64_t sys_ns)
{
    struct void_clockdisc_alert a = {
        VOID_CLOCKDISC_ALERT_OFFSET, sys_ns, d->combined_offset_ns, 0, 0};
    a.value_ns = d->combined_offset_ns - round_ns(d->corr_ns);
    raise_alert(d, a.kind, llabs(a.value_ns) > d->config.alert_offset_ns, &a);
    a.kind = VOID_CLOCKDISC_ALERT_DISAGREE;
    int64_t worst = -1;
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        const struct void_clockdisc_server *s = &d->servers[i];
        int64_t dis = llabs(s->offset_ns - d->combined_offset_ns);
        if (usable(s) && dis > worst) {
            worst = dis;
            a.server = i;
        }
    }
    a.value_ns = worst;
    raise_alert(d, a.kind, worst > d->config.alert_disagree_ns, &a);
}

/* Weighted mean of the truechimers' offsets and frequencies, weights
 * 1 / root distance; servers without a frequency estimate yet contribute
 * only their offset. */
static void combine(struct void_clockdisc *d)
{
    double sw = 0, swo = 0, swf = 0, swfw = 0;
    int64_t min_rd = INT64_MAX;
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        const struct void_clockdisc_server *s = &d->servers[i];
        if (s->state == VOID_CLOCKDISC_TRUECHIMER) {
            double w = 1.0 / (double)(s->rootdist_ns + 1);
            sw += w;
            swo += w * (double)s->offset_ns;
            if (s->have_freq) {
                swf += w * s->freq;
                swfw += w;
            }
            min_rd = s->rootdist_ns < min_rd ? s->rootdist_ns : min_rd;
        }
    }
    VOID_ASSERT(sw > 0);
    d->combined_offset_ns = round_ns(swo / sw);
    d->combined_rootdist_ns = min_rd;
    d->combined_freq = swfw > 0 ? swf / swfw : d->freq;
    d->have_combined = 1;
}

/* Classifies every usable server and, when a strict majority agrees,
 * combines the truechimers. Returns 1 if a new combined offset exists. */
static int select_sources(struct void_clockdisc *d, uint64_t sys_ns)
{
    uint32_t cand = 0, n = 0;
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        if (candidate(d, &d->servers[i], sys_ns)) {
            cand |= 1u << i;
            n++;
        }
    }
    d->count_truechimers = 0;
    if (n == 0) {
        return 0;
    }
    int64_t lo = 0, hi = 0;
    uint32_t best = intersect(d, cand, &lo, &hi);
    int majority = 2 * best > n;
    struct void_clockdisc_alert a = {
        VOID_CLOCKDISC_ALERT_NO_MAJORITY, sys_ns, d->combined_offset_ns, (int64_t)n, 0};
    raise_alert(d, a.kind, !majority, &a);
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        struct void_clockdisc_server *s = &d->servers[i];
        if (!(cand & (1u << i))) {
            continue;
        }
        int covers = s->offset_ns - s->rootdist_ns <= lo && s->offset_ns + s->rootdist_ns >= hi;
        if (!majority) {
            s->state = VOID_CLOCKDISC_NO_MAJORITY;
        } else if (covers) {
            s->state = VOID_CLOCKDISC_TRUECHIMER;
            d->count_truechimers++;
        } else {
            s->state = VOID_CLOCKDISC_FALSETICKER;
        }
    }
    if (!majority) {
        return 0;
    }
    VOID_ASSERT(d->count_truechimers == best);
    combine(d);
    d->combined_sys_ns = sys_ns;
    return 1;
}

/* ---- inputs -------------------------------------------------------------- */

/* Reruns selection and combine at sys_ns. Every filter output is first
 * brought to sys_ns: at 500 ppm an output computed at a server's last
 * sample, minutes ago, would be off by tens of milliseconds. */
static void reselect(struct void_clockdisc *d, uint64_t sys_ns)
{
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        if (usable(&d->servers[i])) {
            run_filter(d, &d->servers[i], sys_ns);
        }
    }
    if (select_sources(d, sys_ns)) {
        discipline(d, sys_ns, d->combined_offset_ns, d->combined_freq);
        check_alerts(d, sys_ns);
    }
}

/* An unanswered poll: back off toward the floor and, after unreach_polls in
 * a row, declare the server unreachable so the others take over. */
static void miss(struct void_clockdisc *d, struct void_clockdisc_server *s, uint64_t sys_ns)
{
    s->missed++;
    s->good_run = 0;
    s->poll_ns = u64_max(s->poll_ns / 2, s->poll_floor_ns);
    if (s->missed >= d->config.unreach_polls && s->state != VOID_CLOCKDISC_UNREACHABLE) {
        s->state = VOID_CLOCKDISC_UNREACHABLE;
        clear_filter(s);
        reselect(d, sys_ns);
    }
    VOID_ASSERT(s->poll_ns >= d->config.poll_min_ns);
}

uint64_t void_clockdisc_tick(struct void_clockdisc *d, uint64_t sys_ns, uint32_t *poll_mask)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT(poll_mask != NULL);
    *poll_mask = 0;
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < d->config.count_servers; i++) {
        struct void_clockdisc_server *s = &d->servers[i];
        if (s->state == VOID_CLOCKDISC_DENIED) {
            continue;
        }
        if (s->next_poll_ns <= sys_ns) {
            if (s->outstanding) {
                miss(d, s, sys_ns);
            }
            s->outstanding = 1;
            s->reach = (uint8_t)(s->reach << 1);
            s->count_polls++;
            s->next_poll_ns = sys_ns + s->poll_ns;
            *poll_mask |= 1u << i;
        }
        next = u64_min(next, s->next_poll_ns);
    }
    return next;
}

int void_clockdisc_sample(struct void_clockdisc *d,
                          uint32_t server,
                          uint64_t sys_ns,
                          const struct void_ntp_sample *sample)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT(sample != NULL);
    if (server >= d->config.count_servers) {
        return VOID_EINVAL;
    }
    struct void_clockdisc_server *s = &d->servers[server];
    if (s->state == VOID_CLOCKDISC_DENIED) {
        return VOID_ENTP_KOD_DENY;
    }
    s->outstanding = 0;
    s->missed = 0;
    s->reach |= 1;
    s->stratum = sample->stratum;
    s->count_samples++;
    if (s->state == VOID_CLOCKDISC_UNREACHABLE) {
        s->state = VOID_CLOCKDISC_NONE;
    }
    add_to_filter(s, sys_ns, sample);
    fit_frequency(s, (double)d->config.freq_ppm_max * 1e-6);
    if (++s->good_run >= GOOD_RUN_TO_RELAX) {
        s->good_run = 0;
        s->poll_ns = u64_min(s->poll_ns * 2, d->config.poll_max_ns);
    }
    reselect(d, sys_ns);
    return 0;
}

int void_clockdisc_kod(struct void_clockdisc *d, uint32_t server, uint64_t sys_ns, int err)
{
    VOID_ASSERT(d != NULL);
    if (server >= d->config.count_servers) {
        return VOID_EINVAL;
    }
    struct void_clockdisc_server *s = &d->servers[server];
    s->count_kod++;
    s->outstanding = 0;
    if (err == VOID_ENTP_KOD_RATE) {
        s->poll_ns = u64_min(s->poll_ns * 2, d->config.poll_max_ns);
        s->poll_floor_ns = s->poll_ns;
        s->next_poll_ns = sys_ns + s->poll_ns;
    } else if (err == VOID_ENTP_KOD_DENY || err == VOID_ENTP_KOD_RSTR) {
        s->state = VOID_CLOCKDISC_DENIED;
        clear_filter(s);
        reselect(d, sys_ns);
    }
    VOID_ASSERT(s->poll_floor_ns <= d->config.poll_max_ns);
    return 0;
}

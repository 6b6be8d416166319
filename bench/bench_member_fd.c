/*
 * The failure detector's thresholds, measured (docs/membership.md, "Choosing
 * the thresholds"). A seeded simulation of one peer heartbeating every
 * 200 ms: the sender's timer fires 0-20 ms late, the network adds 0.2 ms plus
 * 0-20 ms, and one heartbeat in ten another 0-40 ms; 5 % are lost; the
 * receiver ticks every 50 ms. For each (suspect, dead) pair in intervals it
 * counts false suspicions and false deaths over 10^6 intervals, and the time
 * from a crash (at a random point, 10^4 trials) to suspect and to dead.
 *
 * The peer is phi accrual (Hayashibara et al. 2004, normal model as in Akka:
 * window of 1000 inter-arrival times, minimum deviation scaled from Akka's
 * 100 ms per 1 s heartbeat to 20 ms, threshold phi >= 8), run on the same
 * traces in floating point (a bench may; the core may not). The BENCH line
 * compares the median crash-to-dead time at the defaults; a second line gives
 * the false positives of both per 10^6 intervals.
 */
#include "bench.h"
#include "void/membership.h"
#include "void/prng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS        1000000ull
#define INTERVALS 1000000ull
#define TRIALS    10000
#define PHI_W     1000

struct phi {
    double gaps[PHI_W];
    int n, at;
    double last;
    int above;
};

static void phi_heard(struct phi *p, double t)
{
    if (p->last > 0) {
        p->gaps[p->at] = t - p->last;
        p->at = (p->at + 1) % PHI_W;
        p->n += p->n < PHI_W;
    }
    p->last = t;
}

static double phi_value(const struct phi *p, double t)
{
    if (p->n < 2) {
        return 0;
    }
    double mean = 0, var = 0;
    for (int i = 0; i < p->n; i++) {
        mean += p->gaps[i];
    }
    mean /= p->n;
    for (int i = 0; i < p->n; i++) {
        var += (p->gaps[i] - mean) * (p->gaps[i] - mean);
    }
    double sd = sqrt(var / p->n);
    sd = sd < 20e6 ? 20e6 : sd;
    double y = (t - p->last - mean) / sd;
    double e = exp(-y * (1.5976 + 0.070566 * y * y)); /* Akka's logistic approximation */
    return t - p->last > mean ? -log10(e / (1.0 + e)) : -log10(1.0 - 1.0 / (1.0 + e));
}

/* One seeded trace of `intervals` heartbeats; crash_at (0: never) stops the
 * sender. Fills false/late counts or the detection delays after the crash. */
struct outcome {
    uint64_t suspects, deads, phi_alarms;
    uint64_t crash_to_suspect, crash_to_dead, crash_to_phi;
};

static void run(uint64_t seed,
                uint64_t intervals,
                uint32_t s_iv,
                uint32_t d_iv,
                uint64_t crash_at,
                int with_phi,
                struct outcome *o)
{
    struct void_fd fd;
    struct void_fd_config c = {.suspect_intervals = s_iv, .dead_intervals = d_iv};
    if (void_fd_init(&fd, &c, 0) != 0) {
        abort();
    }
    uint32_t id = 1;
    (void)void_fd_set_peers(&fd, &id, 1, 0);
    static struct phi ph;
    memset(&ph, 0, sizeof ph);
    memset(o, 0, sizeof *o);
    struct void_prng p;
    void_prng_seed(&p, seed);
    struct void_fd_transition tr[1];
    uint64_t tick = 50 * MS, end = crash_at ? crash_at + 30 * d_iv * 200 * MS : UINT64_MAX;
    for (uint64_t k = 1; k <= intervals + 40 * d_iv; k++) {
        uint64_t sent = k * 200 * MS + void_prng_below(&p, 20 * MS);
        uint64_t delay = 200000 + void_prng_below(&p, 20 * MS);
        if (void_prng_chance(&p, 1, 10)) {
            delay += void_prng_below(&p, 40 * MS);
        }
        for (; tick < sent + delay && tick < end; tick += 50 * MS) {
            if (void_fd_tick(&fd, tick, tr, 1) == 1) {
                if (crash_at && tr[0].to == VOID_FD_SUSPECT && !o->crash_to_suspect) {
                    o->crash_to_suspect = tick - crash_at;
                }
                if (crash_at && tr[0].to == VOID_FD_DEAD) {
                    o->crash_to_suspect =
                        o->crash_to_suspect ? o->crash_to_suspect : tick - crash_at;
                    o->crash_to_dead = tick - crash_at;
                }
                o->suspects += tr[0].from == VOID_FD_ALIVE;
                o->deads += tr[0].to == VOID_FD_DEAD;
            }
            if (with_phi) {
                int above = phi_value(&ph, (double)tick) >= 8.0;
                if (above && !ph.above) {
                    o->phi_alarms++;
                    if (crash_at && !o->crash_to_phi && tick > crash_at) {
                        o->crash_to_phi = tick - crash_at;
                    }
                }
                ph.above = above;
            }
        }
        if (tick >= end || (!crash_at && k > intervals)) {
            return;
        }
        int lost = void_prng_chance(&p, 5, 100);
        if (!lost && (!crash_at || sent < crash_at)) {
            struct void_fd_heartbeat h = {.sender = 1, .hlc = {sent, 0}, .executed = k};
            (void)void_fd_heartbeat(&fd, &h, sent + delay);
            if (with_phi) {
                phi_heard(&ph, (double)(sent + delay));
                ph.above = 0;
            }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Crash trials: p50 and p99 of crash -> suspect, -> dead (and -> phi alarm). */
static void detect(uint32_t s_iv, uint32_t d_iv, int with_phi, double out_ms[6])
{
    static uint64_t sus[TRIALS], dead[TRIALS], phi[TRIALS];
    int trials = with_phi ? TRIALS / 10 : TRIALS;
    for (int t = 0; t < trials; t++) {
        struct void_prng p;
        void_prng_seed(&p, 1000u + (uint64_t)t);
        uint64_t warm = with_phi ? 1100 : 20;
        uint64_t crash_at = warm * 200 * MS + void_prng_below(&p, 200 * MS);
        struct outcome o;
        run(7777u + (uint64_t)t, warm + 60, s_iv, d_iv, crash_at, with_phi, &o);
        sus[t] = o.crash_to_suspect;
        dead[t] = o.crash_to_dead;
        phi[t] = o.crash_to_phi;
    }
    qsort(sus, (size_t)trials, sizeof sus[0], cmp_u64);
    qsort(dead, (size_t)trials, sizeof dead[0], cmp_u64);
    qsort(phi, (size_t)trials, sizeof phi[0], cmp_u64);
    int p50 = trials / 2, p99 = trials * 99 / 100;
    out_ms[0] = (double)sus[p50] / 1e6;
    out_ms[1] = (double)sus[p99] / 1e6;
    out_ms[2] = (double)dead[p50] / 1e6;
    out_ms[3] = (double)dead[p99] / 1e6;
    out_ms[4] = (double)phi[p50] / 1e6;
    out_ms[5] = (double)phi[p99] / 1e6;
}

int main(void)
{
    printf("suspect dead | false suspect, false dead per 1e6 intervals (5%% loss) |"
           " crash->suspect p50/p99 ms | crash->dead p50/p99 ms\n");
    for (uint32_t s = 3; s <= 5; s++) {
        for (uint32_t d = s + 1; d <= 7; d++) {
            struct outcome o;
            run(0x5eed18, INTERVALS, s, d, 0, 0, &o);
            double ms[6];
            detect(s, d, 0, ms);
            printf("%7u %4u | %12llu %10llu | %7.0f %7.0f | %7.0f %7.0f\n",
                   s,
                   d,
                   (unsigned long long)o.suspects,
                   (unsigned long long)o.deads,
                   ms[0],
                   ms[1],
                   ms[2],
                   ms[3]);
        }
    }
    struct outcome o;
    run(0x5eed18,
        INTERVALS / 10,
        VOID_FD_SUSPECT_INTERVALS_DEF,
        VOID_FD_DEAD_INTERVALS_DEF,
        0,
        1,
        &o);
    double ours[6], peer[6];
    detect(VOID_FD_SUSPECT_INTERVALS_DEF, VOID_FD_DEAD_INTERVALS_DEF, 0, ours);
    detect(VOID_FD_SUSPECT_INTERVALS_DEF, VOID_FD_DEAD_INTERVALS_DEF, 1, peer);
    struct outcome full;
    run(0x5eed18,
        INTERVALS,
        VOID_FD_SUSPECT_INTERVALS_DEF,
        VOID_FD_DEAD_INTERVALS_DEF,
        0,
        0,
        &full);
    printf("false positives per 1e6 intervals: ours dead=%llu suspect=%llu; phi>=8 alarms=%llu "
           "(measured over 1e5, x10)\n",
           (unsigned long long)full.deads,
           (unsigned long long)full.suspects,
           (unsigned long long)o.phi_alarms * 10);
    printf("BENCH member_fd: ours=%.0fms peer(phi-accrual phi>=8, window 1000)=%.0fms ratio=%.3f\n",
           ours[2],
           peer[4],
           ours[2] / peer[4]);
    return 0;
}

/*
 * Cost of the disciplined clock under the HLC: void_hlc_now() whose clock
 * function is the timekeeper's virtual clock (clock_gettime(CLOCK_REALTIME)
 * plus void_clockdisc_now() with a correction being slewed and a frequency
 * estimate in place), against void_hlc_now() over clock_gettime alone. The
 * ratio is what discipline adds to every timestamp (goal: <= 1.5).
 */
#include "bench.h"
#include "void/clockdisc.h"
#include "void/hlc.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 301
#define OPS    20000
#define S      1000000000ull

static uint64_t realtime_ns(void *ctx)
{
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t disciplined_ns(void *ctx)
{
    return void_clockdisc_now(ctx, realtime_ns(NULL));
}

static volatile uint64_t sink;

static double run(struct void_hlc *h)
{
    uint64_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        struct void_hlc_ts ts = void_hlc_now(h);
        acc += ts.wall_ns + ts.logical;
    }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)(t1 - t0) / OPS;
}

/* Three agreeing servers, 20 ppm drift and a 30 ms offset: after this the
 * core has a frequency estimate and a phase left to slew, as in service. */
static void discipline(struct void_clockdisc *d)
{
    struct void_clockdisc_config c = {.count_servers = 3};
    if (void_clockdisc_init(d, &c) != 0) {
        abort();
    }
    uint64_t t = realtime_ns(NULL) - 600 * S;
    for (int k = 0; k < 8; k++, t += 64 * S) {
        for (uint32_t i = 0; i < 3; i++) {
            struct void_ntp_sample s = {.offset_ns = 30000000 + (int64_t)(k * 64) * 20000,
                                        .delay_ns = 100000 + 1000 * (int64_t)i,
                                        .stratum = 1};
            void_clockdisc_sample(d, i, t, &s);
        }
    }
}

int main(void)
{
    static struct void_clockdisc d;
    discipline(&d);
    struct void_hlc ours_h, peer_h;
    struct void_hlc_config oc = {.clock = disciplined_ns, .clock_ctx = &d};
    struct void_hlc_config pc = {.clock = realtime_ns};
    void_hlc_init(&ours_h, &oc);
    void_hlc_init(&peer_h, &pc);
    double ours[ROUNDS], peer[ROUNDS];
    run(&ours_h);
    run(&peer_h); /* warm up */
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            peer[r] = run(&peer_h);
            ours[r] = run(&ours_h);
        } else {
            ours[r] = run(&ours_h);
            peer[r] = run(&peer_h);
        }
    }
    printf("hlc_now_disciplined: %d rounds x %d calls; correction %lld ns, freq %+.1f ppm\n",
           ROUNDS,
           OPS,
           (long long)void_clockdisc_correction_ns(&d),
           void_clockdisc_freq_ppm(&d));
    bench_report_rounds(
        "hlc_now_disciplined", "hlc_now over clock_gettime", "ns", ours, peer, ROUNDS);
    return 0;
}

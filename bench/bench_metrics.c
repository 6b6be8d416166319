/*
 * Cost of rendering a node's /metrics with the exposition writer
 * (src/io/metrics.c): the node's eight histograms, full, and 56 counter and
 * gauge families with 150 samples between them, about what a replica with
 * the causal log on serves (18 KiB). The scrape goal is under 10 ms in all
 * (docs/operations.md, section 4); this is the part the node itself spends.
 */
#include "bench.h"
#include "io/metrics.h"
#include "io/node_metrics.h"
#include "void/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 301

static char out[VOID_HTTP_BODY_MAX];

static double render_once(const struct void__node_hists *h)
{
    static const char *const reasons[] = {"a_reason", "another_one", "third", "fourth_reason"};
    char name[64];
    uint64_t t0 = bench_now_ns();
    struct void__metrics_writer w;
    void__metrics_init(&w, out, sizeof(out));
    for (int f = 0; f < 56; f++) {
        int labelled = f % 3 == 0;
        (void)snprintf(name, sizeof(name), "void_family_%d_total", f);
        void__metrics_family(&w, name, VOID_METRICS_COUNTER, "A counter of the node, by reason.");
        for (int k = 0; k < (labelled ? 4 : 1); k++) {
            void__metrics_u64(
                &w, labelled ? "reason" : NULL, labelled ? reasons[k] : NULL, 1234567u * (uint64_t)f);
        }
    }
    void__node_metrics_render(h, &w);
    size_t len = 0;
    if (void__metrics_finish(&w, &len) != 0 || len < 10000) {
        abort();
    }
    return (double)(bench_now_ns() - t0);
}

int main(void)
{
    struct void__node_metrics m;
    void__node_metrics_init(&m);
    struct void__metrics_histogram *all[] = {&m.h.commit,
                                             &m.h.request,
                                             &m.h.persist,
                                             &m.h.view_change,
                                             &m.h.ntp_offset,
                                             &m.h.ntp_delay,
                                             &m.h.cas_put,
                                             &m.h.cas_get};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        for (uint64_t v = 1; v < 20000000000ull; v = v * 3 + 7) {
            void__metrics_histogram_observe(all[i], v);
        }
    }
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        t[r] = render_once(&m.h);
    }
    double med = bench_median(t, ROUNDS);
    printf("BENCH metrics_render median_us=%.1f\n", med / 1000.0);
    return 0;
}

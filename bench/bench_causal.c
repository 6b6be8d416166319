/*
 * Causality benches on a recorded 1,000,000-event DAG (4 nodes exchanging
 * messages delivered nearly in order, HLC-stamped, stored as void_causal
 * records):
 *
 *   causal_verify: decoding each record and verifying it online
 *     (void_causal_submit into the bounded index) against only decoding the
 *     records back (the cost of reading the log without the verifier).
 *     ns per event; goals >= 100,000 events/s and <= 1.5x the read cost.
 *   causal_query: ancestors of a random event at depth 1,000 (p99 over 1,000
 *     queries) against the goal of 10 ms; the full history of the newest
 *     event is printed beside it.
 *
 * It also walks a 10,000,000-event chain end to end (no recursion, so no
 * stack overflow) and prints the time; --chain N changes the length.
 */
#include "bench.h"
#include "void/causal.h"
#include "void/error.h"
#include "void/hlc.h"
#include "void/prng.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS  1000000
#define NODES   4
#define ROUNDS  5
#define QUERIES 1000
#define DEPTH   1000
#define T0      1795564800000000000ull

static uint8_t *records;
static struct void_causal verifier;
static volatile uint64_t sink;

/* Records a valid DAG: sends to one peer, receives of in-flight messages,
 * local events, stamped by per-node HLCs over skewed physical clocks. */
static void record_dag(void)
{
    struct void_prng p;
    void_prng_seed(&p, 1);
    struct void_hlc h[NODES];
    uint64_t seq[NODES] = {0};
    for (int i = 0; i < NODES; i++) {
        void_hlc_init(&h[i], NULL);
    }
    struct void_causal_event *flight = malloc(EVENTS * sizeof(*flight));
    uint32_t *dest = malloc(EVENTS * sizeof(*dest));
    size_t head = 0, inflight = 0;
    uint64_t phys = T0;
    if (flight == NULL || dest == NULL) {
        abort();
    }
    for (size_t i = 0; i < EVENTS; i++) {
        phys += void_prng_range(&p, 1, 2000);
        uint32_t node = (uint32_t)void_prng_below(&p, NODES);
        uint64_t roll = void_prng_below(&p, 100);
        struct void_causal_event e;
        memset(&e, 0, sizeof(e));
        if (roll < 50 && inflight > 0) {
            /* Nearly FIFO, as a network delivers: one of the 8 oldest. */
            size_t k = head + (size_t)void_prng_below(&p, inflight < 8 ? inflight : 8);
            struct void_causal_event s = flight[k];
            node = dest[k];
            for (; k > head; k--) {
                flight[k] = flight[k - 1];
                dest[k] = dest[k - 1];
            }
            head++;
            inflight--;
            if (void_hlc_update_at(&h[node], phys + node * 100000u, s.hlc, &e.hlc) != 0) {
                abort();
            }
            e.kind = VOID_CAUSAL_RECEIVE;
            e.from = s.id;
            e.msg_type = s.msg_type;
            e.view = s.view;
            e.op_seq = s.op_seq;
        } else {
            e.hlc = void_hlc_now_at(&h[node], phys + node * 100000u);
            e.kind = roll < 80 ? VOID_CAUSAL_SEND : VOID_CAUSAL_COMMITTED;
            e.msg_type = 3;
            e.op_seq = i;
        }
        e.id.node = node;
        e.id.seq = ++seq[node];
        if (e.kind == VOID_CAUSAL_SEND) {
            flight[head + inflight] = e;
            dest[head + inflight++] = (node + 1 + (uint32_t)void_prng_below(&p, NODES - 1)) % NODES;
        }
        void_causal_encode(&e, records + i * VOID_CAUSAL_RECORD_SIZE);
    }
    free(flight);
    free(dest);
}

static double run_read(void)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    for (size_t i = 0; i < EVENTS; i++) {
        struct void_causal_event e;
        if (void_causal_decode(
                records + i * VOID_CAUSAL_RECORD_SIZE, VOID_CAUSAL_RECORD_SIZE, &e) != 0) {
            abort();
        }
        acc += e.id.seq;
    }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)(t1 - t0) / EVENTS;
}

static double run_verify(void)
{
    void_causal_reset(&verifier);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < EVENTS; i++) {
        struct void_causal_event e;
        if (void_causal_decode(
                records + i * VOID_CAUSAL_RECORD_SIZE, VOID_CAUSAL_RECORD_SIZE, &e) != 0 ||
            void_causal_submit(&verifier, &e) != VOID_CAUSAL_ACCEPTED) {
            fprintf(stderr, "bench_causal: event %zu not accepted\n", i);
            exit(1);
        }
    }
    uint64_t t1 = bench_now_ns();
    if (verifier.halt || verifier.count_accepted != EVENTS) {
        fprintf(stderr, "bench_causal: the verifier raised an alert on a valid DAG\n");
        exit(1);
    }
    return (double)(t1 - t0) / EVENTS;
}

static void bench_query(void)
{
    struct void_causal_id *out = malloc(EVENTS * sizeof(*out));
    double lat[QUERIES];
    struct void_prng p;
    void_prng_seed(&p, 2);
    size_t visited = 0;
    if (out == NULL) {
        abort();
    }
    for (int q = 0; q < QUERIES; q++) {
        uint32_t node = (uint32_t)void_prng_below(&p, NODES);
        struct void_causal_id from = {
            node, void_prng_range(&p, verifier.last[node] / 2, verifier.last[node])};
        struct void_causal_walk w;
        uint64_t t0 = bench_now_ns();
        int rc = void_causal_ancestors(&verifier, from, DEPTH, out, EVENTS, &w);
        lat[q] = (double)(bench_now_ns() - t0) / 1e6;
        if (rc != 0) {
            abort();
        }
        visited += w.count;
    }
    struct void_causal_id last = {0, verifier.last[0]};
    struct void_causal_walk w;
    uint64_t t0 = bench_now_ns();
    if (void_causal_ancestors(&verifier, last, UINT32_MAX, out, EVENTS, &w) != 0) {
        abort();
    }
    double full_ms = (double)(bench_now_ns() - t0) / 1e6;
    qsort(lat, QUERIES, sizeof(lat[0]), bench_cmp_double);
    printf("causal_query: ancestors depth %d: p50 %.3f ms, p99 %.3f ms, %zu events on average; "
           "full history of %u.%llu: %zu events in %.1f ms\n",
           DEPTH,
           lat[QUERIES / 2],
           lat[QUERIES * 99 / 100],
           visited / QUERIES,
           last.node,
           (unsigned long long)last.seq,
           w.count,
           full_ms);
    bench_report("causal_query", "goal_p99", "ms", lat[QUERIES * 99 / 100], 10.0);
    free(out);
}

static void bench_chain(size_t n)
{
    struct void_causal c;
    struct void_causal_config cfg = {
        .nodes = 2, .capacity = n, .orphans_max = 4, .orphan_wait_max = 4};
    struct void_causal_id *out = malloc(n * sizeof(*out));
    if (out == NULL || void_causal_init(&c, &cfg) != 0) {
        fprintf(stderr, "bench_causal: no memory for a %zu-event chain\n", n);
        exit(1);
    }
    struct void_causal_id prev = {0, 0};
    for (size_t i = 0; i < n; i++) { /* ping-pong: local, send, receive, send, ... */
        struct void_causal_event e;
        memset(&e, 0, sizeof(e));
        uint32_t node = (uint32_t)((i / 2) % 2);
        e.id = (struct void_causal_id){node, c.last[node] + 1};
        e.hlc = (struct void_hlc_ts){T0 + i, 0};
        e.kind = i == 0 ? VOID_CAUSAL_LOCAL : i % 2 ? VOID_CAUSAL_SEND : VOID_CAUSAL_RECEIVE;
        e.from = e.kind == VOID_CAUSAL_RECEIVE ? prev : (struct void_causal_id){0, 0};
        if (void_causal_submit(&c, &e) != VOID_CAUSAL_ACCEPTED) {
            abort();
        }
        prev = e.id;
    }
    struct void_causal_walk w;
    uint64_t t0 = bench_now_ns();
    int rc = void_causal_ancestors(&c, prev, UINT32_MAX, out, n, &w);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != 0 || w.count != n) {
        fprintf(stderr, "bench_causal: chain walk found %zu of %zu events\n", w.count, n);
        exit(1);
    }
    printf("causal_chain: %zu-event chain walked by ancestors() in %.2f s, no crash\n", n, s);
    free(out);
    void_causal_fini(&c);
}

int main(int argc, char **argv)
{
    size_t chain = 10000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_causal [--chain N]\n"
                   "Verifier throughput on a recorded 1,000,000-event DAG against decoding it\n"
                   "only (BENCH causal_verify), ancestors at depth 1,000 (BENCH causal_query),\n"
                   "and a walk of an N-event chain (default 10,000,000).\n");
            return 0;
        }
        if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
            chain = (size_t)strtoull(argv[++i], NULL, 10);
            continue;
        }
        fprintf(stderr, "bench_causal: unknown argument '%s' (see --help)\n", argv[i]);
        return 2;
    }
    records = malloc((size_t)EVENTS * VOID_CAUSAL_RECORD_SIZE);
    struct void_causal_config cfg = {
        .nodes = NODES, .capacity = EVENTS, .orphans_max = 64, .orphan_wait_max = 64};
    if (records == NULL || void_causal_init(&verifier, &cfg) != 0) {
        fprintf(stderr, "bench_causal: out of memory\n");
        return 1;
    }
    record_dag();
    double ours[ROUNDS], peer[ROUNDS];
    run_verify(); /* warm up: touch the index's pages */
    run_read();
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            ours[r] = run_verify();
            peer[r] = run_read();
        } else {
            peer[r] = run_read();
            ours[r] = run_verify();
        }
    }
    double sorted[ROUNDS];
    memcpy(sorted, ours, sizeof(sorted));
    printf("causal_verify: %d events, %.0f events/s verified (decode + verify + index)\n",
           EVENTS,
           1e9 / bench_median(sorted, ROUNDS));
    bench_report_rounds("causal_verify", "decode_only", "ns", ours, peer, ROUNDS);
    bench_query();
    if (chain > 0) {
        bench_chain(chain);
    }
    void_causal_fini(&verifier);
    free(records);
    return 0;
}

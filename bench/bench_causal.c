/*
 * Causality benches on a recorded 1,000,000-event DAG (4 nodes exchanging
 * messages delivered nearly in order, HLC-stamped, stored as void_causal
 * records):
 *
 *   causal_verify: reading each record back from the persisted log
 *     (include/void/causal_log.h: LMDB, a cursor in key order), decoding it
 *     and verifying it online (void_causal_submit into the bounded index),
 *     against only reading the records back and decoding them (the cost of
 *     reading the log without the verifier). ns per event; goals >= 100,000
 *     events/s and <= 1.5x the read cost. The same pair over records already
 *     in memory (no storage at all) is printed beside it.
 *   causal_query: ancestors of a random event at depth 1,000 (p99 over 1,000
 *     queries) against the goal of 10 ms; the full history of the newest
 *     event is printed beside it.
 *
 * It also walks a 10,000,000-event chain end to end (no recursion, so no
 * stack overflow) and prints the time; --chain N changes the length.
 *
 * --once runs each side of causal_verify once and nothing else, for
 * counting instructions (times under valgrind mean nothing):
 *   valgrind --tool=callgrind --toggle-collect=void_causal_submit \
 *     build/bin/bench_causal --once
 * gives the verifier's instructions for 2,000,000 submits (the log and
 * the in-memory pass), --toggle-collect=run_log the log's two passes.
 */
#include "bench.h"
#include "void/causal.h"
#include "void/causal_log.h"
#include "void/error.h"
#include "void/hlc.h"
#include "void/prng.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENTS  1000000
#define NODES   4
#define ROUNDS  5
#define QUERIES 1000
#define DEPTH   1000
/* The verifier as the daemon runs it: the default in-memory capacity
 * (src/io/node_causal.h), older events in the persisted log. */
#define ONLINE_CAPACITY 65536
#define T0      1795564800000000000ull

static uint8_t *records;
static struct void_causal verifier; /* all 1,000,000 events: the queries */
static struct void_causal online;   /* the daemon's default capacity: the verify bench */
static struct void_causal_log rlog;
static char rlog_dir[] = "/tmp/bench_causal.XXXXXX";
static volatile uint64_t sink;

/* Times are this thread's CPU time, not wall time: the machine is shared
 * (2 cores, load often above 5), and a wall clock would time the other
 * sessions' slices as ours. Both sides of every ratio are timed alike. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
    uint64_t acc = 0, t0 = cpu_ns();
    for (size_t i = 0; i < EVENTS; i++) {
        struct void_causal_event e;
        if (void_causal_decode(
                records + i * VOID_CAUSAL_RECORD_SIZE, VOID_CAUSAL_RECORD_SIZE, &e) != 0) {
            abort();
        }
        acc += e.id.seq;
    }
    uint64_t t1 = cpu_ns();
    sink += acc;
    return (double)(t1 - t0) / EVENTS;
}

static double run_verify(void)
{
    void_causal_reset(&verifier);
    uint64_t t0 = cpu_ns();
    for (size_t i = 0; i < EVENTS; i++) {
        struct void_causal_event e;
        if (void_causal_decode(
                records + i * VOID_CAUSAL_RECORD_SIZE, VOID_CAUSAL_RECORD_SIZE, &e) != 0 ||
            void_causal_submit(&verifier, &e) != VOID_CAUSAL_ACCEPTED) {
            fprintf(stderr, "bench_causal: event %zu not accepted\n", i);
            exit(1);
        }
    }
    uint64_t t1 = cpu_ns();
    if (verifier.halt || void_causal_count_accepted(&verifier) != EVENTS) {
        fprintf(stderr, "bench_causal: the verifier raised an alert on a valid DAG\n");
        exit(1);
    }
    return (double)(t1 - t0) / EVENTS;
}

/* Writes the recorded DAG into the persisted log, keys 1..EVENTS in
 * acceptance order, in transactions of 10,000 records as a node would. */
static void persist_dag(void)
{
    struct void_causal_log_config cfg = {.max_bytes = 0, .sync = 0};
    if (mkdtemp(rlog_dir) == NULL || void_causal_log_open(&rlog, rlog_dir, &cfg) != 0) {
        fprintf(stderr, "bench_causal: cannot open a causal log under /tmp\n");
        exit(1);
    }
    enum { TXN = 10000 };
    uint64_t *keys = malloc(TXN * sizeof(*keys));
    if (keys == NULL) {
        abort();
    }
    for (size_t i = 0; i < EVENTS; i += TXN) {
        for (size_t j = 0; j < TXN; j++) {
            keys[j] = i + j + 1;
        }
        if (void_causal_log_append(&rlog, keys, records + i * VOID_CAUSAL_RECORD_SIZE, TXN) != 0) {
            fprintf(stderr, "bench_causal: cannot write the causal log\n");
            exit(1);
        }
    }
    free(keys);
}

static int read_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    *(uint64_t *)ctx += key + ev->id.seq;
    return 0;
}

static int verify_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    (void)key;
    if (void_causal_submit(&online, ev) != VOID_CAUSAL_ACCEPTED) {
        fprintf(stderr, "bench_causal: event %u.%llu not accepted\n", ev->id.node,
                (unsigned long long)ev->id.seq);
        exit(1);
    }
    ++*(uint64_t *)ctx;
    return 0;
}

/* Reads the log back: the scan decodes every record (the peer), or also
 * verifies it (ours). ns per event. */
static double run_log(int verify)
{
    uint64_t acc = 0;
    size_t seen = 0;
    if (verify) {
        void_causal_reset(&online);
    }
    uint64_t t0 = cpu_ns();
    int rc = void_causal_log_scan(&rlog, 1, false, EVENTS, verify ? verify_one : read_one, &acc, &seen);
    uint64_t t1 = cpu_ns();
    if (rc != 0 || seen != EVENTS) {
        fprintf(stderr, "bench_causal: read %zu of %d events back from the log\n", seen, EVENTS);
        exit(1);
    }
    if (verify && (online.halt || void_causal_count_accepted(&online) != EVENTS)) {
        fprintf(stderr, "bench_causal: the verifier raised an alert on a valid DAG\n");
        exit(1);
    }
    sink += acc;
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
        uint64_t t0 = cpu_ns();
        int rc = void_causal_ancestors(&verifier, from, DEPTH, out, EVENTS, &w);
        lat[q] = (double)(cpu_ns() - t0) / 1e6;
        if (rc != 0) {
            abort();
        }
        visited += w.count;
    }
    struct void_causal_id last = {0, verifier.last[0]};
    struct void_causal_walk w;
    uint64_t t0 = cpu_ns();
    if (void_causal_ancestors(&verifier, last, UINT32_MAX, out, EVENTS, &w) != 0) {
        abort();
    }
    double full_ms = (double)(cpu_ns() - t0) / 1e6;
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
    uint64_t t0 = cpu_ns();
    int rc = void_causal_ancestors(&c, prev, UINT32_MAX, out, n, &w);
    double s = (double)(cpu_ns() - t0) / 1e9;
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
    size_t online_capacity = ONLINE_CAPACITY;
    bool once = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_causal [--chain N] [--capacity N] [--once]\n"
                   "Verifier throughput on a recorded 1,000,000-event DAG against decoding it\n"
                   "only (BENCH causal_verify), ancestors at depth 1,000 (BENCH causal_query),\n"
                   "and a walk of an N-event chain (default 10,000,000). --capacity: the\n"
                   "verify bench's in-memory index (default 65,536, the daemon's). --once:\n"
                   "each side of causal_verify once, no BENCH line (for callgrind).\n");
            return 0;
        }
        if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc) {
            chain = (size_t)strtoull(argv[++i], NULL, 10);
            continue;
        }
        if (strcmp(argv[i], "--once") == 0) {
            once = true;
            continue;
        }
        if (strcmp(argv[i], "--capacity") == 0 && i + 1 < argc) {
            online_capacity = (size_t)strtoull(argv[++i], NULL, 10);
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
    struct void_causal_config ocfg = {.nodes = NODES,
                                      .capacity = online_capacity,
                                      .orphans_max = 64,
                                      .orphan_wait_max = 64};
    if (void_causal_init(&online, &ocfg) != 0) {
        fprintf(stderr, "bench_causal: out of memory\n");
        return 1;
    }
    record_dag();
    persist_dag();
    double ours[ROUNDS], peer[ROUNDS], mours[ROUNDS], mpeer[ROUNDS];
    if (once) {
        double v = run_log(1), r = run_log(0), mv = run_verify(), mr = run_read();
        printf("causal_verify --once: from the log %.1f ns against %.1f; "
               "in memory %.1f against %.1f\n",
               v,
               r,
               mv,
               mr);
        chain = 0;
        goto done;
    }
    run_log(1); /* warm up: touch the index's pages and the map */
    run_log(0);
    run_verify();
    run_read();
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            ours[r] = run_log(1);
            peer[r] = run_log(0);
            mours[r] = run_verify();
            mpeer[r] = run_read();
        } else {
            mpeer[r] = run_read();
            mours[r] = run_verify();
            peer[r] = run_log(0);
            ours[r] = run_log(1);
        }
    }
    double sorted[ROUNDS], msorted[ROUNDS], mpsorted[ROUNDS];
    memcpy(sorted, ours, sizeof(sorted));
    memcpy(msorted, mours, sizeof(msorted));
    memcpy(mpsorted, mpeer, sizeof(mpsorted));
    double m_ours = bench_median(msorted, ROUNDS), m_peer = bench_median(mpsorted, ROUNDS);
    printf("causal_verify: %d events, %.0f events/s read back from LMDB and verified; "
           "in memory: verify %.1f ns against decode %.1f ns per event (%.2fx)\n",
           EVENTS,
           1e9 / bench_median(sorted, ROUNDS),
           m_ours,
           m_peer,
           m_ours / m_peer);
    bench_report_rounds("causal_verify", "lmdb_read", "ns", ours, peer, ROUNDS);
    bench_query();
    if (chain > 0) {
        bench_chain(chain);
    }
done:
    void_causal_fini(&verifier);
    void_causal_fini(&online);
    void_causal_log_close(&rlog);
    char path[sizeof(rlog_dir) + 16];
    snprintf(path, sizeof(path), "%s/data.mdb", rlog_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", rlog_dir);
    unlink(path);
    rmdir(rlog_dir);
    free(records);
    return 0;
}

/*
 * The node's histograms (contract in node_metrics.h): bucket layouts, the
 * pairing of core events into latencies, and their families in /metrics.
 *
 * The core's EVENT effects carry everything needed to pair a start with its
 * end (a batch's seq; a request's client), so the driver times them on its
 * own clock as it performs them: the core reads no clock, and nothing is
 * added to its outputs. Pairing tables are fixed arrays indexed by seq or
 * client id modulo their size: a collision costs one sample, never memory.
 */
#include "node_metrics.h"

#include "void/assert.h"
#include "void/codec.h"

#include <string.h>
#include <uv.h>

#define MS 1000000ull /* ns */
#define US 1000ull

/* Client-visible latencies: 0.1 ms (a batch on loopback) to 10 s (view
 * changes and retries). */
static const struct void__metrics_buckets latency = {
    .count = 16,
    .digits = 9,
    .upper = {100 * US,
              250 * US,
              500 * US,
              1 * MS,
              2500 * US,
              5 * MS,
              10 * MS,
              25 * MS,
              50 * MS,
              100 * MS,
              250 * MS,
              500 * MS,
              1000 * MS,
              2500 * MS,
              5000 * MS,
              10000 * MS}};

/* fdatasync: tens of microseconds on NVMe or tmpfs, tens of ms on disks. */
static const struct void__metrics_buckets persist = {
    .count = 14,
    .digits = 9,
    .upper = {50 * US,
              100 * US,
              250 * US,
              500 * US,
              1 * MS,
              2500 * US,
              5 * MS,
              10 * MS,
              25 * MS,
              50 * MS,
              100 * MS,
              250 * MS,
              500 * MS,
              1000 * MS}};

/* A view change takes a timeout (500 ms by default) and doubles per failure. */
static const struct void__metrics_buckets view_change = {
    .count = 12,
    .digits = 9,
    .upper = {10 * MS,
              25 * MS,
              50 * MS,
              100 * MS,
              250 * MS,
              500 * MS,
              1000 * MS,
              2500 * MS,
              5000 * MS,
              10000 * MS,
              30000 * MS,
              60000 * MS}};

/* NTP offsets and round trips: microseconds on a LAN to a second. */
static const struct void__metrics_buckets ntp = {
    .count = 13,
    .digits = 9,
    .upper = {10 * US,
              50 * US,
              100 * US,
              250 * US,
              500 * US,
              1 * MS,
              5 * MS,
              10 * MS,
              25 * MS,
              50 * MS,
              100 * MS,
              500 * MS,
              1000 * MS}};

/* CAS blocks: content-defined chunks of kilobytes up to a few MiB. */
static const struct void__metrics_buckets block_bytes = {
    .count = 8,
    .digits = 0,
    .upper = {1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216}};

/* Detection: the dead threshold is 1.2 s at the default heartbeat (6
 * intervals), stretched by the local health multiplier (lhm + 1) on a
 * starved node and by [membership] heartbeat_ms (20..10000). */
static const struct void__metrics_buckets detection = {
    .count = 12,
    .digits = 9,
    .upper = {250 * MS,
              500 * MS,
              750 * MS,
              1000 * MS,
              1250 * MS,
              1500 * MS,
              2000 * MS,
              3000 * MS,
              5000 * MS,
              10000 * MS,
              30000 * MS,
              60000 * MS}};

void void__node_hists_init(struct void__node_hists *h)
{
    VOID_ASSERT(h != NULL);
    void__metrics_histogram_init(&h->commit, &latency);
    void__metrics_histogram_init(&h->request, &latency);
    void__metrics_histogram_init(&h->persist, &persist);
    void__metrics_histogram_init(&h->view_change, &view_change);
    void__metrics_histogram_init(&h->ntp_offset, &ntp);
    void__metrics_histogram_init(&h->ntp_delay, &ntp);
    void__metrics_histogram_init(&h->cas_put, &block_bytes);
    void__metrics_histogram_init(&h->cas_get, &block_bytes);
    void__metrics_histogram_init(&h->detection, &detection);
    VOID_ASSERT(h->commit.count == 0 && h->cas_get.buckets == &block_bytes);
}

void void__node_metrics_init(struct void__node_metrics *m)
{
    VOID_ASSERT(m != NULL);
    memset(m, 0, sizeof(*m));
    void__node_hists_init(&m->h);
}

static uint64_t now_of(uint64_t *now_ns)
{
    if (*now_ns == 0) {
        *now_ns = uv_hrtime();
    }
    return *now_ns;
}

/* Whether ev starts a timed interval: a batch pre-prepared, a client's
 * request received. */
static int is_start(const struct void_pbft_event *ev)
{
    return ev->kind == VOID_PBFT_EVENT_PRE_PREPARED ||
           (ev->kind == VOID_PBFT_EVENT_RECEIVE && ev->msg_type == VOID_MSG_REQUEST);
}

static void start(struct void__node_metrics *m, const struct void_pbft_event *ev, uint64_t t)
{
    VOID_ASSERT(is_start(ev));
    if (ev->kind == VOID_PBFT_EVENT_PRE_PREPARED) {
        size_t i = (size_t)(ev->seq % VOID_NODE_METRICS_SLOTS);
        /* A batch pre-prepared again in a later view keeps its first time:
         * the view change is part of its latency. */
        if (m->batches[i].seq != ev->seq) {
            m->batches[i].seq = ev->seq;
            m->batches[i].t_ns = t;
        }
        return;
    }
    size_t i = ev->remote_node % VOID_NODE_METRICS_SLOTS;
    int live = m->requests[i].t_ns != 0 && m->requests[i].client == ev->remote_node &&
               t >= m->requests[i].t_ns &&
               t - m->requests[i].t_ns < VOID_NODE_METRICS_REQUEST_MAX_NS;
    /* A retransmission keeps the first arrival: the client waits since. */
    if (!live) {
        m->requests[i].client = ev->remote_node;
        m->requests[i].t_ns = t;
    }
}

void void__node_metrics_step(struct void__node_metrics *m,
                             const struct void_pbft_out *out,
                             uint32_t from,
                             uint64_t now_ns)
{
    VOID_ASSERT(m != NULL && out != NULL);
    VOID_ASSERT(from <= out->count);
    for (uint32_t i = from; i < out->count; i++) {
        const struct void_pbft_effect *e = &out->effects[i];
        if (e->kind == VOID_PBFT_EFFECT_EVENT && is_start(&e->u.event)) {
            start(m, &e->u.event, now_ns != 0 ? now_ns : (now_ns = uv_hrtime()));
        }
    }
}

void void__node_metrics_event(struct void__node_metrics *m,
                              const struct void_pbft_event *ev,
                              uint64_t *now_ns)
{
    VOID_ASSERT(m != NULL && ev != NULL);
    VOID_ASSERT(now_ns != NULL);
    if (ev->kind == VOID_PBFT_EVENT_COMMIT) {
        size_t i = (size_t)(ev->seq % VOID_NODE_METRICS_SLOTS);
        if (m->batches[i].seq == ev->seq && ev->seq != 0) {
            uint64_t t = now_of(now_ns);
            uint64_t t0 = m->batches[i].t_ns;
            void__metrics_histogram_observe(&m->h.commit, t > t0 ? t - t0 : 0);
            m->batches[i].seq = 0;
        }
    } else if (ev->kind == VOID_PBFT_EVENT_SEND && ev->msg_type == VOID_MSG_REPLY) {
        size_t i = ev->remote_node % VOID_NODE_METRICS_SLOTS;
        if (m->requests[i].t_ns != 0 && m->requests[i].client == ev->remote_node) {
            uint64_t t = now_of(now_ns);
            uint64_t t0 = m->requests[i].t_ns;
            if (t >= t0 && t - t0 < VOID_NODE_METRICS_REQUEST_MAX_NS) {
                void__metrics_histogram_observe(&m->h.request, t - t0);
            }
            m->requests[i].t_ns = 0;
        }
    }
}

void void__node_metrics_view_change(struct void__node_metrics *m, int started, uint64_t now_ns)
{
    VOID_ASSERT(m != NULL);
    VOID_ASSERT(now_ns != 0);
    if (started) {
        m->view_change_ns = m->view_change_ns != 0 ? m->view_change_ns : now_ns;
        return;
    }
    if (m->view_change_ns != 0) {
        uint64_t d = now_ns > m->view_change_ns ? now_ns - m->view_change_ns : 0;
        void__metrics_histogram_observe(&m->h.view_change, d);
    }
    m->view_change_ns = 0;
}

void void__node_metrics_persist(struct void__node_metrics *m, uint64_t store_ns)
{
    VOID_ASSERT(m != NULL);
    VOID_ASSERT(store_ns >= m->persist_ns_seen);
    void__metrics_histogram_observe(&m->h.persist, store_ns - m->persist_ns_seen);
    m->persist_ns_seen = store_ns;
}

void void__node_metrics_render(const struct void__node_hists *h, struct void__metrics_writer *w)
{
    VOID_ASSERT(h != NULL && w != NULL);
    void__metrics_family(w,
                         "void_commit_latency_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Time from a batch's pre-prepare (accepted, or proposed by the "
                         "primary) to its execution at this replica.");
    void__metrics_histogram(w, NULL, NULL, &h->commit);
    void__metrics_family(w,
                         "void_request_latency_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Time from a client's request arriving at this replica to this "
                         "replica's reply (requests it heard from the client itself).");
    void__metrics_histogram(w, NULL, NULL, &h->request);
    void__metrics_family(w,
                         "void_persist_duration_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Time of each synced group commit to the record log (write and "
                         "fdatasync).");
    void__metrics_histogram(w, NULL, NULL, &h->persist);
    void__metrics_family(w,
                         "void_view_change_duration_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Time from the start of a view change to the new view's installation.");
    void__metrics_histogram(w, NULL, NULL, &h->view_change);
    void__metrics_family(w,
                         "void_ntp_offset_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Absolute clock offset of each accepted NTP sample.");
    void__metrics_histogram(w, NULL, NULL, &h->ntp_offset);
    void__metrics_family(w,
                         "void_ntp_round_trip_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Round-trip delay of each accepted NTP sample (server hold time "
                         "excluded).");
    void__metrics_histogram(w, NULL, NULL, &h->ntp_delay);
    void__metrics_family(w,
                         "void_cas_block_bytes",
                         VOID_METRICS_HISTOGRAM,
                         "Sizes of file blocks stored (op=put) and served (op=get).");
    void__metrics_histogram(w, "op", "put", &h->cas_put);
    void__metrics_histogram(w, "op", "get", &h->cas_get);
    void__metrics_family(w,
                         "void_member_detection_seconds",
                         VOID_METRICS_HISTOGRAM,
                         "Time from a member's last heartbeat heard to this node's failure "
                         "detector declaring it dead.");
    void__metrics_histogram(w, NULL, NULL, &h->detection);
    VOID_ASSERT(w->rc != 0 || w->family[0] != '\0');
}

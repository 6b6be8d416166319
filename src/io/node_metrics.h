/*
 * The node's histograms (docs/operations.md, section 4): latencies and sizes
 * the driver measures on its own monotonic clock from what it already sees,
 * so the core stays free of clocks:
 *
 *   commit latency   from the step that emitted a batch's PRE_PREPARED event
 *                    (accepted by a backup, proposed by the primary) to the
 *                    driver performing its COMMIT event (executed, durable)
 *   request latency  from the step that received a client's REQUEST frame to
 *                    the driver performing the SEND of this replica's REPLY
 *                    to that client (requests it heard from the client)
 *   persist          each synced group commit of the record log
 *   view change      from the step that started a view change to the one
 *                    that installed the new view (report_view in node.c)
 *   NTP              |offset| and round-trip delay of each accepted sample
 *   CAS blocks       bytes of each block stored (put) and served (get)
 *   detection        a member's last heartbeat heard to this node's detector
 *                    declaring it dead (the silence the transition reports;
 *                    a SIGKILL itself is not observable)
 *
 * Threads: written on the loop thread only; the node copies `h` into its
 * snapshot under its lock (publish), and renders from the copy.
 */
#ifndef VOID_IO_NODE_METRICS_H
#define VOID_IO_NODE_METRICS_H

#include "metrics.h"
#include "void/pbft.h"

#include <stddef.h>
#include <stdint.h>

/* Batches and clients tracked at once; a slot is reused by the next batch
 * or client that hashes to it (its start time is then lost, not wrong). */
#define VOID_NODE_METRICS_SLOTS 1024
/* A request not answered within this long is forgotten (dropped as stale,
 * or answered by other replicas): the client's next request starts anew. */
#define VOID_NODE_METRICS_REQUEST_MAX_NS (60ull * 1000000000ull)

struct void__node_hists {
    struct void__metrics_histogram commit;      /* ns */
    struct void__metrics_histogram request;     /* ns */
    struct void__metrics_histogram persist;     /* ns */
    struct void__metrics_histogram view_change; /* ns */
    struct void__metrics_histogram ntp_offset;  /* ns, absolute */
    struct void__metrics_histogram ntp_delay;   /* ns */
    struct void__metrics_histogram cas_put;     /* bytes */
    struct void__metrics_histogram cas_get;     /* bytes */
    struct void__metrics_histogram detection;   /* ns */
};

struct void__node_metrics {
    struct void__node_hists h;
    struct {
        void_seq seq; /* 0: free */
        uint64_t t_ns;
    } batches[VOID_NODE_METRICS_SLOTS];
    struct {
        uint32_t client;
        uint64_t t_ns; /* 0: free */
    } requests[VOID_NODE_METRICS_SLOTS];
    uint64_t view_change_ns; /* monotonic start of the view change under way; 0 none */
    uint64_t persist_ns_seen; /* the store's count_ns at the last commit */
};

/* Sets m up, every histogram empty. Cannot fail. */
void void__node_metrics_init(struct void__node_metrics *m);

/* Sets h up, empty (a snapshot before the first copy). Cannot fail. */
void void__node_hists_init(struct void__node_hists *h);

/* Notes the start of the intervals that a step began: out (borrowed) holds
 * the step's effects from index `from` on; a PRE_PREPARED event starts its
 * batch's commit latency, a RECEIVE of a client's REQUEST that client's
 * request latency. now_ns is the monotonic time, or 0 to read it here (only
 * when such an event is there). Cannot fail. */
void void__node_metrics_step(struct void__node_metrics *m,
                             const struct void_pbft_out *out,
                             uint32_t from,
                             uint64_t now_ns);

/* Notes one EVENT effect (borrowed) as the driver performs it (its records
 * durable): a COMMIT (executed) ends its batch's interval, a SEND of a REPLY
 * its client's. *now_ns is the monotonic time: when 0, it is read here
 * (uv_hrtime) the first time an event needs it and kept, so one batch of
 * effects reads the clock once. Cannot fail. */
void void__node_metrics_event(struct void__node_metrics *m,
                              const struct void_pbft_event *ev,
                              uint64_t *now_ns);

/* A view change started (started = 1; a second start before it is done is
 * the same view change going on to a later view) or the new view was
 * installed (started = 0), at monotonic now_ns. Cannot fail. */
void void__node_metrics_view_change(struct void__node_metrics *m, int started, uint64_t now_ns);

/* A group commit succeeded; store_ns is the record log's count_ns (time
 * spent in void_pstore_write so far, failed attempts included). Cannot
 * fail. */
void void__node_metrics_persist(struct void__node_metrics *m, uint64_t store_ns);

/* Writes the histogram families of h (borrowed) to w. Cannot fail (a family
 * that does not fit is the writer's VOID_EFULL). */
void void__node_metrics_render(const struct void__node_hists *h, struct void__metrics_writer *w);

#endif

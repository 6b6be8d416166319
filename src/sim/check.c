/*
 * The simulator's online checkers other than linearizability: agreement of
 * executed batches across honest replicas, the HLC order of the causal event
 * DAG (DESIGN.md section 8: every parent's HLC is below its child's, per-node
 * sequences have no gaps), and as-of reads against the committed MVCC
 * history. Each keeps only what the next check needs and costs O(1) or
 * O(parents) per record.
 */
#include "void/assert.h"
#include "void/error.h"
#include "void/sim_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- agreement ----------------------------------------------------------- */

void void_check_agreement_init(struct void_check_agreement *a)
{
    VOID_ASSERT(a != NULL);
    memset(a, 0, sizeof(*a));
}

void void_check_agreement_fini(struct void_check_agreement *a)
{
    VOID_ASSERT(a != NULL);
    free(a->digests);
    free(a->first_replica);
    free(a->have);
    memset(a, 0, sizeof(*a));
}

static int agreement_reserve(struct void_check_agreement *a, uint64_t seq)
{
    if (seq < a->cap) {
        return 0;
    }
    uint64_t cap = a->cap == 0 ? 1024 : a->cap;
    while (cap <= seq) {
        cap *= 2;
    }
    void *d = realloc(a->digests, cap * 32);
    if (d == NULL) {
        return VOID_ENOMEM;
    }
    a->digests = d;
    void *r = realloc(a->first_replica, cap * sizeof(uint32_t));
    if (r == NULL) {
        return VOID_ENOMEM;
    }
    a->first_replica = r;
    uint8_t *h = realloc(a->have, cap);
    if (h == NULL) {
        return VOID_ENOMEM;
    }
    memset(h + a->cap, 0, cap - a->cap);
    a->have = h;
    a->cap = cap;
    return 0;
}

int void_check_agreement_record(struct void_check_agreement *a,
                                uint32_t replica,
                                uint64_t seq,
                                const uint8_t digest[32])
{
    VOID_ASSERT(a != NULL);
    VOID_ASSERT(digest != NULL);
    int rc = agreement_reserve(a, seq);
    if (rc != 0) {
        return rc;
    }
    a->count_records++;
    if (!a->have[seq]) {
        a->have[seq] = 1;
        memcpy(a->digests[seq], digest, 32);
        a->first_replica[seq] = replica;
        return 0;
    }
    if (memcmp(a->digests[seq], digest, 32) == 0) {
        return 0;
    }
    if (a->count_violations++ == 0) {
        snprintf(a->msg,
                 sizeof(a->msg),
                 "agreement: replicas %u and %u executed different batches at seq %llu "
                 "(digests %02x%02x%02x%02x.. vs %02x%02x%02x%02x..)",
                 a->first_replica[seq],
                 replica,
                 (unsigned long long)seq,
                 a->digests[seq][0],
                 a->digests[seq][1],
                 a->digests[seq][2],
                 a->digests[seq][3],
                 digest[0],
                 digest[1],
                 digest[2],
                 digest[3]);
    }
    return 1;
}

/* ---- view membership ----------------------------------------------------------- */

int void_check_view_init(struct void_check_view *c,
                         uint32_t count_nodes,
                         uint32_t quorum,
                         uint64_t heal_ns,
                         uint64_t bound_ns)
{
    VOID_ASSERT(c != NULL);
    memset(c, 0, sizeof(*c));
    if (count_nodes == 0 || count_nodes > VOID_CHECK_VIEW_NODES_MAX || quorum == 0 ||
        quorum > count_nodes) {
        return VOID_EINVAL;
    }
    c->count_nodes = count_nodes;
    c->quorum = quorum;
    c->heal_ns = heal_ns;
    c->bound_ns = bound_ns;
    for (uint32_t i = 0; i < VOID_CHECK_VIEW_NODES_MAX; i++) {
        c->out_since_ns[i] = UINT64_MAX;
    }
    VOID_ASSERT(c->count_violations == 0);
    return 0;
}

/* The view installed by at least quorum honest replicas that are up, if
 * any. Two views cannot both have quorum when 2 * quorum > the nodes
 * counted; otherwise the first found wins, which the caller's choice of
 * quorum rules out (see sim_check.h). */
static int cluster_view(const struct void_check_view *c,
                        const struct void_check_view_node *nodes,
                        uint64_t *view)
{
    for (uint32_t i = 0; i < c->count_nodes; i++) {
        if (!nodes[i].honest_up || nodes[i].changing) {
            continue;
        }
        uint32_t with = 0;
        for (uint32_t j = 0; j < c->count_nodes; j++) {
            with += nodes[j].honest_up && !nodes[j].changing && nodes[j].view == nodes[i].view;
        }
        if (with >= c->quorum) {
            *view = nodes[i].view;
            return 1;
        }
    }
    return 0;
}

void void_check_view_commit(struct void_check_view *c, uint64_t now_ns, uint64_t view)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(!c->have_commit || now_ns >= c->commit_ns);
    c->commit_view = view;
    c->commit_ns = now_ns;
    c->have_commit = 1;
}

int void_check_view_step(struct void_check_view *c,
                         uint64_t now_ns,
                         const struct void_check_view_node *nodes)
{
    VOID_ASSERT(c != NULL && nodes != NULL);
    VOID_ASSERT(c->count_nodes > 0);
    uint64_t view = 0;
    int have = now_ns >= c->heal_ns && cluster_view(c, nodes, &view);
    int fired = 0;
    for (uint32_t i = 0; i < c->count_nodes; i++) {
        int out = have && nodes[i].honest_up && (nodes[i].changing || nodes[i].view != view);
        if (!out) {
            c->out_since_ns[i] = UINT64_MAX;
            continue;
        }
        if (c->out_since_ns[i] == UINT64_MAX) {
            c->out_since_ns[i] = now_ns;
        }
        /* Out for as long as the cluster has gone on committing in its view
         * since this replica left it: up to the latest such commit. */
        int live = c->have_commit && c->commit_view == view && c->commit_ns >= c->out_since_ns[i];
        uint64_t out_ns = live ? c->commit_ns - c->out_since_ns[i] : 0;
        if (out_ns > c->out_ns_max) {
            c->out_ns_max = out_ns;
        }
        if (out_ns > c->bound_ns) {
            if (c->count_violations++ == 0) {
                snprintf(c->msg,
                         sizeof(c->msg),
                         "view: replica %u has been out of the cluster's view %llu for %.1f s "
                         "while the others commit in it (in view %llu%s; bound %.1f s after "
                         "the heal)",
                         i,
                         (unsigned long long)view,
                         (double)out_ns / 1e9,
                         (unsigned long long)nodes[i].view,
                         nodes[i].changing ? ", changing" : "",
                         (double)c->bound_ns / 1e9);
            }
            c->out_since_ns[i] = now_ns; /* once per stretch of a bound */
            fired = 1;
        }
    }
    VOID_ASSERT(c->out_ns_max <= now_ns);
    return fired;
}

/* ---- HLC order ------------------------------------------------------------- */

int void_check_hlc_init(struct void_check_hlc *h, uint32_t count_nodes)
{
    VOID_ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
    if (count_nodes == 0 || count_nodes > VOID_ARRAY_LEN(h->nodes)) {
        return VOID_EINVAL;
    }
    h->count_nodes = count_nodes;
    return 0;
}

void void_check_hlc_fini(struct void_check_hlc *h)
{
    VOID_ASSERT(h != NULL);
    for (uint32_t i = 0; i < VOID_ARRAY_LEN(h->nodes); i++) {
        free(h->nodes[i].hlcs);
    }
    memset(h, 0, sizeof(*h));
}

static int
hlc_violation(struct void_check_hlc *h, const struct void_check_event *ev, const char *what)
{
    if (h->count_violations++ == 0) {
        snprintf(h->msg,
                 sizeof(h->msg),
                 "hlc: event (node %u, seq %llu, hlc %llu/%u): %s",
                 ev->node,
                 (unsigned long long)ev->seq,
                 (unsigned long long)ev->hlc.wall_ns,
                 ev->hlc.logical,
                 what);
    }
    return 1;
}

static int hlc_append(struct void_check_hlc_node *n, struct void_hlc_ts ts)
{
    if (n->count == n->cap) {
        uint64_t cap = n->cap == 0 ? 1024 : n->cap * 2;
        struct void_hlc_ts *p = realloc(n->hlcs, cap * sizeof(*p));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        n->hlcs = p;
        n->cap = cap;
    }
    n->hlcs[n->count++] = ts;
    return 0;
}

int void_check_hlc_event(struct void_check_hlc *h, const struct void_check_event *ev)
{
    VOID_ASSERT(h != NULL);
    VOID_ASSERT(ev != NULL);
    if (ev->node >= h->count_nodes) {
        return hlc_violation(h, ev, "unknown node");
    }
    struct void_check_hlc_node *n = &h->nodes[ev->node];
    h->count_events++;
    int bad = 0;
    if (ev->seq != n->count + 1) {
        bad = hlc_violation(h, ev, "per-node sequence has a gap or repeats");
    } else if (n->count > 0 && void_hlc_compare(n->hlcs[n->count - 1], ev->hlc) >= 0) {
        bad = hlc_violation(h, ev, "HLC not above the node's previous event");
    }
    if (ev->remote_seq != 0) {
        h->count_edges++;
        const struct void_check_hlc_node *p =
            ev->remote_node < h->count_nodes ? &h->nodes[ev->remote_node] : NULL;
        if (p == NULL || ev->remote_seq > p->count) {
            bad = hlc_violation(h, ev, "remote parent event unknown");
        } else if (void_hlc_compare(p->hlcs[ev->remote_seq - 1], ev->hlc) >= 0) {
            bad = hlc_violation(h, ev, "HLC not above its send event's (receive before send)");
        }
    }
    if (ev->seq == n->count + 1) {
        int rc = hlc_append(n, ev->hlc);
        if (rc != 0) {
            return rc;
        }
    }
    return bad;
}

/* ---- as-of reads ----------------------------------------------------------- */

/* Several writes of one batch share its stamp: a read as of that stamp may
 * see any of them (their order inside the batch is not in the history). */
static int asof_same_stamp_has(const struct void_check_version *versions,
                               size_t count_versions,
                               const struct void_check_version *best,
                               const struct void_check_asof *rd)
{
    if (best == NULL) {
        return 0;
    }
    for (size_t v = 0; v < count_versions; v++) {
        if (versions[v].key == rd->key && void_hlc_compare(versions[v].hlc, best->hlc) == 0 &&
            versions[v].value == rd->out_value) {
            return 1;
        }
    }
    return 0;
}

int void_check_asof_reads(const struct void_check_version *versions,
                          size_t count_versions,
                          const struct void_check_asof *reads,
                          size_t count_reads,
                          char *msg,
                          size_t msg_cap)
{
    VOID_ASSERT(versions != NULL || count_versions == 0);
    VOID_ASSERT(reads != NULL || count_reads == 0);
    int bad = 0;
    /* Reads are few (a fraction of the ops), so a scan per read is cheaper
     * than an index and obviously right. */
    for (size_t r = 0; r < count_reads; r++) {
        const struct void_check_asof *rd = &reads[r];
        const struct void_check_version *best = NULL;
        for (size_t v = 0; v < count_versions; v++) {
            const struct void_check_version *ver = &versions[v];
            if (ver->key != rd->key || void_hlc_compare(ver->hlc, rd->as_of) > 0) {
                continue;
            }
            if (best == NULL || void_hlc_compare(ver->hlc, best->hlc) >= 0) {
                best = ver;
            }
        }
        uint64_t want = best == NULL ? 0 : best->value;
        if (want == rd->out_value || asof_same_stamp_has(versions, count_versions, best, rd)) {
            continue;
        }
        if (bad++ == 0 && msg != NULL && msg_cap > 0) {
            snprintf(msg,
                     msg_cap,
                     "as-of: key %llu read as of %llu/%u returned value %llu, committed value "
                     "was %llu",
                     (unsigned long long)rd->key,
                     (unsigned long long)rd->as_of.wall_ns,
                     rd->as_of.logical,
                     (unsigned long long)rd->out_value,
                     (unsigned long long)want);
        }
    }
    return bad;
}

/*
 * The causal event DAG: record codec, online verifier, bounded index and the
 * queries over it (ancestors, descendants, consistent cut, ShiViz and DOT
 * exports). See include/void/causal.h for the model and docs/causality.md for
 * the record layout and the safety arguments.
 *
 * The index is a ring of entries in acceptance order ("ord"), so that the
 * retention horizon is simply "the oldest capacity accepted events", plus a
 * per-node array from seq (modulo capacity) to ord. Because an event is
 * accepted only after its parents, acceptance order is a topological order,
 * and a node's events are accepted in seq order: the retained events of each
 * node are the contiguous range [base, last]. Every walk is iterative, with
 * the caller's output array as its BFS queue and a per-entry epoch mark as
 * its visited set, so that a walk allocates nothing and cannot overflow a
 * stack however long the chain.
 */
#include "void/causal.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/pbft.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORD_NONE UINT64_MAX

/* The verifier's hot path (void_causal_submit of an event whose parents are
 * in) is one function: a call costs about as much as a check (saved
 * registers, a stack-protector canary for a local whose address is taken),
 * and the rare cases (a duplicate, an orphan, an alert) are out of line, so
 * that their locals and branches stay out of it. docs/causality.md, "What a
 * submit costs". */
#define HOT  static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline, cold))

_Static_assert(VOID_CAUSAL_RECORD_SIZE == 4 + 8 + VOID_HLC_ENCODED_SIZE + 1 + 1 + 2 + 4 + 8 + 4 * 8,
               "record layout in docs/causality.md");
_Static_assert(VOID_CAUSAL_NODES_MAX <= 64, "a node set fits a uint64_t");
_Static_assert(VOID_HLC_ENCODED_SIZE == 8 + 4, "void_causal_decode reads the HLC as be64, be32");

/* ---- record codec ------------------------------------------------------- */

static const char *const kind_names[VOID_CAUSAL_KIND_MAX + 1] = {
    "unknown",
    "client_request",
    "send",
    "receive",
    "pre_prepared",
    "prepared",
    "committed",
    "execute",
    "reply",
    "checkpoint",
    "view_change",
    "membership",
    "local",
};

const char *void_causal_kind_name(int kind)
{
    if (kind < 1 || kind > VOID_CAUSAL_KIND_MAX) {
        return "unknown";
    }
    return kind_names[kind];
}

const char *void_causal_violation_name(int kind)
{
    switch (kind) {
    case VOID_CAUSAL_HLC_ORDER:
        return "hlc_order";
    case VOID_CAUSAL_SEQ_GAP:
        return "seq_gap";
    case VOID_CAUSAL_MISSING_PARENT:
        return "missing_parent";
    case VOID_CAUSAL_FORGED_PARENT:
        return "forged_parent";
    case VOID_CAUSAL_EQUIVOCATION:
        return "equivocation";
    case VOID_CAUSAL_BUFFER_OVERFLOW:
        return "buffer_overflow";
    default:
        return "unknown";
    }
}

int void_causal_event_check(const struct void_causal_event *ev)
{
    VOID_ASSERT(ev != NULL);
    if (ev->id.seq == 0 || ev->id.seq > VOID_CAUSAL_SEQ_MAX || ev->from.seq > VOID_CAUSAL_SEQ_MAX) {
        return VOID_EBAD_FIELD;
    }
    if (ev->kind < 1 || ev->kind > VOID_CAUSAL_KIND_MAX) {
        return VOID_EBAD_FIELD;
    }
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        /* A node's own messages to itself are local events, not receives. */
        if (ev->from.seq == 0 || ev->from.node == ev->id.node) {
            return VOID_EBAD_FIELD;
        }
    } else if (ev->from.seq != 0 || ev->from.node != 0) {
        return VOID_EBAD_FIELD;
    }
    return 0;
}

void void_causal_encode(const struct void_causal_event *ev, uint8_t out[VOID_CAUSAL_RECORD_SIZE])
{
    VOID_ASSERT(ev != NULL && out != NULL);
    VOID_ASSERT(void_causal_event_check(ev) == 0);
    void_bytes_put_be32(out, ev->id.node);
    void_bytes_put_be64(out + 4, ev->id.seq);
    void_hlc_encode(ev->hlc, out + 12);
    out[24] = ev->kind;
    out[25] = ev->msg_type;
    void_bytes_put_be16(out + 26, 0); /* reserved */
    void_bytes_put_be32(out + 28, ev->from.node);
    void_bytes_put_be64(out + 32, ev->from.seq);
    void_bytes_put_be64(out + 40, ev->view);
    void_bytes_put_be64(out + 48, ev->op_seq);
    void_bytes_put_be64(out + 56, ev->client_id);
    void_bytes_put_be64(out + 64, ev->request_no);
#if defined(VOID_DEBUG) && VOID_DEBUG
    struct void_causal_event back;
    VOID_ASSERT_SLOW(void_causal_decode(out, VOID_CAUSAL_RECORD_SIZE, &back) == 0);
    VOID_ASSERT_SLOW(back.id.seq == ev->id.seq && back.hlc.wall_ns == ev->hlc.wall_ns);
#endif
}

int void_causal_decode(const uint8_t *in, size_t len, struct void_causal_event *ev)
{
    VOID_ASSERT(ev != NULL);
    VOID_ASSERT(in != NULL || len == 0);
    if (len < VOID_CAUSAL_RECORD_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_CAUSAL_RECORD_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    if (void_bytes_get_be16(in + 26) != 0) {
        return VOID_EBAD_FIELD;
    }
    memset(ev, 0, sizeof(*ev));
    ev->id.node = void_bytes_get_be32(in);
    ev->id.seq = void_bytes_get_be64(in + 4);
    /* void_hlc_decode's layout (wall_ns, logical), read as two words: its
     * byte loop was a fifth of a record's read cost. */
    ev->hlc.wall_ns = void_bytes_get_be64(in + 12);
    ev->hlc.logical = void_bytes_get_be32(in + 20);
    ev->kind = in[24];
    ev->msg_type = in[25];
    ev->from.node = void_bytes_get_be32(in + 28);
    ev->from.seq = void_bytes_get_be64(in + 32);
    ev->view = void_bytes_get_be64(in + 40);
    ev->op_seq = void_bytes_get_be64(in + 48);
    ev->client_id = void_bytes_get_be64(in + 56);
    ev->request_no = void_bytes_get_be64(in + 64);
    return void_causal_event_check(ev);
}

static bool event_equal(const struct void_causal_event *a, const struct void_causal_event *b)
{
    return a->id.node == b->id.node && a->id.seq == b->id.seq &&
           void_hlc_compare(a->hlc, b->hlc) == 0 && a->kind == b->kind &&
           a->msg_type == b->msg_type && a->from.node == b->from.node &&
           a->from.seq == b->from.seq && a->view == b->view && a->op_seq == b->op_seq &&
           a->client_id == b->client_id && a->request_no == b->request_no;
}

/* a < b in HLC order: void_hlc_compare(a, b) < 0, inlined for the
 * verifier's hot path (two compares per event). */
static inline bool hlc_before(struct void_hlc_ts a, struct void_hlc_ts b)
{
    return a.wall_ns < b.wall_ns || (a.wall_ns == b.wall_ns && a.logical < b.logical);
}

/* ---- index: ring + per-node seq arrays ---------------------------------- */

_Static_assert(sizeof(struct void__causal_entry) == 64, "one cache line per entry (causal.h)");
#define RING_ALIGN 64

/* The entry's fields in the event's order, so that the pack is three block
 * copies (seq and wall_ns; from_seq to request_no) and the small fields:
 * the copies compile to a few 16-byte moves, where field by field they
 * were a load and a store each. */
_Static_assert(offsetof(struct void_causal_event, hlc.wall_ns) ==
                   offsetof(struct void_causal_event, id.seq) + 8,
               "seq, wall_ns adjacent in the event");
_Static_assert(offsetof(struct void__causal_entry, wall_ns) == 8, "seq, wall_ns adjacent");
_Static_assert(offsetof(struct void_causal_event, request_no) ==
                   offsetof(struct void_causal_event, from.seq) + 32,
               "from.seq .. request_no adjacent in the event");
_Static_assert(offsetof(struct void__causal_entry, request_no) ==
                   offsetof(struct void__causal_entry, from_seq) + 32,
               "from_seq .. request_no adjacent in the entry");
_Static_assert(offsetof(struct void_causal_event, msg_type) ==
                       offsetof(struct void_causal_event, kind) + 1 &&
                   offsetof(struct void__causal_entry, msg_type) ==
                       offsetof(struct void__causal_entry, kind) + 1,
               "kind, msg_type adjacent in both");

HOT void entry_pack(struct void__causal_entry *restrict e,
                    const struct void_causal_event *restrict ev,
                    uint32_t node,
                    uint32_t from_node)
{
    /* Every caller checked both node ids against cfg.nodes <= NODES_MAX;
     * it passes them as it holds them (from_node 0 for a non-receive). */
    VOID_ASSERT_SLOW(node == ev->id.node && from_node == ev->from.node);
    VOID_ASSERT_SLOW(node < VOID_CAUSAL_NODES_MAX && from_node < VOID_CAUSAL_NODES_MAX);
    memcpy(&e->seq, &ev->id.seq, 16);
    memcpy(&e->from_seq, &ev->from.seq, 40);
    e->logical = ev->hlc.logical;
    memcpy(&e->kind, &ev->kind, 2);
    e->node = (uint8_t)node;
    e->from_node = (uint8_t)from_node;
}

static void entry_unpack(const struct void__causal_entry *e, struct void_causal_event *ev)
{
    ev->id.node = e->node;
    ev->id.seq = e->seq;
    ev->hlc.wall_ns = e->wall_ns;
    ev->hlc.logical = e->logical;
    ev->kind = e->kind;
    ev->msg_type = e->msg_type;
    ev->from.node = e->from_node;
    ev->from.seq = e->from_seq;
    ev->view = e->view;
    ev->op_seq = e->op_seq;
    ev->client_id = e->client_id;
    ev->request_no = e->request_no;
}

static struct void_causal_id entry_id(const struct void__causal_entry *e)
{
    return (struct void_causal_id){e->node, e->seq};
}

static struct void_hlc_ts entry_hlc(const struct void__causal_entry *e)
{
    return (struct void_hlc_ts){e->wall_ns, e->logical};
}

/* The ord a link of the entry at ord points to, ORD_NONE for none. */
static uint64_t link_back(uint64_t ord, uint32_t d)
{
    return d == 0 ? ORD_NONE : ord - d;
}

static uint64_t link_fwd(uint64_t ord, uint32_t d)
{
    return d == 0 ? ORD_NONE : ord + d;
}

static struct void__causal_entry *entry_at(const struct void_causal *c, uint64_t ord)
{
    VOID_ASSERT(ord >= c->ord_oldest && ord < c->ord_next);
    return &c->ring[ord & c->mask];
}

/* An ord link that still points at a retained entry. */
static bool live(const struct void_causal *c, uint64_t ord)
{
    return ord != ORD_NONE && ord >= c->ord_oldest;
}

static bool id_equal(struct void_causal_id a, struct void_causal_id b)
{
    return a.node == b.node && a.seq == b.seq;
}

static uint32_t *by_seq_slot(const struct void_causal *c, struct void_causal_id id)
{
    VOID_ASSERT(id.node < c->cfg.nodes);
    return &c->by_seq_row[id.node][id.seq & c->mask];
}

/* The retained ord whose low 32 bits are low: the only one, since retained
 * ords lie within capacity <= UINT32_MAX below ord_next. */
static uint64_t ord_of_low(const struct void_causal *c, uint32_t low)
{
    return c->ord_next - (uint32_t)((uint32_t)c->ord_next - low);
}

/* The ord of id, or ORD_NONE when absent or past the horizon. */
static uint64_t lookup_ord(const struct void_causal *c, struct void_causal_id id)
{
    if (id.node >= c->cfg.nodes || id.seq < c->base[id.node] || id.seq > c->last[id.node]) {
        return ORD_NONE;
    }
    uint64_t ord = ord_of_low(c, *by_seq_slot(c, id));
    VOID_ASSERT(ord >= c->ord_oldest && ord < c->ord_next); /* [base, last] are retained */
    VOID_ASSERT_SLOW(c->ring[ord & c->mask].seq == id.seq);
    return ord;
}

/* The ords of an entry's parents and local child, from by_seq (none are
 * stored): ORD_NONE when there is none or it lies past the horizon. */
static uint64_t pred_ord(const struct void_causal *c, const struct void__causal_entry *e)
{
    return e->seq > 1 ? lookup_ord(c, (struct void_causal_id){e->node, e->seq - 1}) : ORD_NONE;
}

static uint64_t succ_ord(const struct void_causal *c, const struct void__causal_entry *e)
{
    return lookup_ord(c, (struct void_causal_id){e->node, e->seq + 1});
}

static uint64_t send_ord(const struct void_causal *c, const struct void__causal_entry *e)
{
    return e->kind == VOID_CAUSAL_RECEIVE
               ? lookup_ord(c, (struct void_causal_id){e->from_node, e->from_seq})
               : ORD_NONE;
}

static struct void__causal_entry *lookup(const struct void_causal *c, struct void_causal_id id)
{
    uint64_t ord = lookup_ord(c, id);
    return ord == ORD_NONE ? NULL : entry_at(c, ord);
}

/* Drops the oldest retained event: the horizon moves forward by one. */
HOT void drop_oldest(struct void_causal *c)
{
    VOID_ASSERT_SLOW(c->ord_oldest < c->ord_next); /* the caller found the ring full */
    uint32_t node = c->ring_node[c->ord_oldest & c->mask];
    struct void_causal_id id = {node, c->base[node]}; /* per-node FIFO */
    /* SLOW: the old entry and the slot of an old seq are cache misses. */
    VOID_ASSERT_SLOW(entry_at(c, c->ord_oldest)->seq == id.seq);
    VOID_ASSERT_SLOW(*by_seq_slot(c, id) == (uint32_t)c->ord_oldest);
    c->base[id.node] = id.seq + 1;
    c->ord_oldest++;
}

/* Inserts ev, whose local parent is (n, last[n]) or which is its node's
 * first event with open_start; send is the ord of a receive's send, as
 * accept found it (ORD_NONE: not here), so that it is not looked up twice. */
HOT void index_insert(struct void_causal *restrict c,
                      const struct void_causal_event *restrict ev,
                      bool receive,
                      uint64_t send,
                      bool fast)
{
    VOID_ASSERT_SLOW(receive == (ev->kind == VOID_CAUSAL_RECEIVE));
    uint32_t n = ev->id.node;
    uint64_t seq = ev->id.seq;
    VOID_ASSERT_SLOW(!fast || c->last[n] > 0);
    if (!fast && c->last[n] == 0 && c->cfg.open_start) {
        c->base[n] = seq; /* what came before lies beyond the horizon */
    }
    /* The one release check of the index's invariant per insert: a node's
     * retained seqs stay contiguous, which every by_seq lookup relies on. */
    VOID_ASSERT(seq == c->last[n] + 1 || seq == c->base[n]);
    /* Full from the capacity-th insert on: only inserting drops, one for one. */
    VOID_ASSERT_SLOW((c->ord_next >= c->cfg.capacity) ==
                     (c->ord_next - c->ord_oldest == c->cfg.capacity));
    if (c->ord_next >= c->cfg.capacity) {
        drop_oldest(c);
    }
    uint64_t ord = c->ord_next;
    uint64_t mask = c->mask;
    uint64_t slot = ord & mask;
    c->ord_next = ord + 1;
    c->last[n] = seq;
    c->last_hlc[n] = ev->hlc;
    c->by_seq_row[n][seq & mask] = (uint32_t)ord;
    if (receive) {
        /* Pushed on its send's list of receives, when the send is here (it
         * may just have been dropped to make room). */
        VOID_ASSERT_SLOW(send == ORD_NONE || send == lookup_ord(c, ev->from) ||
                         send < c->ord_oldest);
        uint32_t older = 0;
        /* fast: send is a retained ord, unless the drop above took it. */
        VOID_ASSERT_SLOW(!fast || send != ORD_NONE);
        if (fast ? send >= c->ord_oldest : live(c, send)) {
            /* Distances between retained ords: never 0, below capacity
             * <= UINT32_MAX. */
            struct void__causal_kin *sk = &c->kin[send & mask];
            older = sk->first_child != 0 ? (uint32_t)(ord - send) - sk->first_child : 0;
            sk->first_child = (uint32_t)(ord - send);
        }
        c->kin[slot].next_sibling = older;
    } else if (ev->kind == VOID_CAUSAL_SEND) {
        c->kin[slot].first_child = 0;
    }
    /* Last: the entry's and ring_node's byte stores may alias anything for
     * the compiler, which would reload every field of c after them. */
    uint8_t *ring_node = c->ring_node;
    /* A non-receive's from is zero (checked at the door). */
    entry_pack(&c->ring[slot], ev, n, receive ? ev->from.node : 0);
    ring_node[slot] = (uint8_t)n;
}

/* fast_nodes opens void_causal_submit's fast path (see there) while no
 * orphan waits in a full index; called wherever orphan_count changes. */
static void fast_update(struct void_causal *c)
{
    c->fast_nodes = c->orphan_count == 0 && !c->cfg.partial ? c->cfg.nodes : 0;
}

/* ---- init --------------------------------------------------------------- */

int void_causal_init(struct void_causal *c, const struct void_causal_config *cfg)
{
    VOID_ASSERT(c != NULL && cfg != NULL);
    memset(c, 0, sizeof(*c));
    if (cfg->nodes < 1 || cfg->nodes > VOID_CAUSAL_NODES_MAX || cfg->capacity < 2 ||
        cfg->capacity > UINT32_MAX || cfg->orphans_max < 1 || cfg->orphan_wait_max < 1 ||
        (cfg->partial && cfg->self >= cfg->nodes)) {
        return VOID_EINVAL;
    }
    c->cfg = *cfg;
    c->cfg.open_start |= cfg->partial;
    size_t slots = 2;
    while (slots < cfg->capacity) {
        slots *= 2;
    }
    c->mask = slots - 1;
    /* Aligned: each entry is then exactly one cache line. Not cleared: a
     * slot is read only once its entry is written (a retained ord), so its
     * pages are touched only as the ring fills, as calloc's would be. */
    c->ring = aligned_alloc(RING_ALIGN, slots * sizeof(*c->ring));
    c->kin = calloc(slots, sizeof(*c->kin));
    c->marks = calloc(slots, sizeof(*c->marks));
    c->by_seq = calloc(cfg->nodes * slots, sizeof(*c->by_seq));
    c->ring_node = calloc(slots, sizeof(*c->ring_node));
    c->orphans = calloc(cfg->orphans_max, sizeof(*c->orphans));
    c->drain = calloc(cfg->orphans_max + 1, sizeof(*c->drain));
    if (c->ring == NULL || c->kin == NULL || c->marks == NULL || c->by_seq == NULL ||
        c->ring_node == NULL || c->orphans == NULL || c->drain == NULL) {
        void_causal_fini(c);
        return VOID_ENOMEM;
    }
    for (size_t n = 0; n < VOID_CAUSAL_NODES_MAX; n++) {
        c->base[n] = 1;
    }
    for (size_t n = 0; n < cfg->nodes; n++) {
        c->by_seq_row[n] = c->by_seq + n * slots;
    }
    c->epoch = 1;
    fast_update(c);
    VOID_ASSERT(c->ord_next == 0 && c->base[0] == 1);
    return 0;
}

void void_causal_fini(struct void_causal *c)
{
    VOID_ASSERT(c != NULL);
    free(c->ring);
    free(c->kin);
    free(c->marks);
    free(c->by_seq);
    free(c->ring_node);
    free(c->orphans);
    free(c->drain);
    c->ring = NULL;
    c->kin = NULL;
    c->marks = NULL;
    c->by_seq = NULL;
    c->ring_node = NULL;
    c->orphans = NULL;
    c->drain = NULL;
}

void void_causal_reset(struct void_causal *c)
{
    VOID_ASSERT(c != NULL && c->ring != NULL);
    struct void_causal keep = *c;
    memset(c, 0, sizeof(*c));
    c->cfg = keep.cfg;
    c->mask = keep.mask;
    c->ring = keep.ring;
    c->kin = keep.kin;
    c->marks = keep.marks;
    c->by_seq = keep.by_seq;
    c->ring_node = keep.ring_node;
    memcpy(c->by_seq_row, keep.by_seq_row, sizeof(c->by_seq_row));
    c->orphans = keep.orphans;
    c->drain = keep.drain;
    for (size_t n = 0; n < VOID_CAUSAL_NODES_MAX; n++) {
        c->base[n] = 1;
    }
    /* The epoch goes on: the marks of walks before the reset stay below it. */
    c->epoch = keep.epoch;
    fast_update(c);
    VOID_ASSERT(c->ord_next == 0 && !c->halt);
}

/* ---- verifier ----------------------------------------------------------- */

static void raise_alert(struct void_causal *c,
                        int kind,
                        const struct void_causal_event *ev,
                        struct void_causal_id other,
                        struct void_hlc_ts other_hlc)
{
    VOID_ASSERT(kind >= VOID_CAUSAL_HLC_ORDER && kind <= VOID_CAUSAL_BUFFER_OVERFLOW);
    c->count_violations[kind]++;
    c->halt = true;
    if (c->alert_count == VOID_CAUSAL_ALERTS_MAX) {
        c->count_alerts_lost++;
        return;
    }
    struct void_causal_alert *a = &c->alerts[c->alert_count++];
    a->kind = (uint8_t)kind;
    a->event = ev->id;
    a->event_hlc = ev->hlc;
    a->other = other;
    a->other_hlc = other_hlc;
}

/* The first parent of ev not yet accepted, or {0, 0} when all are in (or
 * past the horizon, where they were verified before being dropped). */
static struct void_causal_id missing_parent(const struct void_causal *c,
                                            const struct void_causal_event *ev)
{
    struct void_causal_id none = {0, 0};
    bool fresh = c->cfg.open_start && c->last[ev->id.node] == 0; /* its first event */
    if (!fresh && ev->id.seq - 1 > c->last[ev->id.node]) {
        struct void_causal_id pred = {ev->id.node, ev->id.seq - 1};
        return pred;
    }
    if (ev->kind == VOID_CAUSAL_RECEIVE && !c->cfg.partial &&
        ev->from.seq > c->last[ev->from.node]) {
        return ev->from;
    }
    return none;
}

/* The alerts of accept, out of its line. */
COLD int alert_local_order(struct void_causal *c, const struct void_causal_event *ev)
{
    uint32_t n = ev->id.node;
    raise_alert(c, VOID_CAUSAL_HLC_ORDER, ev, (struct void_causal_id){n, ev->id.seq - 1},
                c->last_hlc[n]);
    return VOID_CAUSAL_REJECTED;
}

COLD int alert_send(struct void_causal *c,
                    const struct void_causal_event *ev,
                    const struct void__causal_entry *se,
                    int kind)
{
    raise_alert(c, kind, ev, entry_id(se), entry_hlc(se));
    return VOID_CAUSAL_REJECTED;
}

/* Accepts ev, whose parents are all in (missing_parent found none), if its
 * edges hold: HLC(previous local event) < HLC(ev) and, for a receive, the
 * send it names is a send with its payload and an earlier HLC. Returns
 * ACCEPTED, or REJECTED with the alert raised. fast (submit_fast): the
 * index is full (not partial) and ev is not its node's first event. */
HOT int accept(struct void_causal *restrict c,
               const struct void_causal_event *restrict ev,
               bool receive,
               bool fast)
{
    VOID_ASSERT_SLOW(receive == (ev->kind == VOID_CAUSAL_RECEIVE));
    bool partial = !fast && c->cfg.partial;
    uint32_t n = ev->id.node;
    VOID_ASSERT_SLOW(!fast || (!c->cfg.partial && c->last[n] > 0));
    /* submit and drain_orphans found the local parent in (missing_parent). */
    VOID_ASSERT_SLOW(ev->id.seq == c->last[n] + 1 || (c->cfg.open_start && c->last[n] == 0));
    if ((fast || c->last[n] > 0) && !hlc_before(c->last_hlc[n], ev->hlc)) {
        return alert_local_order(c, ev);
    }
    uint64_t send = ORD_NONE;
    /* partial: void_causal_submit_receive checked the remote edge. */
    if (receive && !partial) {
        uint32_t m = ev->from.node;
        /* The send is in (missing_parent): retained unless below the base. */
        VOID_ASSERT_SLOW(ev->from.seq <= c->last[m]);
        /* fast: submit_fast_receive found the send retained. */
        VOID_ASSERT_SLOW(!fast || ev->from.seq >= c->base[m]);
        if (fast || ev->from.seq >= c->base[m]) {
            send = ord_of_low(c, c->by_seq_row[m][ev->from.seq & c->mask]);
            VOID_ASSERT_SLOW(send == lookup_ord(c, ev->from));
            const struct void__causal_entry *se = &c->ring[send & c->mask];
            /* Compared in place: unpacking the whole send costs more than
             * the check. */
            if (se->kind != VOID_CAUSAL_SEND || se->msg_type != ev->msg_type ||
                se->view != ev->view || se->op_seq != ev->op_seq ||
                se->client_id != ev->client_id || se->request_no != ev->request_no) {
                return alert_send(c, ev, se, VOID_CAUSAL_FORGED_PARENT);
            }
            if (!hlc_before(entry_hlc(se), ev->hlc)) {
                return alert_send(c, ev, se, VOID_CAUSAL_HLC_ORDER);
            }
        } else {
            /* Past the horizon: the send was verified when it arrived, but
             * its content is gone, so this edge goes unchecked. */
            VOID_ASSERT_SLOW(c->ord_oldest > 0 || c->cfg.open_start);
        }
    }
    index_insert(c, ev, receive, send, fast);
    return VOID_CAUSAL_ACCEPTED;
}

static void orphan_remove(struct void_causal *c, size_t i)
{
    VOID_ASSERT(i < c->orphan_count);
    memmove(&c->orphans[i], &c->orphans[i + 1], (c->orphan_count - i - 1) * sizeof(c->orphans[0]));
    c->orphan_count--;
    fast_update(c);
}

static void orphan_alert(struct void_causal *c, size_t i, int kind_if_remote)
{
    const struct void_causal_event *ev = &c->orphans[i].ev;
    struct void_causal_id miss = missing_parent(c, ev);
    struct void_hlc_ts zero = {0, 0};
    bool local = miss.node == ev->id.node;
    raise_alert(c,
                local && kind_if_remote != VOID_CAUSAL_BUFFER_OVERFLOW ? VOID_CAUSAL_SEQ_GAP
                                                                       : kind_if_remote,
                ev,
                miss,
                zero);
    orphan_remove(c, i);
}

/* Buffers ev until its missing parent arrives. */
COLD int buffer_orphan(struct void_causal *c, const struct void_causal_event *ev)
{
    for (size_t i = 0; i < c->orphan_count; i++) {
        const struct void_causal_event *o = &c->orphans[i].ev;
        if (id_equal(o->id, ev->id)) {
            if (event_equal(o, ev)) {
                c->count_duplicates++;
                return VOID_CAUSAL_DUPLICATE;
            }
            raise_alert(c, VOID_CAUSAL_EQUIVOCATION, ev, o->id, o->hlc);
            return VOID_CAUSAL_REJECTED;
        }
    }
    if (c->orphan_count == c->cfg.orphans_max) {
        orphan_alert(c, 0, VOID_CAUSAL_BUFFER_OVERFLOW); /* the oldest goes */
    }
    c->orphans[c->orphan_count].ev = *ev;
    c->orphans[c->orphan_count].since = c->submits;
    c->orphan_count++;
    fast_update(c);
    c->count_buffered++;
    VOID_ASSERT(c->orphan_count <= c->cfg.orphans_max);
    return VOID_CAUSAL_BUFFERED;
}

/* Removes orphan i, whose id has meanwhile been accepted: the same event
 * again is a duplicate, a different one an equivocation. */
static void orphan_settle_twin(struct void_causal *c, size_t i)
{
    struct void_causal_event ev = c->orphans[i].ev;
    const struct void__causal_entry *oe = lookup(c, ev.id);
    orphan_remove(c, i);
    struct void_causal_event old;
    if (oe != NULL) {
        entry_unpack(oe, &old);
    }
    if (oe == NULL || event_equal(&old, &ev)) {
        c->count_duplicates++;
        return;
    }
    raise_alert(c, VOID_CAUSAL_EQUIVOCATION, &ev, old.id, old.hlc);
}

/* Releases the orphans that waited for newly accepted events, iteratively:
 * c->drain is a queue of accepted ids whose waiters have not been retried.
 * Each orphan leaves the buffer at most once, so the queue never holds more
 * than orphans_max + 1 ids. */
COLD void drain_orphans(struct void_causal *c, struct void_causal_id first)
{
    size_t head = 0, tail = 0;
    c->drain[tail++] = first;
    while (head < tail && c->orphan_count > 0) {
        struct void_causal_id got = c->drain[head++];
        size_t i = 0;
        while (i < c->orphan_count) {
            struct void_causal_event ev = c->orphans[i].ev;
            if (ev.id.seq <= c->last[ev.id.node]) {
                /* Its twin came in with all parents present: settle the pair. */
                orphan_settle_twin(c, i);
                continue;
            }
            bool waited = id_equal(got, (struct void_causal_id){ev.id.node, ev.id.seq - 1}) ||
                          (ev.kind == VOID_CAUSAL_RECEIVE && id_equal(got, ev.from));
            if (!waited || missing_parent(c, &ev).seq != 0) {
                i++;
                continue;
            }
            orphan_remove(c, i);
            if (accept(c, &ev, ev.kind == VOID_CAUSAL_RECEIVE, false) == VOID_CAUSAL_ACCEPTED) {
                VOID_ASSERT(tail <= c->cfg.orphans_max);
                c->drain[tail++] = ev.id;
            }
        }
    }
}

COLD void expire_orphans(struct void_causal *c)
{
    size_t i = 0;
    while (i < c->orphan_count) {
        if (c->submits - c->orphans[i].since > c->cfg.orphan_wait_max) {
            orphan_alert(c, i, VOID_CAUSAL_MISSING_PARENT);
        } else {
            i++;
        }
    }
}

/* An event at or below its node's last accepted seq: a retransmission, an
 * event whose copy was dropped, or an equivocation. */
COLD int submit_old(struct void_causal *c, const struct void_causal_event *ev)
{
    const struct void__causal_entry *oe = lookup(c, ev->id);
    struct void_causal_event old;
    if (oe != NULL) {
        entry_unpack(oe, &old);
    }
    if (oe == NULL || event_equal(&old, ev)) {
        c->count_duplicates += oe != NULL;
        c->count_stale += oe == NULL;
        return VOID_CAUSAL_DUPLICATE;
    }
    raise_alert(c, VOID_CAUSAL_EQUIVOCATION, ev, old.id, old.hlc);
    return VOID_CAUSAL_REJECTED;
}

/* ev is well formed and its nodes are in the cluster; receive says whether
 * it is a receive, a constant where void_causal_submit inlines this (once
 * for each), so that the kind's branches are taken once, not again in
 * accept and index_insert. The tests of
 * missing_parent, inlined: the local parent is the last accepted event (or
 * ev is its node's first with open_start), and a receive's send is at or
 * below its node's last accepted seq. */
HOT int submit(struct void_causal *restrict c,
               const struct void_causal_event *restrict ev,
               bool receive)
{
    VOID_ASSERT_SLOW(receive == (ev->kind == VOID_CAUSAL_RECEIVE));
    c->submits++;
    if (c->orphan_count > 0) {
        expire_orphans(c);
    }
    uint64_t last = c->last[ev->id.node];
    if (ev->id.seq <= last) {
        return submit_old(c, ev);
    }
    if ((ev->id.seq != last + 1 && !(c->cfg.open_start && last == 0)) ||
        (receive && !c->cfg.partial && ev->from.seq > c->last[ev->from.node])) {
        VOID_ASSERT_SLOW(missing_parent(c, ev).seq != 0);
        return buffer_orphan(c, ev);
    }
    VOID_ASSERT_SLOW(missing_parent(c, ev).seq == 0);
    int rc = accept(c, ev, receive, false);
    if (c->orphan_count > 0 && rc == VOID_CAUSAL_ACCEPTED) {
        drain_orphans(c, ev->id);
    }
    return rc;
}

/* Every event the fast path of void_causal_submit does not take: the door's
 * checks (void_causal_event_check and the cluster's node range, with one
 * test of the kind: a receive names a send on another node of the cluster
 * and is not submitted here in partial mode; any other kind names none),
 * then submit. */
COLD int submit_general(struct void_causal *c, const struct void_causal_event *ev)
{
    VOID_ASSERT(c->ring != NULL);
    bool receive = ev->kind == VOID_CAUSAL_RECEIVE;
    bool bad = ev->id.seq - 1 >= VOID_CAUSAL_SEQ_MAX || ev->id.node >= c->cfg.nodes;
    if (receive) {
        bad = bad || ev->from.seq - 1 >= VOID_CAUSAL_SEQ_MAX || ev->from.node == ev->id.node ||
              ev->from.node >= c->cfg.nodes || c->cfg.partial;
    } else {
        bad = bad || (uint8_t)(ev->kind - 1) >= VOID_CAUSAL_KIND_MAX || ev->from.seq != 0 ||
              ev->from.node != 0 || (c->cfg.partial && ev->id.node != c->cfg.self);
    }
    VOID_ASSERT_SLOW(bad == (void_causal_event_check(ev) != 0 || ev->id.node >= c->cfg.nodes ||
                             (receive && ev->from.node >= c->cfg.nodes) ||
                             (c->cfg.partial && (ev->id.node != c->cfg.self || receive))));
    if (bad) {
        return VOID_EBAD_FIELD;
    }
    return receive ? submit(c, ev, true) : submit(c, ev, false);
}

/* The fast path: an event of a full index (not partial) with no orphan
 * waiting (both folded into fast_nodes, 0 otherwise), well formed, whose
 * parents are in: the node's next seq after one already accepted, and for a
 * receive a send at or below its node's last accepted seq and still
 * retained (one past the horizon takes the general path). Every test here
 * is one of void_causal_event_check or missing_parent, in a cheaper form
 * that the in-range values allow: 2 <= seq <= SEQ_MAX and seq == last + 1
 * are two compares, and so are 1 <= from.seq <= last[m] (<= SEQ_MAX) and
 * both of a non-receive's from fields being zero. An event that fails any
 * of them goes to submit_general before anything changes, which checks it
 * in full; one that passes is accepted or rejected by accept, as there.
 * The submit counter only times orphans' waits, so it counts only while
 * one waits (submit_general). One function per kind of event, each with
 * only the registers it needs. */
__attribute__((noinline)) static int submit_fast_other(struct void_causal *restrict c,
                                                       const struct void_causal_event *restrict ev)
{
    uint32_t n = ev->id.node;
    uint64_t seq = ev->id.seq;
    if (n >= c->fast_nodes || seq - 2 >= VOID_CAUSAL_SEQ_MAX - 1 || seq != c->last[n] + 1 ||
        (uint8_t)(ev->kind - 1) >= VOID_CAUSAL_KIND_MAX || (ev->from.seq | ev->from.node) != 0) {
        return submit_general(c, ev);
    }
    VOID_ASSERT_SLOW(ev->kind != VOID_CAUSAL_RECEIVE);
    VOID_ASSERT_SLOW(c->fast_nodes == c->cfg.nodes && !c->cfg.partial && c->orphan_count == 0);
    VOID_ASSERT_SLOW(void_causal_event_check(ev) == 0 && missing_parent(c, ev).seq == 0);
    return accept(c, ev, false, true);
}

__attribute__((noinline)) static int
submit_fast_receive(struct void_causal *restrict c, const struct void_causal_event *restrict ev)
{
    uint32_t n = ev->id.node;
    uint32_t m = ev->from.node;
    uint64_t seq = ev->id.seq;
    if (n >= c->fast_nodes || seq - 2 >= VOID_CAUSAL_SEQ_MAX - 1 || seq != c->last[n] + 1 ||
        m >= c->fast_nodes || m == n || ev->from.seq - 1 >= c->last[m] ||
        ev->from.seq < c->base[m]) {
        return submit_general(c, ev);
    }
    VOID_ASSERT_SLOW(ev->kind == VOID_CAUSAL_RECEIVE);
    VOID_ASSERT_SLOW(c->fast_nodes == c->cfg.nodes && !c->cfg.partial && c->orphan_count == 0);
    VOID_ASSERT_SLOW(void_causal_event_check(ev) == 0 && missing_parent(c, ev).seq == 0);
    return accept(c, ev, true, true);
}

int void_causal_submit(struct void_causal *c, const struct void_causal_event *ev)
{
    VOID_ASSERT(c != NULL && ev != NULL);
    return ev->kind == VOID_CAUSAL_RECEIVE ? submit_fast_receive(c, ev) : submit_fast_other(c, ev);
}

/* Partial mode: the remote edge of a receive, against the frame's HLC and
 * the newest send seen from that node. Returns 0 or the violation raised. */
static int check_remote(struct void_causal *c,
                        const struct void_causal_event *ev,
                        struct void_hlc_ts send_hlc)
{
    uint32_t n = ev->from.node;
    if (void_hlc_compare(send_hlc, ev->hlc) >= 0) {
        raise_alert(c, VOID_CAUSAL_HLC_ORDER, ev, ev->from, send_hlc);
        return VOID_CAUSAL_HLC_ORDER;
    }
    uint64_t seen = c->seen_seq[n];
    struct void_causal_id prev = {n, seen};
    int order = void_hlc_compare(send_hlc, c->seen_hlc[n]);
    if (seen != 0 && ev->from.seq == seen && order != 0) {
        raise_alert(c, VOID_CAUSAL_EQUIVOCATION, ev, prev, c->seen_hlc[n]);
        return VOID_CAUSAL_EQUIVOCATION;
    }
    if (seen != 0 && ((ev->from.seq > seen && order <= 0) || (ev->from.seq < seen && order >= 0))) {
        raise_alert(c, VOID_CAUSAL_HLC_ORDER, ev, prev, c->seen_hlc[n]);
        return VOID_CAUSAL_HLC_ORDER;
    }
    if (ev->from.seq > seen) {
        c->seen_seq[n] = ev->from.seq;
        c->seen_hlc[n] = send_hlc;
    }
    return 0;
}

int void_causal_submit_receive(struct void_causal *c,
                               const struct void_causal_event *ev,
                               struct void_hlc_ts send_hlc)
{
    VOID_ASSERT(c != NULL && ev != NULL);
    VOID_ASSERT(c->ring != NULL);
    if (!c->cfg.partial || void_causal_event_check(ev) != 0 || ev->kind != VOID_CAUSAL_RECEIVE ||
        ev->id.node != c->cfg.self || ev->from.node >= c->cfg.nodes) {
        return VOID_EBAD_FIELD;
    }
    if (ev->id.seq > c->last[ev->id.node] && check_remote(c, ev, send_hlc) != 0) {
        return VOID_CAUSAL_REJECTED;
    }
    return submit(c, ev, true);
}

int void_causal_submit_restored(struct void_causal *c, const struct void_causal_event *ev)
{
    VOID_ASSERT(c != NULL && ev != NULL);
    VOID_ASSERT(c->ring != NULL);
    if (!c->cfg.partial || void_causal_event_check(ev) != 0 || ev->id.node != c->cfg.self ||
        ev->from.node >= c->cfg.nodes) {
        return VOID_EBAD_FIELD;
    }
    return submit(c, ev, ev->kind == VOID_CAUSAL_RECEIVE);
}

size_t void_causal_flush(struct void_causal *c)
{
    VOID_ASSERT(c != NULL);
    size_t n = c->orphan_count;
    while (c->orphan_count > 0) {
        orphan_alert(c, 0, VOID_CAUSAL_MISSING_PARENT);
    }
    VOID_ASSERT(c->orphan_count == 0);
    return n;
}

size_t void_causal_alerts_take(struct void_causal *c, struct void_causal_alert *out, size_t cap)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(out != NULL || cap == 0);
    size_t n = c->alert_count < cap ? c->alert_count : cap;
    memcpy(out, c->alerts, n * sizeof(*out));
    memmove(c->alerts, c->alerts + n, (c->alert_count - n) * sizeof(*out));
    c->alert_count -= n;
    return n;
}

int void_causal_get(const struct void_causal *c,
                    struct void_causal_id id,
                    struct void_causal_event *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    if (id.node >= c->cfg.nodes || id.seq == 0 || id.seq > c->last[id.node]) {
        return VOID_ENOTFOUND;
    }
    const struct void__causal_entry *e = lookup(c, id);
    if (e == NULL) {
        return VOID_EKVS_TOO_OLD;
    }
    entry_unpack(e, out);
    VOID_ASSERT(id_equal(out->id, id));
    return 0;
}

/* ---- walks -------------------------------------------------------------- */

static uint32_t next_epoch(struct void_causal *c)
{
    if (++c->epoch == 0) {
        /* Wrapped after 2^32 walks: clear the marks once (every slot:
         * dropped entries' marks stay until the slot is walked again). */
        memset(c->marks, 0, (size_t)(c->mask + 1) * sizeof(*c->marks));
        c->epoch = 1;
    }
    return c->epoch;
}

/* Visits neighbour ord of an entry at depth d in a walk: queues it in out
 * (as {UINT32_MAX, ord} until the walk ends) unless seen or out is full. */
static void walk_visit(struct void_causal *c,
                       uint64_t ord,
                       uint32_t d,
                       struct void_causal_id *out,
                       size_t cap,
                       struct void_causal_walk *res)
{
    if (!live(c, ord)) {
        res->past_horizon = true;
        return;
    }
    struct void__causal_mark *m = &c->marks[ord & c->mask];
    if (m->mark == c->epoch) {
        return;
    }
    if (res->count == cap) {
        res->size_limited = true;
        return;
    }
    m->mark = c->epoch;
    m->depth = d + 1;
    out[res->count].node = UINT32_MAX;
    out[res->count++].seq = ord;
}

/* Queues the parents (up) or children of the entry at ord. */
static void walk_expand(struct void_causal *c,
                        uint64_t ord,
                        bool up,
                        struct void_causal_id *out,
                        size_t cap,
                        struct void_causal_walk *res)
{
    const struct void__causal_entry *e = entry_at(c, ord);
    uint32_t d = c->marks[ord & c->mask].depth;
    if (up) {
        if (e->seq > 1) {
            walk_visit(c, pred_ord(c, e), d, out, cap, res);
        }
        if (e->kind == VOID_CAUSAL_RECEIVE && !c->cfg.partial) {
            /* partial: the send is elsewhere */
            walk_visit(c, send_ord(c, e), d, out, cap, res);
        }
        return;
    }
    if (e->seq < c->last[e->node]) { /* a newer event is always retained */
        walk_visit(c, succ_ord(c, e), d, out, cap, res);
    }
    if (e->kind != VOID_CAUSAL_SEND) {
        return;
    }
    /* The sibling list runs newest first; ords below the horizon are gone. */
    for (uint64_t o = link_fwd(ord, c->kin[ord & c->mask].first_child); live(c, o);
         o = link_back(o, c->kin[o & c->mask].next_sibling)) {
        walk_visit(c, o, d, out, cap, res);
    }
}

/* Breadth-first walk: out is the queue (of ords) and the answer (of ids). */
static int walk(struct void_causal *c,
                struct void_causal_id from,
                uint32_t depth_max,
                bool up,
                struct void_causal_id *out,
                size_t cap,
                struct void_causal_walk *res)
{
    VOID_ASSERT(c != NULL && res != NULL && out != NULL);
    VOID_ASSERT(cap >= 1);
    memset(res, 0, sizeof(*res));
    struct void_causal_event tmp;
    int rc = void_causal_get(c, from, &tmp);
    if (rc != 0) {
        return rc;
    }
    next_epoch(c);
    uint64_t ord = lookup_ord(c, from);
    struct void__causal_entry *e = entry_at(c, ord);
    c->marks[ord & c->mask] = (struct void__causal_mark){c->epoch, 0};
    out[res->count].node = UINT32_MAX;
    out[res->count++].seq = ord;
    for (size_t head = 0; head < res->count; head++) {
        e = entry_at(c, out[head].seq);
        /* A forward link always points at a retained entry (a newer one). */
        uint64_t o = out[head].seq;
        bool has_next =
            up ? (e->seq > 1 || (e->kind == VOID_CAUSAL_RECEIVE && !c->cfg.partial))
               : (e->seq < c->last[e->node] ||
                  (e->kind == VOID_CAUSAL_SEND && c->kin[o & c->mask].first_child != 0));
        if (c->marks[o & c->mask].depth >= depth_max) {
            res->depth_limited |= has_next;
            continue;
        }
        walk_expand(c, out[head].seq, up, out, cap, res);
    }
    for (size_t i = 0; i < res->count; i++) {
        VOID_ASSERT(out[i].node == UINT32_MAX);
        out[i] = entry_id(entry_at(c, out[i].seq));
    }
    VOID_ASSERT(res->count <= cap && id_equal(out[0], from));
    return 0;
}

int void_causal_ancestors(struct void_causal *c,
                          struct void_causal_id from,
                          uint32_t depth_max,
                          struct void_causal_id *out,
                          size_t cap,
                          struct void_causal_walk *res)
{
    return walk(c, from, depth_max, true, out, cap, res);
}

int void_causal_descendants(struct void_causal *c,
                            struct void_causal_id from,
                            uint32_t depth_max,
                            struct void_causal_id *out,
                            size_t cap,
                            struct void_causal_walk *res)
{
    return walk(c, from, depth_max, false, out, cap, res);
}

/* ---- consistent cut ----------------------------------------------------- */

/* Node n's last retained event with HLC <= t by binary search over its seq
 * range (HLC grows along a node's events, which the verifier enforces). */
static uint64_t
frontier_of(const struct void_causal *c, uint32_t n, struct void_hlc_ts t, bool *past)
{
    if (c->last[n] == 0) {
        return 0;
    }
    if (void_hlc_compare(c->last_hlc[n], t) <= 0) {
        return c->last[n];
    }
    uint64_t lo = c->base[n], hi = c->last[n]; /* answer in [lo - 1, hi - 1] */
    if (lo > hi || void_hlc_compare(entry_hlc(lookup(c, (struct void_causal_id){n, lo})), t) > 0) {
        *past |= lo > 1;
        return lo - 1;
    }
    while (hi - lo > 1) { /* invariant: hlc(lo) <= t < hlc(hi) */
        uint64_t mid = lo + (hi - lo) / 2;
        if (void_hlc_compare(entry_hlc(lookup(c, (struct void_causal_id){n, mid})), t) <= 0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/*
 * Why the HLC cut is already consistent: a receive r is in the cut when
 * HLC(r) <= t. The verifier accepted r only with HLC(send) < HLC(r), so
 * HLC(send) < t, and since HLC grows strictly along the sender's events, the
 * sender's frontier is at or after the send: the send is in the cut. The
 * same holds for local parents. So the loop below finds nothing to fix on a
 * verified index; it runs anyway, because a cut is what an operator trusts
 * to reason about a failure, and it costs one pass over the retained events.
 * Each fix lowers a frontier, so it ends within (retained events) passes.
 */
size_t void_causal_cut(const struct void_causal *c,
                       struct void_hlc_ts t,
                       uint64_t frontier[VOID_CAUSAL_NODES_MAX],
                       bool *past_horizon)
{
    VOID_ASSERT(c != NULL && frontier != NULL && past_horizon != NULL);
    *past_horizon = false;
    memset(frontier, 0, VOID_CAUSAL_NODES_MAX * sizeof(frontier[0]));
    for (uint32_t n = 0; n < c->cfg.nodes; n++) {
        frontier[n] = frontier_of(c, n, t, past_horizon);
    }
    size_t fixes = 0;
    bool changed = !c->cfg.partial; /* partial: no send is here to check against */
    for (uint64_t pass = 0; changed && pass <= c->ord_next - c->ord_oldest; pass++) {
        changed = false;
        for (uint64_t o = c->ord_oldest; o < c->ord_next; o++) {
            const struct void__causal_entry *e = entry_at(c, o);
            if (e->kind != VOID_CAUSAL_RECEIVE || e->seq > frontier[e->node] ||
                e->from_seq <= frontier[e->from_node]) {
                continue;
            }
            frontier[e->node] = e->seq - 1;
            fixes++;
            changed = true;
        }
    }
    VOID_ASSERT(!changed);
    return fixes;
}

/* ---- exports ------------------------------------------------------------ */

/* Appends the event's description (the ShiViz "event" group, the DOT label). */
static int describe(const struct void_causal_event *ev, char *buf, size_t cap)
{
    int len = snprintf(buf,
                       cap,
                       "%" PRIu32 ".%" PRIu64 " %s hlc=%" PRIu64 "/%" PRIu32,
                       ev->id.node,
                       ev->id.seq,
                       void_causal_kind_name(ev->kind),
                       ev->hlc.wall_ns,
                       ev->hlc.logical);
    VOID_ASSERT(len > 0 && (size_t)len < cap);
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        len += snprintf(buf + len,
                        cap - (size_t)len,
                        " from=%" PRIu32 ".%" PRIu64,
                        ev->from.node,
                        ev->from.seq);
    }
    len += snprintf(buf + len,
                    cap - (size_t)len,
                    " type=%u view=%" PRIu64 " seq=%" PRIu64 " client=%" PRIu64 " req=%" PRIu64,
                    (unsigned)ev->msg_type,
                    ev->view,
                    ev->op_seq,
                    ev->client_id,
                    ev->request_no);
    VOID_ASSERT((size_t)len < cap);
    return len;
}

/* Vector clock of the entry at ord into its scratch row: the join of its
 * parents' rows (computed before, as acceptance order is topological), then
 * its own component, counted from the node's oldest retained event. */
static void vector_clock(const struct void_causal *c, uint64_t ord, uint32_t *scratch)
{
    uint32_t nodes = c->cfg.nodes;
    const struct void__causal_entry *e = entry_at(c, ord);
    uint32_t *row = scratch + (ord % c->cfg.capacity) * nodes;
    memset(row, 0, nodes * sizeof(*row));
    const uint64_t parents[2] = {pred_ord(c, e), send_ord(c, e)};
    for (int p = 0; p < 2; p++) {
        uint64_t pord = parents[p];
        if (!live(c, pord)) {
            continue;
        }
        VOID_ASSERT(pord < ord);
        const uint32_t *prow = scratch + (pord % c->cfg.capacity) * nodes;
        for (uint32_t n = 0; n < nodes; n++) {
            row[n] = prow[n] > row[n] ? prow[n] : row[n];
        }
    }
    row[e->node] = (uint32_t)(e->seq - c->base[e->node] + 1);
}

int void_causal_export_shiviz(const struct void_causal *c,
                              uint32_t *scratch,
                              size_t scratch_len,
                              void_causal_emit_fn emit,
                              void *ctx)
{
    VOID_ASSERT(c != NULL && emit != NULL);
    if (scratch == NULL || scratch_len / c->cfg.nodes < c->cfg.capacity) {
        return VOID_ERANGE;
    }
    char line[VOID_CAUSAL_LINE_MAX];
    int lines = 0;
    for (uint64_t o = c->ord_oldest; o < c->ord_next; o++) {
        struct void_causal_event evb, *ev = &evb;
        entry_unpack(entry_at(c, o), ev);
        vector_clock(c, o, scratch);
        const uint32_t *row = scratch + (o % c->cfg.capacity) * c->cfg.nodes;
        int len = snprintf(line, sizeof(line), "n%" PRIu32 " {", ev->id.node);
        const char *sep = "";
        for (uint32_t n = 0; n < c->cfg.nodes; n++) {
            if (row[n] != 0) { /* ShiViz drops zero entries anyway */
                len += snprintf(line + len,
                                sizeof(line) - (size_t)len,
                                "%s\"n%" PRIu32 "\":%" PRIu32,
                                sep,
                                n,
                                row[n]);
                sep = ",";
            }
        }
        len += snprintf(line + len, sizeof(line) - (size_t)len, "} ");
        len += describe(ev, line + len, sizeof(line) - (size_t)len);
        VOID_ASSERT(len > 0 && (size_t)len < sizeof(line));
        emit(ctx, line, (size_t)len);
        lines++;
    }
    return lines;
}

int void_causal_export_dot(const struct void_causal *c, void_causal_emit_fn emit, void *ctx)
{
    VOID_ASSERT(c != NULL && emit != NULL);
    char line[VOID_CAUSAL_LINE_MAX], desc[512];
    int lines = 0, len;
#define EMIT()                                                                                     \
    do {                                                                                           \
        VOID_ASSERT(len > 0 && (size_t)len < sizeof(line));                                        \
        emit(ctx, line, (size_t)len);                                                              \
        lines++;                                                                                   \
    } while (0)
    len = snprintf(line, sizeof(line), "digraph causal {");
    EMIT();
    len = snprintf(line, sizeof(line), "  node [shape=box, fontsize=10];");
    EMIT();
    for (uint32_t n = 0; n < c->cfg.nodes; n++) {
        if (c->last[n] < c->base[n]) {
            continue;
        }
        len = snprintf(line,
                       sizeof(line),
                       "  subgraph cluster_n%" PRIu32 " { label=\"node %" PRIu32 "\";",
                       n,
                       n);
        EMIT();
        for (uint64_t s = c->base[n]; s <= c->last[n]; s++) {
            struct void_causal_event ev;
            entry_unpack(lookup(c, (struct void_causal_id){n, s}), &ev);
            describe(&ev, desc, sizeof(desc));
            len = snprintf(
                line, sizeof(line), "    e%" PRIu32 "_%" PRIu64 " [label=\"%s\"];", n, s, desc);
            EMIT();
            if (s > c->base[n]) {
                len = snprintf(line,
                               sizeof(line),
                               "    e%" PRIu32 "_%" PRIu64 " -> e%" PRIu32 "_%" PRIu64 ";",
                               n,
                               s - 1,
                               n,
                               s);
                EMIT();
            }
        }
        len = snprintf(line, sizeof(line), "  }");
        EMIT();
    }
    for (uint64_t o = c->ord_oldest; o < c->ord_next; o++) {
        struct void_causal_event evb, *ev = &evb;
        entry_unpack(entry_at(c, o), ev);
        if (ev->kind != VOID_CAUSAL_RECEIVE || lookup(c, ev->from) == NULL) {
            continue;
        }
        len = snprintf(line,
                       sizeof(line),
                       "  e%" PRIu32 "_%" PRIu64 " -> e%" PRIu32 "_%" PRIu64 " [color=blue];",
                       ev->from.node,
                       ev->from.seq,
                       ev->id.node,
                       ev->id.seq);
        EMIT();
    }
    len = snprintf(line, sizeof(line), "}");
    EMIT();
#undef EMIT
    return lines;
}

/* One mapping for the daemon and the simulator, so that both record the
 * same DAG for the same PBFT events. */
uint8_t void_causal_kind_of_pbft(uint8_t pbft_kind)
{
    switch ((enum void_pbft_event_kind)pbft_kind) {
    case VOID_PBFT_EVENT_SEND:
        return VOID_CAUSAL_SEND;
    case VOID_PBFT_EVENT_RECEIVE:
        return VOID_CAUSAL_RECEIVE;
    case VOID_PBFT_EVENT_COMMIT:
        return VOID_CAUSAL_EXECUTE;
    case VOID_PBFT_EVENT_PRE_PREPARED:
        return VOID_CAUSAL_PRE_PREPARED;
    case VOID_PBFT_EVENT_PREPARED:
        return VOID_CAUSAL_PREPARED;
    case VOID_PBFT_EVENT_COMMITTED:
        return VOID_CAUSAL_COMMITTED;
    case VOID_PBFT_EVENT_CHECKPOINT:
        return VOID_CAUSAL_CHECKPOINT;
    case VOID_PBFT_EVENT_VIEW_CHANGE:
        return VOID_CAUSAL_VIEW_CHANGE;
    case VOID_PBFT_EVENT_EPOCH:
    case VOID_PBFT_EVENT_LOCAL:
        break;
    }
    return VOID_CAUSAL_LOCAL;
}

/* ---- the digest of a state or diff answer ---------------------------------- */

static void kvd_u16(struct void_hash_ctx *h, size_t v)
{
    uint8_t b[2];
    VOID_ASSERT(v <= UINT16_MAX);
    void_bytes_put_be16(b, (uint16_t)v);
    void_hash_update(h, b, sizeof(b));
}

static void kvd_hlc(struct void_hash_ctx *h, struct void_hlc_ts t)
{
    uint8_t b[VOID_HLC_ENCODED_SIZE];
    void_hlc_encode(t, b);
    void_hash_update(h, b, sizeof(b));
}

void void_causal_kv_digest_init(struct void_causal_kv_digest *d,
                                bool diff,
                                struct void_hlc_ts from,
                                struct void_hlc_ts at,
                                const uint8_t *prefix,
                                size_t prefix_len,
                                bool has_after,
                                const uint8_t *after,
                                size_t after_len,
                                uint64_t limit)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT((prefix != NULL || prefix_len == 0) && (after != NULL || after_len == 0));
    d->diff = diff;
    d->count = 0;
    void_hash_init(&d->h);
    void_hash_update(&d->h, diff ? "VTD1" : "VTS1", 4);
    if (diff) {
        kvd_hlc(&d->h, from);
    }
    kvd_hlc(&d->h, at);
    kvd_u16(&d->h, prefix_len);
    void_hash_update(&d->h, prefix, prefix_len);
    uint8_t flag = has_after ? 1 : 0;
    void_hash_update(&d->h, &flag, 1);
    kvd_u16(&d->h, after_len);
    void_hash_update(&d->h, after, after_len);
    uint8_t lim[8];
    void_bytes_put_be64(lim, limit);
    void_hash_update(&d->h, lim, sizeof(lim));
}

static void kvd_side(struct void_hash_ctx *h, const struct void_causal_kv_side *s)
{
    uint8_t present = s != NULL && s->present ? 1 : 0;
    void_hash_update(h, &present, 1);
    if (present) {
        uint8_t len[4];
        VOID_ASSERT(s->len <= UINT32_MAX);
        kvd_hlc(h, s->hlc);
        void_bytes_put_be32(len, (uint32_t)s->len);
        void_hash_update(h, len, sizeof(len));
        void_hash_update(h, s->value, s->len);
    }
}

void void_causal_kv_digest_entry(struct void_causal_kv_digest *d,
                                 const uint8_t *key,
                                 size_t key_len,
                                 const struct void_causal_kv_side *old_side,
                                 const struct void_causal_kv_side *new_side)
{
    VOID_ASSERT(d != NULL && key != NULL);
    kvd_u16(&d->h, key_len);
    void_hash_update(&d->h, key, key_len);
    if (d->diff) {
        kvd_side(&d->h, old_side);
    }
    kvd_side(&d->h, new_side);
    d->count++;
}

void void_causal_kv_digest_final(struct void_causal_kv_digest *d,
                                 bool more,
                                 uint8_t out[VOID_HASH_SIZE])
{
    VOID_ASSERT(d != NULL && out != NULL);
    uint8_t tail[9];
    void_bytes_put_be64(tail, d->count);
    tail[8] = more ? 1 : 0;
    void_hash_update(&d->h, tail, sizeof(tail));
    void_hash_final(&d->h, out);
}

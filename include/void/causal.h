/*
 * Causality: the happens-before DAG of a cluster's events, an online verifier
 * and queries over a bounded in-memory index (DESIGN.md section 8, issue 19).
 *
 * An event is (node, seq, HLC, kind, parents, payload). Its parents are the
 * node's previous event (node, seq - 1) when seq > 1, and, for a receive, the
 * sender's send event, whose (node, seq) travels in the frame. This is
 * Lamport's happens-before relation as a DAG.
 *
 * The verifier (void_causal_submit) checks every edge when the child arrives,
 * in O(parents): the parents are present, or the child waits in a bounded
 * orphan buffer until they arrive; HLC(parent) < HLC(child); a node's
 * sequence has no gap; no two different events share an id (equivocation); a
 * receive's remote parent is a send with the same payload. A violation is
 * appended to the alert queue (naming both events and the kind) and sets
 * `halt`; the driver reads `halt` and, with on_violation = halt, stops voting.
 *
 * Trust boundary: the verifier takes only events the driver has
 * authenticated (the frame's signature or MAC covers the remote (node, seq)
 * and the events a peer reports are signed by it). It checks consistency, not
 * authorship. Everything it is given may still be Byzantine, so bad content is
 * an alert or an error code, never an assertion.
 *
 * The core is pure: no I/O, no clock, no randomness, no recursion. Every
 * graph walk is an iterative BFS with an explicit bounded queue (a recursive
 * search overflowed the stack at 10k events in jepsen#327). All memory is
 * allocated by void_causal_init; nothing is allocated afterwards.
 */
#ifndef VOID_CAUSAL_H
#define VOID_CAUSAL_H

#include "void/hash.h"
#include "void/hlc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOID_CAUSAL_NODES_MAX   64 /* node ids are 0 .. nodes - 1 */
#define VOID_CAUSAL_RECORD_SIZE 72 /* void_causal_encode's fixed record */
/* (node, seq) packs into one 64-bit key (node << 58 | seq), e.g. for LMDB. */
#define VOID_CAUSAL_SEQ_MAX    ((1ull << 58) - 1)
#define VOID_CAUSAL_ALERTS_MAX 64 /* queued alerts; more are counted, not queued */
/* One ShiViz line: host, a clock of up to NODES_MAX entries, the description. */
#define VOID_CAUSAL_LINE_MAX 2048

enum void_causal_kind {
    VOID_CAUSAL_CLIENT_REQUEST = 1, /* a client's request received */
    VOID_CAUSAL_SEND = 2,
    VOID_CAUSAL_RECEIVE = 3,      /* remote parent: the sender's send event */
    VOID_CAUSAL_PRE_PREPARED = 4, /* pre-prepare accepted for (view, seq) */
    VOID_CAUSAL_PREPARED = 5,     /* prepare quorum reached */
    VOID_CAUSAL_COMMITTED = 6,    /* commit quorum reached */
    VOID_CAUSAL_EXECUTE = 7,
    VOID_CAUSAL_REPLY = 8,
    VOID_CAUSAL_CHECKPOINT = 9,
    VOID_CAUSAL_VIEW_CHANGE = 10,
    VOID_CAUSAL_MEMBERSHIP = 11,
    VOID_CAUSAL_LOCAL = 12, /* timekeeper steps, alerts, anything else */
};
#define VOID_CAUSAL_KIND_MAX 12

/* An event's identity. seq counts a node's events from 1; seq 0 means "none". */
struct void_causal_id {
    uint32_t node;
    uint64_t seq;
};

struct void_causal_event {
    struct void_causal_id id;
    struct void_hlc_ts hlc;
    uint8_t kind;               /* enum void_causal_kind */
    uint8_t msg_type;           /* PBFT/codec message type where it applies, else 0 */
    struct void_causal_id from; /* RECEIVE only: the send event; else {0, 0} */
    /* Payload: what the event is about, 0 where it does not apply. A
     * receive carries the payload of the send it names. */
    uint64_t view;
    uint64_t op_seq; /* PBFT sequence number */
    uint64_t client_id;
    uint64_t request_no;
};

/* Writes ev as the fixed 72-byte big-endian record (docs/causality.md). ev
 * must be valid (void_causal_event_check). Cannot fail. */
void void_causal_encode(const struct void_causal_event *ev, uint8_t out[VOID_CAUSAL_RECORD_SIZE]);

/* Reads a record of len bytes (borrowed for the call) into *ev. Returns 0,
 * VOID_ETRUNCATED if len < VOID_CAUSAL_RECORD_SIZE, VOID_EBAD_LENGTH if it is
 * longer, or VOID_EBAD_FIELD if the record is not a valid event. */
int void_causal_decode(const uint8_t *in, size_t len, struct void_causal_event *ev);

/* 0 if ev is well formed: 1 <= seq <= VOID_CAUSAL_SEQ_MAX, kind known, reserved fields zero, a
 * receive names a send on another node and nothing else names one. Else
 * VOID_EBAD_FIELD. Does not check node ids against a cluster size. */
int void_causal_event_check(const struct void_causal_event *ev);

/* "client_request", "send", ...; "unknown" for other values. Never NULL. */
const char *void_causal_kind_name(int kind);

enum void_causal_violation {
    VOID_CAUSAL_HLC_ORDER = 1,       /* HLC(parent) >= HLC(child) */
    VOID_CAUSAL_SEQ_GAP = 2,         /* the node's previous event never came */
    VOID_CAUSAL_MISSING_PARENT = 3,  /* a receive's send never came */
    VOID_CAUSAL_FORGED_PARENT = 4,   /* the named send is not a send, or differs */
    VOID_CAUSAL_EQUIVOCATION = 5,    /* two different events with one id */
    VOID_CAUSAL_BUFFER_OVERFLOW = 6, /* orphan buffer full: the oldest orphan evicted */
};

/* One alert: `event` is the offending event, `other` the parent it fails
 * against (the conflicting copy for an equivocation, the missing id for a gap
 * or a missing parent, whose HLC is then zero). */
struct void_causal_alert {
    uint8_t kind; /* enum void_causal_violation */
    struct void_causal_id event;
    struct void_hlc_ts event_hlc;
    struct void_causal_id other;
    struct void_hlc_ts other_hlc;
};

/* "hlc_order", "seq_gap", ...; "unknown" for other values. Never NULL. */
const char *void_causal_violation_name(int kind);

struct void_causal_config {
    uint32_t nodes;           /* 1 .. VOID_CAUSAL_NODES_MAX */
    size_t capacity;          /* events retained (the horizon); 2 .. UINT32_MAX */
    size_t orphans_max;       /* orphan buffer; >= 1 */
    uint64_t orphan_wait_max; /* submits an orphan may wait before its alert; >= 1 */
    /* A node's first submitted event may carry any seq: its history before
     * it lies beyond the horizon (a window of events fetched from nodes, a
     * node whose numbering restarted higher), and a receive naming a send
     * below the sender's first event is accepted as past the horizon. */
    bool open_start;
    /* One node's own log (the daemon, docs/causality.md): only node `self`'s
     * events are submitted (implies open_start). A receive's send lives on
     * another node: it is checked with void_causal_submit_receive against the
     * send's HLC from the authenticated frame and the sends of that node
     * seen here before, and walks stop at it. */
    bool partial;
    uint32_t self; /* partial: the node whose log this is, < nodes */
};

/* Index entry: an accepted event, packed into 64 bytes, one cache line (the
 * ring is allocated 64-byte aligned): the index is written once per event
 * into memory last written `capacity` events before (a cache miss when
 * the index is large), so the entry holds the event and nothing else.
 * Entries live in a ring by acceptance order ("ord"); ord & mask is the
 * slot. The links a walk follows are not stored: an event's local
 * parent and child are (node, seq -+ 1) and a receive's send is `from`,
 * all found through by_seq; only the receives of a send (a list) are kept,
 * in `kin`, and the walk marks in `marks`, which inserting never touches.
 * Private to causal.c, in the header only for sizeof. */
struct void__causal_entry {
    uint64_t seq;
    uint64_t wall_ns;
    uint64_t from_seq;
    uint64_t view, op_seq, client_id, request_no;
    uint32_t logical;
    /* kind, msg_type in the event's order: packed by one 16-bit copy. */
    uint8_t kind, msg_type, node, from_node;
};

/* The receives of a send, newest first, as distances in ords (0 for none):
 * first_child (a send's newest receive) points forward, next_sibling (a
 * receive's next older one of the same send) back; a backward link below
 * the horizon is gone. Only a send's first_child and a receive's
 * next_sibling are ever written or read. */
struct void__causal_kin {
    uint32_t first_child;
    uint32_t next_sibling;
};

/* A walk's visited mark (its epoch) and the entry's depth in that walk. */
struct void__causal_mark {
    uint32_t mark;
    uint32_t depth;
};

struct void__causal_orphan {
    struct void_causal_event ev;
    uint64_t since; /* submits counter when buffered */
};

struct void_causal {
    struct void_causal_config cfg;
    /* The ring and each by_seq row have `mask + 1` slots, the power of two
     * at or above capacity, so that an ord or seq maps to its slot with a
     * mask, not a division (the verifier's hot path does several). */
    uint64_t mask;
    struct void__causal_entry *ring; /* mask + 1 entries, capacity of them in use */
    struct void__causal_kin *kin;    /* per slot, as ring */
    struct void__causal_mark *marks; /* per slot, as ring; written by walks only */
    /* by_seq[n * (mask + 1) + (seq & mask)] = the low 32 bits of the ord of
     * (n, seq) (a retained ord is within capacity <= UINT32_MAX below
     * ord_next, so they name it): a node's retained seqs are contiguous and
     * at most capacity, so they never collide, and lookups of recent events
     * hit the cache. */
    uint32_t *by_seq;
    uint32_t *by_seq_row[VOID_CAUSAL_NODES_MAX]; /* by_seq + n * (mask + 1), n < nodes */
    /* ring_node[ord & mask] = the node of the entry at ord: dropping the
     * oldest entry needs only its node (its seq is that node's base), and
     * this 1-byte array stays in cache where the 64-byte entry written
     * `capacity` events ago does not (one miss per event saved). */
    uint8_t *ring_node;
    /* Retained ords: [ord_oldest, ord_next). Every accepted event takes the
     * next ord and every event dropped past the horizon is the oldest, so
     * these are also the counts of both (void_causal_count_accepted,
     * void_causal_count_dropped): no second counter on the hot path. */
    uint64_t ord_oldest, ord_next;
    uint64_t base[VOID_CAUSAL_NODES_MAX];               /* lowest retained seq; 1 until a drop */
    uint64_t last[VOID_CAUSAL_NODES_MAX];               /* highest accepted seq, 0 = none */
    struct void_hlc_ts last_hlc[VOID_CAUSAL_NODES_MAX]; /* HLC of that event */
    /* partial: the newest send seen from each node, and its HLC */
    uint64_t seen_seq[VOID_CAUSAL_NODES_MAX];
    struct void_hlc_ts seen_hlc[VOID_CAUSAL_NODES_MAX];
    struct void__causal_orphan *orphans;
    size_t orphan_count;
    struct void_causal_id *drain; /* scratch queue of newly accepted ids */
    uint32_t epoch;
    /* The clock of orphans' waits: counted on the general path of
     * void_causal_submit, which every submit takes while an orphan waits. */
    uint64_t submits;
    /* cfg.nodes while no orphan waits in a full index, else 0: opens the
     * fast path of void_causal_submit with its one node-range test. */
    uint32_t fast_nodes;
    /* The driver reads halt after each submit (on_violation = halt). */
    bool halt;
    struct void_causal_alert alerts[VOID_CAUSAL_ALERTS_MAX];
    size_t alert_count;
    /* counters, for metrics */
    uint64_t count_buffered;
    uint64_t count_duplicates;
    uint64_t count_stale; /* events at or below the horizon, ignored */
    uint64_t count_violations[VOID_CAUSAL_BUFFER_OVERFLOW + 1];
    uint64_t count_alerts_lost; /* alerts beyond VOID_CAUSAL_ALERTS_MAX */
};

/* Events accepted into the index since init or reset (orphans released
 * included), and those of them dropped past the horizon since. Cannot
 * fail. */
static inline uint64_t void_causal_count_accepted(const struct void_causal *c)
{
    return c->ord_next;
}

static inline uint64_t void_causal_count_dropped(const struct void_causal *c)
{
    return c->ord_oldest;
}

/* Allocates the index for cfg (copied). Returns 0, VOID_EINVAL for a bad
 * config, or VOID_ENOMEM. void_causal_fini is safe after a failed init. */
int void_causal_init(struct void_causal *c, const struct void_causal_config *cfg);
void void_causal_fini(struct void_causal *c);

/* Forgets every event, orphan, alert and counter and clears halt, keeping
 * the memory and the config: a new simulator run, a bench round.
 * Cannot fail. */
void void_causal_reset(struct void_causal *c);

enum void_causal_outcome {
    VOID_CAUSAL_ACCEPTED = 0,  /* in the index (with any orphans it released) */
    VOID_CAUSAL_BUFFERED = 1,  /* a parent is missing: waits in the orphan buffer */
    VOID_CAUSAL_DUPLICATE = 2, /* the same event again, or one past the horizon */
    VOID_CAUSAL_REJECTED = 3,  /* a violation: alert queued, halt set */
};

/* Verifies ev (copied) against the index and accepts, buffers or rejects it;
 * see the file comment. Returns an outcome >= 0, or VOID_EBAD_FIELD if ev is
 * malformed or names a node >= nodes (nothing changes but no counter: the
 * driver's decoder should have refused it). Orphans that waited too long are
 * expired (alert) on every call. */
int void_causal_submit(struct void_causal *c, const struct void_causal_event *ev);

/* Partial mode: submits the receive ev, whose send (ev->from) carried
 * send_hlc in its authenticated frame. Checks HLC(send) < HLC(receive), and
 * that the sender's sends seen here are consistent: a later seq with a later
 * HLC (else hlc_order) and one content per seq (else equivocation, for the
 * newest send seen). Then submits ev like void_causal_submit. Returns what
 * void_causal_submit returns, or VOID_EBAD_FIELD also when ev is not a
 * receive, not on `self`, or the index is not partial. */
int void_causal_submit_receive(struct void_causal *c,
                               const struct void_causal_event *ev,
                               struct void_hlc_ts send_hlc);

/* Partial mode: re-submits an event of this node's own log that was
 * accepted before, e.g. a restart reloading its persisted log
 * (include/void/causal_log.h). Checked like void_causal_submit (the local
 * edge: HLC order, no gap), but a receive's remote edge is not checked again:
 * its send's HLC is not in the record, and it was checked when the frame
 * came. Returns what void_causal_submit returns, or VOID_EBAD_FIELD for a
 * malformed event, one not on `self`, or an index that is not partial. */
int void_causal_submit_restored(struct void_causal *c, const struct void_causal_event *ev);

/* Ends the wait of every buffered orphan: each raises its seq_gap or
 * missing_parent alert now. For the end of a simulator run or of a replayed
 * log, where no further events will come to expire them. Returns how many. */
size_t void_causal_flush(struct void_causal *c);

/* Moves up to cap queued alerts into out (oldest first); returns how many. */
size_t void_causal_alerts_take(struct void_causal *c, struct void_causal_alert *out, size_t cap);

/* Copies the indexed event id into *out. Returns 0, VOID_ENOTFOUND if it was
 * never accepted, or VOID_EKVS_TOO_OLD if it is past the retention horizon. */
int void_causal_get(const struct void_causal *c,
                    struct void_causal_id id,
                    struct void_causal_event *out);

/* Result of a walk. */
struct void_causal_walk {
    size_t count;       /* ids written to out, `from` first */
    bool past_horizon;  /* a parent lay beyond the retention horizon: history cut short */
    bool depth_limited; /* events deeper than depth_max were not visited */
    bool size_limited;  /* out filled up before the walk ended */
};

/* Breadth-first causal history of `from` (included, depth 0) up to depth_max
 * edges, writing at most cap ids into out (the caller's array, which is also
 * the BFS queue). Marks entries with a walk epoch, so it writes to c. Returns
 * 0, or VOID_ENOTFOUND / VOID_EKVS_TOO_OLD for `from`. */
int void_causal_ancestors(struct void_causal *c,
                          struct void_causal_id from,
                          uint32_t depth_max,
                          struct void_causal_id *out,
                          size_t cap,
                          struct void_causal_walk *res);

/* Same over the children (the next local event, every receive of a send). */
int void_causal_descendants(struct void_causal *c,
                            struct void_causal_id from,
                            uint32_t depth_max,
                            struct void_causal_id *out,
                            size_t cap,
                            struct void_causal_walk *res);

/* Consistent cut at HLC t: frontier[n] is the seq of node n's last event with
 * HLC <= t (0 for none), for n < nodes. past_horizon is set when a node's
 * frontier lies before its oldest retained event: frontier[n] is then only an
 * upper bound (base - 1). Returns how many times a receive had to be pulled
 * out of the cut to make it consistent: 0 whenever every receive passed the
 * verifier's HLC check (see causal.c for why). */
size_t void_causal_cut(const struct void_causal *c,
                       struct void_hlc_ts t,
                       uint64_t frontier[VOID_CAUSAL_NODES_MAX],
                       bool *past_horizon);

/* Receives a line of export output (without newline); borrowed for the call. */
typedef void (*void_causal_emit_fn)(void *ctx, const char *line, size_t len);

/* ShiViz log of the retained events, in acceptance order (a topological
 * order), one line per event:
 *   n<node> {"n<node>":<k>,...} <seq> <kind> hlc=<wall>/<logical> ...
 * matching VOID_CAUSAL_SHIVIZ_REGEX. Vector clocks count each node's
 * retained events from 1 as ShiViz requires. scratch holds capacity * nodes
 * uint32 (the vector clock of each retained event, computed iteratively).
 * Returns the number of lines, or VOID_ERANGE if scratch_len is too small. */
#define VOID_CAUSAL_SHIVIZ_REGEX "(?<host>n[0-9]+) (?<clock>\\{[^}]*\\}) (?<event>.*)"
int void_causal_export_shiviz(const struct void_causal *c,
                              uint32_t *scratch,
                              size_t scratch_len,
                              void_causal_emit_fn emit,
                              void *ctx);

/* Graphviz DOT of the retained events: one cluster per node, local edges
 * inside clusters, send -> receive edges across. Returns lines written. */
int void_causal_export_dot(const struct void_causal *c, void_causal_emit_fn emit, void *ctx);

/* The causal kind of a PBFT event kind (enum void_pbft_event_kind): the
 * driver records what the replica core emits. An unknown kind is LOCAL.
 * Cannot fail. */
uint8_t void_causal_kind_of_pbft(uint8_t pbft_kind);

/* ---- the digest of a state or diff answer (docs/causality.md) ---------- */

/* /trace/state and /trace/diff answers carry a digest that every replica
 * computes over the same bytes, so that voidctl can compare replicas and
 * check the answer it read against the digest f + 1 of them signed:
 * SHA-256 of "VTS1" (state) or "VTD1" (diff), [from (12), diff only], at or
 * to (12), be16 prefix length, prefix, has_after (1), be16 after length,
 * after, be64 limit; then per key be16 key length, key, and per side (the
 * version as of at; for a diff the old then the new one) present (1) and,
 * when present, HLC (12), be32 value length, value; then be64 count and
 * more (1). */
struct void_causal_kv_side {
    bool present;
    struct void_hlc_ts hlc;
    const uint8_t *value;
    size_t len;
};

struct void_causal_kv_digest {
    struct void_hash_ctx h;
    bool diff;
    uint64_t count;
};

/* Starts d on a query; prefix/after borrowed for the call. Cannot fail. */
void void_causal_kv_digest_init(struct void_causal_kv_digest *d,
                                bool diff,
                                struct void_hlc_ts from,
                                struct void_hlc_ts at,
                                const uint8_t *prefix,
                                size_t prefix_len,
                                bool has_after,
                                const uint8_t *after,
                                size_t after_len,
                                uint64_t limit);

/* Adds one key of the answer: old is ignored for a state answer. */
void void_causal_kv_digest_entry(struct void_causal_kv_digest *d,
                                 const uint8_t *key,
                                 size_t key_len,
                                 const struct void_causal_kv_side *old_side,
                                 const struct void_causal_kv_side *new_side);

/* Ends the answer (more: a further key matched) and writes the digest. */
void void_causal_kv_digest_final(struct void_causal_kv_digest *d,
                                 bool more,
                                 uint8_t out[VOID_HASH_SIZE]);

#endif

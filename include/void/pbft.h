/*
 * PBFT replica core (Castro & Liskov, OSDI'99 / TOCS'02): a pure,
 * deterministic state machine. It never reads a clock, the network or the
 * disk. Drivers (voidd over libuv + a record log, voidsim over simulated links) feed
 * it inputs through the step functions and execute the effects it returns.
 *
 * Inputs:  void_pbft_step_receive (a frame from the network, exact bytes),
 *          void_pbft_step_timer (a timer that this core armed has fired),
 *          void_pbft_recover (persisted records after a restart).
 *          Every step takes now_ns, the node's physical time (disciplined
 *          clock), which feeds the replica's hybrid logical clock.
 * Outputs: effects appended to a caller-provided struct void_pbft_out:
 *          SEND (frame bytes to a replica, to all other replicas, or to a
 *          client), PERSIST (a record to make durable), TIMER_SET /
 *          TIMER_CANCEL, and EVENT (the causal event log, DESIGN.md s. 8).
 *
 * THE PERSISTENCE RULE: effects must be performed in array order, and a
 * PERSIST effect must be durable (fsync'd) before any effect that follows it
 * is performed. The core emits the record that makes a promise (a prepare or
 * commit for a digest, a view change) before the message that makes it, so
 * that a replica that crashes and recovers never contradicts itself. One
 * exception, by design: the primary sends a PRE-PREPARE before its record;
 * a primary that recovers hands its view off instead of proposing again in
 * it, so a forgotten pre-prepare cannot be contradicted (docs/pbft.md).
 * Everything not persisted may be lost in a crash; the core recovers it from
 * its peers (state transfer).
 *
 * Replica ids are 0..n-1; client ids are any other ids present in the
 * keyring. The primary of view v is v mod n. f = (n - 1) / 3, quorums are
 * q = ceil((n + f + 1) / 2) (void_membership_quorum: 2f + 1 when n = 3f + 1,
 * 4 of 5, 5 of 6, 6 of 8), so that two quorums share an honest replica for
 * any n. Every message is a codec frame (include/void/codec.h) signed by its
 * sender; message bodies are described in include/void/pbft_msg.h and
 * docs/pbft.md. Input from peers is never trusted: anything malformed,
 * unauthenticated, from the wrong view or out of the window is dropped and
 * counted in struct void_pbft_stats, never asserted on.
 *
 * The replica struct is large (the log window holds full batches): allocate
 * it on the heap, never on the stack.
 */
#ifndef VOID_PBFT_H
#define VOID_PBFT_H

#include "void/codec.h"
#include "void/hlc.h"
#include "void/membership.h"
#include "void/pbft_msg.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_PBFT_N_MAX       16  /* replicas */
#define VOID_PBFT_WINDOW_MAX  64  /* log window L = high - low watermark */
#define VOID_PBFT_PENDING_MAX 512 /* requests queued at a replica */
#define VOID_PBFT_K_DEF       16  /* checkpoint interval */
#define VOID_PBFT_WINDOW_DEF  32  /* 2 K */
#define VOID_PBFT_BATCH_DEF   64
/* Committed batches kept below the low watermark, with their commit
 * certificates and the stable checkpoints' proofs, so that a replica
 * behind by less than this catches up by batches, not by state transfer
 * (docs/pbft.md, Catch-up by batches). Bytes; VOID_PBFT_RETAIN_OFF: none. */
#define VOID_PBFT_RETAIN_DEF      (16u << 20)
#define VOID_PBFT_RETAIN_OFF      UINT32_MAX
#define VOID_PBFT_RETAIN_RECS_MAX 8192 /* records kept (batches and checkpoint proofs) */
#ifndef VOID_PBFT_PIPELINE_DEF   /* a build may override it, e.g. to campaign another default */
#define VOID_PBFT_PIPELINE_DEF 1 /* batches in flight at the primary */
#endif
#define VOID_PBFT_REQUEST_TIMEOUT_NS_DEF     (500ull * 1000 * 1000)
#define VOID_PBFT_VIEW_CHANGE_TIMEOUT_NS_DEF (500ull * 1000 * 1000)
#define VOID_PBFT_RETRANSMIT_NS_DEF          (100ull * 1000 * 1000)
/* A backup that recovers waits this many request timeouts for the state it
 * fetches before it may suspect the primary (docs/pbft.md, Rejoining). */
#define VOID_PBFT_CATCH_UP_TIMEOUTS 4
/* The prepare horizon runs this far ahead of the highest sequence number we
 * prepared (docs/pbft.md, Votes without records): a restarted backup withholds
 * its prepares for at most this many sequence numbers past its last prepared
 * certificate, and a horizon record rides with most ENTRY records. */
#define VOID_PBFT_PREPARE_SLACK              4
#define VOID_PBFT_OUT_EFFECTS_DEF            4096 /* a good effects capacity for void_pbft_out */
#define VOID_PBFT_OUT_ARENA_DEF                                                                    \
    (16u << 20)                     /* a good arena capacity (the largest message is STATE) */
#define VOID_PBFT_TO_ALL UINT32_MAX /* SEND destination: every replica but self */

typedef uint64_t void_view;
typedef uint64_t void_seq;

struct void_pbft_config {
    uint32_t n;    /* replicas, 4 <= n <= VOID_PBFT_N_MAX, any n (1 is allowed for tests: f = 0) */
    uint32_t self; /* this replica's id, < n */
    /* Membership (docs/membership.md, "Join and promote"): the genesis
     * voters are replicas 0..genesis_n-1; ids from genesis_n to n-1 are
     * slots for members that join later (their keys come from the
     * configuration). 0 means n. Every replica alike. */
    uint32_t genesis_n;
    uint32_t checkpoint_interval; /* K; 0 means VOID_PBFT_K_DEF */
    uint32_t window;              /* L, a multiple of K, <= VOID_PBFT_WINDOW_MAX; 0 means default */
    uint32_t batch_max;           /* requests per batch, <= VOID_PBFT_BATCH_MAX; 0 means default */
    uint32_t pipeline_max;        /* batches pre-prepared but not executed; 0 means default */
    uint64_t request_timeout_ns;  /* a request waiting longer suspects the primary; 0 = default */
    uint64_t
        view_change_timeout_ns; /* base wait for NEW-VIEW, doubled per failed view; 0 = default */
    uint64_t retransmit_ns;     /* period of retransmission and catch-up; 0 = default */
    /* Bytes of committed batches (and checkpoint proofs) kept below the low
     * watermark to serve catch-up by batches; 0 = VOID_PBFT_RETAIN_DEF,
     * VOID_PBFT_RETAIN_OFF = none (every gap past the window is a state
     * transfer). Allocated at init. */
    uint32_t retain_bytes;
    uint64_t event_seq_start;   /* first local event sequence (continue after a restart) */
    int rejoin_beacon; /* 0 (the default) or 1: an idle primary proposes an empty batch for
                          a replica changing view alone, and a backup re-sends its own
                          VIEW-CHANGE for its view (docs/pbft.md, Rejoining); -1: off */
    int verify_signatures; /* 0: skip signature checks (tests that say so); frames are still signed
                            */
    /* 1: a committed batch is executed only once the driver reports that
     * the ENTRY record carrying its commit certificate is durable
     * (void_pbft_step_durable), so the store is never ahead of the record
     * log (docs/pbft.md, Recovery). 0: executed in the step that commits
     * it, for drivers whose records are durable when the step returns. */
    int execute_after_durable;
    const struct void_keyring *keyring;      /* borrowed for the replica's lifetime */
    const struct void_sign_keypair *keypair; /* borrowed for the replica's lifetime */
    /* NULL: clients must be in the keyring. Else the admin's public key
     * (VOID_SIGN_PUBLIC_KEY_SIZE bytes, borrowed for the replica's lifetime):
     * a client missing from the keyring is admitted by a certificate that
     * this key signed (include/void/client_cert.h). */
    const uint8_t *admin_key;
    /* Membership (docs/membership.md, "Changes through PBFT"): the fewest
     * voters a removal may leave; 0 means 4, or n when n < 4. */
    uint16_t voters_min;
    struct void_hlc_config hlc; /* clock fields unused: time comes in as now_ns */
    struct void_sm_config sm;
    /* The store of the replicated state, borrowed for the replica's lifetime
     * (void_pbft_recover replaces what it holds). NULL: the replica keeps an
     * in-memory store of its own (tests; it dies with the replica). */
    struct void_kvs *kvs;
};

/* Counters for metrics and tests. Every rejected input increments exactly one
 * rx_* counter. */
struct void_pbft_stats {
    uint64_t rx_frames;
    uint64_t rx_malformed;       /* envelope or body does not decode */
    uint64_t rx_bad_sig;         /* frame, client or certificate signature fails */
    uint64_t rx_unknown_sender;  /* sender not in the keyring, or a client posing as a replica */
    uint64_t rx_wrong_view;      /* message for another view */
    uint64_t rx_bad_digest;      /* digest does not match the content */
    uint64_t rx_out_of_window;   /* sequence number outside (low, high] */
    uint64_t rx_conflicting;     /* second pre-prepare for (view, seq) with another digest */
    uint64_t rx_not_primary;     /* pre-prepare/new-view from a replica that is not the primary */
    uint64_t rx_hlc_ahead;       /* sender's HLC beyond the max offset */
    uint64_t rx_bad_certificate; /* view-change / new-view / state proof does not check out */
    uint64_t rx_duplicate;       /* already have it (not an attack: retransmission) */
    uint64_t rx_stale;           /* obsolete (old checkpoint, executed request...) */
    uint64_t rx_surplus;         /* a vote beyond the quorum we have, dropped unverified
                                    (a COMMIT is kept as a spare when its tag checks) */
    uint64_t prepares_withheld;  /* after a restart, in the view we may have voted in, or
                                    below a view we sent a VIEW-CHANGE for */
    uint64_t commits_withheld;   /* prepared in a view below one we sent a VIEW-CHANGE for */
    uint64_t catch_up_waits;     /* request timeouts spent fetching state after a restart,
                                    instead of suspecting the primary */
    uint64_t view_rejoins;       /* left a view change nobody joined for the view in which
                                    the others commit (docs/pbft.md, Rejoining) */
    uint64_t rejoin_beacons;     /* primary: empty batches proposed while idle for a replica
                                    changing view alone (docs/pbft.md, Rejoining) */
    uint64_t rx_pending_full;    /* request dropped: queue full */
    uint64_t rx_rate_limited;    /* FETCH_STATE from a replica answered less than half a
                                    retransmit period ago */
    uint64_t batches_committed;
    uint64_t requests_executed;
    uint64_t checkpoints_stable;
    uint64_t view_changes;    /* views entered */
    uint64_t state_transfers; /* snapshots installed */
    uint64_t state_parts;     /* partitions fetched by incremental state transfer */
    uint64_t state_sent;      /* STATE messages sent (answers and partitions) */
    uint64_t state_sent_bytes;     /* their bodies' bytes */
    uint64_t catchup_answers;      /* STATEs answered with retained batches, not a manifest */
    uint64_t catchup_batches;      /* batches taken from STATEs with their certificates */
    uint64_t fetch_out_of_window;  /* FETCH_STATEs sent because a frame was above our window */
    uint64_t fetch_checkpoint;     /* ... because f+1 checkpoints were above what we executed */
    uint64_t out_overflow;    /* effects dropped for lack of output space */
    uint64_t signs;           /* Ed25519 signatures made */
    uint64_t verifies;        /* Ed25519 signatures checked */
    uint64_t macs_ok;         /* client requests authenticated by their tag for us */
    uint64_t macs_bad;        /* ... whose tag was missing or wrong: signature checked */
    uint64_t mac_keys;        /* client MAC keys derived (X25519) */
    uint64_t commit_macs_ok;  /* COMMITs authenticated by their tag for us (signature later) */
    uint64_t commit_macs_bad; /* ... whose tag was missing or wrong: signature checked */
    /* Large requests, sent apart from the batches (docs/pbft.md). */
    uint64_t bodies_dropped; /* a large request not kept: over the bounds on unordered bodies */
    uint64_t bodies_fetched; /* REQ_FETCHes sent for bodies an ordered batch names */
    uint64_t bodies_served;  /* request frames sent in answer to a REQ_FETCH */
    uint64_t bodies_evicted; /* bodies of executed batches freed: every slot was taken */
    /* Read-only requests (docs/pbft.md, "Read-only requests"). */
    uint64_t reads_answered; /* answered from the executed state, unordered */
    uint64_t reads_deferred; /* held until what we committed is executed */
    uint64_t reads_dropped;  /* not answered: held too long, or no room (the client orders it) */
    uint64_t reads_refused;  /* a READ whose op is not read-only */
    /* Membership (docs/membership.md, "Changes through PBFT"). */
    uint64_t rx_not_member;  /* a replica frame (or a vote in a certificate) from a replica
                                that is not a voter of our epoch: dropped, never counted */
    uint64_t rx_epoch_held;  /* a pre-prepare or vote above a pending change's boundary,
                                dropped until that checkpoint is stable here */
    uint64_t epoch_changes;  /* epochs entered */
    /* Recovery from the store (docs/pbft.md, Recovery). */
    uint64_t recover_resumed;  /* batches the store had executed past the checkpoint record */
    uint64_t recover_replayed; /* certified batches from the records it had not */
    uint64_t recover_resets;   /* a store that could not be vouched for: emptied, fetched */
};

enum void_pbft_effect_kind {
    VOID_PBFT_EFFECT_SEND = 1,
    VOID_PBFT_EFFECT_PERSIST = 2,
    VOID_PBFT_EFFECT_TIMER_SET = 3,
    VOID_PBFT_EFFECT_TIMER_CANCEL = 4,
    VOID_PBFT_EFFECT_EVENT = 5
};

/* Timers. At most one of each is armed; setting one again re-arms it. */
enum void_pbft_timer {
    VOID_PBFT_TIMER_REQUEST = 1,     /* a request or batch waits too long: start a view change */
    VOID_PBFT_TIMER_VIEW_CHANGE = 2, /* NEW-VIEW did not come: move on to the next view */
    VOID_PBFT_TIMER_RETRANSMIT = 3   /* periodic: retransmit, fetch missing state */
};

/* Persisted record kinds. The driver stores each record under (kind, key),
 * replacing any previous record with the same (kind, key). */
enum void_pbft_record_kind {
    VOID_PBFT_RECORD_VIEW = 1,       /* key 0: current view, whether changing, the prepare
                                        horizon and the lowest view we may vote in */
    VOID_PBFT_RECORD_ENTRY = 2,      /* key seq: an accepted batch and what we promised for it */
    VOID_PBFT_RECORD_CHECKPOINT = 3, /* key 0: the stable checkpoint and its proof (the
                                        state is in the store, at or past it) */
    VOID_PBFT_RECORD_TRUNCATE = 4    /* not stored: delete every ENTRY with key <= this key */
};

enum void_pbft_event_kind {
    VOID_PBFT_EVENT_LOCAL = 1,
    VOID_PBFT_EVENT_SEND = 2,
    VOID_PBFT_EVENT_RECEIVE = 3,
    VOID_PBFT_EVENT_COMMIT = 4, /* a batch executed at seq with digest */
    /* Protocol milestones for (view, seq), local events of the causal log
     * (docs/causality.md): */
    VOID_PBFT_EVENT_PRE_PREPARED = 5, /* a batch accepted (backup) or proposed (primary) */
    VOID_PBFT_EVENT_PREPARED = 6,     /* prepare quorum reached */
    VOID_PBFT_EVENT_COMMITTED = 7,    /* commit quorum reached */
    VOID_PBFT_EVENT_CHECKPOINT = 8,   /* checkpoint seq became stable */
    VOID_PBFT_EVENT_VIEW_CHANGE = 9,  /* view installed (NEW-VIEW) */
    VOID_PBFT_EVENT_EPOCH = 10        /* a membership epoch entered at its boundary seq */
};

/* One event of the causal log. local_seq counts from config.event_seq_start
 * without gaps; parent_seq is the node's previous event (0 for the first).
 * A receive names the sender and the sender's send event (carried in every
 * message body); a send names the destination (VOID_PBFT_TO_ALL for a
 * broadcast) and the message type. */
struct void_pbft_event {
    uint8_t kind;     /* enum void_pbft_event_kind */
    uint8_t msg_type; /* send/receive: enum void_msg_type */
    uint32_t node;
    uint64_t local_seq;
    uint64_t parent_seq;
    struct void_hlc_ts hlc;
    uint32_t remote_node;                  /* receive: sender; send: destination */
    uint64_t remote_seq;                   /* receive: the sender's send event */
    struct void_hlc_ts remote_hlc;         /* receive: the frame's HLC (the send's, signed) */
    void_view view;                        /* commit and the milestones */
    void_seq seq;                          /* commit and the milestones */
    uint8_t digest[VOID_PBFT_DIGEST_SIZE]; /* commit */
};

/* One output of a step. Pointers point into the out arena and are valid until
 * the out struct is reset. */
struct void_pbft_effect {
    uint8_t kind; /* enum void_pbft_effect_kind */
    union {
        struct {
            uint32_t to; /* replica id, VOID_PBFT_TO_ALL, or a client id */
            uint8_t msg_type;
            const uint8_t *frame;
            size_t len;
        } send;
        struct {
            uint8_t record_kind; /* enum void_pbft_record_kind */
            uint64_t key;
            const uint8_t *data;
            size_t len;
        } persist;
        struct {
            uint8_t timer; /* enum void_pbft_timer */
            uint64_t delay_ns;
        } timer;
        struct void_pbft_event event;
    } u;
};

/* Output buffer of one or more steps. The caller owns the two arrays. */
struct void_pbft_out {
    struct void_pbft_effect *effects;
    uint32_t count, cap;
    uint8_t *arena;
    size_t used, arena_cap;
    int overflow; /* set when an effect was dropped for lack of space */
};

/* Points out at effects[cap] and arena[arena_cap] (borrowed until the out is
 * no longer used) and empties it. Cannot fail. */
void void_pbft_out_init(struct void_pbft_out *out,
                        struct void_pbft_effect *effects,
                        uint32_t cap,
                        uint8_t *arena,
                        size_t arena_cap);

/* Empties out (invalidating every pointer of its effects). Cannot fail. */
void void_pbft_out_reset(struct void_pbft_out *out);

/* A persisted record handed back to void_pbft_recover (data borrowed for the
 * call). */
struct void_pbft_record {
    uint8_t kind;
    uint64_t key;
    const uint8_t *data;
    size_t len;
};

/* Private: one slot of the log window (sequence number seq, view view). */
struct void__pbft_entry {
    uint8_t used;
    uint8_t have_batch; /* the batch below is valid and matches digest */
    uint8_t prepared, committed, executed;
    uint8_t sent_prepare, sent_commit;
    uint8_t bodies_wait; /* ticks we waited for request bodies its batch names */
    /* The persist mark of the ENTRY record that carries its commit
     * certificate: it executes once the driver reports that mark durable. */
    uint64_t cert_mark;
    void_view view;
    void_seq seq;
    struct void_hlc_ts hlc; /* primary's batch timestamp */
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    uint16_t count;     /* requests in the batch */
    uint32_t batch_off; /* the batch is pp_frame[batch_off .. batch_off + batch_len) */
    uint32_t batch_len;
    uint32_t pp_len; /* the pre-prepare frame that carried the batch (0: null batch) */
    uint8_t pp_frame[VOID_PBFT_PP_FRAME_MAX];
    uint32_t prepare_mask, commit_mask; /* senders whose vote is stored */
    uint8_t prepare_digest[VOID_PBFT_N_MAX][VOID_PBFT_DIGEST_SIZE];
    uint8_t commit_digest[VOID_PBFT_N_MAX][VOID_PBFT_DIGEST_SIZE];
    uint16_t prepare_len[VOID_PBFT_N_MAX]; /* prepare frames kept for view-change proofs */
    uint8_t prepare_frame[VOID_PBFT_N_MAX][VOID_PBFT_SMALL_FRAME_MAX];
    uint16_t
        commit_len[VOID_PBFT_N_MAX]; /* commit frames: the certificate a lagging replica gets */
    uint8_t commit_frame[VOID_PBFT_N_MAX][VOID_PBFT_COMMIT_FRAME_MAX];
    /* Senders whose stored COMMIT came with a valid tag and whose signature
     * is not checked yet: checked before the frame serves in a STATE. */
    uint32_t commit_unchecked;
    /* The prepared certificate of an earlier view, kept when the entry moves
     * on to a newer view before preparing there: a view change must report,
     * per sequence number, the certificate prepared in the highest view
     * (TOCS'02 4.5), or a batch committed elsewhere could be lost. */
    uint8_t pc_valid;
    void_view pc_view;
    uint8_t pc_digest[VOID_PBFT_DIGEST_SIZE];
    uint32_t pc_pp_len;
    uint8_t pc_pp_frame[VOID_PBFT_PP_FRAME_MAX];
    uint16_t pc_count; /* prepare frames below */
    uint16_t pc_prepare_len[VOID_PBFT_N_MAX];
    uint8_t pc_prepare_frame[VOID_PBFT_N_MAX][VOID_PBFT_SMALL_FRAME_MAX];
};

/* Private: checkpoint votes for one sequence number. */
struct void__pbft_ckpt {
    void_seq seq; /* 0: free */
    uint32_t mask;
    uint8_t digest[VOID_PBFT_N_MAX][VOID_PBFT_DIGEST_SIZE];
    uint16_t frame_len[VOID_PBFT_N_MAX];
    uint8_t frame[VOID_PBFT_N_MAX][VOID_PBFT_SMALL_FRAME_MAX];
};

/* Private: one record kept below the low watermark (catch-up by batches):
 * kind 0 is an executed batch with its commit certificate, encoded as in a
 * STATE (put_committed), kind 1 a stable checkpoint's proof (seq, digest,
 * nproof u16, nproof x (len u16, CHECKPOINT frame)). */
struct void__pbft_kept {
    void_seq seq;
    uint8_t kind;
    uint16_t nbody;    /* kind 0: large-request bodies after the batch */
    uint32_t off, len; /* bytes kept_buf[off .. off + len) */
    uint32_t clen;     /* kind 0: of which the batch and certificate; then the
                          bodies, each (len u32, frame), which the log's batch
                          names by reference and which peers drop once executed */
};

/* Private: a client request known to this replica (the client's signed frame,
 * verbatim), kept until executed. */
struct void__pbft_pending {
    uint32_t client;
    uint32_t session; /* one outstanding request per (client, session) */
    uint64_t reqno;
    uint8_t batched;     /* the primary put it in a batch of this view */
    uint8_t sig_checked; /* its signature was checked here (else its tag was) */
    uint16_t len;
    uint8_t frame[VOID_PBFT_INLINE_MAX]; /* the frame, or the reference to a large one */
};

/* Private: the frame of a large request, which travels apart from the
 * batches that order its digest (docs/pbft.md, "Large requests"). frame is
 * on the heap: bodies are up to a megabyte, and few. */
#define VOID_PBFT_BODIES_MAX        256
#define VOID_PBFT_BODY_PENDING_MAX  (32u << 20) /* bytes of bodies not yet ordered, in all */
#define VOID_PBFT_BATCH_BODIES_MAX  (4u << 20)  /* body bytes one batch names */
#define VOID_PBFT_BATCH_REFS_MAX    32          /* references in one batch */
struct void__pbft_body {
    uint8_t used;
    uint8_t sig_checked; /* its signature was checked here (else its tag was) */
    uint32_t client;
    uint32_t session;
    uint64_t reqno;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    uint32_t len;
    uint8_t *frame;
};

/* Private: a read-only request held until this replica may answer it
 * (docs/pbft.md, "Read-only requests"): the client's READ frame. */
#define VOID_PBFT_READS_MAX 32
struct void__pbft_read {
    uint32_t client, session; /* one held read per (client, session): the newest */
    uint16_t len;
    uint8_t frame[VOID_PBFT_INLINE_MAX];
};

/* Private: a client's key and MAC key, cached (derived on first use), from
 * the keyring or from its certificate once the admin signature checked. */
#define VOID_PBFT_MAC_CACHE 512 /* slots, a power of two */
struct void__pbft_mackey {
    uint32_t client;
    uint8_t state;     /* 0 empty, 1 key, 2 the client has no usable key */
    uint8_t certified; /* the key is cert's */
    uint8_t key[VOID_MAC_KEY_SIZE];
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    uint8_t cert[VOID_CLIENT_CERT_SIZE];
};

/* Private: the latest view-change message received from one replica. */
struct void__pbft_vc {
    void_view view;
    uint32_t len;                          /* 0: none */
    uint8_t digest[VOID_PBFT_DIGEST_SIZE]; /* SHA-256 of the frame, named by NEW-VIEW */
    uint8_t *frame;                        /* vc_frame_max bytes inside vc_store */
};

#define VOID_PBFT_CKPT_SLOTS 18
/* NEW-VIEW: header, (replica, digest) per view change, (seq, digest) per slot. */
#define VOID_PBFT_NV_FRAME_MAX                                                                     \
    (VOID_PBFT_FRAME_OVERHEAD + 8 + 8 + 2 + VOID_PBFT_N_MAX * (4 + VOID_PBFT_DIGEST_SIZE) + 8 +    \
     2 + VOID_PBFT_WINDOW_MAX * (8 + VOID_PBFT_DIGEST_SIZE))

/* The replica. Caller-owned and large: allocate on the heap. Fields are
 * private; read them through the accessors below. */
struct void_pbft {
    struct void_pbft_config cfg;
    uint32_t f;
    struct void_hlc hlc;
    struct void_sm sm;
    struct void_pbft_stats stats;
    void_view view;
    int view_changing;          /* 1 between sending VIEW-CHANGE and installing NEW-VIEW */
    void_view prepare_view_min; /* no new PREPARE in a lower view (set by recovery) */
    void_seq prepare_seq_floor; /* nor in view prepare_view_min at a seq <= this (recovery) */
    /* In the current view we sent no PREPARE above this sequence number, and a
     * VIEW record saying so is persisted before any PREPARE above it. */
    void_seq prepare_horizon;
    /* We cast no new PREPARE or COMMIT in a view below this (persisted in
     * the VIEW record before it matters): at least the highest view we sent
     * a VIEW-CHANGE for, also after returning to a lower one, and one more
     * than a view we joined without its NEW-VIEW (docs/pbft.md, Rejoining). */
    void_view vote_view_min;
    /* The view we last installed (NEW-VIEW, or joined by rejoin_view; 0 after
     * recovering into a view change), at most view: what our REPLYs name, so
     * that a view change of ours that nobody joins moves no client. */
    void_view view_installed;
    void_seq vc_exec_mark;    /* the highest seq we had seen or executed when we left our
                                 last installed view */
    uint64_t vc_since_ns;     /* when we left it */
    uint32_t catch_up_left;   /* request timeouts a recovering backup still waits for state */
    uint32_t vc_attempts;       /* consecutive failed views, for the backoff */
    int vc_timer_armed;         /* 2f+1 view changes for our view are in: NEW-VIEW is due */
    void_seq low;               /* stable checkpoint = low watermark */
    uint8_t low_digest[VOID_PBFT_DIGEST_SIZE];
    uint8_t genesis_digest[VOID_PBFT_DIGEST_SIZE]; /* digest of the empty state (checkpoint 0) */
    void_seq next_seq;                             /* primary: next sequence number to assign */
    void_seq last_executed;
    uint64_t persist_mark; /* commit-certificate records emitted (void_pbft_persist_mark) */
    uint64_t durable_mark; /* of which the driver reported durable (void_pbft_step_durable) */
    void_seq progress_mark; /* last_executed when the request timer was armed */
    void_seq seen_max;      /* highest sequence number seen in a valid vote or pre-prepare */
    void_seq tick_mark;     /* last_executed at the previous retransmit tick */
    uint64_t event_seq;     /* last local event sequence emitted */
    uint64_t recovered_event_seq; /* highest seq in a frame of ours the records kept (recover) */
    uint64_t last_fetch_ns;
    uint32_t fetch_peer; /* the peer our last FETCH_STATE named to answer with batches */
    uint64_t beacon_ns; /* primary: when we last proposed an empty batch for a rejoin */
    int request_timer_armed;
    int started;
    struct void__pbft_entry log[VOID_PBFT_WINDOW_MAX];
    struct void__pbft_ckpt ckpt[VOID_PBFT_CKPT_SLOTS];
    uint32_t stable_proof_count; /* the 2f+1 checkpoint frames that proved low */
    uint16_t stable_proof_len[VOID_PBFT_N_MAX];
    uint8_t stable_proof[VOID_PBFT_N_MAX][VOID_PBFT_SMALL_FRAME_MAX];
    uint32_t pending_count;
    struct void__pbft_pending pending[VOID_PBFT_PENDING_MAX];
    struct void__pbft_vc vc[VOID_PBFT_N_MAX]; /* latest view change per replica */
    /* The view changes the last NEW-VIEW (sent or waited for) names, kept
     * apart from vc[]: their senders may have moved on to later views, and
     * a replica that missed NEW-VIEW still needs these exact frames. */
    struct void__pbft_vc nv_vc[VOID_PBFT_N_MAX];
    size_t vc_frame_max; /* largest view change for this window */
    uint8_t *vc_store;   /* 2 * n * vc_frame_max bytes (vc, then nv_vc), allocated at init */
    uint8_t *scratch;    /* scratch_cap bytes for building message bodies */
    size_t scratch_cap;  /* largest body this replica builds (<= VOID_CODEC_BODY_MAX) */
    struct void_kvs *kvs;    /* cfg.kvs, or &own_kvs */
    struct void_kvs own_kvs; /* when cfg.kvs is NULL */
    size_t snapshot_cap;     /* largest state export a STATE message carries */
    struct void_kvs_snap *snapshot; /* the stable checkpoint's state (at low), or NULL */
    void_seq snapshot_seq;
    struct void_kvs_snap *ckpt_snap; /* the state at our latest checkpoint, until it is stable */
    void_seq ckpt_snap_seq;
    uint64_t nv_resent_ns[VOID_PBFT_N_MAX];  /* when we last re-sent NEW-VIEW (primary) or our
                                                view change (backup) to each replica */
    uint64_t beacon_for_ns[VOID_PBFT_N_MAX]; /* when we last proposed an empty batch for each */
    uint64_t state_sent_ns[VOID_PBFT_N_MAX]; /* when we last answered each one's FETCH_STATE */
    uint64_t xfer_asked_ns; /* when we last asked a peer for partitions (state transfer) */
    /* Catch-up by batches: records in seq order, kept_buf[0 .. kept_used);
     * the batches form the unbroken range kept_lo..kept_hi (0: none). */
    struct void__pbft_kept *kept; /* VOID_PBFT_RETAIN_RECS_MAX, allocated at init */
    uint32_t kept_count;
    uint8_t *kept_buf; /* retain_bytes, allocated at init (NULL: retention off) */
    uint32_t kept_cap, kept_used;
    void_seq kept_lo, kept_hi;
    uint32_t nv_len;                         /* the last NEW-VIEW received or sent (0: none) */
    int nv_installed;                        /* it is installed (else it waits for view changes) */
    uint8_t *nv_frame;                       /* VOID_PBFT_NV_FRAME_MAX bytes */
    struct void__pbft_mackey *mac_cache;     /* VOID_PBFT_MAC_CACHE slots, by client id */
    /* MAC keys shared with the other replicas (X25519, at init), for the
     * tags of COMMITs; bit i of peer_mac_mask: key i is usable. */
    uint8_t peer_mac[VOID_PBFT_N_MAX][VOID_MAC_KEY_SIZE];
    uint32_t peer_mac_mask;
    uint32_t peer_mac_have; /* bit i: peer_mac[i] derived (from the keyring or a JOIN's key) */
    /* The keys of replica frames: the config's keyring, then the keys of
     * members that joined (void__pbft_epoch_refresh); on the heap. */
    struct void_keyring *ring;
    uint32_t members_any; /* ids of any role in our or the latest configuration */
    uint8_t rx_tagged; /* admit: the frame being handled was authenticated by its tag */
    /* The replies of the batch being executed, signed together (one
     * signature over their Merkle root; docs/wire.md, REPLY), each tagged
     * for its client. */
    uint8_t reply_leaf[VOID_PBFT_BATCH_MAX][VOID_MERKLE_HASH_SIZE];
    uint8_t *reply_frame[VOID_PBFT_BATCH_MAX]; /* in the out arena; NULL: no room */
    uint32_t reply_frame_len[VOID_PBFT_BATCH_MAX];
    uint32_t reply_client[VOID_PBFT_BATCH_MAX];
    /* Large requests (docs/pbft.md, "Large requests"). */
    struct void__pbft_body body[VOID_PBFT_BODIES_MAX];
    size_t body_pending_bytes;            /* of the bodies no batch in the log names */
    uint64_t body_served_ns[VOID_PBFT_N_MAX]; /* when we last answered each one's REQ_FETCH */
    uint8_t *result_buf;                  /* VOID_SM_RESULT_MAX bytes, for execution */
    uint8_t reply_mac[VOID_PBFT_BATCH_MAX][VOID_MAC_KEY_SIZE]; /* the tag key of each reply */
    uint8_t reply_mac_ok[VOID_PBFT_BATCH_MAX]; /* 0: no tag, the signature decides */
    /* Read-only requests (docs/pbft.md, "Read-only requests"): the highest
     * seq we sent a COMMIT for (a read waits until it is executed), the
     * wall time a batch's stamp must pass after a restart before we answer
     * reads again, and the reads held meanwhile (arrival order). */
    void_seq ro_floor;
    uint64_t ro_stamp_min;
    uint32_t read_count;
    struct void__pbft_read reads[VOID_PBFT_READS_MAX];
    /* Membership (docs/membership.md, "Changes through PBFT"). Replica ids
     * are member ids: stable, never reused, never renumbered. member[0] is
     * the configuration in effect above low (our epoch), member[1] the
     * genesis (every replica 0..n-1 a voter), member[2..3] scratch; on the
     * heap. voters: bit i set when replica i votes in our epoch; nv of them.
     * epoch_act: a change executed here takes effect above this sequence
     * number, once its checkpoint is stable (0: none pending).
     * era_voters[0] vote at sequence numbers up to era_bound, era_voters[1]
     * above it (the configuration record's prev and latest): certificates
     * are checked by the configuration of their sequence number
     * (docs/pbft.md, View changes across an epoch boundary).
     * vote_released: the vote horizon up to which deferred votes went out.
     * recovered_vote_max: the highest sequence number of an entry our
     * records gave back with a vote of ours (recovery; 0: none). */
    struct void_membership_config *member;
    uint32_t voters;
    uint32_t nv;
    void_seq epoch_act;
    uint32_t era_voters[2];
    void_seq era_bound;
    void_seq vote_released;
    void_seq recovered_vote_max;
};

/* Sets up replica r from config (copied; keyring and keypair stay borrowed).
 * The replica starts in view 0 with an empty state; call void_pbft_start next
 * (or void_pbft_recover after a restart). Returns 0, VOID_EINVAL (n, self,
 * window, batch or interval out of range, keypair or keyring NULL) or
 * VOID_ENOMEM. void_pbft_fini is safe after a failure. */
int void_pbft_init(struct void_pbft *r, const struct void_pbft_config *config);

/* Frees what init allocated. Safe on a zeroed or failed struct. */
void void_pbft_fini(struct void_pbft *r);

/* Starts a fresh replica: persists its VIEW record (view 0), so that once it
 * has sent anything a restart goes through void_pbft_recover, and arms the
 * periodic timers. Returns 0 or VOID_EFULL (out too small; effects were
 * dropped). */
int void_pbft_start(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);

/* Restores a replica after a restart from the records it persisted (borrowed
 * for the call; any order), then arms timers and asks its peers for the state
 * it lost. Unknown or malformed records are skipped and counted in
 * rx_malformed. A replica that recovers as the primary of its (installed)
 * view hands that view off: it starts a view change to the next one instead
 * of proposing again. Must be called instead of void_pbft_start on a fresh r.
 * The replica goes on from the store (config.kvs) where it is, at or past
 * the checkpoint record's sequence number, when the ENTRY records certify
 * every batch it executed past it; the certified batches it has not
 * executed are executed again from the records. A store that cannot be
 * vouched for that way (behind the checkpoint, another digest at it, or
 * ahead of the records) is emptied and the state fetched (docs/pbft.md,
 * Recovery). Returns 0, VOID_ECORRUPT (a checkpoint record of an older
 * version whose export is not the state of its digest), VOID_EFULL (out too
 * small) or a local failure of the store. */
int void_pbft_recover(struct void_pbft *r,
                      uint64_t now_ns,
                      const struct void_pbft_record *records,
                      size_t count,
                      struct void_pbft_out *out);

/* How many commit-certificate records this replica has emitted so far. A
 * driver notes it when it hands a step's records to the disk and passes it
 * to void_pbft_step_durable once they are durable. */
uint64_t void_pbft_persist_mark(const struct void_pbft *r);

/* The records emitted up to mark (void_pbft_persist_mark) are durable: with
 * config.execute_after_durable, executes the committed batches waiting for
 * that (their effects, replies among them, go to out). Returns 0, VOID_EFULL
 * or a local failure of the store, as void_pbft_step_receive. */
int void_pbft_step_durable(struct void_pbft *r,
                           uint64_t now_ns,
                           uint64_t mark,
                           struct void_pbft_out *out);

/* Handles one frame from the network (frame[0..len) borrowed for the call):
 * a client request, a reply is ignored, anything else from a replica.
 * Returns 0 when the frame was processed or rejected (see stats: a rejected
 * frame is not an error of the call) or VOID_EFULL if out overflowed (effects
 * were dropped; the protocol recovers by retransmission). */
int void_pbft_step_receive(struct void_pbft *r,
                           uint64_t now_ns,
                           const uint8_t *frame,
                           size_t len,
                           struct void_pbft_out *out);

/* Handles the expiry of a timer armed through a TIMER_SET effect. Returns 0
 * or VOID_EFULL as void_pbft_step_receive. */
int void_pbft_step_timer(struct void_pbft *r,
                         uint64_t now_ns,
                         enum void_pbft_timer timer,
                         struct void_pbft_out *out);

/* Tells the replica that the driver added keys to the keyring it was given
 * (config.keyring): a client it had found without a key is looked up again
 * at its next request (the aliases of a member that joined, src/io/node.c
 * ring_sync). A key already found is kept: keys are added, never replaced.
 * Cannot fail. */
void void_pbft_keyring_grew(struct void_pbft *r);

/* Accessors. Cannot fail. */
void_view void_pbft_view(const struct void_pbft *r);
int void_pbft_is_primary(const struct void_pbft *r);
int void_pbft_view_changing(const struct void_pbft *r);
void_seq void_pbft_last_executed(const struct void_pbft *r);
void_seq void_pbft_low_watermark(const struct void_pbft *r);
const struct void_pbft_stats *void_pbft_stats(const struct void_pbft *r);
/* The replicated state (read-only use: tests, state inspection). */
const struct void_sm *void_pbft_sm(const struct void_pbft *r);

/* Primary of view v among n replicas: v mod n. Cannot fail. */
uint32_t void_pbft_primary(void_view v, uint32_t n);

/* The configuration of the replica's epoch (in effect above its low
 * watermark), its voters as a bit mask (bit i: replica i), and the sequence
 * number above which a change it executed takes effect (0: none pending).
 * Cannot fail. */
const struct void_membership_config *void_pbft_member_config(const struct void_pbft *r);
uint32_t void_pbft_voters(const struct void_pbft *r);
void_seq void_pbft_epoch_pending(const struct void_pbft *r);
/* Primary of view v in the replica's epoch: the (v mod n)-th voter. */
uint32_t void_pbft_primary_of(const struct void_pbft *r, void_view v);

#endif

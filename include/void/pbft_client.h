/*
 * PBFT client core: pure, like the replica. One request outstanding at a time
 * (PBFT's model): void_pbft_client_submit signs the operation, sends it to
 * the replica it believes is the primary (or, with broadcast_first, to every
 * replica until it has learned the view) and arms a timer; when the timer
 * fires it broadcasts the same request to every replica (which relay it to
 * the primary and start suspecting it) and re-arms with backoff. The result
 * is accepted once f + 1 replicas sent matching replies (same request number
 * and result bytes; the view may differ), because at least one of them is
 * honest. The client tracks the view from the replies: it believes the
 * (f+1)-th largest view that the voters named in their last replies (at least
 * one honest voter reached it), and never a lower one than before.
 *
 * Repliers: the request record names the f + 1 replicas that reply when
 * they execute it (rotating with the request number), not all n: half the
 * reply signatures and messages at n = 4. A retransmitted request is
 * answered by every replica that has executed it, so a silent or lying
 * replier costs one retry timeout; the client then leaves the replicas that
 * did not give the accepted result out of its choice for
 * VOID_PBFT_CLIENT_SUSPECT_NS (all are asked when fewer than f + 1 remain).
 * With reply_all every replica replies at once (one-shot tools, which know
 * nothing of the cluster's health yet).
 *
 * Sessions: a process picks a session number (config.session, random in
 * the daemon's clients) and the replicas keep one at-most-once entry per
 * (client, session), so several processes under one client identity do not
 * supersede each other's requests. A request superseded all the same (its
 * number is below its session's last one at the replicas: a process that
 * reused a session, or restarted its numbering) is answered VOID_SM_STALE
 * with the superseding number; on f + 1 such answers the request completes
 * with that result (the (f+1)-th largest number: at least one honest replica
 * reached it, and no faulty one can inflate it alone), and the next request
 * is numbered above it. So a client never waits for ever on a superseded
 * request: the caller sees the error and may resubmit.
 *
 * Read-only requests (void_pbft_client_submit_read; docs/pbft.md,
 * "Read-only requests"): a GET goes as a READ to every replica at once, and
 * each answers it from its executed state without ordering it. The result
 * is accepted on a quorum (void_membership_quorum(n): 2f + 1 for n = 3f + 1)
 * of matching answers; otherwise, on a timeout (read_timeout_ns) or as soon
 * as answers differ so much that no quorum can match, the read is sent again
 * as an ordinary ordered request (a new request number), which completes as
 * any. A read-only request changes nothing at the replicas.
 *
 * The configuration (docs/membership.md, "The client follows the epoch"):
 * f, the quorum of matching replies, the repliers and the believed primary
 * come from the voters of the configuration the client knows, at first the
 * genesis (replicas 0..n-1, epoch 1); replies from non-voters do not count
 * (stats.rx_not_member). Every REPLY carries its replica's epoch. When f + 1
 * voters of the known configuration have said they are in a newer epoch
 * (so at least one honest one is), or at the first request with
 * learn_first, the next submit first reads the configuration record
 * (VOID_SM_MEMBER_KEY) as a read-only request, accepted under the known
 * configuration's rules (a quorum of matching answers, else ordered and
 * f + 1), adopts the newest configuration in it that such f + 1 voters
 * vouch for, and only then sends the caller's request. Changes only remove
 * voters so far, so the voters of a newer configuration are voters of the
 * older one and can answer that read.
 *
 * Effects use struct void_pbft_out from include/void/pbft.h: SEND (to a
 * replica id or VOID_PBFT_TO_ALL), TIMER_SET / TIMER_CANCEL with
 * VOID_PBFT_CLIENT_TIMER_RETRY, and EVENT (send and receive events of the
 * causal log, node = client id).
 */
#ifndef VOID_PBFT_CLIENT_H
#define VOID_PBFT_CLIENT_H

#include "void/hlc.h"
#include "void/membership.h"
#include "void/pbft.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_PBFT_CLIENT_TIMER_RETRY    16
#define VOID_PBFT_CLIENT_TIMEOUT_NS_DEF (300ull * 1000 * 1000)
#define VOID_PBFT_CLIENT_TIMEOUT_NS_MAX (5ull * 1000 * 1000 * 1000)
#define VOID_PBFT_CLIENT_SUSPECT_NS     (5ull * 1000 * 1000 * 1000)
/* A read-only request without a matching quorum by then is ordered. */
#define VOID_PBFT_CLIENT_READ_TIMEOUT_NS_DEF (50ull * 1000 * 1000)

struct void_pbft_client_config {
    uint32_t id; /* client id: in the keyring, not a replica id */
    uint32_t n;  /* replica ids 0..n-1 */
    /* The genesis voters: replicas 0..genesis_n-1 (0: n), whose keys the
     * keyring must hold; ids above are slots for members that join
     * (docs/membership.md, "Join and promote"). */
    uint32_t genesis_n;
    uint64_t
        timeout_ns; /* first retry; doubles up to VOID_PBFT_CLIENT_TIMEOUT_NS_MAX; 0 = default */
    uint64_t first_reqno; /* request numbers start here (persist the last one across restarts) */
    uint64_t event_seq_start;
    int verify_signatures; /* 0: accept replies without checking signatures (tests that say so) */
    /* 1: until a result is accepted (the view is not known yet), each request
     * goes to every replica, which relay it to the primary: a fresh client
     * (a one-shot voidctl) does not wait a retry timeout after a view change
     * or when the primary of view 0 is down. 0: to the believed primary. */
    int broadcast_first;
    int reply_all;    /* 1: every replica replies to each request; 0: f + 1 chosen ones */
    uint32_t session; /* this process's session under the client id (0: the only one) */
    /* NULL, or the client's certificate (VOID_CLIENT_CERT_SIZE bytes,
     * borrowed for the client's lifetime), sent in every request so that
     * replicas whose keyring lacks this client take its key from it. */
    const uint8_t *cert;
    const struct void_keyring *keyring;      /* borrowed for the client's lifetime */
    const struct void_sign_keypair *keypair; /* borrowed for the client's lifetime */
    struct void_hlc_config hlc;
    /* Room for large requests and results, borrowed for the client's
     * lifetime: NULL limits ops and results to VOID_PBFT_CLIENT_SMALL bytes
     * (the client keeps them inline); VOID_PBFT_CLIENT_BIG bytes allow the
     * state machine's largest (a 4 KiB key, a 1 MiB value). */
    uint8_t *big;
    size_t big_len;
    uint64_t read_timeout_ns; /* read-only requests: ordered after this; 0 = default */
    /* 1: the first submit reads the configuration record before the
     * request (a client that may start after membership changes: voidctl,
     * voidload); 0: the genesis until replies show a newer epoch. */
    int learn_first;
};

/* Ops and results a client holds without cfg.big, and the room that lets it
 * send any op and accept any result. */
#define VOID_PBFT_CLIENT_SMALL 1024u
#define VOID_PBFT_CLIENT_BIG   ((size_t)VOID_PBFT_OP_MAX + (size_t)VOID_PBFT_RESULT_MAX)

struct void_pbft_client_stats {
    uint64_t submitted, completed, retries;
    uint64_t resent;    /* void_pbft_client_resend calls that sent */
    uint64_t link_resends; /* sends to a link that came up (void_pbft_client_link_up) */
    uint64_t suspected; /* repliers left out for a while: no reply, or not the accepted one */
    uint64_t stale;     /* requests completed VOID_SM_STALE (superseded) */
    uint64_t rx_malformed, rx_bad_sig, rx_unknown_sender, rx_stale, rx_hlc_ahead;
    /* Replies taken on their tag, and replies whose tag was missing or wrong
     * (their signature decided, one verification each). */
    uint64_t macs_ok, macs_bad;
    uint64_t verifies;       /* signature verifications */
    uint64_t reads;          /* read-only requests submitted */
    uint64_t reads_quorum;   /* ... completed on a quorum of matching unordered answers */
    uint64_t reads_ordered;  /* ... ordered instead: timeout or answers that differ */
    uint64_t rx_not_member;  /* replies from a replica that is not a voter of the known epoch */
    uint64_t learns;         /* configuration records read */
    uint64_t epochs_learned; /* newer configurations adopted */
};

/* The client. Caller-owned; fields are private. */
struct void_pbft_client {
    struct void_pbft_client_config cfg;
    uint32_t f;          /* of the known configuration's voters */
    uint64_t epoch;      /* the known configuration's epoch (1: the genesis) */
    uint32_t voters;     /* its voters (ids < n), as a mask */
    uint32_t nv;         /* how many */
    int learning;        /* the outstanding request reads the configuration record */
    int learned_once;    /* a record was read (learn_first) */
    int pending_ro;      /* the caller's request, held during learning, is read-only */
    uint64_t learn_done; /* the epoch last looked for: not looked for again */
    uint64_t reply_epoch[VOID_PBFT_N_MAX]; /* the epoch each voter's last reply named */
    uint8_t learn_op[64];                  /* GET VOID_SM_MEMBER_KEY */
    uint32_t learn_op_len;
    /* Where a configuration record read decodes to (latest, prev): 2 x 23
     * KB here rather than on the stack of a step. */
    struct void_membership_config learn_cfg[2];
    struct void_hlc hlc;
    uint64_t view;       /* believed view; primary = view mod n */
    int view_known;      /* a result was accepted: view comes from replies */
    uint64_t reqno;      /* the outstanding (or last) request number */
    int busy;            /* a request is outstanding */
    int ro;              /* it is a read-only request, not ordered (yet) */
    int done;            /* the outstanding request has a result */
    uint64_t timeout_ns; /* current retry delay */
    uint64_t event_seq;
    uint32_t op_len;
    uint8_t *op;     /* op_cap bytes: op_small or cfg.big */
    uint8_t *result; /* result_cap bytes: result_small or cfg.big after the op */
    size_t op_cap, result_cap;
    uint16_t repliers;                       /* of the outstanding request */
    int retried;                             /* the outstanding request was retransmitted */
    uint64_t suspect_until[VOID_PBFT_N_MAX]; /* not chosen as a replier before */
    uint32_t down_mask;                      /* replicas whose link the driver says is down */
    uint32_t reply_mask;                     /* replicas whose reply to reqno we hold */
    uint64_t reply_view[VOID_PBFT_N_MAX];
    uint32_t reply_len[VOID_PBFT_N_MAX];
    uint8_t reply_hash[VOID_PBFT_N_MAX][VOID_PBFT_DIGEST_SIZE]; /* SHA-256 of each result */
    uint64_t reply_stale[VOID_PBFT_N_MAX]; /* a STALE result's superseding number, else 0 */
    uint32_t result_len;                   /* the accepted result */
    uint8_t op_small[VOID_PBFT_CLIENT_SMALL];
    uint8_t result_small[VOID_PBFT_CLIENT_SMALL];
    /* The keys this client shares with replicas 0..n-1, for the tags of its
     * requests' authenticators (include/void/mac.h). */
    uint8_t mac_keys[VOID_PBFT_N_MAX][VOID_MAC_KEY_SIZE];
    /* The replicas' public keys: the keyring's, then those of members that
     * joined, taken from a configuration f + 1 voters vouched for. */
    uint8_t keys[VOID_PBFT_N_MAX][VOID_SIGN_PUBLIC_KEY_SIZE];
    uint32_t key_have; /* bit i: keys[i] and mac_keys[i] are set */
    /* The last request frame sent, kept when it travels inline in batches
     * (frame_len <= VOID_PBFT_INLINE_MAX), for tests that replay it. */
    uint8_t frame[VOID_PBFT_INLINE_MAX];
    size_t frame_len;
    struct void_pbft_client_stats stats;
};

/* Sets up c from config (copied; keyring, keypair, big and cert stay
 * borrowed) and derives the MAC key it shares with each replica. Returns 0
 * or VOID_EINVAL (n out of range, NULL keys, id < n, a replica's key missing
 * from the keyring or not usable, big given but shorter than
 * VOID_PBFT_CLIENT_BIG, a cert that does not decode or names another id or
 * key). */
int void_pbft_client_init(struct void_pbft_client *c, const struct void_pbft_client_config *config);

/* Tells the client whether its link to replica `replica` (< n) is up, as
 * the driver's transport sees it. A replica whose link is down is not named
 * as a replier, and while the believed primary's link is down requests go
 * to every replica (which relay them), so a replica that is known to be
 * gone costs no retry timeout. Every link counts as up until told
 * otherwise. Cannot fail. */
void void_pbft_client_link(struct void_pbft_client *c, uint32_t replica, int up);

/* Tells the client its link to replica `replica` (< n) came up again (as
 * void_pbft_client_link(c, replica, 1)), and, when a request is
 * outstanding, sends it to that replica at once: what was sent before over
 * a connection that then closed (a replica sheds unauthenticated
 * connections beyond its per-address cap, or restarted) would otherwise
 * wait for the retry timer. The timer is left as it is; a replica that has
 * the request already drops the copy (same number). Returns 1 when it sent,
 * 0 when nothing was outstanding, VOID_EFULL when out is too small. */
int void_pbft_client_link_up(struct void_pbft_client *c,
                             uint32_t replica,
                             uint64_t now_ns,
                             struct void_pbft_out *out);

/* Starts request op[0..op_len) (copied): signs it with a new request number,
 * sends it to the believed primary and arms the retry timer. A request frame
 * longer than VOID_PBFT_INLINE_MAX goes to every replica at once (it is
 * ordered by its digest, docs/pbft.md "Large requests"). Returns 0,
 * VOID_EBUSY (a request is outstanding), VOID_EINVAL (op_len 0 or over the
 * client's room: VOID_PBFT_OP_MAX with cfg.big, VOID_PBFT_CLIENT_SMALL
 * without) or VOID_EFULL (out too small). */
int void_pbft_client_submit(struct void_pbft_client *c,
                            uint64_t now_ns,
                            const uint8_t *op,
                            size_t op_len,
                            struct void_pbft_out *out);

/* Starts the read-only request op[0..op_len) (copied): sends it signed, as a
 * READ with a new request number, to every replica and arms the retry timer
 * with read_timeout_ns. It completes on a quorum of matching answers, or
 * else as an ordered request (see the top of this file); read the result as
 * for void_pbft_client_submit. Returns 0, VOID_EBUSY, VOID_EINVAL (not a
 * read-only op: void_sm_op_read_only; or as void_pbft_client_submit) or
 * VOID_EFULL. */
int void_pbft_client_submit_read(struct void_pbft_client *c,
                                 uint64_t now_ns,
                                 const uint8_t *op,
                                 size_t op_len,
                                 struct void_pbft_out *out);

/* Retransmits the last completed ordered request: the same client, session
 * and request number (signed anew, as a retry is) to replica `to` (< n) or
 * to every replica (VOID_PBFT_TO_ALL), with the retry timer armed as for a
 * new request, and waits for its answer again: it completes as any request
 * does (f + 1 matching replies; a replica answers a request it executed
 * before from its reply cache, whoever named it a replier), and
 * void_pbft_client_result then gives what the replicas answer now. At-most-
 * once execution makes that the first answer, byte for byte; a request
 * executed again would answer otherwise (a put names its new version's HLC).
 * For checks of at-most-once execution (voidload once, docs/operations.md);
 * stats.resent counts the calls, and their completions count in
 * stats.completed as well. Returns 0, VOID_EBUSY (a request is outstanding),
 * VOID_EINVAL (none completed yet; the last was a read-only one, or
 * superseded: STALE; or `to` is out of range) or VOID_EFULL (out too small). */
int void_pbft_client_resend(struct void_pbft_client *c,
                            uint64_t now_ns,
                            uint32_t to,
                            struct void_pbft_out *out);

/* Handles a frame from a replica (borrowed for the call). Returns 1 when this
 * reply completed the outstanding request (read it with
 * void_pbft_client_result; the retry timer is cancelled), 0 otherwise
 * (rejected frames are counted in stats), or VOID_EFULL. */
int void_pbft_client_step_receive(struct void_pbft_client *c,
                                  uint64_t now_ns,
                                  const uint8_t *frame,
                                  size_t len,
                                  struct void_pbft_out *out);

/* Handles the retry timer: rebroadcasts the outstanding request. Returns 0 or
 * VOID_EFULL. */
int void_pbft_client_step_timer(struct void_pbft_client *c,
                                uint64_t now_ns,
                                struct void_pbft_out *out);

/* The accepted result of the last completed request: returns its length and
 * sets *result (pointing into c, valid until the next submit), or VOID_EAGAIN
 * while none is complete. */
int void_pbft_client_result(const struct void_pbft_client *c, const uint8_t **result);

/* Request number of the outstanding or last request, and the believed view.
 * Cannot fail. */
uint64_t void_pbft_client_reqno(const struct void_pbft_client *c);
uint64_t void_pbft_client_view(const struct void_pbft_client *c);

/* The believed primary: the (view mod n)-th voter of the known
 * configuration, in id order. Cannot fail. */
uint32_t void_pbft_client_primary(const struct void_pbft_client *c);

/* The known configuration: its epoch, its voters as a mask of ids, f. Cannot
 * fail. */
uint64_t void_pbft_client_epoch(const struct void_pbft_client *c);
uint32_t void_pbft_client_voters(const struct void_pbft_client *c);
uint32_t void_pbft_client_f(const struct void_pbft_client *c);

/* Adopts cfg (borrowed for the call) as the known configuration, for a
 * driver that learned it some other way than the record (the client reads
 * it itself otherwise). Returns 0, VOID_EMEMBER_EPOCH (not newer than the
 * known one) or VOID_EINVAL (a voter that is not a replica 0..n-1 of the
 * client's keyring, or no voter). Never while a request is outstanding:
 * VOID_EBUSY. */
int void_pbft_client_set_config(struct void_pbft_client *c,
                                const struct void_membership_config *cfg);

#endif

/*
 * Membership: the cluster configuration as a value, a failure detector, and
 * the evidence that removes a dead member (DESIGN.md section 5, issue 18).
 *
 * Three pure, deterministic pieces; none does I/O, reads a clock or
 * allocates (time arrives as now_ns, capacities are the constants below):
 *
 *  1. struct void_membership_config: an epoch and an ordered list of members.
 *     Changes (join, leave, remove, promote) are pure functions from one
 *     configuration to the next that validate the whole batch first and
 *     bump the epoch by one. f, the quorum and the primary of a view are
 *     computed from the voters only. A deterministic big-endian encoding
 *     makes the configuration replicated state.
 *  2. struct void_fd: per peer, heartbeats in, alive -> suspect -> dead out,
 *     by a fixed multiple of the heartbeat interval stretched by a
 *     Lifeguard-style local health multiplier. Integer arithmetic only.
 *  3. struct void_suspicion and struct void_suspicion_collector: a signed
 *     suspicion per (suspector, suspect, epoch), collected into a
 *     certificate once 2f+1 distinct voters of the epoch agree within a
 *     window; void_suspicion_cert_check() verifies one the same way on
 *     every replica.
 *
 * docs/membership.md explains the choices and the measured defaults.
 */
#ifndef VOID_MEMBERSHIP_H
#define VOID_MEMBERSHIP_H

#include "void/hlc.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_MEMBERSHIP_MEMBERS_MAX 64 /* voters + learners in one configuration */
#define VOID_MEMBERSHIP_ADDR_MAX    127 /* bytes of "host:port", without the NUL (as the config file) */
#define VOID_MEMBERSHIP_LOC_MAX     63 /* bytes of each location part, without the NUL (as the config file) */
#define VOID_MEMBERSHIP_CHANGES_MAX 16 /* changes in one batch */
#define VOID_MEMBERSHIP_VERSION     1  /* first byte of the encoding */

/* Encoding: a header (version 1, epoch 8, id_next 4, voters_min 2, count 2,
 * admin key 32) and per member
 * 4 id + 1 role + 32 key + 4 length bytes + the strings. */
#define VOID_MEMBERSHIP_MEMBER_ENCODED_MAX                                                         \
    (4 + 1 + VOID_SIGN_PUBLIC_KEY_SIZE + 4 + VOID_MEMBERSHIP_ADDR_MAX + 3 * VOID_MEMBERSHIP_LOC_MAX)
#define VOID_MEMBERSHIP_HEADER_SIZE (17 + VOID_SIGN_PUBLIC_KEY_SIZE)
#define VOID_MEMBERSHIP_ENCODED_MAX                                                                \
    (VOID_MEMBERSHIP_HEADER_SIZE + VOID_MEMBERSHIP_MEMBERS_MAX * VOID_MEMBERSHIP_MEMBER_ENCODED_MAX)

enum void_member_role {
    VOID_MEMBER_VOTER = 1,   /* counts in f, quorums and the primary rotation */
    VOID_MEMBER_LEARNER = 2, /* receives the log, never votes (etcd's learner) */
};

struct void_member {
    uint32_t id;  /* never reused: a removed id stays below id_next forever */
    uint8_t role; /* enum void_member_role */
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    char address[VOID_MEMBERSHIP_ADDR_MAX + 1]; /* NUL-terminated, not empty */
    char datacenter[VOID_MEMBERSHIP_LOC_MAX + 1];
    char rack[VOID_MEMBERSHIP_LOC_MAX + 1];
    char host[VOID_MEMBERSHIP_LOC_MAX + 1];
};

/* Invariants (void_membership_config_check): members sorted by strictly
 * ascending id, every id < id_next, keys and addresses distinct, at least
 * voters_min >= 1 voters, strings NUL-terminated with no byte after the NUL
 * (so that equal configurations encode to equal bytes). */
struct void_membership_config {
    uint64_t epoch;      /* +1 per applied batch */
    uint32_t id_next;    /* smallest id a join may take; ids below it were used once */
    uint16_t voters_min; /* a removal never leaves fewer voters (4 in production) */
    uint16_t count;      /* members[0..count) */
    /* Signs operators' JOIN/REMOVE requests (checked by the driver); all
     * zero: no admin, changes come only from leaves and certificates. */
    uint8_t admin_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    struct void_member members[VOID_MEMBERSHIP_MEMBERS_MAX];
};

enum void_membership_op {
    VOID_MEMBERSHIP_JOIN = 1,    /* add member (as a learner: voting starts with PROMOTE) */
    VOID_MEMBERSHIP_LEAVE = 2,   /* the member asked to go (graceful) */
    VOID_MEMBERSHIP_REMOVE = 3,  /* an operator or a suspicion certificate removes it */
    VOID_MEMBERSHIP_PROMOTE = 4, /* a learner becomes a voter */
};

struct void_membership_change {
    uint8_t op;                /* enum void_membership_op */
    uint32_t id;               /* the member changed (for JOIN: member.id) */
    struct void_member member; /* JOIN only */
};

/* f for n voters: the largest f with n >= 3f + 1; 0 for n = 0. Cannot fail. */
uint32_t void_membership_f(uint32_t n);

/* The smallest q with 2q - n >= f + 1 (two quorums share an honest voter),
 * i.e. ceil((n + f + 1) / 2); equals 2f + 1 when n = 3f + 1, and never
 * exceeds n - f (the live voters can always form one). 0 for n = 0.
 * Cannot fail. */
uint32_t void_membership_quorum(uint32_t n);

/* Voters in cfg (borrowed for the call). Cannot fail. */
uint32_t void_membership_voters(const struct void_membership_config *cfg);

/* Id of the primary of view: the (view mod n)-th voter in member order.
 * cfg must hold at least one voter (an invariant). Cannot fail. */
uint32_t void_membership_primary(const struct void_membership_config *cfg, uint64_t view);

/* Index of member id in cfg->members, or -1. Cannot fail. */
int void_membership_find(const struct void_membership_config *cfg, uint32_t id);

/* Builds the first configuration (epoch 1) from members[0..count) (borrowed,
 * any order, any roles: the bootstrap set comes from the config file and is
 * not a JOIN). id_next becomes one past the largest id. Returns 0,
 * VOID_EINVAL (count 0 or above the maximum, voters_min 0), VOID_EMEMBER_EXISTS
 * (an id twice), VOID_ERANGE (id UINT32_MAX) or any code of config_check
 * (too few voters: VOID_EBAD_FIELD). */
int void_membership_config_init(struct void_membership_config *cfg,
                                const struct void_member *members,
                                uint32_t count,
                                uint16_t voters_min);

/* Validates every invariant listed above. Returns 0, VOID_EBAD_FIELD
 * (a bad role, string or voters_min, ids not ascending or not below
 * id_next), VOID_EMEMBER_DUP_KEY or VOID_EMEMBER_DUP_ADDR. */
int void_membership_config_check(const struct void_membership_config *cfg);

/* Encodes cfg (borrowed; must pass config_check) into buf[0..cap) and
 * returns the number of bytes written, or VOID_EOVERSIZED if cap is too
 * small. The encoding is a function of the value: equal configs, equal bytes. */
int void_membership_config_encode(const struct void_membership_config *cfg,
                                  uint8_t *buf,
                                  size_t cap);

/* Decodes exactly len bytes of buf (borrowed) into *cfg. Never asserts on
 * the input. Returns 0, VOID_ETRUNCATED, VOID_EBAD_LENGTH (bytes left over),
 * VOID_EBAD_VERSION, VOID_EOVERSIZED (count above the maximum), or any code
 * of config_check. *cfg is unspecified on error. */
int void_membership_config_decode(struct void_membership_config *cfg,
                                  const uint8_t *buf,
                                  size_t len);

/* Applies a batch of changes to in, writing the next configuration (epoch
 * + 1) to *out; out may equal in. The whole batch is validated against in
 * before anything is written, so *out is untouched on error. Refusals:
 *   VOID_EINVAL             count is 0 or above VOID_MEMBERSHIP_CHANGES_MAX, unknown op,
 *                           or a JOIN whose id differs from member.id
 *   VOID_EMEMBER_BATCH_DUP  two changes of the same member in the batch
 *   VOID_EMEMBER_UNKNOWN    LEAVE/REMOVE/PROMOTE of an id never admitted
 *   VOID_EMEMBER_REMOVED    LEAVE/REMOVE/PROMOTE of an id already removed, or a JOIN
 *                           reusing an id below id_next
 *   VOID_EMEMBER_EXISTS     JOIN of an id already present
 *   VOID_EMEMBER_DUP_KEY    JOIN with a public key already in use (or twice in the batch)
 *   VOID_EMEMBER_DUP_ADDR   JOIN with an address already in use (or twice in the batch)
 *   VOID_EBAD_FIELD         JOIN of a member with bad strings, or not as a learner
 *   VOID_EMEMBER_ROLE       PROMOTE of a member already a voter
 *   VOID_EMEMBER_TOO_FEW    the result would have fewer than voters_min voters
 *   VOID_EFULL              the result would exceed VOID_MEMBERSHIP_MEMBERS_MAX
 *   VOID_ERANGE             the epoch or id_next would overflow
 * in, changes and out are borrowed for the call. */
int void_membership_apply(const struct void_membership_config *in,
                          const struct void_membership_change *changes,
                          uint32_t count,
                          struct void_membership_config *out);

/* Refuses next if the voters among live_ids (borrowed; ids this node holds
 * alive, any order) cannot form a quorum of next (etcd#3477: adding voters
 * that never start). Returns 0 or VOID_EMEMBER_QUORUM. */
int void_membership_check_live(const struct void_membership_config *next,
                               const uint32_t *live_ids,
                               uint32_t live_count);

/* ---- failure detector ------------------------------------------------- */

#define VOID_FD_INTERVAL_NS_DEF       200000000ull /* heartbeat period: 200 ms */
#define VOID_FD_SUSPECT_INTERVALS_DEF 4            /* 800 ms of silence: suspect */
#define VOID_FD_DEAD_INTERVALS_DEF    6            /* 1.2 s of silence: dead */
#define VOID_FD_LHM_MAX_DEF           8            /* timeouts stretch at most 9x */
#define VOID_FD_LHM_DECAY_TICKS_DEF   16           /* on-time ticks to lower the multiplier by 1 */

enum void_fd_state {
    VOID_FD_ALIVE = 0,
    VOID_FD_SUSPECT = 1,
    VOID_FD_DEAD = 2,
};

struct void_fd_config {
    uint64_t interval_ns;       /* heartbeat period; 0: VOID_FD_INTERVAL_NS_DEF */
    uint64_t tick_ns;           /* the driver calls void_fd_tick this often; 0: interval/4 */
    uint64_t tick_late_ns;      /* a tick this late raises the multiplier; 0: interval/2 */
    uint32_t suspect_intervals; /* 0: default; must be < dead_intervals */
    uint32_t dead_intervals;    /* 0: default */
    uint32_t lhm_max;           /* 0: default; UINT32_MAX disables the multiplier (tests) */
    uint32_t lhm_decay_ticks;   /* 0: default */
};

struct void_fd_heartbeat {
    uint32_t sender;
    struct void_hlc_ts hlc; /* the sender's HLC when it sent the heartbeat */
    uint64_t executed;      /* the sender's last executed sequence number */
};

struct void_fd_peer {
    uint32_t id;
    uint8_t state;         /* enum void_fd_state */
    uint64_t last_recv_ns; /* local time of the last fresh heartbeat (or of admission) */
    struct void_hlc_ts last_hlc;
    uint64_t last_executed;
    uint64_t count_heartbeats;
    uint64_t count_stale; /* heartbeats whose HLC did not advance: replayed or reordered */
};

struct void_fd_transition {
    uint32_t id;
    uint8_t from, to;    /* enum void_fd_state */
    uint64_t silence_ns; /* since the last fresh heartbeat */
};

struct void_fd {
    struct void_fd_config cfg;
    uint32_t count;
    struct void_fd_peer peers[VOID_MEMBERSHIP_MEMBERS_MAX]; /* sorted by id */
    uint64_t last_tick_ns;
    uint32_t lhm;           /* local health multiplier: timeouts scale by lhm + 1 */
    uint32_t ontime_streak; /* on-time ticks since the multiplier last moved */
    uint64_t count_late_ticks;
    uint64_t count_unknown; /* heartbeats from ids that are not peers */
};

/* Initialises fd with no peers; cfg (copied) may be NULL for defaults.
 * Returns 0 or VOID_EINVAL (suspect_intervals >= dead_intervals, tick_ns
 * above interval_ns). */
int void_fd_init(struct void_fd *fd, const struct void_fd_config *cfg, uint64_t now_ns);

/* Makes the peers exactly ids[0..count) (borrowed): a peer kept keeps its
 * state, a new one starts alive as if heard at now_ns. Returns 0,
 * VOID_EFULL (count above the maximum) or VOID_EINVAL (duplicate id). */
int void_fd_set_peers(struct void_fd *fd, const uint32_t *ids, uint32_t count, uint64_t now_ns);

/* Records a heartbeat (borrowed) received at now_ns; the driver has checked
 * its signature or MAC. A fresh one (HLC above the last) makes the peer
 * alive. Returns 1 if the peer was suspect or dead and is alive again, 0 if
 * recorded, VOID_EUNKNOWN_SENDER (not a peer; counted) or VOID_EAGAIN
 * (HLC not above the last: stale, counted, liveness unchanged). */
int void_fd_heartbeat(struct void_fd *fd, const struct void_fd_heartbeat *hb, uint64_t now_ns);

/* Advances the detector to now_ns: updates the local health multiplier from
 * the lateness of this tick, then moves every peer whose silence passed a
 * (stretched) threshold, writing at most cap transitions to out. Returns the
 * number written; more than cap waiting is impossible when cap >= peers. */
uint32_t
void_fd_tick(struct void_fd *fd, uint64_t now_ns, struct void_fd_transition *out, uint32_t cap);

/* Writes the ids of the peers currently alive to ids[0..cap) (the input of
 * void_membership_check_live, with this node's own id added by the caller)
 * and returns how many. Cannot fail. */
uint32_t void_fd_alive(const struct void_fd *fd, uint32_t *ids, uint32_t cap);

/* State of peer id, or -1 if not a peer. Cannot fail. */
int void_fd_state(const struct void_fd *fd, uint32_t id);

/* Current silence thresholds, after the multiplier. Cannot fail. */
uint64_t void_fd_suspect_ns(const struct void_fd *fd);
uint64_t void_fd_dead_ns(const struct void_fd *fd);

/* ---- heartbeats --------------------------------------------------------- */

/* A heartbeat travels as a HEARTBEAT frame (include/void/codec.h, type 11):
 * the header carries the sender's id and its HLC at sending, the Ed25519
 * signature (domain FRAME) covers everything, and the body is
 *   u64 epoch | u64 executed   (big-endian)
 * the sender's configuration epoch and its last executed sequence number.
 * The receiver checks the signature with the sender's key, that the sender
 * is a member of its epoch, and feeds void_fd_heartbeat. */
#define VOID_HEARTBEAT_BODY_SIZE 16

/* Writes the body. Cannot fail. */
void void_heartbeat_body_encode(uint64_t epoch,
                                 uint64_t executed,
                                 uint8_t out[VOID_HEARTBEAT_BODY_SIZE]);

/* Reads exactly len bytes of body (borrowed). Returns 0, VOID_ETRUNCATED
 * (short) or VOID_EBAD_LENGTH (bytes left over); never asserts on input. */
int void_heartbeat_body_decode(const uint8_t *body,
                               size_t len,
                               uint64_t *epoch,
                               uint64_t *executed);

/* A heartbeat may also carry the sender's HTTP address (its status
 * server, "host:port", as its own file states it), so that a member that
 * joined is reachable at the address it runs, not at a guessed one, by the
 * nodes whose files do not list it (docs/membership.md, "Joining a running
 * cluster"):
 *   u64 epoch | u64 executed | u8 len (1..127) | len bytes, no NUL
 * The address is the sender's word, under its signature like the rest. */
#define VOID_HEARTBEAT_ADDR_MAX 127
#define VOID_HEARTBEAT_BODY_MAX (VOID_HEARTBEAT_BODY_SIZE + 1 + VOID_HEARTBEAT_ADDR_MAX)

/* Writes the body with http (NULL or "": none, then exactly the 16 bytes
 * above; longer than VOID_HEARTBEAT_ADDR_MAX: left out) and returns its
 * length. Cannot fail. */
size_t void_heartbeat_body_encode_addr(uint64_t epoch,
                                       uint64_t executed,
                                       const char *http,
                                       uint8_t out[VOID_HEARTBEAT_BODY_MAX]);

/* Reads exactly len bytes: the 16-byte body (http becomes "") or one with
 * an address (copied NUL-terminated into http). Returns 0, VOID_ETRUNCATED,
 * VOID_EBAD_LENGTH (bytes left over or a length byte that does not match)
 * or VOID_EBAD_FIELD (an empty address or a NUL in it); never asserts on
 * input. */
int void_heartbeat_body_decode_addr(const uint8_t *body,
                                    size_t len,
                                    uint64_t *epoch,
                                    uint64_t *executed,
                                    char http[VOID_HEARTBEAT_ADDR_MAX + 1]);

/* ---- removal evidence ------------------------------------------------- */

#define VOID_SUSPICION_ENCODED_SIZE  28             /* epoch 8, suspect 4, suspector 4, hlc 12 */
#define VOID_SUSPICION_WINDOW_NS_DEF 10000000000ull /* 10 s between first and last */
#define VOID_SUSPICION_SIGN_DOMAIN   "void-suspicion-v1"

/* "suspector holds suspect dead in epoch, at its HLC time hlc". The driver
 * signs the encoding with the suspector's key. */
struct void_suspicion {
    uint64_t epoch;
    uint32_t suspect;
    uint32_t suspector;
    struct void_hlc_ts hlc;
};

/* A removal certificate: 2f+1 suspicions of one member by distinct voters of
 * one epoch, in ascending suspector order, HLC wall times within the window. */
struct void_suspicion_cert {
    uint64_t epoch;
    uint32_t suspect;
    uint32_t count;
    struct void_suspicion items[VOID_MEMBERSHIP_MEMBERS_MAX];
};

struct void_suspicion_collector {
    uint64_t epoch;
    uint64_t window_ns;
    uint32_t f;
    uint32_t count; /* members of the epoch */
    uint32_t ids[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint8_t voter[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint32_t id_next;
    /* seen[suspect][suspector]: the HLC of the held suspicion; wall 0 = none */
    struct void_hlc_ts seen[VOID_MEMBERSHIP_MEMBERS_MAX][VOID_MEMBERSHIP_MEMBERS_MAX];
    uint64_t count_accepted, count_refused;
};

/* Writes the 28-byte big-endian encoding of s (borrowed) to buf. Cannot fail. */
void void_suspicion_encode(const struct void_suspicion *s,
                           uint8_t buf[VOID_SUSPICION_ENCODED_SIZE]);

/* Decodes len bytes. Returns 0, VOID_ETRUNCATED or VOID_EBAD_LENGTH. */
int void_suspicion_decode(struct void_suspicion *s, const uint8_t *buf, size_t len);

/* Starts collecting for cfg's epoch (cfg borrowed for the call; the
 * collector copies what it needs), forgetting every held suspicion.
 * window_ns 0 means VOID_SUSPICION_WINDOW_NS_DEF. Cannot fail. */
void void_suspicion_collector_reset(struct void_suspicion_collector *c,
                                    const struct void_membership_config *cfg,
                                    uint64_t window_ns);

/* Adds a suspicion (borrowed; its signature already verified by the driver)
 * at local HLC wall time now_ns. Returns 1 and fills *cert if the suspect now
 * has 2f+1 suspicions within the window, 0 if held, or a refusal (counted):
 *   VOID_EMEMBER_EPOCH      another epoch
 *   VOID_EMEMBER_NOT_VOTER  the suspector is not a voter of the epoch (learner,
 *                           removed, never a member)
 *   VOID_EMEMBER_UNKNOWN / VOID_EMEMBER_REMOVED  the suspect is not a member
 *   VOID_EINVAL             a member suspecting itself, or an HLC wall of 0
 *   VOID_EMEMBER_STALE      the suspicion is older than now_ns - window
 *   VOID_EHLC_AHEAD         its HLC wall is more than VOID_HLC_MAX_OFFSET_NS_DEF
 *                           ahead of now_ns (it would stay inside every window)
 *   VOID_EMEMBER_DUP_SUSPICION  this suspector already holds one of this suspect
 *                           inside the window (a newer one after it expires replaces it) */
int void_suspicion_collector_add(struct void_suspicion_collector *c,
                                 const struct void_suspicion *s,
                                 uint64_t now_ns,
                                 struct void_suspicion_cert *cert);

/* Checks a certificate (borrowed) against cfg the same way on every
 * replica, from its content only (signatures are the driver's). Returns 0,
 * VOID_EMEMBER_EPOCH, VOID_EMEMBER_UNKNOWN/REMOVED (suspect), VOID_EMEMBER_NOT_VOTER
 * (a suspector), VOID_EMEMBER_DUP_SUSPICION (a suspector twice), VOID_EINVAL
 * (suspicions not in ascending suspector order, or of another suspect or
 * epoch, or by the suspect itself), VOID_EMEMBER_STALE (HLC walls spread
 * beyond window_ns) or VOID_EMEMBER_QUORUM (fewer than 2f+1). */
int void_suspicion_cert_check(const struct void_membership_config *cfg,
                              const struct void_suspicion_cert *cert,
                              uint64_t window_ns);

/* ---- suspicion gossip (voidd) --------------------------------------------- */

/* A suspicion with its suspector's signature (domain SUSPICION over the
 * 28-byte encoding): what a SUSPICION frame (include/void/codec.h, type 17)
 * carries and what a certificate is assembled from. */
#define VOID_SUSPICION_SIGNED_SIZE (VOID_SUSPICION_ENCODED_SIZE + 64)
#define VOID_SUSPICION_GOSSIP_MAX  16 /* items in one SUSPICION frame */

struct void_suspicion_signed {
    struct void_suspicion s;
    uint8_t sig[64];
};

/* The body of a SUSPICION frame:
 *   u8 count (1..VOID_SUSPICION_GOSSIP_MAX) | count x (28-byte suspicion | 64 B signature)
 * Writes items[0..count) (borrowed) to buf[0..cap) and returns the length,
 * VOID_EINVAL (count 0 or above the maximum) or VOID_EFULL (cap too small). */
int void_suspicion_gossip_encode(const struct void_suspicion_signed *items,
                                 uint32_t count,
                                 uint8_t *buf,
                                 size_t cap);

/* Reads exactly len bytes of body (borrowed) into items[0..VOID_SUSPICION_GOSSIP_MAX)
 * and sets *count. Returns 0, VOID_ETRUNCATED, VOID_EBAD_LENGTH or
 * VOID_EBAD_FIELD (count 0 or above the maximum); signatures are the
 * driver's to check. Never asserts on input. */
int void_suspicion_gossip_decode(const uint8_t *body,
                                 size_t len,
                                 struct void_suspicion_signed items[VOID_SUSPICION_GOSSIP_MAX],
                                 uint32_t *count);

/* Who submits a certificate (so that not every voter floods PBFT with the
 * same REMOVE): self's rank among the voters of cfg that are in alive[0..k)
 * or are self, the suspect excluded, in id order; 0 is the lowest such id.
 * The driver submits after rank x its back-off, so the lowest live voter
 * goes first and the others only if its REMOVE did not execute. Returns
 * the rank, or UINT32_MAX when self is not a voter of cfg. Cannot fail. */
uint32_t void_suspicion_submit_rank(const struct void_membership_config *cfg,
                                    const uint32_t *alive,
                                    uint32_t k,
                                    uint32_t self,
                                    uint32_t suspect);

#endif

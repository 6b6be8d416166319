/*
 * The replicated state machine: a deterministic key/value store with MVCC
 * versions, executed by every PBFT replica in sequence order.
 *
 * Operations: put, get, delete, compare-and-set, and get "as of" a past HLC.
 * Every write creates a version stamped with the commit HLC of its batch (the
 * timestamp the primary put into the pre-prepare, raised if needed so that
 * stamps never decrease), so every replica stamps the same version with the
 * same time and a read as of time t returns the newest version whose stamp is
 * <= t.
 *
 * The state also holds the client table of PBFT: the last request number and
 * reply per client, which gives at-most-once execution (void_sm_execute
 * returns the cached reply for a repeated request and ignores older ones).
 *
 * Memory is bounded and allocated once in void_sm_init: config->keys_max keys,
 * config->versions_max versions (each holding up to VOID_SM_VALUE_MAX bytes)
 * and VOID_SM_CLIENTS_MAX clients. When the version slots run out, old history
 * is pruned deterministically (a function of the state alone, so that a
 * replica restored from a snapshot prunes exactly like one that never
 * crashed): the horizon is raised to the median stamp and every version that
 * a newer version at or below the horizon hides is freed. A read as of a time
 * before the horizon then answers VOID_SM_TOO_OLD. When nothing can be freed a
 * write answers VOID_SM_FULL.
 *
 * Pure: no I/O, no clock; memory is only allocated in init and freed in fini.
 */
#ifndef VOID_SM_H
#define VOID_SM_H

#include "void/hlc.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_SM_KEY_MAX      64         /* bytes in a key (at least 1) */
#define VOID_SM_VALUE_MAX    256        /* bytes in a value (may be 0) */
#define VOID_SM_CLIENTS_MAX  128        /* distinct clients in the reply cache */
#define VOID_SM_DIGEST_SIZE  32         /* SHA-256 */
#define VOID_SM_KEYS_DEF     1024       /* default keys_max */
#define VOID_SM_VERSIONS_DEF 4096       /* default versions_max */
#define VOID_SM_SNAPSHOT_MAX (3u << 20) /* worst-case snapshot must fit: checked at init */
/* Largest encoded operation: kind, key, value and the CAS expected value. */
#define VOID_SM_OP_MAX                                                                             \
    (1 + 2 + VOID_SM_KEY_MAX + 2 + VOID_SM_VALUE_MAX + 1 + 2 + VOID_SM_VALUE_MAX +                 \
     VOID_HLC_ENCODED_SIZE)
/* Largest encoded result: status, version stamp, value length and value. */
#define VOID_SM_RESULT_MAX (1 + VOID_HLC_ENCODED_SIZE + 2 + VOID_SM_VALUE_MAX)

/* Operation kinds. Values are on the wire: only append. */
enum void_sm_op_kind {
    VOID_SM_OP_PUT = 1,
    VOID_SM_OP_GET = 2,
    VOID_SM_OP_DELETE = 3,
    VOID_SM_OP_CAS = 4,      /* put value if the current value equals expected (or is absent) */
    VOID_SM_OP_GET_AS_OF = 5 /* read the value current at a past HLC */
};

/* Result statuses. Values are on the wire: only append. */
enum void_sm_status {
    VOID_SM_OK = 0,
    VOID_SM_NOT_FOUND = 1,  /* get/delete/as-of: no live value */
    VOID_SM_CAS_FAILED = 2, /* cas: current value differs; result carries the current value */
    VOID_SM_FULL = 3,       /* write: key or version capacity exhausted */
    VOID_SM_TOO_OLD = 4,    /* as-of: time before the retained history */
    VOID_SM_BAD_OP = 5,     /* the operation bytes do not decode */
    VOID_SM_STALE = 6,      /* request number older than the client's last: not executed */
    VOID_SM_FUTURE = 7      /* as-of: time after the stamp of the batch executing the read */
};

/* A decoded operation. key/value/expected point into the decoded buffer. */
struct void_sm_op {
    uint8_t kind; /* enum void_sm_op_kind */
    const uint8_t *key;
    uint16_t key_len;
    const uint8_t *value; /* put, cas */
    uint16_t value_len;
    uint8_t
        expect_present; /* cas: 1 = expected must equal the current value, 0 = key must be absent */
    const uint8_t *expected; /* cas */
    uint16_t expected_len;
    struct void_hlc_ts as_of; /* get-as-of */
};

/* A decoded result. value points into the decoded buffer. */
struct void_sm_result {
    uint8_t status;             /* enum void_sm_status */
    struct void_hlc_ts version; /* stamp of the version read or written (0 when none) */
    const uint8_t *value;
    uint16_t value_len;
};

struct void_sm_config {
    uint32_t keys_max;     /* 0 means VOID_SM_KEYS_DEF */
    uint32_t versions_max; /* 0 means VOID_SM_VERSIONS_DEF; must be >= keys_max */
};

/* Private: one key and one version slot. */
struct void__sm_key {
    uint16_t len;
    uint8_t bytes[VOID_SM_KEY_MAX];
    uint32_t head; /* newest version index, or UINT32_MAX */
    uint32_t used; /* 1 if the slot holds a key */
};
struct void__sm_version {
    struct void_hlc_ts stamp;
    uint32_t next; /* older version of the same key, or UINT32_MAX; free-list link when free */
    uint16_t len;
    uint8_t deleted;
    uint8_t value[VOID_SM_VALUE_MAX];
};
struct void__sm_client {
    uint32_t id;
    uint64_t reqno;
    uint16_t result_len;
    uint8_t result[VOID_SM_RESULT_MAX];
};

/* The state machine. Caller-owned; fields are private. */
struct void_sm {
    uint32_t keys_max, versions_max;
    uint32_t keys_used, versions_used;
    uint32_t *table;           /* open addressing, 2*keys_max slots of key index + 1 (0 = empty) */
    struct void__sm_key *keys; /* keys_max */
    struct void__sm_version *versions; /* versions_max */
    uint32_t version_free;             /* free-list head */
    void *scratch;                     /* sort space: keys_max pointers or versions_max stamps */
    struct void_hlc_ts horizon;        /* as-of reads before this answer TOO_OLD */
    struct void_hlc_ts last_stamp;     /* stamp of the last executed batch */
    uint32_t clients_used;
    struct void__sm_client clients[VOID_SM_CLIENTS_MAX];
    uint64_t count_pruned;
};

/* Allocates the tables for config (copied; NULL means defaults). Returns 0,
 * VOID_EINVAL (versions_max < keys_max, or a worst-case snapshot larger than
 * VOID_SM_SNAPSHOT_MAX) or VOID_ENOMEM. void_sm_fini is safe after failure. */
int void_sm_init(struct void_sm *sm, const struct void_sm_config *config);

/* Frees the tables. Safe on a zeroed or failed struct. */
void void_sm_fini(struct void_sm *sm);

/* Empties the state (keys, versions, clients, horizon). Cannot fail. */
void void_sm_reset(struct void_sm *sm);

/* The stamp that a batch with primary-chosen timestamp hlc gets: hlc, or the
 * successor of the previous batch's stamp if that is not smaller. Call once
 * per batch, before executing its requests. Cannot fail. */
struct void_hlc_ts void_sm_begin_batch(struct void_sm *sm, struct void_hlc_ts hlc);

/* Executes request (client, reqno, op[0..op_len)) at the stamp of the current
 * batch and writes the encoded result to result (capacity cap >=
 * VOID_SM_RESULT_MAX), setting *result_len. At most once: a reqno equal to the
 * client's last returns the cached result without executing again; a smaller
 * one returns a VOID_SM_STALE result. A malformed op gives a VOID_SM_BAD_OP
 * result (it is still recorded, so every replica agrees). Returns 0, or
 * VOID_EFULL if cap is too small. op is borrowed for the call. */
int void_sm_execute(struct void_sm *sm,
                    uint32_t client,
                    uint64_t reqno,
                    const uint8_t *op,
                    size_t op_len,
                    uint8_t *result,
                    size_t cap,
                    size_t *result_len);

/* Looks up the cached reply of client: returns 1 and sets *reqno, *result and
 * *result_len (pointing into sm, valid until the next execute) when the
 * client is known, else 0. Cannot fail. */
int void_sm_client_last(const struct void_sm *sm,
                        uint32_t client,
                        uint64_t *reqno,
                        const uint8_t **result,
                        size_t *result_len);

/* Local, non-replicated read of the current (or, with as_of non-NULL, past)
 * value of key, for tests and the state inspector. Fills *out (value points
 * into sm, valid until the next execute). Cannot fail. */
void void_sm_read(const struct void_sm *sm,
                  const uint8_t *key,
                  size_t key_len,
                  const struct void_hlc_ts *as_of,
                  struct void_sm_result *out);

/* SHA-256 of the canonical snapshot: equal states have equal digests however
 * they were reached (including through a snapshot restore). Cannot fail. */
void void_sm_digest(struct void_sm *sm, uint8_t digest[VOID_SM_DIGEST_SIZE]);

/* Largest snapshot this state machine can produce (a function of its
 * capacities, <= VOID_SM_SNAPSHOT_MAX). Cannot fail. */
size_t void_sm_snapshot_max(const struct void_sm *sm);

/* Size of the canonical snapshot of the current state. Cannot fail. */
size_t void_sm_snapshot_size(const struct void_sm *sm);

/* Writes the canonical snapshot (keys sorted by bytes, each with its versions
 * newest first, then the client table sorted by id, the horizon and the last
 * stamp) to buf (capacity cap) and sets *len. Returns 0 or VOID_EFULL. */
int void_sm_snapshot_encode(struct void_sm *sm, uint8_t *buf, size_t cap, size_t *len);

/* Replaces the state with the snapshot buf[0..len) (borrowed). On failure the
 * state is empty. Returns 0, VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_FIELD
 * (a field out of range or keys out of order) or VOID_EFULL (more keys,
 * versions or clients than this state machine's capacity). */
int void_sm_snapshot_decode(struct void_sm *sm, const uint8_t *buf, size_t len);

/* Operation and result encoding, for clients. Encoders return the length
 * written, or VOID_EINVAL (key empty or too long, value too long) or
 * VOID_EFULL (cap too small). Decoders point into buf (borrowed) and return 0,
 * VOID_ETRUNCATED, VOID_EBAD_TYPE (unknown kind) or VOID_EBAD_LENGTH. */
int void_sm_op_encode(const struct void_sm_op *op, uint8_t *buf, size_t cap);
int void_sm_op_decode(const uint8_t *buf, size_t len, struct void_sm_op *op);
int void_sm_result_encode(const struct void_sm_result *res, uint8_t *buf, size_t cap);
int void_sm_result_decode(const uint8_t *buf, size_t len, struct void_sm_result *res);

#endif

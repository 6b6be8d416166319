/*
 * BENCH pbft_core: committed requests per CPU-second of the PBFT replica core,
 * n = 4, in one process (no sockets, no disk), at batch sizes 1, 10 and 100,
 * with every message authenticated as the daemon does it (Ed25519 signatures,
 * MAC tags on requests, COMMITs and replies, SHA-256 digests).
 *
 * ours: CPU time of the four replicas per committed request (pre-signed and
 *       tagged client requests, as kvclient makes them, are fed to the
 *       primary; every frame is delivered to its destination replica, FIFO;
 *       replies are counted and dropped).
 * peer: the run's cryptography alone. The bench is linked with --wrap for
 *       every primitive the core calls (void_sign, void_keyring_verify,
 *       void_sign_verify, void_mac_compute, void_mac_verify,
 *       void_mac_key_derive, void_hash_init/update/final, void_hash_digest,
 *       void_hash_compute), so each call the replicas make during the timed
 *       run is logged with its length; the peer replays exactly those calls
 *       (same primitive, same domain, same lengths, same order within each
 *       primitive, valid signatures and tags) on the real functions, timing
 *       each primitive on its own. This is the physical floor of the design's
 *       authentication; the ratio is the protocol's overhead above its crypto
 *       (cost ratio: lower is better).
 *
 * Each batch size runs in paired rounds (ours, peer, peer, ours, ...) and
 * reports medians, with the floor split by primitive.
 */
#include "bench.h"
#include "void/codec.h"
#include "void/hash.h"
#include "void/mac.h"
#include "void/pbft.h"
#include "void/sign.h"
#include "void/sm.h"

#include <string.h>

#define N       4
#define CLIENTS 100
#define CBASE   100
#define ROUNDS  4

static int rounds = ROUNDS; /* 2 with VOID_BENCH_QUICK (the test of this bench) */

struct frame_q {
    uint8_t *buf[1 << 16];
    size_t len[1 << 16];
    uint32_t to[1 << 16];
    uint32_t head, tail;
};

static struct void_keyring ring;
static struct void_sign_keypair rkeys[N], ckeys[CLIENTS];
static uint8_t mac_keys[CLIENTS][N][VOID_MAC_KEY_SIZE]; /* client c with replica i */
static struct void_pbft_effect effects[VOID_PBFT_OUT_EFFECTS_DEF];
static uint8_t *arena;
static struct frame_q q;

/* ---- the crypto log: every primitive call of the replicas during a run ---- */
enum op_kind {
    OP_SIGN,
    OP_VERIFY,
    OP_MAC,
    OP_MAC_VERIFY,
    OP_HASH_INIT,
    OP_HASH_UPDATE,
    OP_HASH_FINAL,
    OP_DIGEST,
    OP_KEY_DERIVE,
    OP_KINDS
};
struct op {
    uint8_t kind;
    uint8_t arg; /* sign domain, or hash stream slot */
    uint32_t len;
};
#define OPS_MAX     (1u << 21)
#define HASH_SLOTS  8
static struct op ops[OPS_MAX];
static size_t nops;
static int logging;
static const void *hash_slot[HASH_SLOTS]; /* contexts open in the logged run */

static void log_op(enum op_kind kind, unsigned arg, size_t len)
{
    if (!logging) {
        return;
    }
    if (nops == OPS_MAX || len > UINT32_MAX) {
        fprintf(stderr, "bench_pbft_core: crypto log full\n");
        abort();
    }
    ops[nops++] = (struct op){.kind = (uint8_t)kind, .arg = (uint8_t)arg, .len = (uint32_t)len};
}

static unsigned hash_slot_of(const void *ctx, int open)
{
    for (unsigned i = 0; i < HASH_SLOTS; i++) {
        if (hash_slot[i] == ctx) {
            return i;
        }
    }
    for (unsigned i = 0; open && i < HASH_SLOTS; i++) {
        if (hash_slot[i] == NULL) {
            hash_slot[i] = ctx;
            return i;
        }
    }
    fprintf(stderr, "bench_pbft_core: hash context %s\n", open ? "table full" : "not open");
    abort();
}

int __real_void_sign(const struct void_sign_keypair *, enum void_sign_domain, const uint8_t *,
                     size_t, uint8_t *);
int __real_void_sign_verify(const uint8_t *, enum void_sign_domain, const uint8_t *, size_t,
                            const uint8_t *);
int __real_void_keyring_verify(const struct void_keyring *, uint32_t, enum void_sign_domain,
                               const uint8_t *, size_t, const uint8_t *);
void __real_void_mac_compute(const uint8_t *, const uint8_t *, size_t, uint8_t *);
int __real_void_mac_verify(const uint8_t *, const uint8_t *, size_t, const uint8_t *);
int __real_void_mac_key_derive(const struct void_sign_keypair *, const uint8_t *, uint8_t *);
void __real_void_hash_init(struct void_hash_ctx *);
void __real_void_hash_update(struct void_hash_ctx *, const void *, size_t);
void __real_void_hash_final(struct void_hash_ctx *, uint8_t *);
void __real_void_hash_digest(const void *, size_t, uint8_t *);
void __real_void_hash_compute(const void *, size_t, struct void_hash *);

/* The wrappers (prototypes only for -Wmissing-prototypes). */
int __wrap_void_sign(const struct void_sign_keypair *, enum void_sign_domain, const uint8_t *,
                     size_t, uint8_t *);
int __wrap_void_sign_verify(const uint8_t *, enum void_sign_domain, const uint8_t *, size_t,
                            const uint8_t *);
int __wrap_void_keyring_verify(const struct void_keyring *, uint32_t, enum void_sign_domain,
                               const uint8_t *, size_t, const uint8_t *);
void __wrap_void_mac_compute(const uint8_t *, const uint8_t *, size_t, uint8_t *);
int __wrap_void_mac_verify(const uint8_t *, const uint8_t *, size_t, const uint8_t *);
int __wrap_void_mac_key_derive(const struct void_sign_keypair *, const uint8_t *, uint8_t *);
void __wrap_void_hash_init(struct void_hash_ctx *);
void __wrap_void_hash_update(struct void_hash_ctx *, const void *, size_t);
void __wrap_void_hash_final(struct void_hash_ctx *, uint8_t *);
void __wrap_void_hash_digest(const void *, size_t, uint8_t *);
void __wrap_void_hash_compute(const void *, size_t, struct void_hash *);

int __wrap_void_sign(const struct void_sign_keypair *kp,
                     enum void_sign_domain d,
                     const uint8_t *m,
                     size_t len,
                     uint8_t *sig)
{
    log_op(OP_SIGN, (unsigned)d, len);
    return __real_void_sign(kp, d, m, len, sig);
}
int __wrap_void_sign_verify(
    const uint8_t *pk, enum void_sign_domain d, const uint8_t *m, size_t len, const uint8_t *sig)
{
    log_op(OP_VERIFY, (unsigned)d, len);
    return __real_void_sign_verify(pk, d, m, len, sig);
}
int __wrap_void_keyring_verify(const struct void_keyring *kr,
                               uint32_t id,
                               enum void_sign_domain d,
                               const uint8_t *m,
                               size_t len,
                               const uint8_t *sig)
{
    /* Calls void_sign_verify inside sign.c, which --wrap does not see. */
    log_op(OP_VERIFY, (unsigned)d, len);
    return __real_void_keyring_verify(kr, id, d, m, len, sig);
}
void __wrap_void_mac_compute(const uint8_t *key, const uint8_t *m, size_t len, uint8_t *tag)
{
    log_op(OP_MAC, 0, len);
    __real_void_mac_compute(key, m, len, tag);
}
int __wrap_void_mac_verify(const uint8_t *key, const uint8_t *m, size_t len, const uint8_t *tag)
{
    log_op(OP_MAC_VERIFY, 0, len);
    return __real_void_mac_verify(key, m, len, tag);
}
int __wrap_void_mac_key_derive(const struct void_sign_keypair *self, const uint8_t *pk, uint8_t *key)
{
    log_op(OP_KEY_DERIVE, 0, 0);
    return __real_void_mac_key_derive(self, pk, key);
}
void __wrap_void_hash_init(struct void_hash_ctx *c)
{
    if (logging) {
        log_op(OP_HASH_INIT, hash_slot_of(c, 1), 0);
    }
    __real_void_hash_init(c);
}
void __wrap_void_hash_update(struct void_hash_ctx *c, const void *m, size_t len)
{
    if (logging) {
        log_op(OP_HASH_UPDATE, hash_slot_of(c, 0), len);
    }
    __real_void_hash_update(c, m, len);
}
void __wrap_void_hash_final(struct void_hash_ctx *c, uint8_t *out)
{
    if (logging) {
        unsigned slot = hash_slot_of(c, 0);
        hash_slot[slot] = NULL;
        log_op(OP_HASH_FINAL, slot, 0);
    }
    __real_void_hash_final(c, out);
}
void __wrap_void_hash_digest(const void *m, size_t len, uint8_t *out)
{
    log_op(OP_DIGEST, 0, len);
    __real_void_hash_digest(m, len, out);
}
void __wrap_void_hash_compute(const void *m, size_t len, struct void_hash *out)
{
    log_op(OP_DIGEST, 0, len);
    __real_void_hash_compute(m, len, out);
}

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void keys_init(void)
{
    uint8_t seed[32] = {0};
    void_keyring_init(&ring);
    for (uint32_t i = 0; i < N + CLIENTS; i++) {
        uint32_t id = i < N ? i : CBASE + i - N;
        struct void_sign_keypair *kp = i < N ? &rkeys[i] : &ckeys[i - N];
        memcpy(seed, &id, sizeof(id));
        if (void_sign_keypair_from_seed(kp, seed) != 0 ||
            void_keyring_add(&ring, id, kp->public_key) != 0) {
            abort();
        }
    }
    for (uint32_t c = 0; c < CLIENTS; c++) {
        for (uint32_t i = 0; i < N; i++) {
            if (void_mac_key_derive(&ckeys[c], rkeys[i].public_key, mac_keys[c][i]) != 0) {
                abort();
            }
        }
    }
}

/* A signed and tagged request frame for request i (client i % CLIENTS). */
static size_t make_request(uint64_t i, uint8_t *frame, size_t cap)
{
    uint8_t op[64];
    struct void_sm_op o = {.kind = VOID_SM_OP_PUT,
                           .key = (const uint8_t *)"bench-key-0000",
                           .key_len = 14,
                           .value = (const uint8_t *)"a-value-of-32-bytes-for-the-run.",
                           .value_len = 32};
    int olen = void_sm_op_encode(&o, op, sizeof(op));
    op[3 + 10] = (uint8_t)('0' + i % 10);
    uint32_t c = (uint32_t)(i % CLIENTS);
    struct void_pbft_request m = {.client = CBASE + c,
                                  .hlc = {1, 0},
                                  .reqno = i / CLIENTS + 1,
                                  .repliers = VOID_PBFT_REPLIERS_ALL,
                                  .op = op,
                                  .op_len = (uint16_t)olen,
                                  .mac_count = N,
                                  .mac_keys = (const uint8_t(*)[VOID_MAC_KEY_SIZE])mac_keys[c]};
    int rlen = olen > 0 ? void_pbft_request_encode(&m, &ckeys[c], frame, cap) : -1;
    if (rlen <= 0) {
        abort();
    }
    return (size_t)rlen;
}

static void enqueue(uint32_t to, const uint8_t *f, size_t len)
{
    uint32_t k = q.tail++ & 0xffff;
    if (q.tail - q.head > 0xffff) {
        abort();
    }
    q.buf[k] = realloc(q.buf[k], len);
    memcpy(q.buf[k], f, len);
    q.len[k] = len;
    q.to[k] = to;
}

static void apply(uint32_t self, struct void_pbft_out *out)
{
    for (uint32_t k = 0; k < out->count; k++) {
        const struct void_pbft_effect *e = &out->effects[k];
        if (e->kind != VOID_PBFT_EFFECT_SEND) {
            continue;
        }
        if (e->u.send.to == VOID_PBFT_TO_ALL) {
            for (uint32_t j = 0; j < N; j++) {
                if (j != self) {
                    enqueue(j, e->u.send.frame, e->u.send.len);
                }
            }
        } else if (e->u.send.to < N) {
            enqueue(e->u.send.to, e->u.send.frame, e->u.send.len);
        }
    }
    void_pbft_out_reset(out);
}

static void deliver(struct void_pbft **rep,
                    struct void_pbft_out *out,
                    uint32_t to,
                    const uint8_t *f,
                    size_t len,
                    uint64_t now)
{
    if (void_pbft_step_receive(rep[to], now, f, len, out) != 0) {
        abort();
    }
    apply(to, out);
}

/* One run: total requests in batches of batch. Returns CPU ns per request. */
static double
run_ours(uint32_t batch, uint64_t total, uint8_t **reqs, size_t *req_len, double *batch_avg)
{
    struct void_pbft *rep[N];
    struct void_pbft_out out;
    void_pbft_out_init(&out, effects, VOID_PBFT_OUT_EFFECTS_DEF, arena, VOID_PBFT_OUT_ARENA_DEF);
    for (uint32_t i = 0; i < N; i++) {
        rep[i] = calloc(1, sizeof(struct void_pbft));
        struct void_pbft_config c = {.n = N,
                                     .self = i,
                                     .batch_max = batch,
                                     .pipeline_max = 1,
                                     .checkpoint_interval = 16,
                                     .window = 64,
                                     .verify_signatures = 1,
                                     .request_timeout_ns = 1000000000000ull,
                                     .keyring = &ring,
                                     .keypair = &rkeys[i]};
        if (rep[i] == NULL || void_pbft_init(rep[i], &c) != 0 ||
            void_pbft_start(rep[i], 1, &out) != 0) {
            abort();
        }
        void_pbft_out_reset(&out);
    }
    nops = 0;
    memset(hash_slot, 0, sizeof(hash_slot));
    logging = 1;
    uint64_t now = 1000000000ull, next = 0, fed_at = 0;
    double t0 = cpu_ns();
    /* Warm-up batch of one request fills the pipeline; each time the primary
     * cuts a new batch, the next `batch` requests arrive while it is in flight. */
    deliver(rep, &out, 0, reqs[next], req_len[next], now);
    next++;
    while (q.head != q.tail || next < total) {
        if (rep[0]->next_seq != fed_at && next < total) {
            fed_at = rep[0]->next_seq;
            /* As many as one batch holds (count and bytes): a request left
             * over would be replaced by its client's next one. */
            size_t bytes = 0;
            for (uint32_t k = 0;
                 k < batch && next < total && bytes + req_len[next] <= VOID_PBFT_BATCH_BYTES_MAX;
                 k++, next++) {
                bytes += req_len[next];
                deliver(rep, &out, 0, reqs[next], req_len[next], now);
            }
        }
        if (q.head == q.tail) {
            break;
        }
        uint32_t k = q.head++ & 0xffff;
        now += 1000;
        deliver(rep, &out, q.to[k], q.buf[k], q.len[k], now);
    }
    double t = cpu_ns() - t0;
    logging = 0;
    uint64_t executed = void_pbft_stats(rep[1])->requests_executed;
    if (executed != total) {
        fprintf(stderr,
                "bench_pbft_core: executed %llu of %llu\n",
                (unsigned long long)executed,
                (unsigned long long)total);
        abort();
    }
    *batch_avg = (double)executed / (double)void_pbft_stats(rep[1])->batches_committed;
    /* The log must hold what the replicas say they did. */
    uint64_t signs = 0, verifies = 0, logged_signs = 0, logged_verifies = 0;
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *st = void_pbft_stats(rep[i]);
        verifies += st->verifies;
        signs += st->signs;
        void_pbft_fini(rep[i]);
        free(rep[i]);
    }
    for (size_t i = 0; i < nops; i++) {
        logged_signs += ops[i].kind == OP_SIGN;
        logged_verifies += ops[i].kind == OP_VERIFY;
    }
    if (logged_signs != signs || logged_verifies != verifies) {
        fprintf(stderr,
                "bench_pbft_core: logged %llu signs, %llu verifies; the replicas count %llu, %llu\n",
                (unsigned long long)logged_signs,
                (unsigned long long)logged_verifies,
                (unsigned long long)signs,
                (unsigned long long)verifies);
        abort();
    }
    return t / (double)total;
}

static uint8_t msg[VOID_CODEC_FRAME_MAX];

static const char *const op_name[OP_KINDS] = {"Ed25519 sign", "Ed25519 verify", "MAC tag",
                                              "MAC check", "", "", "", "SHA-256",
                                              "X25519 key"};

/* Valid signatures and tags for every (domain, length) the replay checks,
 * made before the timed part: a check that fails would cost what one that
 * passes costs, but the replay should be the run's work exactly. */
#define LEN_SLOTS (1u << 16)
static uint8_t sig_for[VOID_SIGN_DOMAIN_COUNT][LEN_SLOTS][VOID_SIGN_SIZE];
static uint32_t sig_have[VOID_SIGN_DOMAIN_COUNT][LEN_SLOTS]; /* len + 1 when made */
static uint8_t tag_for[LEN_SLOTS][VOID_MAC_SIZE];
static uint32_t tag_have[LEN_SLOTS];
static const uint8_t replay_key[VOID_MAC_KEY_SIZE] = {7};

static void replay_prepare(void)
{
    for (size_t i = 0; i < nops; i++) {
        const struct op *o = &ops[i];
        uint32_t h = o->len & (LEN_SLOTS - 1);
        if (o->kind == OP_VERIFY && sig_have[o->arg][h] != o->len + 1) {
            if (__real_void_sign(&rkeys[1],
                                 (enum void_sign_domain)o->arg,
                                 msg,
                                 o->len,
                                 sig_for[o->arg][h]) != 0) {
                abort();
            }
            sig_have[o->arg][h] = o->len + 1;
        } else if (o->kind == OP_MAC_VERIFY && tag_have[h] != o->len + 1) {
            __real_void_mac_compute(replay_key, msg, o->len, tag_for[h]);
            tag_have[h] = o->len + 1;
        }
    }
}

/* Replays the logged calls of the kinds in mask on the real functions;
 * returns the CPU ns they took. */
static double replay(unsigned mask)
{
    uint8_t out[VOID_SIGN_SIZE], key[VOID_MAC_KEY_SIZE];
    struct void_hash_ctx ctx[HASH_SLOTS];
    double t0 = cpu_ns();
    for (size_t i = 0; i < nops; i++) {
        const struct op *o = &ops[i];
        uint32_t h = o->len & (LEN_SLOTS - 1);
        if (!(mask & (1u << o->kind))) {
            continue;
        }
        int rc = 0;
        switch ((enum op_kind)o->kind) {
        case OP_SIGN:
            rc = __real_void_sign(&rkeys[1], (enum void_sign_domain)o->arg, msg, o->len, out);
            break;
        case OP_VERIFY:
            rc = sig_have[o->arg][h] != o->len + 1 ||
                 __real_void_sign_verify(rkeys[1].public_key,
                                         (enum void_sign_domain)o->arg,
                                         msg,
                                         o->len,
                                         sig_for[o->arg][h]) != 0;
            break;
        case OP_MAC:
            __real_void_mac_compute(replay_key, msg, o->len, out);
            break;
        case OP_MAC_VERIFY:
            rc = tag_have[h] != o->len + 1 ||
                 __real_void_mac_verify(replay_key, msg, o->len, tag_for[h]) != 0;
            break;
        case OP_HASH_INIT:
            __real_void_hash_init(&ctx[o->arg]);
            break;
        case OP_HASH_UPDATE:
            __real_void_hash_update(&ctx[o->arg], msg, o->len);
            break;
        case OP_HASH_FINAL:
            __real_void_hash_final(&ctx[o->arg], out);
            break;
        case OP_DIGEST:
            __real_void_hash_digest(msg, o->len, out);
            break;
        case OP_KEY_DERIVE:
            rc = __real_void_mac_key_derive(&rkeys[0], ckeys[i % CLIENTS].public_key, key);
            break;
        case OP_KINDS:
            abort();
        }
        if (rc != 0) {
            fprintf(stderr, "bench_pbft_core: replayed %s failed\n", op_name[o->kind]);
            abort();
        }
    }
    return cpu_ns() - t0;
}

/* The primitives timed apart: one mask each (SHA-256 covers one-shot
 * digests and incremental streams). */
#define PRIMS 6
static const unsigned prim_mask[PRIMS] = {
    1u << OP_SIGN,
    1u << OP_VERIFY,
    1u << OP_MAC,
    1u << OP_MAC_VERIFY,
    (1u << OP_HASH_INIT) | (1u << OP_HASH_UPDATE) | (1u << OP_HASH_FINAL) | (1u << OP_DIGEST),
    1u << OP_KEY_DERIVE};
static const enum op_kind prim_kind[PRIMS] = {
    OP_SIGN, OP_VERIFY, OP_MAC, OP_MAC_VERIFY, OP_DIGEST, OP_KEY_DERIVE};

/* The run's crypto, replayed: ns per request in all, and per primitive. */
static double run_peer(uint64_t total, double per_prim[PRIMS])
{
    double sum = 0;
    for (int k = 0; k < PRIMS; k++) {
        per_prim[k] = replay(prim_mask[k]) / (double)total;
        sum += per_prim[k];
    }
    return sum;
}

/* Calls per run of each primitive, and bytes each one covered. */
static void count_ops(size_t calls[PRIMS], size_t bytes[PRIMS])
{
    memset(calls, 0, PRIMS * sizeof(calls[0]));
    memset(bytes, 0, PRIMS * sizeof(bytes[0]));
    for (size_t i = 0; i < nops; i++) {
        for (int k = 0; k < PRIMS; k++) {
            if (prim_mask[k] & (1u << ops[i].kind)) {
                /* A digest is counted at its end (one-shot or final). */
                calls[k] += ops[i].kind != OP_HASH_INIT && ops[i].kind != OP_HASH_UPDATE;
                bytes[k] += ops[i].len;
            }
        }
    }
}

static void bench_batch(const char *name, uint32_t batch, uint64_t total)
{
    uint8_t **reqs = malloc(total * sizeof(*reqs));
    size_t *req_len = malloc(total * sizeof(*req_len));
    if (reqs == NULL || req_len == NULL) {
        abort();
    }
    for (uint64_t i = 0; i < total; i++) {
        reqs[i] = malloc(1024);
        if (reqs[i] == NULL) {
            abort();
        }
        req_len[i] = make_request(i, reqs[i], 1024);
    }
    double ours[ROUNDS], peer[ROUNDS], prim[ROUNDS][PRIMS], avg = 0;
    for (int r = 0; r < rounds; r++) {
        /* ABBA: ours then peer on even rounds, peer first on odd ones (the peer
         * replays the log of the previous ours run; the first round has one
         * of its own). */
        if (r == 0) {
            run_ours(batch, total, reqs, req_len, &avg);
            replay_prepare();
        }
        if (r % 2 == 0) {
            ours[r] = run_ours(batch, total, reqs, req_len, &avg) / 1000.0;
            replay_prepare();
            peer[r] = run_peer(total, prim[r]) / 1000.0;
        } else {
            peer[r] = run_peer(total, prim[r]) / 1000.0;
            ours[r] = run_ours(batch, total, reqs, req_len, &avg) / 1000.0;
            replay_prepare();
        }
    }
    double o[ROUNDS], med_prim[PRIMS];
    memcpy(o, ours, sizeof(o));
    double med = bench_median(o, rounds);
    size_t calls[PRIMS], bytes[PRIMS];
    count_ops(calls, bytes);
    printf("pbft_core batch=%u: avg batch %.1f, %.0f committed requests per CPU-second; "
           "crypto per request (calls, us):",
           batch,
           avg,
           1e6 / med);
    for (int k = 0; k < PRIMS; k++) {
        double v[ROUNDS];
        for (int r = 0; r < rounds; r++) {
            v[r] = prim[r][k] / 1000.0;
        }
        med_prim[k] = bench_median(v, rounds);
        printf("%s %s %.2f x %.1f B = %.2f",
               k ? "," : "",
               op_name[prim_kind[k]],
               (double)calls[k] / (double)total,
               calls[k] ? (double)bytes[k] / (double)calls[k] : 0.0,
               med_prim[k]);
    }
    printf("\n");
    bench_report_rounds(name,
                        "every signature, verify, MAC, SHA-256 and key derivation of the run",
                        "us",
                        ours,
                        peer,
                        rounds);
    for (uint64_t i = 0; i < total; i++) {
        free(reqs[i]);
    }
    free(reqs);
    free(req_len);
}

int main(void)
{
    if (void_sign_global_init() != 0) {
        return 1;
    }
    arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    if (arena == NULL) {
        return 1;
    }
    keys_init();
    if (getenv("VOID_BENCH_QUICK") != NULL) {
        /* A smoke run for tests/scripts/test_bench_pbft_core.sh. */
        rounds = 2;
        bench_batch("pbft_core_b10", 10, 200);
        free(arena);
        return 0;
    }
    bench_batch("pbft_core_b1", 1, 200);
    bench_batch("pbft_core_b10", 10, 1000);
    bench_batch("pbft_core", 100, 2000);
    free(arena);
    return 0;
}

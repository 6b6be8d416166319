/*
 * BENCH pbft_core: committed requests per CPU-second of the PBFT replica core,
 * n = 4, in one process (no sockets, no disk), at batch sizes 1, 10 and 100,
 * with real Ed25519 signatures on every message.
 *
 * ours: CPU time of the four replicas per committed request (pre-signed and
 *       tagged client requests, as kvclient makes them, are fed to the primary; every frame is
 * delivered to its destination replica, FIFO; replies are counted and dropped). peer: the
 * signatures alone: the same number of Ed25519 signs and verifies over messages of the same lengths
 * as the run made, replayed with libsodium through void_sign / void_sign_verify. This is the
 * physical floor of a design that signs every message; the ratio is the protocol's overhead above
 * it (cost ratio: lower is better).
 *
 * Each batch size runs in paired rounds (ours, peer, peer, ours, ...) and
 * reports medians. An extra line estimates the same message pattern with
 * pairwise HMAC-SHA256 authenticators instead of replica signatures (client
 * requests stay signed), to show what MACs would change.
 */
#include "bench.h"
#include "void/codec.h"
#include "void/mac.h"
#include "void/pbft.h"
#include "void/sign.h"
#include "void/sm.h"

#include <sodium.h>
#include <string.h>

#define N       4
#define CLIENTS 100
#define CBASE   100
#define ROUNDS  4
#define LOG_MAX (1u << 20)

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
static size_t sign_len[LOG_MAX], verify_len[LOG_MAX];
static size_t nsign, nverify, ninner, inner_len;

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
    inner_len = (size_t)rlen - VOID_SIGN_SIZE;
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
        /* A reply is signed through its batch's root, counted after the run. */
        if (nsign < LOG_MAX && e->u.send.msg_type != VOID_MSG_REPLY) {
            sign_len[nsign++] = e->u.send.len - VOID_SIGN_SIZE;
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
    if (nverify < LOG_MAX) {
        verify_len[nverify++] = len - VOID_SIGN_SIZE;
    }
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
    nsign = nverify = 0;
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
    uint64_t executed = void_pbft_stats(rep[1])->requests_executed;
    if (executed != total) {
        fprintf(stderr,
                "bench_pbft_core: executed %llu of %llu\n",
                (unsigned long long)executed,
                (unsigned long long)total);
        abort();
    }
    *batch_avg = (double)executed / (double)void_pbft_stats(rep[1])->batches_committed;
    /* Exact counts from the replicas: client signatures are checked once
     * per request by the primary and by a backup whose tag failed; the
     * other checks are of frames (not every delivered frame: surplus votes
     * go unchecked), and every sign beyond the frames sent is a reply root. */
    size_t verifies = 0, signs = 0;
    ninner = (size_t)total;
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *st = void_pbft_stats(rep[i]);
        verifies += st->verifies;
        signs += st->signs;
        ninner += st->macs_bad;
        void_pbft_fini(rep[i]);
        free(rep[i]);
    }
    if (verifies < ninner || verifies - ninner > nverify || signs < nsign) {
        abort();
    }
    nverify = verifies - ninner;
    for (size_t i = nsign; i < signs && nsign < LOG_MAX; i++) {
        sign_len[nsign++] = VOID_MERKLE_HASH_SIZE;
    }
    return t / (double)total;
}

static uint8_t msg[VOID_CODEC_FRAME_MAX];

/* The same signatures, replayed: ns per request. Valid signatures for every
 * length to verify are made first, outside the timed part. */
static double run_peer(uint64_t total)
{
    uint8_t sig[VOID_SIGN_SIZE];
    static uint8_t sig_for[1 << 16][VOID_SIGN_SIZE];
    static size_t have_len[1 << 16];
    for (size_t i = 0; i < nverify; i++) {
        size_t h = verify_len[i] & 0xffff;
        if (have_len[h] != verify_len[i] + 1) {
            void_sign(&rkeys[1], VOID_SIGN_DOMAIN_FRAME, msg, verify_len[i], sig_for[h]);
            have_len[h] = verify_len[i] + 1;
        }
    }
    uint8_t inner_sig[VOID_SIGN_SIZE];
    void_sign(&rkeys[1], VOID_SIGN_DOMAIN_FRAME, msg, inner_len, inner_sig);
    double t0 = cpu_ns();
    for (size_t i = 0; i < nsign; i++) {
        void_sign(&rkeys[1], VOID_SIGN_DOMAIN_FRAME, msg, sign_len[i], sig);
    }
    for (size_t i = 0; i < nverify; i++) {
        size_t h = verify_len[i] & 0xffff;
        if (have_len[h] != verify_len[i] + 1 ||
            void_sign_verify(
                rkeys[1].public_key, VOID_SIGN_DOMAIN_FRAME, msg, verify_len[i], sig_for[h]) != 0) {
            abort();
        }
    }
    for (size_t i = 0; i < ninner; i++) {
        if (void_sign_verify(
                rkeys[1].public_key, VOID_SIGN_DOMAIN_FRAME, msg, inner_len, inner_sig) != 0) {
            abort();
        }
    }
    return (cpu_ns() - t0) / (double)total;
}

/* The same pattern with HMAC-SHA256 authenticators on replica messages: one
 * MAC per receiver per message instead of a signature, the client requests
 * still verified once per replica. ns per request. */
static double run_mac(uint64_t total)
{
    uint8_t key[crypto_auth_hmacsha256_KEYBYTES] = {1}, mac[crypto_auth_hmacsha256_BYTES],
            sig[VOID_SIGN_SIZE];
    double t0 = cpu_ns();
    for (size_t i = 0; i < nsign; i++) {
        for (int r = 0; r < N - 1; r++) {
            crypto_auth_hmacsha256(mac, msg, sign_len[i], key);
        }
    }
    for (size_t i = 0; i < nverify; i++) {
        crypto_auth_hmacsha256(mac, msg, verify_len[i], key);
    }
    void_sign(&rkeys[1], VOID_SIGN_DOMAIN_FRAME, msg, inner_len, sig);
    for (size_t i = 0; i < ninner; i++) {
        if (void_sign_verify(rkeys[1].public_key, VOID_SIGN_DOMAIN_FRAME, msg, inner_len, sig) !=
            0) {
            abort();
        }
    }
    return (cpu_ns() - t0) / (double)total;
}

static void bench_batch(const char *name, uint32_t batch, uint64_t total)
{
    uint8_t **reqs = malloc(total * sizeof(*reqs));
    size_t *req_len = malloc(total * sizeof(*req_len));
    for (uint64_t i = 0; i < total; i++) {
        reqs[i] = malloc(1024);
        req_len[i] = make_request(i, reqs[i], 1024);
    }
    double ours[ROUNDS], peer[ROUNDS], mac = 0, avg = 0;
    for (int r = 0; r < ROUNDS; r++) {
        /* ABBA: ours then peer on even rounds, peer first on odd ones (the peer
         * replays the log of the previous ours run). */
        if (r % 2 == 0) {
            ours[r] = run_ours(batch, total, reqs, req_len, &avg) / 1000.0;
            peer[r] = run_peer(total) / 1000.0;
        } else {
            peer[r] = run_peer(total) / 1000.0;
            ours[r] = run_ours(batch, total, reqs, req_len, &avg) / 1000.0;
        }
        mac += run_mac(total) / 1000.0 / ROUNDS;
    }
    double o[ROUNDS];
    memcpy(o, ours, sizeof(o));
    double med = bench_median(o, ROUNDS);
    printf("pbft_core batch=%u: avg batch %.1f, %.0f committed requests per CPU-second, "
           "%zu signs + %zu frame verifies + %zu client verifies per run; with HMAC authenticators "
           "the crypto floor would be %.1f us/request\n",
           batch,
           avg,
           1e6 / med,
           nsign,
           nverify,
           ninner,
           mac);
    bench_report_rounds(name, "Ed25519 sign+verify of the same messages", "us", ours, peer, ROUNDS);
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
    bench_batch("pbft_core_b1", 1, 200);
    bench_batch("pbft_core_b10", 10, 1000);
    bench_batch("pbft_core", 100, 2000);
    free(arena);
    return 0;
}

/*
 * voidload lin: a concurrent history against a live cluster, checked for
 * linearizability with the simulator's checker (void_check_linearizable).
 *
 * C clients issue a random mix of put, get, cas and delete on a few keys, one
 * operation outstanding each, and record every invocation and return with
 * wall-clock times. Values are unique 64-bit names written as decimal text,
 * so a read tells exactly which write it saw. After the run (during which a
 * test may kill the primary), operations that never returned stay pending:
 * the checker lets them take effect at any time after their invocation, or
 * never. Exit status 0 when linearizable, 1 when not or undecided.
 */
#include "cmd/voidload.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/prng.h"
#include "void/sim_check.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIN_OPS_MAX  (1u << 20)
#define LIN_GRACE_NS (20ull * 1000 * 1000 * 1000) /* wait for stragglers after the run */

struct lclient {
    struct void_kvclient kv;
    struct void_config config;
    struct void_prng prng;
    uint32_t index;
    uint64_t seq;
    size_t op;                            /* index of the outstanding op in the history */
    uint64_t seen[VOIDLOAD_LIN_KEYS_MAX]; /* last value observed per key, for cas */
};

static struct {
    uv_loop_t *loop;
    struct void_check_op *ops;
    size_t count;
    uint32_t keys;
    uint64_t end_ns;
    uint32_t active;
    int ordered_reads; /* 1: gets are ordered; 0: read-only requests */
    struct lclient *lc; /* the clients, until exit (their handles point here) */
} H;

static void lsubmit(struct lclient *c);

static uint64_t parse_value(const struct void_sm_result *res)
{
    char text[32];
    size_t n = res->value_len < sizeof(text) - 1 ? res->value_len : sizeof(text) - 1;
    memcpy(text, res->value, n);
    text[n] = '\0';
    return strtoull(text, NULL, 10);
}

static void ldone(void *ctx, const uint8_t *result, size_t len)
{
    struct lclient *c = ctx;
    struct void_check_op *op = &H.ops[c->op];
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0) {
        fprintf(stderr, "voidload lin: undecodable result\n");
        exit(1);
    }
    op->return_ns = void_kvclient_now_ns();
    op->completed = 1;
    if (op->kind == VOID_CHECK_GET) {
        op->out_value = res.status == VOID_SM_OK ? parse_value(&res) : 0;
        c->seen[op->key] = op->out_value;
    } else if (op->kind == VOID_CHECK_CAS) {
        op->out_ok = res.status == VOID_SM_OK;
        c->seen[op->key] = op->out_ok ? op->value : parse_value(&res);
    } else if (op->kind == VOID_CHECK_PUT) {
        c->seen[op->key] = op->value;
    }
    if (void_kvclient_now_ns() < H.end_ns && H.count < LIN_OPS_MAX) {
        lsubmit(c);
    } else {
        H.active--;
    }
}

/* Picks an operation, records its invocation and submits it. */
static void lsubmit(struct lclient *c)
{
    struct void_check_op *op = &H.ops[H.count];
    c->op = H.count++;
    memset(op, 0, sizeof(*op));
    uint64_t dice = void_prng_below(&c->prng, 100);
    uint64_t key = void_prng_below(&c->prng, H.keys);
    uint64_t value = ((uint64_t)(c->index + 1) << 32) | ++c->seq;
    op->client = c->index;
    op->key = key;
    op->kind = dice < 45   ? VOID_CHECK_PUT
               : dice < 85 ? VOID_CHECK_GET
               : dice < 95 ? VOID_CHECK_CAS
                           : VOID_CHECK_DEL;
    char k[16], v[24], e[24];
    snprintf(k, sizeof(k), "lin%llu", (unsigned long long)key);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
    struct void_sm_op sop = {.key = (const uint8_t *)k, .key_len = (uint16_t)strlen(k)};
    if (op->kind == VOID_CHECK_PUT || op->kind == VOID_CHECK_CAS) {
        op->value = value;
        sop.value = (const uint8_t *)v;
        sop.value_len = (uint16_t)strlen(v);
    }
    sop.kind = op->kind == VOID_CHECK_PUT   ? VOID_SM_OP_PUT
               : op->kind == VOID_CHECK_GET ? VOID_SM_OP_GET
               : op->kind == VOID_CHECK_CAS ? VOID_SM_OP_CAS
                                            : VOID_SM_OP_DELETE;
    if (op->kind == VOID_CHECK_CAS) {
        op->expected = c->seen[key];
        snprintf(e, sizeof(e), "%llu", (unsigned long long)op->expected);
        sop.expect_present = op->expected != 0;
        sop.expected = (const uint8_t *)e;
        sop.expected_len = op->expected != 0 ? (uint16_t)strlen(e) : 0;
    }
    static uint8_t buf[VOID_SM_OP_MAX]; /* two megabytes: not on the stack */
    int n = void_sm_op_encode(&sop, buf, sizeof(buf));
    op->invoke_ns = void_kvclient_now_ns();
    int read_only = op->kind == VOID_CHECK_GET && !H.ordered_reads;
    if (n < 0 || (read_only ? void_kvclient_submit_read(&c->kv, buf, (size_t)n, ldone, c)
                            : void_kvclient_submit(&c->kv, buf, (size_t)n, ldone, c)) != 0) {
        fprintf(stderr, "voidload lin: cannot submit\n");
        exit(1);
    }
}

static int lopen(struct lclient *lc, const char *dir, uint32_t clients)
{
    char path[1024], err[VOID_CONFIG_ERR_MAX];
    for (uint32_t i = 0; i < clients; i++) {
        snprintf(path, sizeof(path), "%s/client-%u.ini", dir, 100 + i);
        struct void_kvclient_config kc = {.loop = H.loop};
        if (void_config_load(&lc[i].config, path, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload lin: %s\n", err);
            return 1;
        }
        kc.cluster = &lc[i].config;
        kc.id = lc[i].config.self_id;
        kc.keypair = &lc[i].config.keypair;
        if (void_kvclient_init(&lc[i].kv, &kc, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload lin: %s\n", err);
            return 1;
        }
        lc[i].index = i;
        void_prng_seed(&lc[i].prng, 1000u + i);
    }
    return 0;
}

int voidload_lin(uv_loop_t *loop,
                 const char *dir,
                 uint32_t clients,
                 double secs,
                 uint32_t keys,
                 int ordered_reads)
{
    /* Allocated, not static (see run_void in voidload.c); kept in H until
     * exit: the handles of the clients' connections point into it. */
    struct lclient *lc = H.lc = calloc(VOIDLOAD_CLIENTS_MAX, sizeof(*lc));
    if (lc == NULL) {
        return 1;
    }
    H.loop = loop;
    H.keys = keys;
    H.ordered_reads = ordered_reads;
    H.ops = calloc(LIN_OPS_MAX, sizeof(*H.ops));
    if (H.ops == NULL || lopen(lc, dir, clients) != 0) {
        return 1;
    }
    H.end_ns = void_kvclient_now_ns() + (uint64_t)(secs * 1e9);
    H.active = clients;
    for (uint32_t i = 0; i < clients; i++) {
        lsubmit(&lc[i]);
    }
    uint64_t give_up = H.end_ns + LIN_GRACE_NS;
    while (H.active > 0 && void_kvclient_now_ns() < give_up) {
        uv_run(loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    size_t completed = 0;
    for (size_t i = 0; i < H.count; i++) {
        completed += H.ops[i].completed != 0;
    }
    char msg[VOID_CHECK_MSG_MAX] = "";
    int rc = void_check_linearizable(H.ops, H.count, 0, msg, sizeof(msg));
    printf("lin: ops=%zu completed=%zu pending=%zu keys=%u linearizable=%s%s%s\n",
           H.count,
           completed,
           H.count - completed,
           (unsigned)keys,
           rc == 0  ? "yes"
           : rc > 0 ? "NO"
                    : "undecided",
           msg[0] != '\0' ? " " : "",
           msg);
    uint64_t quorum = 0, ordered = 0;
    for (uint32_t i = 0; i < clients; i++) {
        quorum += lc[i].kv.core.stats.reads_quorum;
        ordered += lc[i].kv.core.stats.reads_ordered;
        void_kvclient_fini(&lc[i].kv);
        void_config_fini(&lc[i].config);
    }
    printf("lin: read-only gets: %llu by a quorum, %llu ordered instead%s\n",
           (unsigned long long)quorum,
           (unsigned long long)ordered,
           ordered_reads ? " (--ordered-reads: every get ordered)" : "");
    free(H.ops);
    return rc == 0 && completed > 0 ? 0 : 1;
}

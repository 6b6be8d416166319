/*
 * voidload: a closed-loop load generator for key/value puts that drives a
 * Void cluster and an etcd cluster the same way, for the kv_put bench.
 *
 * C clients each keep exactly one put outstanding and send the next as soon
 * as the previous one is acknowledged (closed loop), for a fixed time, with
 * values of the same size and distinct keys. All clients run on one libuv
 * loop in this process, so the generator costs both systems the same. For
 * Void a put is acknowledged by f + 1 matching PBFT replies (each client has
 * its own id and Ed25519 key, as the protocol wants); for etcd it is the
 * HTTP 200 of the v3 JSON gateway's /v3/kv/put on a keep-alive connection,
 * clients spread round-robin over the members (etcd forwards to its leader).
 * Both write durably: Void commits to LMDB with fsync, etcd fsyncs its WAL.
 *
 * Output: one line "mode=... clients=C ops=N secs=S ops_per_s=X p50_us=...
 * p99_us=..." on stdout.
 */
#include "cmd/voidload.h"

#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sign.h"
#include "void/sm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS_MAX VOIDLOAD_CLIENTS_MAX
#define SAMPLES_MAX (4u << 20)
/* Each client cycles over this many keys: the replicated state has a fixed
 * key capacity (VOID_SM_KEYS_DEF), and overwrites exercise MVCC pruning. */
#define KEYS_PER_CLIENT 8

struct load {
    uv_loop_t loop;
    uint32_t value_size;
    uint64_t end_ns;
    uint64_t started_ns;
    int running;
    uint32_t *lat_us;
    size_t samples;
    uint32_t active;
    uint64_t retries; /* client retransmissions (void): a request's retry timer fired */
};

static struct load L;

static void record(uint64_t start_ns)
{
    uint64_t us = (void_kvclient_now_ns() - start_ns) / 1000u;
    if (L.samples < SAMPLES_MAX) {
        L.lat_us[L.samples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
}

/* ---- Void -----------------------------------------------------------------
 */

struct vclient {
    struct void_kvclient kv;
    struct void_config config;
    uint32_t index;
    uint64_t count;
};

static void vsubmit(struct vclient *c);

static void vdone(void *ctx, const uint8_t *result, size_t len)
{
    struct vclient *c = ctx;
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0 || res.status != VOID_SM_OK) {
        fprintf(stderr, "voidload: put failed (status %d)\n", (int)res.status);
        exit(1);
    }
    record(c->kv.submitted_ns);
    c->count++;
    if (void_kvclient_now_ns() < L.end_ns) {
        vsubmit(c);
    } else {
        L.active--;
    }
}

static void vsubmit(struct vclient *c)
{
    char key[32];
    uint8_t value[VOID_SM_VALUE_MAX];
    memset(value, 'v', sizeof(value));
    int klen = snprintf(key,
                        sizeof(key),
                        "c%u-%llu",
                        (unsigned)c->index,
                        (unsigned long long)(c->count % KEYS_PER_CLIENT));
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)klen,
                            .value = value,
                            .value_len = (uint16_t)L.value_size};
    uint8_t buf[VOID_SM_OP_MAX];
    int n = void_sm_op_encode(&op, buf, sizeof(buf));
    if (n < 0 || void_kvclient_submit(&c->kv, buf, (size_t)n, vdone, c) != 0) {
        fprintf(stderr, "voidload: cannot submit\n");
        exit(1);
    }
}

static int run_void(const char *dir, uint32_t clients, double secs)
{
    static struct vclient vc[CLIENTS_MAX];
    /* Each client authenticates the replies it uses on its own, by the tag
     * each replica adds for it (docs/wire.md, REPLY): no check is shared. */
    char path[1024], err[VOID_CONFIG_ERR_MAX];
    for (uint32_t i = 0; i < clients; i++) {
        snprintf(path, sizeof(path), "%s/client-%u.ini", dir, 100 + i);
        if (void_config_load(&vc[i].config, path, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload: %s\n", err);
            return 1;
        }
        struct void_kvclient_config kc = {.loop = &L.loop,
                                          .cluster = &vc[i].config,
                                          .id = vc[i].config.self_id,
                                          .keypair = &vc[i].config.keypair,
                                          .retry_ns = 2000000000ull /* no retries under load */};
        if (void_kvclient_init(&vc[i].kv, &kc, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload: %s\n", err);
            return 1;
        }
        vc[i].index = i;
    }
    /* Wait until every client reaches every replica; after 1 s, n - f of
     * them will do (a replica may be down); at most 5 s in all. */
    uint64_t t0 = void_kvclient_now_ns();
    for (uint32_t i = 0; i < clients && void_kvclient_now_ns() < t0 + 5000000000ull;) {
        uint32_t n = vc[i].config.count_replicas;
        uint32_t want = void_kvclient_now_ns() < t0 + 1000000000ull ? n : n - (n - 1) / 3;
        if (void_kvclient_connected(&vc[i].kv) >= want) {
            i++;
        } else {
            uv_run(&L.loop, UV_RUN_ONCE);
        }
    }
    L.started_ns = void_kvclient_now_ns();
    L.end_ns = L.started_ns + (uint64_t)(secs * 1e9);
    L.active = clients;
    for (uint32_t i = 0; i < clients; i++) {
        vsubmit(&vc[i]);
    }
    while (L.active > 0) {
        uv_run(&L.loop, UV_RUN_ONCE);
    }
    for (uint32_t i = 0; i < clients; i++) {
        L.retries += vc[i].kv.core.stats.retries;
        void_kvclient_fini(&vc[i].kv);
        void_config_fini(&vc[i].config);
    }
    return 0;
}

/* ---- etcd -----------------------------------------------------------------
 */

struct eclient {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uint32_t index;
    uint64_t count;
    uint64_t start_ns;
    char req[1024];
    char rx[8192];
    size_t rx_len;
};

static void b64(const uint8_t *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < len ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
}

static void esubmit(struct eclient *c);

static void on_ewrite(uv_write_t *req, int status)
{
    if (status < 0) {
        fprintf(stderr, "voidload: etcd write: %s\n", uv_strerror(status));
        exit(1);
    }
    (void)req;
}

static void on_ealloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct eclient *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rx + c->rx_len, (unsigned)(sizeof(c->rx) - c->rx_len - 1));
}

/* A response is complete when the headers and Content-Length bytes are in. */
static int response_complete(struct eclient *c)
{
    c->rx[c->rx_len] = '\0';
    char *end = strstr(c->rx, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }
    const char *cl = strstr(c->rx, "Content-Length:");
    if (cl == NULL) {
        cl = strstr(c->rx, "content-length:");
    }
    size_t body = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
    if (c->rx_len < (size_t)(end + 4 - c->rx) + body) {
        return 0;
    }
    if (strncmp(c->rx, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "voidload: etcd answered: %.80s\n", c->rx);
        exit(1);
    }
    return 1;
}

static void on_eread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct eclient *c = s->data;
    (void)buf;
    if (nread < 0) {
        fprintf(stderr, "voidload: etcd connection: %s\n", uv_strerror((int)nread));
        exit(1);
    }
    c->rx_len += (size_t)nread;
    if (!response_complete(c)) {
        return;
    }
    c->rx_len = 0;
    record(c->start_ns);
    c->count++;
    if (void_kvclient_now_ns() < L.end_ns) {
        esubmit(c);
    } else {
        L.active--;
        uv_read_stop(s);
        uv_close((uv_handle_t *)&c->tcp, NULL);
    }
}

static void esubmit(struct eclient *c)
{
    char key[32], kb64[64], vb64[VOID_SM_VALUE_MAX * 2], body[VOID_SM_VALUE_MAX * 2 + 128];
    uint8_t value[VOID_SM_VALUE_MAX];
    memset(value, 'v', sizeof(value));
    int klen = snprintf(key,
                        sizeof(key),
                        "c%u-%llu",
                        (unsigned)c->index,
                        (unsigned long long)(c->count % KEYS_PER_CLIENT));
    b64((const uint8_t *)key, (size_t)klen, kb64);
    b64(value, L.value_size, vb64);
    int blen = snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", kb64, vb64);
    int n = snprintf(c->req,
                     sizeof(c->req),
                     "POST /v3/kv/put HTTP/1.1\r\nHost: etcd\r\nContent-Type: "
                     "application/json\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     blen,
                     body);
    uv_buf_t b = uv_buf_init(c->req, (unsigned)n);
    c->start_ns = void_kvclient_now_ns();
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_ewrite) != 0) {
        fprintf(stderr, "voidload: etcd write failed\n");
        exit(1);
    }
}

static uint32_t econnected;

static void on_econnect(uv_connect_t *req, int status)
{
    struct eclient *c = req->data;
    if (status < 0) {
        fprintf(stderr, "voidload: cannot connect to etcd: %s\n", uv_strerror(status));
        exit(1);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_ealloc, on_eread);
    econnected++;
}

static int run_etcd(char *endpoints, uint32_t clients, double secs)
{
    static struct eclient ec[CLIENTS_MAX];
    struct sockaddr_in addrs[8];
    uint32_t count = 0;
    for (char *tok = strtok(endpoints, ","); tok != NULL && count < 8; tok = strtok(NULL, ",")) {
        struct void_config_addr a;
        if (void_config_addr_parse(tok, &a) != 0 ||
            uv_ip4_addr(a.host, a.port, &addrs[count]) != 0) {
            fprintf(stderr, "voidload: bad endpoint %s\n", tok);
            return 2;
        }
        count++;
    }
    for (uint32_t i = 0; i < clients; i++) {
        ec[i].index = i;
        ec[i].tcp.data = &ec[i];
        ec[i].connect.data = &ec[i];
        uv_tcp_init(&L.loop, &ec[i].tcp);
        uv_tcp_connect(
            &ec[i].connect, &ec[i].tcp, (const struct sockaddr *)&addrs[i % count], on_econnect);
    }
    while (econnected < clients) {
        uv_run(&L.loop, UV_RUN_ONCE);
    }
    L.started_ns = void_kvclient_now_ns();
    L.end_ns = L.started_ns + (uint64_t)(secs * 1e9);
    L.active = clients;
    for (uint32_t i = 0; i < clients; i++) {
        esubmit(&ec[i]);
    }
    while (L.active > 0) {
        uv_run(&L.loop, UV_RUN_ONCE);
    }
    return 0;
}

/* ---- main -----------------------------------------------------------------
 */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidload void DIR | etcd HOST:PORT[,HOST:PORT...] | lin DIR\n"
            "                [--clients C] [--seconds S] [--value BYTES] [--keys K]\n"
            "void/etcd: closed-loop puts, prints throughput and latency percentiles.\n"
            "void: each client authenticates its replies alone (by their tags).\n"
            "lin: random put/get/cas/del on K keys, then a linearizability check.\n"
            "DIR is a scripts/cluster directory started with --clients >= C.\n");
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    uint32_t clients = 1;
    uint32_t keys = 4;
    double secs = 5;
    L.value_size = 100;
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "voidload: option '%s' needs a value\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--clients") == 0) {
            clients = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            secs = strtod(argv[i + 1], NULL);
        } else if (strcmp(argv[i], "--keys") == 0) {
            keys = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--value") == 0) {
            L.value_size = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "voidload: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (clients == 0 || clients > CLIENTS_MAX || L.value_size > VOID_SM_VALUE_MAX || secs <= 0 ||
        keys == 0 || keys > VOIDLOAD_LIN_KEYS_MAX) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    L.lat_us = malloc(SAMPLES_MAX * sizeof(uint32_t));
    uv_loop_init(&L.loop);
    void_sign_global_init();
    if (strcmp(argv[1], "lin") == 0) {
        return voidload_lin(&L.loop, argv[2], clients, secs, keys);
    }
    int rc = strcmp(argv[1], "void") == 0 ? run_void(argv[2], clients, secs)
                                          : run_etcd(argv[2], clients, secs);
    if (rc != 0) {
        return rc;
    }
    double elapsed = (double)(void_kvclient_now_ns() - L.started_ns) / 1e9;
    qsort(L.lat_us, L.samples, sizeof(uint32_t), cmp_u32);
    uint32_t p50 = L.samples > 0 ? L.lat_us[L.samples / 2] : 0;
    uint32_t p99 = L.samples > 0 ? L.lat_us[L.samples * 99 / 100] : 0;
    printf("mode=%s clients=%u ops=%zu secs=%.2f ops_per_s=%.0f p50_us=%u "
           "p99_us=%u retries=%llu\n",
           argv[1],
           (unsigned)clients,
           L.samples,
           elapsed,
           (double)L.samples / elapsed,
           (unsigned)p50,
           (unsigned)p99,
           (unsigned long long)L.retries);
    uv_run(&L.loop, UV_RUN_DEFAULT);
    free(L.lat_us);
    return 0;
}

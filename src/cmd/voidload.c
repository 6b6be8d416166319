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

#include "cmd/cli.h"
#include "cmd/voidctl_http.h"
#include "void/client_cert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sign.h"
#include "void/sm.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS_MAX   VOIDLOAD_CLIENTS_MAX
#define SAMPLES_MAX   (4u << 20) /* latencies kept for the percentiles */
#define SECONDS_MAX   86400.0    /* a run's length: one day */
#define ENDPOINTS_MAX 8          /* etcd members */
/* Each client cycles over this many keys (overwrites exercise MVCC
 * history), or with --distinct writes a new key every time (a state that
 * grows, issue 17). */
#define KEYS_PER_CLIENT 8
static uint64_t keys_per_client = KEYS_PER_CLIENT;
static unsigned distinct_run; /* --distinct: keys of this run, "r<run>-c<i>-<n>" */

/* The key of a client's count-th put; returns its length. */
static int load_key(uint32_t index, uint64_t count, char *key, size_t cap)
{
    if (keys_per_client == UINT64_MAX) {
        return snprintf(
            key, cap, "r%x-c%u-%llu", distinct_run, (unsigned)index, (unsigned long long)count);
    }
    return snprintf(key, cap, "c%u-%llu", (unsigned)index, (unsigned long long)(count % keys_per_client));
}

struct load {
    uv_loop_t loop;
    uint32_t value_size;
    uint64_t end_ns;
    uint64_t started_ns;
    int running;
    uint32_t *lat_us;
    size_t samples; /* latencies in lat_us: the first SAMPLES_MAX operations */
    uint64_t ops;   /* every acknowledged operation */
    uint32_t active;
    uint64_t retries; /* client retransmissions (void): a request's retry timer fired */
    uint64_t stale;   /* void: puts answered STALE (superseded) and sent again */
    /* void: client identities. session: every client's session (0: random).
     * With admin_key, client i is id first_id + i with a key of its own and
     * a certificate that the admin key signs here, instead of
     * DIR/client-<id>.ini's listed identity. retry_ns: first retry. */
    uint32_t session;
    const char *admin_key;
    uint32_t first_id;
    uint64_t retry_ns;
    /* Reads: reads_pct of the operations are gets of a key the client's
     * puts cycle over (void: read-only requests unless ordered_reads; etcd:
     * linearizable ranges). */
    uint32_t reads_pct;
    int ordered_reads;
    uint64_t reads_quorum, reads_ordered; /* void: how the read-only gets completed */
    /* The run's client table (struct vclient or struct eclient), allocated
     * per run and freed after the loop's last run has closed its handles. */
    void *clients;
    /* --timeline: one line per acknowledged operation, its completion time
     * in ns since the Unix epoch (CLOCK_REALTIME, so that a script can set
     * it against the moment it killed a node). */
    FILE *timeline;
    /* --count: the run ends once this many operations were sent and
     * answered (0: only the time ends it); issued counts those sent. */
    uint64_t count_max;
    uint64_t issued;
    /* --progress: a line on stderr every progress_ns (0: none). */
    uint64_t progress_ns;
    uint64_t progress_next_ns;
    uint64_t progress_ops; /* L.ops at the previous line */
};

static struct load L;

/* --progress: the line of an interval that has ended, if one has: the
 * operations so far, their rate over the run and over the interval (a
 * preload of a million keys runs for many minutes). */
static void progress(void)
{
    uint64_t now = void_kvclient_now_ns();
    if (L.progress_ns == 0 || now < L.progress_next_ns || L.started_ns == 0) {
        return;
    }
    double run = (double)(now - L.started_ns) / 1e9;
    double interval = (double)(now - L.progress_next_ns + L.progress_ns) / 1e9;
    fprintf(stderr,
            "progress: ops=%llu secs=%.0f ops_per_s=%.0f interval_per_s=%.0f retries=%llu\n",
            (unsigned long long)L.ops,
            run,
            run > 0 ? (double)L.ops / run : 0.0,
            interval > 0 ? (double)(L.ops - L.progress_ops) / interval : 0.0,
            (unsigned long long)L.retries);
    L.progress_ops = L.ops;
    L.progress_next_ns = now + L.progress_ns;
}

/* Whether a client sends another operation: while the run lasts and, with
 * --count, until that many were sent (each counts here, once). */
static int another(void)
{
    if (void_kvclient_now_ns() >= L.end_ns || (L.count_max > 0 && L.issued >= L.count_max)) {
        return 0;
    }
    L.issued++;
    return 1;
}

static void record(uint64_t start_ns)
{
    uint64_t us = (void_kvclient_now_ns() - start_ns) / 1000u;
    L.ops++;
    if (L.timeline != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(L.timeline, "%lld%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    }
    if (L.samples < SAMPLES_MAX) {
        L.lat_us[L.samples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    progress();
}

/* Whether a client's count-th operation is a get: reads_pct of them, spread
 * evenly. */
static int is_read(uint64_t count)
{
    return (count * L.reads_pct) % 100 < L.reads_pct;
}

/* ---- Void -----------------------------------------------------------------
 */

struct vclient {
    struct void_kvclient kv;
    struct void_config config;
    uint32_t index;
    uint64_t count;
};

/* Warm-up: one put per client before the clock starts, as the etcd clients
 * do. A replica admits at most 16 unauthenticated connections from one
 * address at once (VOID_TRANSPORT_UNAUTH_PER_ADDR_DEFAULT) and closes the
 * oldest beyond that; 64 clients connecting together lost about half their
 * first puts to it, which then waited for the 2 s retry inside the measured
 * run (bench/README.md, kv_put, 2026-12-07 putperf2). */
static int v_warming;
static uint32_t v_warm;
static uint64_t v_warm_retries; /* retransmissions during the warm-up, not counted */

static void vsubmit(struct vclient *c);

static void vdone(void *ctx, const uint8_t *result, size_t len)
{
    struct vclient *c = ctx;
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0) {
        fprintf(stderr, "voidload: put failed: undecodable result (%zu bytes)\n", len);
        exit(1);
    }
    if (res.status == VOID_SM_STALE) {
        /* Another process of this identity and session numbered above us:
         * the core numbers the next request above it; send the put again. */
        L.stale++;
        vsubmit(c);
        return;
    }
    int get = is_read(c->count);
    if (res.status != VOID_SM_OK && !(get && res.status == VOID_SM_NOT_FOUND)) {
        fprintf(stderr, "voidload: %s failed (status %d)\n", get ? "get" : "put", (int)res.status);
        exit(1);
    }
    if (v_warming) {
        c->count++;
        v_warm++;
        return;
    }
    record(c->kv.submitted_ns);
    c->count++;
    if (another()) {
        vsubmit(c);
    } else {
        L.active--;
    }
}

static void vsubmit(struct vclient *c)
{
    char key[64];
    /* Up to a megabyte each: static (one loop thread), the value filled once. */
    static uint8_t value[VOID_SM_VALUE_MAX], buf[VOID_SM_OP_MAX];
    if (value[0] != 'v') {
        memset(value, 'v', sizeof(value));
    }
    int klen = load_key(c->index, c->count, key, sizeof(key));
    int get = is_read(c->count);
    struct void_sm_op op = {.kind = get ? VOID_SM_OP_GET : VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)klen,
                            .value = get ? NULL : value,
                            .value_len = get ? 0 : L.value_size};
    int n = void_sm_op_encode(&op, buf, sizeof(buf));
    int rc = n < 0                     ? VOID_EINVAL
             : get && !L.ordered_reads ? void_kvclient_submit_read(&c->kv, buf, (size_t)n, vdone, c)
                                       : void_kvclient_submit(&c->kv, buf, (size_t)n, vdone, c);
    if (rc != 0) {
        fprintf(stderr, "voidload: cannot submit\n");
        exit(1);
    }
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    progress();
}

/* Makes client i a certified client of its own: id first_id + i, a fresh
 * key, and a certificate for both signed with the admin key (valid for a
 * day), in place of the identity its file listed. */
static int certify(struct void_config *c, uint32_t i, const struct void_sign_keypair *admin)
{
    struct void_client_cert cert = {.id = L.first_id + i,
                                    .expires_ns = void_kvclient_now_ns() + 86400ull * 1000000000u};
    void_sign_keypair_wipe(&c->keypair);
    int rc = void_sign_keypair_generate(&c->keypair);
    if (rc == 0) {
        memcpy(cert.public_key, c->keypair.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        rc = void_client_cert_issue(&cert, admin, c->client_cert);
    }
    c->self_id = cert.id;
    c->has_client_cert = rc == 0;
    return rc;
}

/* The client tables are allocated per run, not static: 235 MB of zeroed
 * statics cost every start and exit (the leak checker scans them), 1 s per
 * `voidload --help` in the sanitizer build. */
static int run_void_with(struct vclient *vc, const char *dir, uint32_t clients, double secs)
{
    /* Each client authenticates the replies it uses on its own, by the tag
     * each replica adds for it (docs/wire.md, REPLY): no check is shared. */
    char path[1024], err[VOID_CONFIG_ERR_MAX];
    struct void_sign_keypair admin;
    if (L.admin_key != NULL &&
        void_sign_keyfile_read_secret(L.admin_key, &admin, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidload: --admin-key: %s\n", err);
        return 1;
    }
    for (uint32_t i = 0; i < clients; i++) {
        /* Certified clients take the replicas from the first client's file. */
        snprintf(path, sizeof(path), "%s/client-%u.ini", dir, L.admin_key != NULL ? 100 : 100 + i);
        if (void_config_load(&vc[i].config, path, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload: %s\n", err);
            return 1;
        }
        if (L.admin_key != NULL && certify(&vc[i].config, i, &admin) != 0) {
            fprintf(
                stderr, "voidload: cannot issue the certificate of client %u\n", L.first_id + i);
            return 1;
        }
        struct void_kvclient_config kc = {.loop = &L.loop,
                                          .cluster = &vc[i].config,
                                          .id = vc[i].config.self_id,
                                          .keypair = &vc[i].config.keypair,
                                          .session = L.session,
                                          .retry_ns = L.retry_ns};
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
    v_warming = 1;
    v_warm = 0;
    for (uint32_t i = 0; i < clients; i++) {
        vsubmit(&vc[i]);
    }
    while (v_warm < clients) {
        uv_run(&L.loop, UV_RUN_ONCE);
    }
    v_warming = 0;
    v_warm_retries = 0;
    for (uint32_t i = 0; i < clients; i++) {
        v_warm_retries += vc[i].kv.core.stats.retries;
    }

    L.started_ns = void_kvclient_now_ns();
    L.end_ns = L.started_ns + (uint64_t)(secs * 1e9);
    L.progress_next_ns = L.started_ns + L.progress_ns;
    L.active = clients;
    for (uint32_t i = 0; i < clients; i++) {
        if (another()) {
            vsubmit(&vc[i]);
        } else {
            L.active--;
        }
    }
    /* --progress also when no put completes (a stalled cluster shows). */
    uv_timer_t tick;
    uv_timer_init(&L.loop, &tick);
    if (L.progress_ns > 0) {
        uv_timer_start(&tick, on_tick, 1000, 1000);
    }
    while (L.active > 0) {
        uv_run(&L.loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&L.loop, UV_RUN_NOWAIT);
    for (uint32_t i = 0; i < clients; i++) {
        L.retries += vc[i].kv.core.stats.retries;
        L.reads_quorum += vc[i].kv.core.stats.reads_quorum;
        L.reads_ordered += vc[i].kv.core.stats.reads_ordered;
        void_kvclient_fini(&vc[i].kv);
        void_config_fini(&vc[i].config);
    }
    L.retries -= v_warm_retries; /* the measured run's only */
    if (L.admin_key != NULL) {
        void_sign_keypair_wipe(&admin);
    }
    if (L.stale > 0) {
        fprintf(stderr,
                "voidload: %llu puts were superseded (stale: another process used the same "
                "client identity and session) and were sent again\n",
                (unsigned long long)L.stale);
    }
    return 0;
}

/* ---- etcd -----------------------------------------------------------------
 * libcurl's multi interface drives one easy handle per client; a finished
 * handle is removed and added again with the next put, so it keeps its
 * keep-alive connection from the multi handle's cache.
 */

/* A put's answer is about 120 bytes; the read-back of the last value is its
 * base64 (4/3 of up to VOID_SM_VALUE_MAX) in JSON. */
#define ERX_MAX (VOID_SM_VALUE_MAX / 3 * 4 + 8192)

struct eclient {
    CURL *easy;
    uint32_t index;
    uint64_t count;
    uint64_t start_ns;
    const char *endpoint; /* HOST:PORT, for messages */
    uint32_t ep;          /* its index in E.eps */
    char url[128];
    char *body; /* the request's JSON (json_dumps), owned */
    char rx[ERX_MAX];
    struct voidctl_body rxb; /* the answer, kept in rx; cut when larger */
    char errbuf[CURL_ERROR_SIZE];
};

static struct {
    CURLM *multi;
    struct curl_slist *headers;
    int measuring; /* 0 during the warm-up put of each client */
    uint32_t warm;
    const char *eps[ENDPOINTS_MAX];
    uint32_t eps_count;
    /* --failover: a put that fails is sent again to the next endpoint (as
     * etcd's client balancer does) instead of ending the run. */
    int failover;
} E;

/* The key a client's count-th put writes; returns its length. */
static int ekey(uint32_t index, uint64_t count, char *key, size_t cap)
{
    return load_key(index, count, key, cap);
}

/* Base64 (the v3 gateway's encoding of bytes fields) of in, into a string the
 * caller frees; exits when out of memory. */
static char *eb64(const void *in, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out == NULL) {
        fprintf(stderr, "voidload: out of memory\n");
        exit(1);
    }
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* {"key": b64(key), "value": b64(value)} (value NULL: no value, as for a
 * range request), as a string the caller frees. */
static char *ebody(const char *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    char *k = eb64(key, key_len);
    json_t *o = json_pack("{s:s}", "key", k);
    free(k);
    if (o != NULL && value != NULL) {
        char *v = eb64(value, value_len);
        json_object_set_new(o, "value", json_string(v));
        free(v);
    }
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        fprintf(stderr, "voidload: cannot build a JSON request\n");
        exit(1);
    }
    return text;
}

/* Parses an answer of etcd's gateway: a JSON object, or exits naming what is
 * wrong. An error answer carries "error"/"message" (grpc-gateway). */
static json_t *eanswer(struct eclient *c, long status, const char *what)
{
    json_error_t jerr;
    json_t *root = c->rxb.cut ? NULL : json_loadb(c->rxb.text, c->rxb.len, 0, &jerr);
    if (status != 200) {
        json_t *msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
        if (msg == NULL && json_is_object(root)) {
            msg = json_object_get(root, "error");
        }
        fprintf(stderr,
                "voidload: etcd %s answered %s with HTTP %ld: %.200s\n",
                c->endpoint,
                what,
                status,
                json_is_string(msg) ? json_string_value(msg) : c->rx);
        exit(1);
    }
    if (!json_is_object(root)) {
        fprintf(stderr,
                "voidload: etcd %s answered %s with HTTP 200 but no JSON object: %.200s\n",
                c->endpoint,
                what,
                c->rx);
        exit(1);
    }
    return root;
}

/* A put succeeded when etcd answered 200 with a header carrying the new
 * revision; anything else ends the run with the reason. */
static void echeck_put(struct eclient *c, long status)
{
    json_t *root = eanswer(c, status, "a put");
    json_t *header = json_object_get(root, "header");
    json_t *rev = json_is_object(header) ? json_object_get(header, "revision") : NULL;
    if (!json_is_string(rev) && !json_is_integer(rev)) {
        fprintf(stderr,
                "voidload: etcd %s answered a put without header.revision: %.200s\n",
                c->endpoint,
                c->rx);
        exit(1);
    }
    json_decref(root);
}

static void esubmit(struct eclient *c)
{
    char key[64];
    static uint8_t value[VOID_SM_VALUE_MAX]; /* a megabyte: static, filled once */
    if (value[0] != 'v') {
        memset(value, 'v', sizeof(value));
    }
    int klen = ekey(c->index, c->count, key, sizeof(key));
    int get = E.measuring && is_read(c->count);
    free(c->body);
    /* A get is a range of one key, linearizable (etcd's default: not
     * serializable), through the leader's read index. */
    c->body = ebody(key, (size_t)klen, get ? NULL : value, L.value_size);
    snprintf(c->url, sizeof(c->url), "http://%s/v3/kv/%s", c->endpoint, get ? "range" : "put");
    curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
    voidctl_body_reset(&c->rxb);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    c->start_ns = void_kvclient_now_ns();
    CURLMcode rc = curl_multi_add_handle(E.multi, c->easy);
    if (rc != CURLM_OK) {
        fprintf(stderr, "voidload: etcd request: %s\n", curl_multi_strerror(rc));
        exit(1);
    }
}

/* One client's put is done (or failed): checks it, and sends the next one
 * while the run lasts. */
static void edone(struct eclient *c, CURLcode result)
{
    curl_multi_remove_handle(E.multi, c->easy);
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    /* A preload (--count) outlives a member that is busy: etcd answers 503
     * "request timed out" when its leader falls behind (it did at a load
     * average of 50, 78,000 keys into a 1 KiB preload), and the put goes
     * to the next member as with --failover. A 4xx is the request's own
     * fault and still ends the run. */
    int busy = L.count_max > 0 && (result != CURLE_OK || status >= 500);
    if (((E.failover && E.measuring) || busy) && (result != CURLE_OK || status != 200)) {
        c->ep = (c->ep + 1) % E.eps_count;
        c->endpoint = E.eps[c->ep];
        L.retries++;
        esubmit(c);
        return;
    }
    if (result != CURLE_OK) {
        fprintf(stderr,
                "voidload: etcd %s: %s\n",
                c->endpoint,
                c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(result));
        exit(1);
    }
    echeck_put(c, status); /* a range's answer has header.revision too */
    if (!E.measuring) {
        E.warm++;
        return;
    }
    record(c->start_ns);
    c->count++;
    if (another()) {
        esubmit(c);
    } else {
        L.active--;
    }
}

/* Runs the multi handle until *counter (moved by edone) reaches until. */
static void erun(const uint32_t *counter, uint32_t until)
{
    while (*counter != until) {
        int running = 0;
        CURLMcode rc = curl_multi_perform(E.multi, &running);
        if (rc != CURLM_OK) {
            fprintf(stderr, "voidload: etcd: %s\n", curl_multi_strerror(rc));
            exit(1);
        }
        CURLMsg *m;
        int queued;
        int finished = 0;
        while ((m = curl_multi_info_read(E.multi, &queued)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                char *priv = NULL;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
                edone((struct eclient *)(void *)priv, m->data.result);
                finished = 1;
            }
        }
        if (!finished && *counter != until) {
            curl_multi_poll(E.multi, NULL, 0, 100, NULL);
            progress();
        }
    }
}

/* Reads the last key client 0 wrote back from etcd and compares its value. */
static int everify(struct eclient *c)
{
    char key[64];
    static uint8_t want[VOID_SM_VALUE_MAX], got[VOID_SM_VALUE_MAX]; /* not on the stack */
    memset(want, 'v', sizeof(want));
    int klen = ekey(c->index, c->count - 1, key, sizeof(key));
    char url[160];
    snprintf(url, sizeof(url), "http://%s/v3/kv/range", c->endpoint);
    free(c->body);
    c->body = ebody(key, (size_t)klen, NULL, 0);
    voidctl_body_reset(&c->rxb);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    CURLcode rc = curl_easy_perform(c->easy);
    if (rc != CURLE_OK) {
        fprintf(stderr, "voidload: etcd %s: read-back: %s\n", c->endpoint, curl_easy_strerror(rc));
        return 1;
    }
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    json_t *root = eanswer(c, status, "the read-back");
    json_t *kvs = json_object_get(root, "kvs");
    json_t *kv = json_is_array(kvs) && json_array_size(kvs) == 1 ? json_array_get(kvs, 0) : NULL;
    json_t *value = json_is_object(kv) ? json_object_get(kv, "value") : NULL;
    /* proto3 JSON leaves an empty bytes field out. */
    const char *b64 = json_is_string(value) ? json_string_value(value) : kv != NULL ? "" : NULL;
    size_t got_len = 0;
    int ok = b64 != NULL &&
             sodium_base642bin(got,
                               sizeof(got),
                               b64,
                               strlen(b64),
                               NULL,
                               &got_len,
                               NULL,
                               sodium_base64_VARIANT_ORIGINAL) == 0 &&
             got_len == L.value_size && memcmp(got, want, got_len) == 0;
    if (!ok) {
        fprintf(stderr,
                "voidload: etcd %s: key %s does not read back as written (%zu bytes of 'v'): %.200s\n",
                c->endpoint,
                key,
                (size_t)L.value_size,
                c->rx);
    }
    json_decref(root);
    return ok ? 0 : 1;
}

static int run_etcd_with(struct eclient *ec, char *endpoints, uint32_t clients, double secs)
{
    const char **eps = E.eps;
    uint32_t count = 0;
    for (char *tok = strtok(endpoints, ","); tok != NULL; tok = strtok(NULL, ",")) {
        struct void_config_addr a;
        if (count == ENDPOINTS_MAX) {
            fprintf(stderr, "voidload: at most %d etcd endpoints\n", ENDPOINTS_MAX);
            return 2;
        }
        if (void_config_addr_parse(tok, &a) != 0) {
            fprintf(stderr, "voidload: bad endpoint '%s' (want HOST:PORT)\n", tok);
            return 2;
        }
        eps[count++] = tok;
    }
    if (count == 0) {
        fprintf(stderr, "voidload: no etcd endpoint given (want HOST:PORT[,HOST:PORT...])\n");
        return 2;
    }
    E.eps_count = count;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (E.multi = curl_multi_init()) == NULL) {
        fprintf(stderr, "voidload: cannot initialise libcurl\n");
        return 1;
    }
    /* No "Expect: 100-continue" round trip before a larger body. */
    E.headers = curl_slist_append(NULL, "Content-Type: application/json");
    E.headers = curl_slist_append(E.headers, "Expect:");
    for (uint32_t i = 0; i < clients; i++) {
        struct eclient *c = &ec[i];
        c->index = i;
        c->ep = i % count;
        c->endpoint = eps[c->ep];
        snprintf(c->url, sizeof(c->url), "http://%s/v3/kv/put", c->endpoint);
        c->easy = curl_easy_init();
        if (c->easy == NULL || E.headers == NULL) {
            fprintf(stderr, "voidload: cannot initialise libcurl\n");
            return 1;
        }
        curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, E.headers);
        voidctl_body_init(&c->rxb, c->rx, sizeof(c->rx));
        curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, voidctl_body_write);
        curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->rxb);
        curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
        curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        /* A put that takes this long means a member is gone, not slow. With
         * --failover the put goes to the next member after the Void client
         * library's first retry timeout, so that both clients are equally
         * patient (bench/member_detect.sh). */
        curl_easy_setopt(c->easy,
                         CURLOPT_TIMEOUT_MS,
                         E.failover ? (long)(VOID_PBFT_CLIENT_TIMEOUT_NS_DEF / 1000000u) : 30000L);
    }
    /* Warm-up: one put per client opens its connection before the clock
     * starts, as the Void clients connect before theirs. */
    for (uint32_t i = 0; i < clients; i++) {
        esubmit(&ec[i]);
    }
    erun(&E.warm, clients);
    E.measuring = 1;
    L.started_ns = void_kvclient_now_ns();
    L.end_ns = L.started_ns + (uint64_t)(secs * 1e9);
    L.progress_next_ns = L.started_ns + L.progress_ns;
    L.active = clients;
    for (uint32_t i = 0; i < clients; i++) {
        if (another()) {
            esubmit(&ec[i]);
        } else {
            L.active--;
        }
    }
    erun(&L.active, 0);
    int rc = everify(&ec[0]);
    for (uint32_t i = 0; i < clients; i++) {
        curl_easy_cleanup(ec[i].easy);
        free(ec[i].body);
    }
    curl_slist_free_all(E.headers);
    curl_multi_cleanup(E.multi);
    curl_global_cleanup();
    return rc;
}

static int run_void(const char *dir, uint32_t clients, double secs)
{
    struct vclient *vc = calloc(CLIENTS_MAX, sizeof(*vc));
    if (vc == NULL) {
        fprintf(stderr, "voidload: out of memory for %d clients\n", CLIENTS_MAX);
        return 1;
    }
    L.clients = vc;
    return run_void_with(vc, dir, clients, secs);
}

static int run_etcd(char *endpoints, uint32_t clients, double secs)
{
    struct eclient *ec = calloc(CLIENTS_MAX, sizeof(*ec));
    if (ec == NULL) {
        fprintf(stderr, "voidload: out of memory for %d clients\n", CLIENTS_MAX);
        return 1;
    }
    L.clients = ec;
    return run_etcd_with(ec, endpoints, clients, secs);
}

/* ---- main -----------------------------------------------------------------
 */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The usage of one mode ("void", "etcd", "lin"), or of all (mode NULL). */
static void usage(FILE *out, const char *mode)
{
    int all = mode == NULL;
    int vd = all || strcmp(mode, "void") == 0;
    int et = all || strcmp(mode, "etcd") == 0;
    int ln = all || strcmp(mode, "lin") == 0;
    int on = all || strcmp(mode, "once") == 0;
    fprintf(out, "usage:");
    if (vd) {
        fprintf(out, " voidload void DIR [--clients C] [--seconds S] [--value BYTES]\n%s", all ? "      " : "");
    }
    if (et) {
        fprintf(out,
                " voidload etcd HOST:PORT[,HOST:PORT...] [--clients C] [--seconds S] [--value BYTES]\n%s",
                all ? "      " : "");
    }
    if (ln) {
        fprintf(out,
                " voidload lin DIR [--clients C] [--seconds S] [--keys K]\n%s",
                all ? "      " : "");
    }
    if (on) {
        fprintf(out,
                " voidload once DIR --admin-key FILE [--clients C] [--wave W] [--first-id ID]\n");
    }
    fprintf(out, "\n");
    if (vd || et) {
        fprintf(out,
                "void, etcd: closed-loop puts for the kv_put bench: C clients each keep one put of\n"
                "BYTES bytes outstanding for S seconds, then one line on stdout:\n"
                "  mode=M clients=C ops=N secs=S ops_per_s=X p50_us=L p99_us=L retries=R warmup=W\n"
                "void: a put is acknowledged by f + 1 matching replies, each client checking\n"
                "their tags alone. etcd: by HTTP 200 and etcd's JSON answer from the v3 gateway\n"
                "(/v3/kv/put), clients spread round-robin over the endpoints (at most %d);\n"
                "one key is read back at the end. Both: each client makes one warm-up put\n"
                "(connected and authenticated) before the clock starts: W in all, outside N;\n"
                "R counts the measured run's retransmissions only.\n",
                ENDPOINTS_MAX);
    }
    if (ln) {
        fprintf(out,
                "lin: C clients issue random put/get/cas/delete on K shared keys for S seconds,\n"
                "then the history is checked for linearizability (exit 1 when it is not).\n");
    }
    if (on) {
        fprintf(out,
                "once: at-most-once execution for many distinct clients (issue 17). Client i\n"
                "is id ID + i with a fresh key and a certificate signed here with the admin's\n"
                "secret key FILE; W clients at a time (each with its own connections) put a\n"
                "key of their own once (once-<run>-<id>), then retransmit the same request\n"
                "(same client, session and request number) to a backup and, after the retry\n"
                "timeout, to every replica. Its answer must be the first one byte for byte (a\n"
                "put executed again answers with its new version's stamp). One line on stdout:\n"
                "  mode=once clients=C first_id=ID puts=P resent=R same=S double=D failed=F\n"
                "  secs=T clients_per_s=X retries=Y run=HEX\n"
                "exit 0 when every client's put and retransmission were answered the same\n"
                "(S = C), 1 otherwise. The cluster's version count grows by C when each put\n"
                "executed once (bench/clients_10k.sh checks it).\n");
    }
    if (vd || ln) {
        fprintf(out,
                "DIR is a scripts/cluster directory started with --clients >= C (voidload\n"
                "reads DIR/client-100.ini, client-101.ini, ...).\n");
    }
    if (on) {
        fprintf(out,
                "once: DIR is a scripts/cluster directory whose replicas name the admin's\n"
                "public key ([clients] admin_key_file: start with --fault-control); the\n"
                "replicas come from DIR/client-100.ini.\n");
    }
    fprintf(out, "\noptions (before or after the mode and its argument):\n");
    if (vd || et || ln) {
        fprintf(out,
                "  --clients C    concurrent clients, 1..%d (default 1)\n"
                "  --seconds S    length of the run in seconds, above 0 and at most %.0f\n"
                "                 (default 5)\n",
                CLIENTS_MAX,
                SECONDS_MAX);
    }
    if (vd || et) {
        fprintf(out, "  --value BYTES  void, etcd: bytes in each value, 0..%d (default 100)\n", VOID_SM_VALUE_MAX);
        fprintf(out, "  --distinct     void, etcd: every put writes a new key, also across runs\n"
                     "                 (default: each client cycles over %d keys)\n", KEYS_PER_CLIENT);
    }
    if (on) {
        fprintf(out,
                "  --clients C    once: distinct clients in all, 1..%d (default 1)\n"
                "  --admin-key FILE  once: the admin's secret key (required)\n"
                "  --wave W       once: clients at a time, 1..%d (default 100)\n"
                "  --first-id ID  once: id of the first client (default 100000)\n"
                "  --retry-ms MS  once: first retransmission after MS ms (default 300)\n"
                "  --progress S   once: a line on stderr at most every S seconds, after a wave\n"
                "                 (1..3600): progress: clients=N/C secs=T clients_per_s=X\n"
                "                 same=S double=D failed=F retries=Y\n",
                VOIDLOAD_ONCE_CLIENTS_MAX,
                VOIDLOAD_ONCE_WAVE_MAX);
    }
    if (vd) {
        fprintf(out,
                "  --session N    void: every client's session under its identity, 1..2^32-1\n"
                "                 (default: a random one each; include/void/pbft_client.h).\n"
                "                 A put superseded by another process with the same identity\n"
                "                 and session is answered stale and sent again (counted)\n"
                "  --admin-key FILE  void: clients of their own, not DIR's: client i is id\n"
                "                 first-id + i with a fresh key and a certificate signed here\n"
                "                 with the admin's secret key FILE (replicas that name its\n"
                "                 public key in [clients] admin_key_file admit them)\n"
                "  --first-id ID  void, with --admin-key: id of the first client (default\n"
                "                 100000)\n"
                "  --retry-ms MS  void: first retransmission after MS ms (default 2000)\n");
    }
    if (vd || et) {
        fprintf(out,
                "  --reads PCT    void, etcd: PCT%% of the operations (0..100, default 0) are\n"
                "                 gets of the keys the client's puts cycle over (void: a\n"
                "                 read-only request, docs/pbft.md; etcd: a linearizable\n"
                "                 /v3/kv/range); one more line counts how Void's completed\n"
                "                 (by a quorum of answers, or ordered)\n");
    }
    if (vd || ln) {
        fprintf(out,
                "  --ordered-reads  void, lin: gets are ordered through PBFT like puts, not\n"
                "                 read-only requests\n");
    }
    if (vd || et) {
        fprintf(out,
                "  --count N      void, etcd: end the run once N operations were answered\n"
                "                 (or at --seconds, if given, whichever comes first): with\n"
                "                 --distinct, a preload of N new keys (bench/kv_million.sh);\n"
                "                 etcd: a put that fails without an answer or with HTTP 5xx\n"
                "                 is sent again to the next endpoint (counted as a retry)\n"
                "  --progress S   void, etcd: a line on stderr every S seconds (1..3600):\n"
                "                 progress: ops=N secs=T ops_per_s=X interval_per_s=Y\n"
                "                 retries=R\n");
    }
    if (ln) {
        fprintf(out, "  --keys K       lin: keys the clients share, 1..%d (default 4)\n", VOIDLOAD_LIN_KEYS_MAX);
    }
    if (vd || et) {
        fprintf(out,
                "  --timeline FILE  void, etcd: write each acknowledged operation's completion\n"
                "                 time to FILE, one line each, in ns since the Unix epoch\n"
                "                 (bench/member_detect.sh finds the gap a kill leaves)\n");
    }
    if (et) {
        fprintf(out,
                "  --failover     etcd: a put that fails (connection refused or reset, an\n"
                "                 error answer, no answer within 300 ms: Void's first retry)\n"
                "                 is sent again to the next endpoint and counted as a retry;\n"
                "                 without it the run ends with the error\n");
    }
    fprintf(out,
            "  --help         this text (after a mode: that mode's)\n"
            "  --version      print the version\n"
            "\nexit status: 0 done (lin: linearizable; once: every put executed once), 1 the\n"
            "run failed (lin: not linearizable or undecided; once: a put failed, was not\n"
            "answered, or its retransmission was answered otherwise), 2 usage error.\n"
            "\nexample%s:\n",
            all ? "s" : "");
    if (vd) {
        fprintf(out,
                "  scripts/cluster start --n 4 --clients 8 && voidload void /tmp/void-cluster --clients 8 "
                "--seconds 10\n");
    }
    if (et) {
        fprintf(out, "  voidload etcd 127.0.0.1:2379,127.0.0.1:22379 --clients 16 --value 100\n");
    }
    if (vd) {
        fprintf(out,
                "  voidload void /tmp/void-cluster --clients 128 --distinct --value 1024 "
                "--count 1000000 --progress 30\n");
    }
    if (ln) {
        fprintf(out, "  voidload lin /tmp/void-cluster --clients 4 --seconds 6 --keys 3\n");
    }
    if (on) {
        fprintf(out,
                "  scripts/cluster start --fault-control && voidload once /tmp/void-cluster "
                "--admin-key /tmp/void-cluster/keys/admin.secret --clients 10000\n");
    }
}

static int usage_error(void)
{
    void_cli_hint("voidload");
    return VOID_CLI_USAGE;
}

/* voidload once DIR: checks its options (misfit: one that does not apply
 * was given) and runs voidload_once.c. */
static int
main_once(const char *dir, uint32_t clients, uint32_t wave, uint32_t retry_ms, int misfit)
{
    if (misfit) {
        fprintf(stderr,
                "voidload: mode once takes only --admin-key, --clients, --wave, --first-id, "
                "--retry-ms and --progress\n");
        return usage_error();
    }
    if (L.admin_key == NULL) {
        fprintf(stderr, "voidload: mode once needs --admin-key FILE (its clients are certified)\n");
        return usage_error();
    }
    if ((uint64_t)L.first_id + clients - 1 > UINT32_MAX) {
        fprintf(stderr, "voidload: --first-id + --clients must stay below 2^32\n");
        return usage_error();
    }
    signal(SIGPIPE, SIG_IGN);
    if (void_sign_global_init() != 0 || uv_loop_init(&L.loop) != 0) {
        fprintf(stderr, "voidload: cannot initialise libsodium or the loop\n");
        return 1;
    }
    uint64_t retry_ns = retry_ms > 0 ? (uint64_t)retry_ms * 1000000u : 300000000ull;
    int rc = voidload_once(
        &L.loop, dir, L.admin_key, clients, wave, L.first_id, retry_ns, L.progress_ns);
    (void)uv_loop_close(&L.loop);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"clients", required_argument, NULL, 'c'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"value", required_argument, NULL, 'b'},
                                         {"keys", required_argument, NULL, 'k'},
                                         {"distinct", no_argument, NULL, 'd'},
                                         {"session", required_argument, NULL, 'S'},
                                         {"admin-key", required_argument, NULL, 'A'},
                                         {"first-id", required_argument, NULL, 'I'},
                                         {"retry-ms", required_argument, NULL, 'R'},
                                         {"reads", required_argument, NULL, 'r'},
                                         {"ordered-reads", no_argument, NULL, 'O'},
                                         {"timeline", required_argument, NULL, 'T'},
                                         {"failover", no_argument, NULL, 'F'},
                                         {"count", required_argument, NULL, 'N'},
                                         {"progress", required_argument, NULL, 'P'},
                                         {"wave", required_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    uint32_t clients = 1;
    uint32_t keys = 4;
    double secs = 5;
    int help = 0, have_value = 0, have_keys = 0, have_distinct = 0, have_reads = 0,
        have_ordered = 0;
    L.value_size = 100;
    L.first_id = 100000;
    L.retry_ns = 2000000000ull; /* no retries under load */
    uint32_t retry_ms = 0;
    int have_ids = 0, have_secs = 0, have_session = 0, have_wave = 0;
    uint32_t wave = 100;
    const char *clients_arg = NULL;
    const char *timeline = NULL;
    opterr = 0; /* our messages, with the hint */
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'c':
            clients_arg = optarg; /* its limit depends on the mode */
            break;
        case 's':
            rc = void_cli_seconds("voidload", "seconds", optarg, SECONDS_MAX, &secs);
            have_secs = 1;
            break;
        case 'b':
            rc = void_cli_u32("voidload", "value", optarg, 0, VOID_SM_VALUE_MAX, &L.value_size);
            have_value = 1;
            break;
        case 'k':
            rc = void_cli_u32("voidload", "keys", optarg, 1, VOIDLOAD_LIN_KEYS_MAX, &keys);
            have_keys = 1;
            break;
        case 'd':
            keys_per_client = UINT64_MAX;
            distinct_run = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
            have_distinct = 1;
            break;
        case 'S':
            rc = void_cli_u32("voidload", "session", optarg, 1, UINT32_MAX, &L.session);
            have_ids = 1;
            have_session = 1;
            break;
        case 'A':
            L.admin_key = optarg;
            have_ids = 1;
            break;
        case 'I':
            rc = void_cli_u32(
                "voidload", "first-id", optarg, 100, UINT32_MAX - CLIENTS_MAX, &L.first_id);
            have_ids = 1;
            break;
        case 'R':
            rc = void_cli_u32("voidload", "retry-ms", optarg, 1, 60000, &retry_ms);
            L.retry_ns = (uint64_t)retry_ms * 1000000u;
            have_ids = 1;
            break;
        case 'r':
            rc = void_cli_u32("voidload", "reads", optarg, 0, 100, &L.reads_pct);
            have_reads = 1;
            break;
        case 'O':
            L.ordered_reads = 1;
            have_ordered = 1;
            break;
        case 'T':
            timeline = optarg;
            break;
        case 'F':
            E.failover = 1;
            break;
        case 'N': {
            uint32_t n = 0;
            rc = void_cli_u32("voidload", "count", optarg, 1, UINT32_MAX, &n);
            L.count_max = n;
            if (!have_secs) {
                secs = SECONDS_MAX;
            }
            break;
        }
        case 'P': {
            uint32_t p = 0;
            rc = void_cli_u32("voidload", "progress", optarg, 1, 3600, &p);
            L.progress_ns = (uint64_t)p * 1000000000u;
            break;
        }
        case 'W':
            rc = void_cli_u32("voidload", "wave", optarg, 1, VOIDLOAD_ONCE_WAVE_MAX, &wave);
            have_wave = 1;
            break;
        case 'h':
            help = 1;
            break;
        case 'V':
            void_cli_version("voidload");
            return 0;
        default: /* '?', ':' */
            return void_cli_bad_option("voidload", ch, argv);
        }
        if (rc != 0) {
            return usage_error();
        }
    }
    const char *mode = optind < argc ? argv[optind] : NULL;
    int known = mode != NULL && (strcmp(mode, "void") == 0 || strcmp(mode, "etcd") == 0 ||
                                 strcmp(mode, "lin") == 0 || strcmp(mode, "once") == 0);
    if (help) {
        usage(stdout, known ? mode : NULL);
        return 0;
    }
    if (mode == NULL) {
        fprintf(stderr, "voidload: no mode given (void, etcd, lin or once)\n");
        return usage_error();
    }
    if (!known) {
        fprintf(stderr, "voidload: unknown mode '%s' (void, etcd, lin or once)\n", mode);
        return usage_error();
    }
    int once = strcmp(mode, "once") == 0;
    if (clients_arg != NULL && void_cli_u32("voidload",
                                            "clients",
                                            clients_arg,
                                            1,
                                            once ? VOIDLOAD_ONCE_CLIENTS_MAX : CLIENTS_MAX,
                                            &clients) != 0) {
        return usage_error();
    }
    if (argc - optind != 2) {
        fprintf(stderr,
                argc - optind < 2 ? "voidload: %s needs %s\n" : "voidload: %s takes only %s\n",
                mode,
                strcmp(mode, "etcd") == 0 ? "HOST:PORT[,HOST:PORT...]" : "DIR");
        return usage_error();
    }
    int lin = strcmp(mode, "lin") == 0;
    if (once) {
        return main_once(argv[optind + 1],
                         clients,
                         wave,
                         retry_ms,
                         have_value || have_distinct || have_keys || have_reads || have_ordered ||
                             have_secs || have_session || timeline != NULL || L.count_max > 0 ||
                             E.failover);
    }
    if (have_wave) {
        fprintf(stderr, "voidload: --wave applies to mode once only\n");
        return usage_error();
    }
    if ((lin && (have_value || have_distinct)) || (!lin && have_keys)) {
        fprintf(stderr,
                "voidload: --%s does not apply to mode %s\n",
                !lin ? "keys" : have_value ? "value" : "distinct",
                mode);
        return usage_error();
    }
    const char *misfit = have_reads && lin ? "--reads to mode lin"
                         : have_ordered && strcmp(mode, "etcd") == 0
                             ? "--ordered-reads to mode etcd"
                         : have_reads && have_distinct
                             ? "--reads with --distinct (gets read the keys puts cycle over)"
                             : NULL;
    if (misfit != NULL) {
        fprintf(stderr, "voidload: %s does not apply\n", misfit);
        return usage_error();
    }
    if (have_ids && strcmp(mode, "void") != 0) {
        fprintf(stderr,
                "voidload: --session, --admin-key, --first-id and --retry-ms apply to mode void "
                "only\n");
        return usage_error();
    }
    if (E.failover && strcmp(mode, "etcd") != 0) {
        fprintf(stderr, "voidload: --failover applies to mode etcd only\n");
        return usage_error();
    }
    if ((timeline != NULL || L.count_max > 0 || L.progress_ns > 0) && lin) {
        fprintf(stderr,
                "voidload: --%s does not apply to mode lin\n",
                timeline != NULL ? "timeline" : L.count_max > 0 ? "count" : "progress");
        return usage_error();
    }
    if (timeline != NULL && (L.timeline = fopen(timeline, "w")) == NULL) {
        fprintf(stderr, "voidload: --timeline %s: %s\n", timeline, strerror(errno));
        return 1;
    }
    char *target = argv[optind + 1];
    signal(SIGPIPE, SIG_IGN);
    if (void_sign_global_init() != 0) {
        fprintf(stderr, "voidload: cannot initialise libsodium\n");
        return 1;
    }
    L.lat_us = malloc(SAMPLES_MAX * sizeof(uint32_t));
    if (L.lat_us == NULL || uv_loop_init(&L.loop) != 0) {
        fprintf(stderr, "voidload: out of memory\n");
        return 1;
    }
    if (lin) {
        return voidload_lin(&L.loop, target, clients, secs, keys, L.ordered_reads);
    }
    int rc = strcmp(mode, "void") == 0 ? run_void(target, clients, secs) : run_etcd(target, clients, secs);
    if (rc != 0) {
        return rc;
    }
    double elapsed = (double)(void_kvclient_now_ns() - L.started_ns) / 1e9;
    qsort(L.lat_us, L.samples, sizeof(uint32_t), cmp_u32);
    uint32_t p50 = L.samples > 0 ? L.lat_us[L.samples / 2] : 0;
    uint32_t p99 = L.samples > 0 ? L.lat_us[L.samples * 99 / 100] : 0;
    /* warmup: the warm-up puts, acknowledged and applied like the others
     * but outside ops (a check of what the cluster stored counts both). */
    printf("mode=%s clients=%u ops=%llu secs=%.2f ops_per_s=%.0f p50_us=%u "
           "p99_us=%u retries=%llu warmup=%u\n",
           mode,
           (unsigned)clients,
           (unsigned long long)L.ops,
           elapsed,
           (double)L.ops / elapsed,
           (unsigned)p50,
           (unsigned)p99,
           (unsigned long long)L.retries,
           (unsigned)(strcmp(mode, "void") == 0 ? v_warm : E.warm));
    if (L.reads_pct > 0 && strcmp(mode, "void") == 0) {
        printf("reads=%u%% read_only_quorum=%llu read_only_ordered=%llu%s\n",
               (unsigned)L.reads_pct,
               (unsigned long long)L.reads_quorum,
               (unsigned long long)L.reads_ordered,
               L.ordered_reads ? " (--ordered-reads)" : "");
    }
    uv_run(&L.loop, UV_RUN_DEFAULT);
    free(L.clients);
    free(L.lat_us);
    if (L.timeline != NULL && fclose(L.timeline) != 0) {
        fprintf(stderr, "voidload: --timeline: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

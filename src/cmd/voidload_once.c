/*
 * voidload once: many distinct clients, each putting once, with at-most-once
 * execution checked for every one (issue 17: "10,000 distinct clients each
 * do a put in one run ... a retransmitted request is not executed twice").
 *
 * Client i is id first_id + i with a fresh Ed25519 key and a certificate
 * signed here with the admin's secret key (replicas that name its public key
 * in [clients] admin_key_file admit it on first contact). Clients run in
 * waves of `wave` at once, each with its own connections to every replica.
 * Each client puts its own new key once; when f + 1 replicas have answered,
 * it retransmits the same request (same client, session and request number)
 * to one backup, the replica after the primary that ordered it in turn
 * (void_kvclient_resend); the backup answers from its reply cache and, after
 * the retry timeout, the client retransmits it to every replica, as a client
 * whose answer is late does. The answer to the retransmission must be the
 * first answer byte for byte: a put executed a second time answers with its
 * new version's stamp (and leaves a second version of the key, which the
 * caller can count: bench/clients_10k.sh). A client whose put fails, or
 * whose retransmission is not answered within the wave's deadline, fails
 * the run.
 */
#include "cmd/voidload.h"

#include "void/assert.h"
#include "void/client_cert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/pbft_client.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ONCE_RESULT_MAX   64                              /* a put's answer: status and stamp */
#define ONCE_WAVE_NS      (120ull * 1000 * 1000 * 1000)   /* a wave's deadline */
#define ONCE_CONNECT_NS   (5ull * 1000 * 1000 * 1000)     /* at most this for the connections */
#define ONCE_SHOW_MAX     5                               /* double executions printed */
#define ONCE_CERT_DAYS_NS (86400ull * 1000 * 1000 * 1000) /* certificates last a day */

struct oclient {
    struct void_kvclient kv;
    struct void_config config;
    uint32_t id;
    int phase; /* 1 put outstanding, 2 retransmission outstanding, 3 done */
    uint8_t first[ONCE_RESULT_MAX];
    size_t first_len;
};

static struct {
    uv_loop_t *loop;
    uint32_t left; /* clients of the wave not done */
    uint64_t puts, resent, same, doubled, failed, retries;
    unsigned run; /* keys of this run: "once-<run>-<id>" */
} O;

static void odone_put(void *ctx, const uint8_t *result, size_t len);
static void odone_resend(void *ctx, const uint8_t *result, size_t len);

/* The client finished (phase 3), with or without a failure. */
static void ofinish(struct oclient *c)
{
    VOID_ASSERT(c->phase != 3 && O.left > 0);
    c->phase = 3;
    O.left--;
}

static void oprint_result(const char *what, uint32_t id, const uint8_t *result, size_t len)
{
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0) {
        fprintf(stderr, "voidload once: client %u: %s: undecodable (%zu bytes)\n", id, what, len);
        return;
    }
    fprintf(stderr,
            "voidload once: client %u: %s: status %u, version %llu.%u\n",
            id,
            what,
            (unsigned)res.status,
            (unsigned long long)res.version.wall_ns,
            (unsigned)res.version.logical);
}

static void odone_put(void *ctx, const uint8_t *result, size_t len)
{
    struct oclient *c = ctx;
    VOID_ASSERT(c->phase == 1);
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0 || res.status != VOID_SM_OK ||
        len > sizeof(c->first)) {
        oprint_result("put failed", c->id, result, len);
        O.failed++;
        ofinish(c);
        return;
    }
    O.puts++;
    memcpy(c->first, result, len);
    c->first_len = len;
    /* The retransmission goes to a backup (the primary ordered the put):
     * the one after the primary, in turn with the client's id. */
    uint32_t n = c->config.count_replicas;
    uint32_t primary = void_pbft_client_primary(&c->kv.core);
    uint32_t to = n < 2 ? VOID_PBFT_TO_ALL : (primary + 1 + c->id % (n - 1)) % n;
    c->phase = 2;
    if (void_kvclient_resend(&c->kv, to, odone_resend, c) != 0) {
        fprintf(stderr, "voidload once: client %u: cannot retransmit\n", c->id);
        O.failed++;
        ofinish(c);
        return;
    }
    O.resent++;
}

static void odone_resend(void *ctx, const uint8_t *result, size_t len)
{
    struct oclient *c = ctx;
    VOID_ASSERT(c->phase == 2);
    if (len == c->first_len && memcmp(result, c->first, len) == 0) {
        O.same++;
    } else {
        if (O.doubled < ONCE_SHOW_MAX) {
            fprintf(stderr, "voidload once: client %u: executed twice?\n", c->id);
            oprint_result("first answer", c->id, c->first, c->first_len);
            oprint_result("answer to the retransmission", c->id, result, len);
        }
        O.doubled++;
    }
    ofinish(c);
}

/* Client c becomes id with a fresh key and a certificate that admin signs. */
static int ocertify(struct oclient *c, uint32_t id, const struct void_sign_keypair *admin)
{
    struct void_client_cert cert = {.id = id,
                                    .expires_ns = void_kvclient_now_ns() + ONCE_CERT_DAYS_NS};
    void_sign_keypair_wipe(&c->config.keypair);
    int rc = void_sign_keypair_generate(&c->config.keypair);
    if (rc == 0) {
        memcpy(cert.public_key, c->config.keypair.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        rc = void_client_cert_issue(&cert, admin, c->config.client_cert);
    }
    c->config.self_id = id;
    c->config.has_client_cert = rc == 0;
    c->id = id;
    return rc;
}

static void osubmit(struct oclient *c)
{
    char key[64], value[32];
    int klen = snprintf(key, sizeof(key), "once-%x-%u", O.run, (unsigned)c->id);
    int vlen = snprintf(value, sizeof(value), "client %u", (unsigned)c->id);
    uint8_t buf[256];
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)klen,
                            .value = (const uint8_t *)value,
                            .value_len = (uint32_t)vlen};
    int n = void_sm_op_encode(&op, buf, sizeof(buf));
    c->phase = 1;
    if (n < 0 || void_kvclient_submit(&c->kv, buf, (size_t)n, odone_put, c) != 0) {
        fprintf(stderr, "voidload once: client %u: cannot submit\n", c->id);
        O.failed++;
        ofinish(c);
    }
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
}

/* One wave: clients first_id .. first_id + count - 1. Returns 0, or 1 when
 * setting a client up failed (the run stops). */
static int owave(struct oclient *oc,
                 uint32_t count,
                 uint32_t first_id,
                 const char *file,
                 const struct void_sign_keypair *admin,
                 uint64_t retry_ns)
{
    char err[VOID_CONFIG_ERR_MAX];
    uint32_t ready = 0;
    int rc = 0;
    for (; ready < count && rc == 0; ready++) {
        struct oclient *c = &oc[ready];
        memset(c, 0, sizeof(*c));
        if (void_config_load(&c->config, file, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload once: %s\n", err);
            rc = 1;
            break;
        }
        if (ocertify(c, first_id + ready, admin) != 0) {
            fprintf(stderr, "voidload once: cannot issue the certificate of client %u\n", c->id);
            void_config_fini(&c->config);
            rc = 1;
            break;
        }
        struct void_kvclient_config kc = {.loop = O.loop,
                                          .cluster = &c->config,
                                          .id = c->id,
                                          .keypair = &c->config.keypair,
                                          .retry_ns = retry_ns};
        if (void_kvclient_init(&c->kv, &kc, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidload once: client %u: %s\n", c->id, err);
            void_kvclient_fini(&c->kv);
            void_config_fini(&c->config);
            rc = 1;
            break;
        }
    }
    uv_timer_t deadline;
    uv_timer_init(O.loop, &deadline);
    if (rc == 0) {
        /* Every client reaches every replica within 1 s, else n - f do. */
        uint64_t t0 = void_kvclient_now_ns();
        uv_timer_start(&deadline, on_deadline, 50, 50); /* the loop wakes to look */
        for (uint32_t i = 0; i < count && void_kvclient_now_ns() < t0 + ONCE_CONNECT_NS;) {
            uint32_t n = oc[i].config.count_replicas;
            uint32_t want = void_kvclient_now_ns() < t0 + 1000000000ull ? n : n - (n - 1) / 3;
            if (void_kvclient_connected(&oc[i].kv) >= want) {
                i++;
            } else {
                uv_run(O.loop, UV_RUN_ONCE);
            }
        }
        O.left = count;
        for (uint32_t i = 0; i < count; i++) {
            osubmit(&oc[i]);
        }
        uint64_t end = void_kvclient_now_ns() + ONCE_WAVE_NS;
        while (O.left > 0 && void_kvclient_now_ns() < end) {
            uv_run(O.loop, UV_RUN_ONCE);
        }
        for (uint32_t i = 0; i < count; i++) {
            if (oc[i].phase != 3) {
                fprintf(stderr,
                        "voidload once: client %u: %s not answered within %llu s\n",
                        oc[i].id,
                        oc[i].phase == 1 ? "put" : "retransmission",
                        (unsigned long long)(ONCE_WAVE_NS / 1000000000ull));
                O.failed++;
                ofinish(&oc[i]);
            }
        }
    }
    VOID_ASSERT(rc != 0 || O.left == 0);
    uv_close((uv_handle_t *)&deadline, NULL);
    for (uint32_t i = 0; i < ready; i++) {
        O.retries += oc[i].kv.core.stats.retries;
        void_kvclient_fini(&oc[i].kv);
        void_config_fini(&oc[i].config);
    }
    uv_run(O.loop, UV_RUN_DEFAULT); /* the closes */
    return rc;
}

int voidload_once(uv_loop_t *loop,
                  const char *dir,
                  const char *admin_key,
                  uint32_t clients,
                  uint32_t wave,
                  uint32_t first_id,
                  uint64_t retry_ns,
                  uint64_t progress_ns)
{
    VOID_ASSERT(loop != NULL && dir != NULL && admin_key != NULL);
    VOID_ASSERT(clients > 0 && wave > 0 && wave <= VOIDLOAD_ONCE_WAVE_MAX);
    char file[1024], err[VOID_CONFIG_ERR_MAX];
    snprintf(file, sizeof(file), "%s/client-100.ini", dir); /* the replicas */
    struct void_sign_keypair admin;
    if (void_sign_keyfile_read_secret(admin_key, &admin, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidload once: --admin-key: %s\n", err);
        return 1;
    }
    struct oclient *oc = calloc(wave, sizeof(*oc));
    if (oc == NULL) {
        fprintf(stderr, "voidload once: out of memory for %u clients\n", (unsigned)wave);
        return 1;
    }
    memset(&O, 0, sizeof(O));
    O.loop = loop;
    O.run = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    uint64_t t0 = void_kvclient_now_ns(), shown = t0;
    int rc = 0;
    for (uint32_t done = 0; done < clients && rc == 0;) {
        uint32_t count = clients - done < wave ? clients - done : wave;
        rc = owave(oc, count, first_id + done, file, &admin, retry_ns);
        done += count;
        uint64_t now = void_kvclient_now_ns();
        if (progress_ns > 0 && (now - shown >= progress_ns || done == clients)) {
            double secs = (double)(now - t0) / 1e9;
            fprintf(stderr,
                    "progress: clients=%u/%u secs=%.0f clients_per_s=%.0f same=%llu double=%llu "
                    "failed=%llu retries=%llu\n",
                    (unsigned)done,
                    (unsigned)clients,
                    secs,
                    secs > 0 ? (double)done / secs : 0.0,
                    (unsigned long long)O.same,
                    (unsigned long long)O.doubled,
                    (unsigned long long)O.failed,
                    (unsigned long long)O.retries);
            shown = now;
        }
    }
    void_sign_keypair_wipe(&admin);
    free(oc);
    double secs = (double)(void_kvclient_now_ns() - t0) / 1e9;
    printf("mode=once clients=%u first_id=%u puts=%llu resent=%llu same=%llu double=%llu "
           "failed=%llu secs=%.2f clients_per_s=%.0f retries=%llu run=%x\n",
           (unsigned)clients,
           (unsigned)first_id,
           (unsigned long long)O.puts,
           (unsigned long long)O.resent,
           (unsigned long long)O.same,
           (unsigned long long)O.doubled,
           (unsigned long long)O.failed,
           secs,
           secs > 0 ? (double)clients / secs : 0.0,
           (unsigned long long)O.retries,
           O.run);
    if (rc != 0) {
        return 1;
    }
    return O.doubled == 0 && O.failed == 0 && O.same == clients ? 0 : 1;
}

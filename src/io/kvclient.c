/*
 * The libuv driver of the PBFT client core (contract in
 * include/void/kvclient.h). Frames from replicas go to the core, whose
 * effects (sends to one replica or all, the retry timer) are performed here;
 * when the core reports f + 1 matching replies the owner's callback runs.
 */
#include "void/kvclient.h"

#include "void/assert.h"
#include "void/casnet.h"
#include "void/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The out arena: the largest request frame, and room for the small effects
 * around it. */
#define KVCLIENT_ARENA (VOID_PBFT_REQUEST_FRAME_MAX + (64u << 10))

uint64_t void_kvclient_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_retry(uv_timer_t *timer);

static void perform(struct void_kvclient *c)
{
    const struct void_config *cl = c->config.cluster;
    for (uint32_t i = 0; i < c->out.count; i++) {
        const struct void_pbft_effect *e = &c->out.effects[i];
        if (e->kind == VOID_PBFT_EFFECT_SEND) {
            for (uint32_t r = 0; r < cl->count_replicas; r++) {
                uint32_t id = cl->replicas[r].id;
                if (e->u.send.to == VOID_PBFT_TO_ALL || e->u.send.to == id) {
                    (void)void_transport_send(&c->transport, id, e->u.send.frame, e->u.send.len);
                }
            }
        } else if (e->kind == VOID_PBFT_EFFECT_TIMER_SET) {
            uint64_t ms = (e->u.timer.delay_ns + 999999u) / 1000000u;
            uv_timer_start(&c->retry, on_retry, ms == 0 ? 1 : ms, 0);
        } else if (e->kind == VOID_PBFT_EFFECT_TIMER_CANCEL) {
            uv_timer_stop(&c->retry);
        }
    }
    void_pbft_out_reset(&c->out);
}

static void on_retry(uv_timer_t *timer)
{
    struct void_kvclient *c = timer->data;
    (void)void_pbft_client_step_timer(&c->core, void_kvclient_now_ns(), &c->out);
    perform(c);
}

static void on_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *frame)
{
    struct void_kvclient *c = ctx;
    if (frame->type != VOID_MSG_REPLY) {
        struct void_frame verified;
        if (c->config.on_other != NULL &&
            void_codec_decode_verified(buf, len, &c->ring, &verified) == 0) {
            c->config.on_other(c->config.other_ctx, buf, len, &verified);
        }
        return;
    }
    int rc = void_pbft_client_step_receive(&c->core, void_kvclient_now_ns(), buf, len, &c->out);
    perform(c);
    if (rc == 1 && c->done != NULL) {
        const uint8_t *result = NULL;
        int n = void_pbft_client_result(&c->core, &result);
        VOID_ASSERT(n >= 0);
        void_kvclient_done_fn done = c->done;
        c->done = NULL;
        done(c->done_ctx, result, (size_t)n);
    }
}

/* The transport's view of a replica link feeds the client core's choice of
 * repliers and of where a request goes; a link that comes up gets the
 * outstanding request at once (what went over the connection before it
 * closed is lost: void_pbft_client_link_up). */
static void on_link(void *ctx, uint32_t peer_id, int up)
{
    struct void_kvclient *c = ctx;
    if (!up) {
        void_pbft_client_link(&c->core, peer_id, 0);
        return;
    }
    VOID_ASSERT(c->out.count == 0); /* not inside another step's perform */
    (void)void_pbft_client_link_up(&c->core, peer_id, void_kvclient_now_ns(), &c->out);
    perform(c);
}

static int build_ring(struct void_kvclient *c)
{
    const struct void_config *cl = c->config.cluster;
    void_keyring_init(&c->ring);
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        int rc = void_keyring_add(&c->ring, cl->replicas[i].id, cl->replicas[i].public_key);
        if (rc != 0) {
            return rc;
        }
    }
    return void_keyring_add(&c->ring, c->config.id, c->config.keypair->public_key);
}

int void_kvclient_init(struct void_kvclient *c,
                       const struct void_kvclient_config *config,
                       char *errbuf,
                       size_t errcap)
{
    VOID_ASSERT(c != NULL && config != NULL);
    VOID_ASSERT(config->loop != NULL && config->cluster != NULL && config->keypair != NULL);
    memset(c, 0, sizeof(*c));
    c->config = *config;
    const struct void_config *cl = config->cluster;
    c->arena = malloc(KVCLIENT_ARENA);
    c->big = malloc(VOID_PBFT_CLIENT_BIG);
    if (c->arena == NULL || c->big == NULL) {
        (void)snprintf(errbuf, errbuf != NULL ? errcap : 0, "out of memory");
        return VOID_ENOMEM;
    }
    int rc = build_ring(c);
    if (rc != 0) {
        (void)snprintf(errbuf, errbuf != NULL ? errcap : 0, "keyring: %s", void_strerror(rc));
        return rc;
    }
    /* A certificate given here, else the cluster file's [client] cert. */
    const uint8_t *cert = config->cert != NULL               ? config->cert
                          : config->cluster->has_client_cert ? config->cluster->client_cert
                                                             : NULL;
    uint32_t session = config->session;
    while (session == 0) {
        session = randombytes_random(); /* 0 is the session of a client with one process */
    }
    struct void_pbft_client_config cc = {.id = config->id,
                                         .session = session,
                                         .cert = cert,
                                         .n = cl->slots,
                                         .genesis_n = cl->genesis_n,
                                         .timeout_ns = config->retry_ns,
                                         .first_reqno = void_kvclient_now_ns() / 1000u,
                                         .verify_signatures = 1,
                                         .broadcast_first = 1,
                                         .reply_all = config->reply_all,
                                         /* The cluster may have changed since its file
                                          * was written: the first request reads the
                                          * configuration record first (docs/membership.md,
                                          * "The client follows the epoch"). */
                                         .learn_first = 1,
                                         .keyring = &c->ring,
                                         .keypair = config->keypair,
                                         .big = c->big,
                                         .big_len = VOID_PBFT_CLIENT_BIG};
    rc = void_pbft_client_init(&c->core, &cc);
    if (rc != 0) {
        (void)snprintf(errbuf,
                       errbuf != NULL ? errcap : 0,
                       "client %u: ids of replicas must be 0..n-1, the client's id >= n, "
                       "every replica key usable, and a certificate must name this client's "
                       "id and key",
                       (unsigned)config->id);
        return rc;
    }
    void_pbft_out_init(&c->out, c->effects, VOID_ARRAY_LEN(c->effects), c->arena, KVCLIENT_ARENA);
    struct void_transport_peer peers[VOID_CONFIG_REPLICAS_MAX];
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        void_pbft_client_link(&c->core, cl->replicas[i].id, 0); /* up once connected */
        peers[i].id = cl->replicas[i].id;
        (void)snprintf(peers[i].host, sizeof(peers[i].host), "%s", cl->replicas[i].address.host);
        peers[i].port = cl->replicas[i].address.port;
    }
    struct void_transport_config tc = {.loop = config->loop,
                                       .self_id = config->id,
                                       .keypair = config->keypair,
                                       .ring = &c->ring,
                                       .count_peers = cl->count_replicas,
                                       .peers = peers,
                                       .on_frame = on_frame,
                                       .on_link = on_link,
                                       .ctx = c,
                                       .seed = void_kvclient_now_ns(),
                                       .hello_cert = cert,
                                       .skip_verify = 1 /* the client core verifies replies */};
    uv_timer_init(config->loop, &c->retry);
    c->retry.data = c;
    c->retry_ready = 1;
    rc = void_transport_init(&c->transport, &tc, errbuf, errcap);
    c->transport_ready = 1;
    return rc;
}

static int submit(struct void_kvclient *c,
                  const uint8_t *op,
                  size_t len,
                  int read_only,
                  void_kvclient_done_fn done,
                  void *ctx)
{
    VOID_ASSERT(c != NULL && op != NULL);
    VOID_ASSERT(done != NULL);
    c->submitted_ns = void_kvclient_now_ns();
    int rc = read_only ? void_pbft_client_submit_read(&c->core, c->submitted_ns, op, len, &c->out)
                       : void_pbft_client_submit(&c->core, c->submitted_ns, op, len, &c->out);
    if (rc != 0 && rc != VOID_EFULL) {
        void_pbft_out_reset(&c->out);
        return rc;
    }
    c->done = done;
    c->done_ctx = ctx;
    perform(c);
    return 0;
}

int void_kvclient_submit(
    struct void_kvclient *c, const uint8_t *op, size_t len, void_kvclient_done_fn done, void *ctx)
{
    return submit(c, op, len, 0, done, ctx);
}

int void_kvclient_submit_read(
    struct void_kvclient *c, const uint8_t *op, size_t len, void_kvclient_done_fn done, void *ctx)
{
    return submit(c, op, len, 1, done, ctx);
}

int void_kvclient_resend(struct void_kvclient *c,
                         uint32_t to,
                         void_kvclient_done_fn done,
                         void *ctx)
{
    VOID_ASSERT(c != NULL && done != NULL);
    c->submitted_ns = void_kvclient_now_ns();
    int rc = void_pbft_client_resend(&c->core, c->submitted_ns, to, &c->out);
    if (rc != 0 && rc != VOID_EFULL) {
        void_pbft_out_reset(&c->out);
        return rc;
    }
    c->done = done;
    c->done_ctx = ctx;
    perform(c);
    VOID_ASSERT(c->out.count == 0);
    return 0;
}

void void_kvclient_fini(struct void_kvclient *c)
{
    VOID_ASSERT(c != NULL);
    if (c->transport_ready) {
        void_transport_fini(&c->transport);
        c->transport_ready = 0;
    }
    if (c->retry_ready) {
        uv_close((uv_handle_t *)&c->retry, NULL);
        c->retry_ready = 0;
    }
    free(c->arena);
    free(c->big);
    c->arena = c->big = NULL;
}

uint32_t void_kvclient_connected(const struct void_kvclient *c)
{
    VOID_ASSERT(c != NULL);
    uint32_t up = 0;
    for (uint32_t i = 0; i < c->config.cluster->count_replicas; i++) {
        up += (uint32_t)void_transport_peer_up(&c->transport, c->config.cluster->replicas[i].id);
    }
    return up;
}

int void_kvclient_add_replica(struct void_kvclient *c,
                              uint32_t id,
                              const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                              const char *host,
                              uint16_t port)
{
    VOID_ASSERT(c != NULL && c->transport_ready);
    VOID_ASSERT(key != NULL && host != NULL);
    int rc = void_keyring_add(&c->ring, id, key);
    if (rc != 0) {
        return rc;
    }
    struct void_transport_peer p = {.id = id, .port = port};
    if (strlen(host) >= sizeof(p.host)) {
        return VOID_EINVAL;
    }
    memcpy(p.host, host, strlen(host) + 1);
    return void_transport_add_peer(&c->transport, &p);
}

int void_kvclient_send(
    struct void_kvclient *c, uint32_t to, uint8_t type, const uint8_t *body, size_t len)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(body != NULL || len == 0);
    /* The transport's peers: the file's replicas, in its order, then those
     * void_kvclient_add_replica added. */
    const struct void_transport *t = &c->transport;
    int rc = 0;
    for (uint32_t r = 0; r < t->config.count_peers && rc == 0; r++) {
        uint32_t id = t->peers[r].id;
        if (to == VOID_PBFT_TO_ALL || to == id) {
            rc = void_casnet_send(
                &c->transport, c->config.keypair, c->config.id, id, type, body, len);
        }
    }
    return rc;
}

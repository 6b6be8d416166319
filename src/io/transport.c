/*
 * The libuv TCP transport (contract in include/void/transport.h).
 *
 * Structure: a struct void__conn is one logical link with its send queue. An
 * outbound conn exists for the transport's whole life, one per peer, and owns
 * at most one socket at a time (struct sock); when the socket dies, a backoff
 * timer dials again and the queue survives, so frames sent while a peer is
 * down go out once it is back (up to the queue bound). An inbound conn is
 * created on accept and freed with its socket.
 *
 * Ordering of libuv callbacks keeps this safe: write callbacks of a socket run
 * (with UV_ECANCELED) before its close callback, so a write batch may use its
 * conn until then, and a reconnect starts only from the close callback.
 */
#include "void/transport.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/log.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define WRITE_BATCH_MAX 64
#define RX_INITIAL      (64u * 1024u)
#define HELLO_BODY_SIZE 4

struct qframe {
    uint8_t *data;
    size_t len;
    uint64_t due_ms; /* loop time at which the frame may go out (delay injection) */
};

struct sock {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct void__conn *conn;
};

struct void__conn {
    struct void_transport *t;
    struct sock *sock;
    int outbound;
    int peer_index; /* outbound only */
    int ready;      /* outbound: connected and HELLO written; inbound: HELLO received */
    uint32_t bound_id;
    int writing;
    /* receive buffer */
    uint8_t *rx;
    size_t rx_len;
    size_t rx_cap;
    /* send queue, a ring */
    struct qframe *queue;
    uint32_t q_head;
    uint32_t q_count;
    /* outbound reconnection */
    uv_timer_t retry;
    uint32_t backoff_ms;
    struct void__conn *next; /* inbound list */
};

struct wbatch {
    uv_write_t req;
    struct sock *sock;
    uint32_t count;
    uv_buf_t bufs[WRITE_BATCH_MAX];
};

static void conn_flush(struct void__conn *c);
static void sock_close(struct sock *s);
static void dial(struct void__conn *c);

static void set_err(char *errbuf, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
}

static void queue_free_all(struct void__conn *c)
{
    for (uint32_t i = 0; i < c->q_count; i++) {
        free(c->queue[(c->q_head + i) % VOID_TRANSPORT_QUEUE_MAX].data);
    }
    c->q_head = 0;
    c->q_count = 0;
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct void__conn *conn_new(struct void_transport *t, int outbound, int peer_index)
{
    struct void__conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->queue = calloc(VOID_TRANSPORT_QUEUE_MAX, sizeof(struct qframe));
    c->rx = malloc(RX_INITIAL);
    if (c->queue == NULL || c->rx == NULL) {
        free(c->queue);
        free(c->rx);
        free(c);
        return NULL;
    }
    c->t = t;
    c->rx_cap = RX_INITIAL;
    c->outbound = outbound;
    c->peer_index = peer_index;
    c->backoff_ms = VOID_TRANSPORT_BACKOFF_MS_MIN;
    return c;
}

static void conn_free(struct void__conn *c)
{
    queue_free_all(c);
    free(c->queue);
    free(c->rx);
    free(c);
}

static int peer_index_of(const struct void_transport *t, uint32_t id)
{
    for (uint32_t i = 0; i < t->config.count_peers; i++) {
        if (t->peers[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* Whether traffic with node id is cut by fault injection. */
static int blocked(struct void_transport *t, uint32_t id)
{
    if (atomic_load(&t->fault_isolated) != 0) {
        return 1;
    }
    int i = peer_index_of(t, id);
    return i >= 0 && (atomic_load(&t->fault_blocked) & (1ull << i)) != 0;
}

/* ---- receiving ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct sock *s = h->data;
    struct void__conn *c = s->conn;
    if (c->rx_len == c->rx_cap && c->rx_cap < VOID_CODEC_FRAME_MAX) {
        size_t cap = c->rx_cap * 2 > VOID_CODEC_FRAME_MAX ? VOID_CODEC_FRAME_MAX : c->rx_cap * 2;
        uint8_t *rx = realloc(c->rx, cap);
        if (rx != NULL) {
            c->rx = rx;
            c->rx_cap = cap;
        }
    }
    *buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)(c->rx_cap - c->rx_len));
}

static int handle_hello(struct void__conn *c, const struct void_frame *f)
{
    struct void_transport *t = c->t;
    if (f->type != VOID_MSG_HELLO || f->body_len != HELLO_BODY_SIZE) {
        return VOID_EPERM;
    }
    uint32_t target = (uint32_t)f->body[0] << 24 | (uint32_t)f->body[1] << 16 |
                      (uint32_t)f->body[2] << 8 | (uint32_t)f->body[3];
    if (target != t->config.self_id) {
        return VOID_EPERM;
    }
    uint64_t now = realtime_ns();
    uint64_t skew = f->hlc.wall_ns > now ? f->hlc.wall_ns - now : now - f->hlc.wall_ns;
    if (skew > (uint64_t)VOID_TRANSPORT_HELLO_WINDOW_S * 1000000000ull) {
        void_log(VOID_LOG_WARN,
                 "transport: HELLO from %u refused: its clock is %llu s off ours",
                 (unsigned)f->sender,
                 (unsigned long long)(skew / 1000000000ull));
        return VOID_EPERM;
    }
    c->bound_id = f->sender;
    c->ready = 1;
    return 0;
}

/* Handles one whole frame; returns <0 when the connection must be closed. */
static int handle_frame(struct void__conn *c, const uint8_t *buf, size_t len)
{
    struct void_transport *t = c->t;
    struct void_frame f;
    int rc = t->config.skip_verify && c->ready
                 ? void_codec_decode(buf, len, &f)
                 : void_codec_decode_verified(buf, len, t->config.ring, &f);
    if (rc != 0) {
        t->stats.drop_bad_frame++;
        void_log(VOID_LOG_WARN,
                 "transport: bad frame on link %s %u: %s",
                 c->outbound ? "to" : "from",
                 (unsigned)c->bound_id,
                 void_strerror(rc));
        return rc;
    }
    if (!c->outbound && !c->ready) {
        if (handle_hello(c, &f) != 0) {
            t->stats.hello_rejected++;
            return VOID_EPERM;
        }
        return 0;
    }
    /* A link carries its bound peer's own frames, and the frames a replica
     * may relay verbatim for their author (codec.h). */
    if (f.sender != c->bound_id && !void_msg_relayable(f.type)) {
        t->stats.drop_wrong_sender++;
        return 0;
    }
    if (blocked(t, c->bound_id)) { /* faults cut links, whoever wrote the frame */
        t->stats.drop_blocked++;
        return 0;
    }
    t->stats.frames_received++;
    t->stats.bytes_received += len;
    t->config.on_frame(t->config.ctx, buf, len, &f);
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct sock *s = stream->data;
    struct void__conn *c = s->conn;
    if (nread < 0) {
        sock_close(s);
        return;
    }
    c->rx_len += (size_t)nread;
    size_t off = 0;
    while (c->sock == s) {
        long need = void_codec_peek_size(c->rx + off, c->rx_len - off);
        if (need < 0) {
            c->t->stats.drop_bad_frame++;
            sock_close(s);
            return;
        }
        if (need == 0 || (size_t)need > c->rx_len - off) {
            break;
        }
        if (handle_frame(c, c->rx + off, (size_t)need) != 0) {
            sock_close(s);
            return;
        }
        off += (size_t)need;
    }
    if (off > 0 && c->sock == s) {
        memmove(c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= off;
    }
}

/* ---- sending ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
    struct wbatch *b = (struct wbatch *)req;
    for (uint32_t i = 0; i < b->count; i++) {
        free(b->bufs[i].base);
    }
    struct sock *s = b->sock;
    free(b);
    if (s->conn == NULL) {
        return; /* the transport is shutting down */
    }
    struct void__conn *c = s->conn;
    c->writing = 0;
    if (status < 0) {
        sock_close(s);
        return;
    }
    conn_flush(c);
}

/* Writes every due frame at the head of the queue, up to one batch. */
static void conn_flush(struct void__conn *c)
{
    if (c->writing || c->sock == NULL || !c->ready || c->q_count == 0) {
        return;
    }
    uint64_t now = uv_now(c->t->config.loop);
    struct wbatch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return;
    }
    while (c->q_count > 0 && b->count < WRITE_BATCH_MAX) {
        struct qframe *q = &c->queue[c->q_head];
        if (q->due_ms > now) {
            break;
        }
        b->bufs[b->count++] = uv_buf_init((char *)q->data, (unsigned)q->len);
        c->t->stats.frames_sent++;
        c->t->stats.bytes_sent += q->len;
        q->data = NULL;
        c->q_head = (c->q_head + 1) % VOID_TRANSPORT_QUEUE_MAX;
        c->q_count--;
    }
    if (b->count == 0) {
        free(b);
        return;
    }
    b->sock = c->sock;
    c->writing = 1;
    if (uv_write(&b->req, (uv_stream_t *)&c->sock->tcp, b->bufs, b->count, on_write) != 0) {
        c->writing = 0;
        for (uint32_t i = 0; i < b->count; i++) {
            free(b->bufs[i].base);
        }
        free(b);
        sock_close(c->sock);
    }
}

static void on_delay_timer(uv_timer_t *timer)
{
    struct void_transport *t = timer->data;
    int pending = 0;
    for (uint32_t i = 0; i < t->config.count_peers; i++) {
        conn_flush(t->outbound[i]);
        pending |= t->outbound[i]->q_count > 0;
    }
    for (struct void__conn *c = t->inbound; c != NULL; c = c->next) {
        conn_flush(c);
        pending |= c->q_count > 0;
    }
    if (!pending && atomic_load(&t->fault_delay_ms) == 0) {
        uv_timer_stop(&t->delay_timer);
        t->delay_timer_on = 0;
    }
}

static void enqueue(struct void__conn *c, uint8_t *data, size_t len, uint64_t due_ms)
{
    struct void_transport *t = c->t;
    if (c->q_count == VOID_TRANSPORT_QUEUE_MAX) {
        free(c->queue[c->q_head].data);
        c->q_head = (c->q_head + 1) % VOID_TRANSPORT_QUEUE_MAX;
        c->q_count--;
        t->stats.drop_queue_full++;
    }
    struct qframe *q = &c->queue[(c->q_head + c->q_count) % VOID_TRANSPORT_QUEUE_MAX];
    q->data = data;
    q->len = len;
    q->due_ms = due_ms;
    c->q_count++;
    VOID_ASSERT(c->q_count <= VOID_TRANSPORT_QUEUE_MAX);
}

static struct void__conn *route(struct void_transport *t, uint32_t to)
{
    int i = peer_index_of(t, to);
    if (i >= 0) {
        return t->outbound[i];
    }
    for (struct void__conn *c = t->inbound; c != NULL; c = c->next) {
        if (c->ready && c->bound_id == to && c->sock != NULL) {
            return c;
        }
    }
    return NULL;
}

int void_transport_send(struct void_transport *t, uint32_t to, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(t != NULL);
    VOID_ASSERT(frame != NULL && len > 0);
    struct void__conn *c = route(t, to);
    if (c == NULL) {
        t->stats.drop_no_route++;
        return VOID_ENOTFOUND;
    }
    if (blocked(t, to)) {
        t->stats.drop_blocked++;
        return 0;
    }
    uint32_t loss = atomic_load(&t->fault_loss_pct);
    if (loss > 0 && void_prng_chance(&t->prng, loss, 100)) {
        t->stats.drop_loss++;
        return 0;
    }
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(copy, frame, len);
    uint32_t delay = atomic_load(&t->fault_delay_ms);
    enqueue(c, copy, len, uv_now(t->config.loop) + delay);
    if (delay > 0 && !t->delay_timer_on) {
        uv_timer_start(&t->delay_timer, on_delay_timer, 1, 1);
        t->delay_timer_on = 1;
    }
    conn_flush(c);
    return 0;
}

/* ---- connections -------------------------------------------------------- */

static void on_retry(uv_timer_t *timer)
{
    dial(timer->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct void__conn *c = s->conn;
    free(s);
    if (c == NULL) {
        return; /* shutting down: the conn is freed by fini */
    }
    struct void_transport *t = c->t;
    t->stats.disconnects++;
    if (c->outbound) {
        int was_ready = c->ready;
        c->sock = NULL;
        c->ready = 0;
        c->writing = 0;
        c->rx_len = 0;
        if (was_ready && t->config.on_link != NULL) {
            t->config.on_link(t->config.ctx, t->peers[c->peer_index].id, 0);
        }
        uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
        c->backoff_ms = c->backoff_ms * 2 > VOID_TRANSPORT_BACKOFF_MS_MAX
                            ? VOID_TRANSPORT_BACKOFF_MS_MAX
                            : c->backoff_ms * 2;
        return;
    }
    struct void__conn **pp = &t->inbound;
    while (*pp != c) {
        pp = &(*pp)->next;
    }
    *pp = c->next;
    conn_free(c);
}

static void sock_close(struct sock *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->tcp)) {
        uv_close((uv_handle_t *)&s->tcp, on_sock_closed);
    }
}

static int write_hello(struct void__conn *c)
{
    struct void_transport *t = c->t;
    uint32_t target = t->peers[c->peer_index].id;
    uint8_t body[HELLO_BODY_SIZE] = {
        (uint8_t)(target >> 24), (uint8_t)(target >> 16), (uint8_t)(target >> 8), (uint8_t)target};
    struct void_frame f = {.type = VOID_MSG_HELLO,
                           .sender = t->config.self_id,
                           .body = body,
                           .body_len = HELLO_BODY_SIZE};
    f.hlc.wall_ns = realtime_ns();
    size_t cap = void_codec_frame_size(HELLO_BODY_SIZE);
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    if (buf == NULL || void_codec_encode(&f, t->config.keypair, buf, cap, &len) != 0) {
        free(buf);
        return VOID_ENOMEM;
    }
    /* The HELLO goes first: ahead of anything queued while disconnected. */
    if (c->q_count == VOID_TRANSPORT_QUEUE_MAX) {
        free(c->queue[(c->q_head + c->q_count - 1) % VOID_TRANSPORT_QUEUE_MAX].data);
        c->q_count--;
        t->stats.drop_queue_full++;
    }
    c->q_head = (c->q_head + VOID_TRANSPORT_QUEUE_MAX - 1) % VOID_TRANSPORT_QUEUE_MAX;
    c->queue[c->q_head] = (struct qframe){.data = buf, .len = len, .due_ms = 0};
    c->q_count++;
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sock *s = req->data;
    struct void__conn *c = s->conn;
    if (c == NULL) {
        return;
    }
    if (status < 0 || uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) != 0 ||
        write_hello(c) != 0) {
        sock_close(s);
        return;
    }
    struct void_transport *t = c->t;
    t->stats.connects++;
    c->ready = 1;
    c->backoff_ms = VOID_TRANSPORT_BACKOFF_MS_MIN;
    uv_tcp_nodelay(&s->tcp, 1);
    void_log(VOID_LOG_DEBUG, "transport: connected to %u", (unsigned)t->peers[c->peer_index].id);
    if (t->config.on_link != NULL) {
        t->config.on_link(t->config.ctx, t->peers[c->peer_index].id, 1);
    }
    conn_flush(c);
}

static void dial(struct void__conn *c)
{
    struct void_transport *t = c->t;
    VOID_ASSERT(c->outbound);
    VOID_ASSERT(c->sock == NULL);
    if (t->closing) {
        return;
    }
    struct sock *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
        return;
    }
    s->conn = c;
    s->tcp.data = s;
    s->connect.data = s;
    uv_tcp_init(t->config.loop, &s->tcp);
    c->sock = s;
    c->rx_len = 0;
    const struct sockaddr *addr = (const struct sockaddr *)&t->peer_addrs[c->peer_index];
    if (uv_tcp_connect(&s->connect, &s->tcp, addr, on_connect) != 0) {
        sock_close(s);
    }
}

static void on_accept(uv_stream_t *server, int status)
{
    struct void_transport *t = server->data;
    if (status < 0 || t->closing) {
        return;
    }
    struct void__conn *c = conn_new(t, 0, -1);
    struct sock *s = c != NULL ? calloc(1, sizeof(*s)) : NULL;
    if (s == NULL) {
        if (c != NULL) {
            conn_free(c);
        }
        uv_tcp_t dummy;
        uv_tcp_init(t->config.loop, &dummy);
        (void)uv_accept(server, (uv_stream_t *)&dummy);
        uv_close((uv_handle_t *)&dummy, NULL);
        return;
    }
    s->conn = c;
    s->tcp.data = s;
    uv_tcp_init(t->config.loop, &s->tcp);
    c->sock = s;
    c->next = t->inbound;
    t->inbound = c;
    if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) != 0) {
        sock_close(s);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out)
{
    char service[8];
    (void)snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) {
        return VOID_EINVAL;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int start_listening(struct void_transport *t, char *errbuf, size_t errcap)
{
    struct sockaddr_storage addr;
    const char *host = t->config.listen_host;
    if (resolve(host, t->config.listen_port, &addr) != 0) {
        set_err(
            errbuf, errcap, "listen address %s:%d does not resolve", host, t->config.listen_port);
        return VOID_EINVAL;
    }
    uv_tcp_init(t->config.loop, &t->listener);
    t->listener.data = t;
    t->listening = 1;
    int rc = uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&t->listener, 128, on_accept);
    }
    if (rc != 0) {
        set_err(errbuf,
                errcap,
                "cannot listen on %s:%d: %s",
                host,
                t->config.listen_port,
                rc == UV_EADDRINUSE ? "address already in use (is another node running?)"
                                    : uv_strerror(rc));
        return rc == UV_EADDRINUSE ? VOID_EBUSY : VOID_EIO;
    }
    return 0;
}

static int setup_peers(struct void_transport *t, char *errbuf, size_t errcap)
{
    uint32_t n = t->config.count_peers;
    t->peer_addrs = calloc(n > 0 ? n : 1, sizeof(struct sockaddr_storage));
    if (t->peer_addrs == NULL) {
        return VOID_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (resolve(t->peers[i].host, t->peers[i].port, &t->peer_addrs[i]) != 0) {
            set_err(errbuf,
                    errcap,
                    "peer address %s:%d does not resolve",
                    t->peers[i].host,
                    t->peers[i].port);
            return VOID_EINVAL;
        }
        t->outbound[i] = conn_new(t, 1, (int)i);
        if (t->outbound[i] == NULL) {
            return VOID_ENOMEM;
        }
        t->outbound[i]->bound_id = t->peers[i].id;
        uv_timer_init(t->config.loop, &t->outbound[i]->retry);
        t->outbound[i]->retry.data = t->outbound[i];
    }
    return 0;
}

int void_transport_init(struct void_transport *t,
                        const struct void_transport_config *config,
                        char *errbuf,
                        size_t errcap)
{
    VOID_ASSERT(t != NULL && config != NULL);
    VOID_ASSERT(config->loop != NULL && config->keypair != NULL && config->on_frame != NULL);
    memset(t, 0, sizeof(*t));
    if (config->count_peers > VOID_TRANSPORT_PEERS_MAX || config->ring == NULL) {
        return VOID_EINVAL;
    }
    t->config = *config;
    for (uint32_t i = 0; i < config->count_peers; i++) {
        t->peers[i] = config->peers[i];
    }
    t->config.peers = NULL; /* copied into t->peers */
    void_prng_seed(&t->prng, config->seed);
    atomic_store(&t->fault_delay_ms, config->delay_ms);
    atomic_store(&t->fault_loss_pct, config->loss_pct);
    uv_timer_init(config->loop, &t->delay_timer);
    t->delay_timer.data = t;
    int rc = setup_peers(t, errbuf, errcap);
    if (rc == 0 && config->listen_host != NULL) {
        rc = start_listening(t, errbuf, errcap);
    }
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < t->config.count_peers; i++) {
        dial(t->outbound[i]);
    }
    return 0;
}

static void on_retry_closed(uv_handle_t *h)
{
    conn_free(h->data);
}

void void_transport_fini(struct void_transport *t)
{
    VOID_ASSERT(t != NULL);
    if (t->config.loop == NULL || t->closing) {
        return;
    }
    t->closing = 1;
    if (t->listening) {
        uv_close((uv_handle_t *)&t->listener, NULL);
    }
    uv_close((uv_handle_t *)&t->delay_timer, NULL);
    for (uint32_t i = 0; i < VOID_TRANSPORT_PEERS_MAX; i++) {
        struct void__conn *c = t->outbound[i];
        if (c == NULL) {
            continue;
        }
        if (c->sock != NULL) {
            c->sock->conn = NULL;
            sock_close(c->sock);
        }
        uv_close((uv_handle_t *)&c->retry, on_retry_closed);
        t->outbound[i] = NULL;
    }
    while (t->inbound != NULL) {
        struct void__conn *c = t->inbound;
        t->inbound = c->next;
        c->sock->conn = NULL;
        sock_close(c->sock);
        conn_free(c);
    }
    free(t->peer_addrs);
    t->peer_addrs = NULL;
}

void void_transport_set_fault(struct void_transport *t,
                              uint32_t delay_ms,
                              uint32_t loss_pct,
                              const uint32_t *blocked_ids,
                              uint32_t count,
                              int isolate)
{
    VOID_ASSERT(t != NULL);
    VOID_ASSERT(count == 0 || blocked_ids != NULL);
    uint64_t mask = 0;
    for (uint32_t i = 0; i < count; i++) {
        int p = peer_index_of(t, blocked_ids[i]);
        if (p >= 0) {
            mask |= 1ull << p;
        }
    }
    atomic_store(&t->fault_delay_ms, delay_ms);
    atomic_store(&t->fault_loss_pct, loss_pct > 100 ? 100 : loss_pct);
    atomic_store(&t->fault_blocked, mask);
    atomic_store(&t->fault_isolated, isolate ? 1u : 0u);
}

int void_transport_peer_up(const struct void_transport *t, uint32_t peer_id)
{
    VOID_ASSERT(t != NULL);
    int i = peer_index_of(t, peer_id);
    return i >= 0 && t->outbound[i] != NULL && t->outbound[i]->ready;
}

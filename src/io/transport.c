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
 *
 * Strangers (inbound conns before their HELLO) are also on a list in accept
 * order, so that the oldest is the one shed and the one whose deadline comes
 * first: one timer serves every deadline. uv_close releases the descriptor at
 * once and only defers the callback, so a conn leaves the counts and the
 * strangers list in sock_close, not in the close callback. A send queue is
 * allocated on first use: an inbound conn that never completes its HELLO
 * never gets one.
 */
#include "void/transport.h"

#include "void/assert.h"
#include "void/client_cert.h"
#include "void/error.h"
#include "void/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WRITE_BATCH_MAX  64
#define RX_INITIAL       (64u * 1024u)
#define HELLO_BODY_SIZE  4
#define HELLO_FRAME_SIZE (VOID_CODEC_HEADER_SIZE + HELLO_BODY_SIZE + VOID_SIGN_SIZE)
/* A client that no keyring lists sends its certificate in its HELLO. */
#define HELLO_CERT_FRAME_SIZE (HELLO_FRAME_SIZE + VOID_CLIENT_CERT_SIZE)

_Static_assert(HELLO_CERT_FRAME_SIZE < RX_INITIAL, "a stranger's buffer is the small one");

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
    int certified; /* inbound: bound by a client certificate; frames checked with cert_key */
    uint8_t cert_key[VOID_SIGN_PUBLIC_KEY_SIZE];
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
    /* inbound only */
    int counted;  /* holds a place in stats.inbound_open (its descriptor is open) */
    int stranger; /* on the strangers list: no HELLO yet */
    uint64_t accepted_ms;
    struct void__conn *s_prev, *s_next; /* strangers list */
    struct sockaddr_storage addr;       /* remote address */
    char addr_text[VOID_TRANSPORT_ADDR_TEXT_MAX];
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
static void stranger_log(struct void_transport *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
}

/* Logs a warning about an inbound connection, at most VOID_TRANSPORT_LOG_BURST
 * a window: anyone can cause these, and a log that grows at the rate a
 * stranger connects fills the disk and buries the lines that matter. */
static void stranger_log(struct void_transport *t, const char *fmt, ...)
{
    uint64_t now = uv_now(t->config.loop);
    if (now - t->log_window_ms >= VOID_TRANSPORT_LOG_WINDOW_MS) {
        if (t->log_suppressed > 0) {
            void_log(VOID_LOG_WARN,
                     "transport: %llu more warnings about inbound connections suppressed",
                     (unsigned long long)t->log_suppressed);
        }
        t->log_window_ms = now;
        t->log_lines = 0;
        t->log_suppressed = 0;
    }
    if (t->log_lines >= VOID_TRANSPORT_LOG_BURST) {
        t->log_suppressed++;
        return;
    }
    t->log_lines++;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    void_log(VOID_LOG_WARN, "transport: %s", line);
}

static void queue_free_all(struct void__conn *c)
{
    if (c->queue == NULL) {
        return;
    }
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

/* An inbound conn starts with a buffer that holds exactly one HELLO: that is
 * all a stranger may send. */
static struct void__conn *conn_new(struct void_transport *t, int outbound, int peer_index)
{
    struct void__conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    size_t cap = outbound                      ? RX_INITIAL
                 : t->config.admin_key != NULL ? HELLO_CERT_FRAME_SIZE
                                               : HELLO_FRAME_SIZE;
    c->rx = malloc(cap);
    if (c->rx == NULL) {
        free(c);
        return NULL;
    }
    c->t = t;
    c->rx_cap = cap;
    c->outbound = outbound;
    c->peer_index = peer_index;
    c->backoff_ms = VOID_TRANSPORT_BACKOFF_MS_MIN;
    t->stats.rx_bytes += cap;
    return c;
}

static void conn_free(struct void__conn *c)
{
    VOID_ASSERT(!c->stranger);
    VOID_ASSERT(c->t->stats.rx_bytes >= c->rx_cap);
    c->t->stats.rx_bytes -= c->rx_cap;
    queue_free_all(c);
    free(c->queue);
    free(c->rx);
    free(c);
}

/* Allocates c's send queue on first use. Returns 0 or VOID_ENOMEM. */
static int queue_ensure(struct void__conn *c)
{
    if (c->queue == NULL) {
        c->queue = calloc(VOID_TRANSPORT_QUEUE_MAX, sizeof(struct qframe));
    }
    return c->queue != NULL ? 0 : VOID_ENOMEM;
}

/* Resizes c's receive buffer to cap bytes, within the node's budget when it
 * grows. Returns 0, VOID_EFULL (over budget) or VOID_ENOMEM. */
static int rx_resize(struct void__conn *c, size_t cap)
{
    struct void_transport *t = c->t;
    VOID_ASSERT(cap >= c->rx_len);
    VOID_ASSERT(cap > 0 && cap <= VOID_CODEC_FRAME_MAX);
    if (cap > c->rx_cap && t->stats.rx_bytes - c->rx_cap + cap > t->rx_bytes_max) {
        return VOID_EFULL;
    }
    uint8_t *rx = realloc(c->rx, cap);
    if (rx == NULL) {
        return VOID_ENOMEM;
    }
    t->stats.rx_bytes = t->stats.rx_bytes - c->rx_cap + cap;
    c->rx = rx;
    c->rx_cap = cap;
    return 0;
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

/* ---- strangers ---------------------------------------------------------- */

static void stranger_add(struct void_transport *t, struct void__conn *c)
{
    VOID_ASSERT(!c->outbound && !c->stranger);
    c->stranger = 1;
    c->s_next = NULL;
    c->s_prev = t->strangers_tail;
    if (t->strangers_tail != NULL) {
        t->strangers_tail->s_next = c;
    } else {
        t->strangers = c;
    }
    t->strangers_tail = c;
    t->stats.strangers_open++;
}

static void stranger_remove(struct void_transport *t, struct void__conn *c)
{
    if (!c->stranger) {
        return;
    }
    VOID_ASSERT(t->stats.strangers_open > 0);
    *(c->s_prev != NULL ? &c->s_prev->s_next : &t->strangers) = c->s_next;
    *(c->s_next != NULL ? &c->s_next->s_prev : &t->strangers_tail) = c->s_prev;
    c->s_prev = NULL;
    c->s_next = NULL;
    c->stranger = 0;
    t->stats.strangers_open--;
}

/* Whether a and b are the same IP address (ports aside). */
static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return 0;
    }
    if (a->ss_family == AF_INET) {
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    }
    if (a->ss_family == AF_INET6) {
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    }
    return 1; /* an unknown family: all one host */
}

/* The oldest stranger, from host when it is not NULL; NULL if none. */
static struct void__conn *oldest_stranger(struct void_transport *t,
                                          const struct sockaddr_storage *host,
                                          uint32_t *count_from_host)
{
    struct void__conn *first = NULL;
    uint32_t count = 0;
    for (struct void__conn *c = t->strangers; c != NULL; c = c->s_next) {
        if (host == NULL || same_host(&c->addr, host)) {
            first = first == NULL ? c : first;
            count++;
        }
    }
    if (count_from_host != NULL) {
        *count_from_host = count;
    }
    return first;
}

/* Closes the oldest stranger (from host, when not NULL) to make room; 1 when
 * there was one. */
static int
shed_stranger(struct void_transport *t, const struct sockaddr_storage *host, const char *why)
{
    struct void__conn *c = oldest_stranger(t, host, NULL);
    if (c == NULL) {
        return 0;
    }
    t->stats.stranger_shed++;
    stranger_log(t, "closed unauthenticated connection from %s: %s", c->addr_text, why);
    sock_close(c->sock);
    VOID_ASSERT(!c->stranger);
    return 1;
}

static void on_handshake_timer(uv_timer_t *timer);

/* Arms the deadline timer for the oldest stranger. */
static void arm_handshake_timer(struct void_transport *t)
{
    if (t->strangers == NULL || t->closing) {
        uv_timer_stop(&t->handshake_timer);
        return;
    }
    uint64_t due = t->strangers->accepted_ms + t->handshake_ms;
    uint64_t now = uv_now(t->config.loop);
    uv_timer_start(&t->handshake_timer, on_handshake_timer, due > now ? due - now : 0, 0);
}

/* Closes every stranger whose deadline has passed: a connection that has
 * not proved who it is within handshake_ms is not a node or a client of
 * ours, or one too slow to serve. */
static void on_handshake_timer(uv_timer_t *timer)
{
    struct void_transport *t = timer->data;
    uint64_t now = uv_now(t->config.loop);
    while (t->strangers != NULL && t->strangers->accepted_ms + t->handshake_ms <= now) {
        struct void__conn *c = t->strangers;
        t->stats.stranger_timeouts++;
        stranger_log(t,
                     "closed connection from %s: no HELLO within %u ms",
                     c->addr_text,
                     (unsigned)t->handshake_ms);
        sock_close(c->sock);
        VOID_ASSERT(t->strangers != c);
    }
    arm_handshake_timer(t);
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

/* Hands libuv the free end of the receive buffer. A stranger's stays at one
 * HELLO; a bound link's starts at RX_INITIAL and doubles while a frame does
 * not fit, within the node's budget. A full buffer that cannot grow is handed
 * out empty, which libuv reports to on_read as UV_ENOBUFS. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct sock *s = h->data;
    struct void__conn *c = s->conn;
    VOID_ASSERT(c != NULL);
    if (c->outbound || c->ready) {
        size_t cap = c->rx_cap;
        if (cap < RX_INITIAL) {
            cap = RX_INITIAL;
        } else if (c->rx_len == cap && cap < VOID_CODEC_FRAME_MAX) {
            cap = cap * 2 > VOID_CODEC_FRAME_MAX ? VOID_CODEC_FRAME_MAX : cap * 2;
        }
        if (cap != c->rx_cap) {
            (void)rx_resize(c, cap); /* on failure: a full buffer ends the link below */
        }
    }
    VOID_ASSERT(c->rx_len <= c->rx_cap);
    *buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)(c->rx_cap - c->rx_len));
}

/* Decodes a frame and checks its signature: by the key of its sender in
 * the ring, or on a link bound by a client certificate, by the certificate's
 * key; a stranger's HELLO that carries a certificate, by the key of that
 * certificate once the admin key signed it for the HELLO's sender (and it
 * has not expired by our clock: the replicas' own check, against the batch
 * stamp, comes with each request). */
static int
decode_verified(struct void__conn *c, const uint8_t *buf, size_t len, struct void_frame *f)
{
    struct void_transport *t = c->t;
    int hello_cert = !c->outbound && !c->ready && len == HELLO_CERT_FRAME_SIZE;
    if (!c->certified && !hello_cert) {
        return void_codec_decode_verified(buf, len, t->config.ring, f);
    }
    int rc = void_codec_decode(buf, len, f);
    if (rc != 0) {
        return rc;
    }
    if (hello_cert) {
        struct void_client_cert cert;
        if (t->config.admin_key == NULL || f->body_len != HELLO_BODY_SIZE + VOID_CLIENT_CERT_SIZE ||
            void_client_cert_verify(f->body + HELLO_BODY_SIZE, t->config.admin_key, &cert) != 0 ||
            cert.id != f->sender || cert.expires_ns < realtime_ns()) {
            return VOID_EBAD_SIG;
        }
        memcpy(c->cert_key, cert.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    }
    rc = void_sign_verify(c->cert_key, VOID_SIGN_DOMAIN_FRAME, buf, len - VOID_SIGN_SIZE, f->sig);
    if (rc == 0 && hello_cert) {
        c->certified = 1;
    }
    return rc;
}

static int handle_hello(struct void__conn *c, const struct void_frame *f)
{
    struct void_transport *t = c->t;
    if (f->type != VOID_MSG_HELLO ||
        f->body_len != (c->certified ? HELLO_BODY_SIZE + VOID_CLIENT_CERT_SIZE : HELLO_BODY_SIZE)) {
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
        stranger_log(t,
                     "HELLO from %u (%s) refused: its clock is %llu s off ours",
                     (unsigned)f->sender,
                     c->addr_text,
                     (unsigned long long)(skew / 1000000000ull));
        return VOID_EPERM;
    }
    c->bound_id = f->sender;
    c->ready = 1;
    stranger_remove(t, c);
    return 0;
}

/* Handles one whole frame; returns <0 when the connection must be closed. */
static int handle_frame(struct void__conn *c, const uint8_t *buf, size_t len)
{
    struct void_transport *t = c->t;
    struct void_frame f;
    int rc = t->config.skip_verify && c->ready ? void_codec_decode(buf, len, &f)
                                               : decode_verified(c, buf, len, &f);
    if (rc != 0) {
        t->stats.drop_bad_frame++;
        if (c->outbound) {
            void_log(VOID_LOG_WARN,
                     "transport: bad frame on link to %u: %s",
                     (unsigned)c->bound_id,
                     void_strerror(rc));
        } else if (c->ready) {
            stranger_log(t,
                         "bad frame on link from %u (%s): %s",
                         (unsigned)c->bound_id,
                         c->addr_text,
                         void_strerror(rc));
        } else {
            stranger_log(
                t, "bad frame from unauthenticated %s: %s", c->addr_text, void_strerror(rc));
        }
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

/* Checks the next frame's header; returns its size, 0 while the header is
 * incomplete, or <0 when the connection must be closed: garbage, or a
 * stranger announcing anything but a HELLO-sized frame (before this check a
 * stranger's buffer grew to whatever body its header announced). */
static long next_frame_size(struct void__conn *c, size_t off)
{
    struct void_transport *t = c->t;
    long need = void_codec_peek_size(c->rx + off, c->rx_len - off);
    if (need < 0) {
        t->stats.drop_bad_frame++;
        if (c->outbound || c->ready) {
            stranger_log(t,
                         "garbage on link %s %u: %s",
                         c->outbound ? "to" : "from",
                         (unsigned)c->bound_id,
                         void_strerror((int)need));
        } else {
            stranger_log(
                t, "garbage from unauthenticated %s: %s", c->addr_text, void_strerror((int)need));
        }
        return need;
    }
    if (need > 0 && !c->outbound && !c->ready && need != HELLO_FRAME_SIZE &&
        (need != HELLO_CERT_FRAME_SIZE || t->config.admin_key == NULL)) {
        t->stats.stranger_bad_header++;
        stranger_log(t,
                     "closed connection from %s: announced a %ld-byte frame before its HELLO",
                     c->addr_text,
                     need);
        return VOID_EPERM;
    }
    return need;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct sock *s = stream->data;
    struct void__conn *c = s->conn;
    if (nread < 0) {
        if (nread == UV_ENOBUFS) {
            c->t->stats.rx_budget_closed++;
            stranger_log(c->t,
                         "closed link %s %u (%s): its frame does not fit in the receive budget",
                         c->outbound ? "to" : "from",
                         (unsigned)c->bound_id,
                         c->outbound ? "outbound" : c->addr_text);
        }
        sock_close(s);
        return;
    }
    c->rx_len += (size_t)nread;
    size_t off = 0;
    long need = 0;
    while (c->sock == s) {
        need = next_frame_size(c, off);
        if (need < 0) {
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
    if (c->sock != s) {
        return;
    }
    if (off > 0) {
        memmove(c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= off;
    }
    /* A large frame's buffer goes back once the next frame is small: each
     * link would otherwise keep the largest buffer it ever needed. */
    if (c->rx_cap > RX_INITIAL && c->rx_len <= RX_INITIAL && need <= (long)RX_INITIAL) {
        (void)rx_resize(c, RX_INITIAL);
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
    VOID_ASSERT(c->queue != NULL);
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

/* The link to `to` after `after` (NULL: the first): the outbound one for a
 * peer, else each ready inbound one bound to it in turn. Several processes
 * may share a client identity, each on its own connection and session
 * (include/void/pbft_client.h); a reply goes to all of them and each keeps
 * the replies of its own session. */
static struct void__conn *route(struct void_transport *t, uint32_t to, struct void__conn *after)
{
    int i = peer_index_of(t, to);
    if (i >= 0) {
        return after == NULL ? t->outbound[i] : NULL;
    }
    for (struct void__conn *c = after == NULL ? t->inbound : after->next; c != NULL; c = c->next) {
        if (c->ready && c->bound_id == to && c->sock != NULL) {
            return c;
        }
    }
    return NULL;
}

static int send_on(
    struct void_transport *t, struct void__conn *c, uint32_t to, const uint8_t *frame, size_t len);

int void_transport_send(struct void_transport *t, uint32_t to, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(t != NULL);
    VOID_ASSERT(frame != NULL && len > 0);
    struct void__conn *c = route(t, to, NULL);
    if (c == NULL) {
        t->stats.drop_no_route++;
        return VOID_ENOTFOUND;
    }
    int rc = 0;
    for (uint32_t guard = 0; c != NULL && rc == 0 && guard < VOID_TRANSPORT_SHARED_ID_MAX;
         guard++) {
        rc = send_on(t, c, to, frame, len);
        c = route(t, to, c);
    }
    return rc;
}

#ifdef VOID_TEST_HOOKS
/* The Byzantine strategy on a frame to replica `to` (a peer; frames to
 * clients go out honestly): *copy (malloc'd, *len bytes) is changed in place
 * or replaced. Returns 1 when nothing is to be sent. Test builds only. */
static int byz_mangle(struct void_transport *t, uint32_t to, uint8_t **copy, size_t *len)
{
    VOID_ASSERT(copy != NULL && *copy != NULL && len != NULL);
    int peer = peer_index_of(t, to);
    uint32_t byz = atomic_load(&t->fault_byz);
    if (peer < 0 || *len <= VOID_CODEC_HEADER_SIZE) {
        return 0;
    }
    switch (byz) {
    case VOID_TRANSPORT_BYZ_SILENT:
        return peer % 2 == 0;
    case VOID_TRANSPORT_BYZ_GARBAGE: {
        /* Past the header: the signature check at the receiver fails. */
        size_t at = VOID_CODEC_HEADER_SIZE +
                    (size_t)void_prng_below(&t->prng, (uint64_t)(*len - VOID_CODEC_HEADER_SIZE));
        (*copy)[at] ^= (uint8_t)(1u + void_prng_below(&t->prng, 255));
        return 0;
    }
    case VOID_TRANSPORT_BYZ_FUTURE:
    case VOID_TRANSPORT_BYZ_EQUIVOCATE: {
        struct void_frame f;
        if (void_codec_decode(*copy, *len, &f) != 0) {
            return 0;
        }
        uint8_t *body = malloc(f.body_len > 0 ? f.body_len : 1);
        if (body == NULL) {
            return 0;
        }
        memcpy(body, f.body, f.body_len);
        f.body = body;
        if (byz == VOID_TRANSPORT_BYZ_FUTURE) {
            f.hlc.wall_ns += 30ull * 1000 * 1000 * 1000; /* far past any max offset */
        } else if (f.type == VOID_MSG_PRE_PREPARE && peer % 2 == 1 &&
                   f.body_len >= 24 + VOID_HLC_ENCODED_SIZE) {
            /* A timestamp 1 ns later in the batch: another digest for the
             * same sequence number, validly signed (sim_byz.c equivocate). */
            struct void_hlc_ts ts = void_hlc_decode(body + 24);
            ts.wall_ns++;
            void_hlc_encode(ts, body + 24);
        } else {
            free(body);
            return 0;
        }
        size_t cap = void_codec_frame_size(f.body_len), out = 0;
        uint8_t *buf = malloc(cap);
        if (buf != NULL && void_codec_encode(&f, t->config.keypair, buf, cap, &out) == 0) {
            free(*copy);
            *copy = buf;
            *len = out;
        } else {
            free(buf);
        }
        free(body);
        return 0;
    }
    default:
        return 0;
    }
}
#endif

static int send_on(
    struct void_transport *t, struct void__conn *c, uint32_t to, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(c != NULL);
    if (blocked(t, to)) {
        t->stats.drop_blocked++;
        return 0;
    }
    uint32_t loss = atomic_load(&t->fault_loss_pct);
    if (loss > 0 && void_prng_chance(&t->prng, loss, 100)) {
        t->stats.drop_loss++;
        return 0;
    }
    uint8_t *copy = queue_ensure(c) == 0 ? malloc(len) : NULL;
    if (copy == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(copy, frame, len);
#ifdef VOID_TEST_HOOKS
    if (atomic_load(&t->fault_byz) != 0 && byz_mangle(t, to, &copy, &len) != 0) {
        free(copy);
        return 0; /* the strategy sends nothing to this one */
    }
#endif
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

/* Closes s. Its descriptor is released now (libuv closes it inside
 * uv_close), so an inbound conn leaves the counts now too. */
static void sock_close(struct sock *s)
{
    struct void__conn *c = s->conn;
    if (c != NULL && !c->outbound) {
        struct void_transport *t = c->t;
        stranger_remove(t, c);
        if (c->counted) {
            VOID_ASSERT(t->stats.inbound_open > 0);
            t->stats.inbound_open--;
            c->counted = 0;
        }
    }
    if (!uv_is_closing((uv_handle_t *)&s->tcp)) {
        uv_close((uv_handle_t *)&s->tcp, on_sock_closed);
    }
}

static int write_hello(struct void__conn *c)
{
    struct void_transport *t = c->t;
    uint32_t target = t->peers[c->peer_index].id;
    uint8_t body[HELLO_BODY_SIZE + VOID_CLIENT_CERT_SIZE] = {
        (uint8_t)(target >> 24), (uint8_t)(target >> 16), (uint8_t)(target >> 8), (uint8_t)target};
    size_t body_len = HELLO_BODY_SIZE;
    if (t->config.hello_cert != NULL) { /* a certified client: the key comes with it */
        memcpy(body + HELLO_BODY_SIZE, t->config.hello_cert, VOID_CLIENT_CERT_SIZE);
        body_len += VOID_CLIENT_CERT_SIZE;
    }
    struct void_frame f = {.type = VOID_MSG_HELLO,
                           .sender = t->config.self_id,
                           .body = body,
                           .body_len = (uint32_t)body_len};
    f.hlc.wall_ns = realtime_ns();
    size_t cap = void_codec_frame_size((uint32_t)body_len);
    VOID_ASSERT(cap == HELLO_FRAME_SIZE || cap == HELLO_CERT_FRAME_SIZE);
    uint8_t *buf = queue_ensure(c) == 0 ? malloc(cap) : NULL;
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

/* Fills c->addr and c->addr_text with the remote address of its socket. */
static void note_remote(struct void__conn *c)
{
    int len = (int)sizeof(c->addr);
    char ip[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (uv_tcp_getpeername(&c->sock->tcp, (struct sockaddr *)&c->addr, &len) == 0) {
        if (c->addr.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&c->addr;
            (void)uv_ip4_name(a, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        } else if (c->addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&c->addr;
            (void)uv_ip6_name(a, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        }
    }
    (void)snprintf(c->addr_text,
                   sizeof(c->addr_text),
                   c->addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
                   ip,
                   (unsigned)port);
}

/* Makes room for one more stranger from c's host: the oldest from the same
 * host goes when that host is at its cap, else the oldest of all when
 * strangers or inbound connections are at theirs. Returns 0 when there is
 * room, <0 when c itself must go (the inbound cap is reached by
 * authenticated connections). */
static int make_room(struct void_transport *t, struct void__conn *c)
{
    uint32_t from_host = 0;
    (void)oldest_stranger(t, &c->addr, &from_host);
    if (from_host >= t->unauth_per_addr_max) {
        (void)shed_stranger(t, &c->addr, "too many unauthenticated connections from its address");
    } else if (t->stats.strangers_open >= t->unauth_max) {
        (void)shed_stranger(t, NULL, "too many unauthenticated connections");
    }
    if (t->stats.inbound_open >= t->conn_max &&
        !shed_stranger(t, NULL, "the inbound connection cap is reached")) {
        t->stats.accept_refused++;
        stranger_log(t,
                     "refused connection from %s: %u inbound connections (the cap)",
                     c->addr_text,
                     (unsigned)t->conn_max);
        return VOID_EFULL;
    }
    VOID_ASSERT(t->stats.inbound_open < t->conn_max);
    VOID_ASSERT(t->stats.strangers_open < t->unauth_max);
    return 0;
}

static void on_reject_closed(uv_handle_t *h)
{
    free(h);
}

/* Accepts the pending connection into a new stranger conn. Without memory,
 * the connection is accepted and closed at once (a NULL-free path: a pending
 * connection left in libuv would stop accepting altogether). */
static void accept_one(struct void_transport *t)
{
    uv_stream_t *server = (uv_stream_t *)&t->listener;
    struct void__conn *c = conn_new(t, 0, -1);
    struct sock *s = c != NULL ? calloc(1, sizeof(*s)) : NULL;
    if (s == NULL) {
        if (c != NULL) {
            conn_free(c);
        }
        uv_tcp_t *reject = malloc(sizeof(*reject));
        if (reject != NULL) {
            uv_tcp_init(t->config.loop, reject);
            (void)uv_accept(server, (uv_stream_t *)reject);
            uv_close((uv_handle_t *)reject, on_reject_closed);
        }
        return;
    }
    s->conn = c;
    s->tcp.data = s;
    uv_tcp_init(t->config.loop, &s->tcp);
    c->sock = s;
    c->next = t->inbound;
    t->inbound = c;
    if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0) {
        sock_close(s);
        return;
    }
    note_remote(c);
    if (make_room(t, c) != 0) {
        sock_close(s);
        return;
    }
    c->counted = 1;
    t->stats.inbound_open++;
    c->accepted_ms = uv_now(t->config.loop);
    stranger_add(t, c);
    if (t->strangers == c) {
        arm_handshake_timer(t);
    }
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) != 0) {
        sock_close(s);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
}

static int listen_now(struct void_transport *t);

static void on_listener_closed(uv_handle_t *h)
{
    struct void_transport *t = h->data;
    t->listener_closed = 1;
}

/* Ends a pause of accepting: takes the descriptor reserve back, listens
 * again if the listener had to be closed, and accepts the connection that
 * waited. */
static void on_accept_timer(uv_timer_t *timer)
{
    struct void_transport *t = timer->data;
    if (t->closing) {
        return;
    }
    if (t->reserve_fd < 0) {
        t->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (t->relisten) {
        if (!t->listener_closed) {
            uv_timer_start(&t->accept_timer, on_accept_timer, VOID_TRANSPORT_ACCEPT_PAUSE_MS, 0);
            return;
        }
        t->listener_closed = 0;
        int rc = listen_now(t);
        if (rc != 0) {
            stranger_log(t, "cannot listen again yet: %s", uv_strerror(rc));
            uv_close((uv_handle_t *)&t->listener, on_listener_closed);
            t->listening = 0;
            uv_timer_start(&t->accept_timer, on_accept_timer, VOID_TRANSPORT_ACCEPT_PAUSE_MS, 0);
            return;
        }
        t->relisten = 0;
        void_log(VOID_LOG_INFO, "transport: listening again");
    }
    t->accept_paused = 0;
    if (t->accept_pending) {
        t->accept_pending = 0;
        accept_one(t); /* uv_accept also resumes libuv's watch on the listener */
    }
}

/* Frees a descriptor so that libuv's accept loop can end: libuv retries
 * accept(2) right after this callback, and when it has no spare descriptor
 * of its own (its EMFILE trick) it would call back with EMFILE forever. In
 * order: the oldest half of the strangers, else the reserve descriptor, else
 * the listener itself (reopened when the pause ends). Returns how many
 * strangers were closed. */
static uint32_t free_descriptors(struct void_transport *t)
{
    uint32_t target = (uint32_t)(t->stats.strangers_open + 1) / 2;
    uint32_t shed = 0;
    while (shed < target && shed_stranger(t, NULL, "out of descriptors")) {
        shed++;
    }
    if (shed > 0) {
        return shed;
    }
    if (t->reserve_fd >= 0) {
        close(t->reserve_fd);
        t->reserve_fd = -1;
        return 0;
    }
    stranger_log(t,
                 "no descriptor to free: closing the listener for %u ms",
                 (unsigned)VOID_TRANSPORT_ACCEPT_PAUSE_MS);
    uv_close((uv_handle_t *)&t->listener, on_listener_closed);
    t->listening = 0;
    t->relisten = 1;
    t->accept_pending = 0;
    return 0;
}

/* accept(2) failed. Out of descriptors (EMFILE, ENFILE) is pressure from
 * connections, not a fault of the node: descriptors are freed (strangers
 * first) and accepting pauses briefly. The node goes on in any case. */
static void accept_failed(struct void_transport *t, int status)
{
    t->stats.accept_errors++;
    uint32_t shed = 0;
    if (status == UV_EMFILE || status == UV_ENFILE) {
        shed = free_descriptors(t);
    }
    stranger_log(t,
                 "accept failed: %s; closed %u unauthenticated connections, pausing accept "
                 "for %u ms",
                 uv_strerror(status),
                 (unsigned)shed,
                 (unsigned)VOID_TRANSPORT_ACCEPT_PAUSE_MS);
    t->accept_paused = 1;
    uv_timer_start(&t->accept_timer, on_accept_timer, VOID_TRANSPORT_ACCEPT_PAUSE_MS, 0);
}

static void on_accept(uv_stream_t *server, int status)
{
    struct void_transport *t = server->data;
    VOID_ASSERT(t != NULL);
    if (t->closing) {
        return;
    }
    if (status < 0) {
        accept_failed(t, status);
        return;
    }
    if (t->accept_paused) {
        t->accept_pending = 1; /* libuv stops watching until uv_accept */
        return;
    }
    accept_one(t);
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

/* Opens the listener on the resolved listen address; returns a libuv code. */
static int listen_now(struct void_transport *t)
{
    const struct sockaddr *addr = (const struct sockaddr *)&t->peer_addrs[t->config.count_peers];
    uv_tcp_init(t->config.loop, &t->listener);
    t->listener.data = t;
    t->listening = 1;
    int rc = uv_tcp_bind(&t->listener, addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&t->listener, 128, on_accept);
    }
    return rc;
}

static int start_listening(struct void_transport *t, char *errbuf, size_t errcap)
{
    const char *host = t->config.listen_host;
    if (resolve(host, t->config.listen_port, &t->peer_addrs[t->config.count_peers]) != 0) {
        set_err(
            errbuf, errcap, "listen address %s:%d does not resolve", host, t->config.listen_port);
        return VOID_EINVAL;
    }
    t->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = listen_now(t);
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
    t->peer_addrs = calloc(n + 1, sizeof(struct sockaddr_storage)); /* + the listen address */
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

/* The inbound cap: what the descriptor limit leaves after the reserve and
 * one descriptor per outbound link, never above config->conn_max. Without
 * it, connections alone would exhaust the table and the record log could
 * not open its next segment: the node stopped on EMFILE. */
static uint32_t inbound_cap(const struct void_transport_config *config)
{
    uint32_t reserve =
        config->fd_reserve != 0 ? config->fd_reserve : VOID_TRANSPORT_FD_RESERVE_DEFAULT;
    uint64_t fds = UINT32_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        fds = (uint64_t)rl.rlim_cur;
    }
    uint64_t used = (uint64_t)reserve + config->count_peers;
    uint64_t cap = fds > used + VOID_TRANSPORT_CONN_MIN ? fds - used : VOID_TRANSPORT_CONN_MIN;
    if (config->conn_max != 0 && config->conn_max < cap) {
        cap = config->conn_max;
    }
    if (fds <= used + VOID_TRANSPORT_CONN_MIN) {
        void_log(VOID_LOG_WARN,
                 "transport: the descriptor limit (%llu) leaves no room beside the %u reserved; "
                 "accepting %u connections at most (raise ulimit -n)",
                 (unsigned long long)fds,
                 (unsigned)reserve,
                 (unsigned)cap);
    }
    VOID_ASSERT(cap >= 1 && cap <= UINT32_MAX);
    return (uint32_t)cap;
}

/* Fills in the effective limits from config (0: the default). */
static void set_limits(struct void_transport *t, const struct void_transport_config *config)
{
    t->handshake_ms =
        config->handshake_ms != 0 ? config->handshake_ms : VOID_TRANSPORT_HANDSHAKE_MS_DEFAULT;
    t->conn_max = config->listen_host != NULL ? inbound_cap(config) : 0;
    t->unauth_max =
        config->unauth_max != 0 ? config->unauth_max : VOID_TRANSPORT_UNAUTH_MAX_DEFAULT;
    t->unauth_max = t->unauth_max < t->conn_max ? t->unauth_max : t->conn_max;
    t->unauth_per_addr_max = config->unauth_per_addr_max != 0
                                 ? config->unauth_per_addr_max
                                 : VOID_TRANSPORT_UNAUTH_PER_ADDR_DEFAULT;
    t->rx_bytes_max =
        config->rx_bytes_max != 0 ? config->rx_bytes_max : VOID_TRANSPORT_RX_BYTES_MAX_DEFAULT;
    VOID_ASSERT(t->handshake_ms > 0 && t->unauth_per_addr_max > 0);
    VOID_ASSERT(t->unauth_max <= t->conn_max);
}

int void_transport_init(struct void_transport *t,
                        const struct void_transport_config *config,
                        char *errbuf,
                        size_t errcap)
{
    VOID_ASSERT(t != NULL && config != NULL);
    VOID_ASSERT(config->loop != NULL && config->keypair != NULL && config->on_frame != NULL);
    memset(t, 0, sizeof(*t));
    t->reserve_fd = -1;
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
    uv_timer_init(config->loop, &t->handshake_timer);
    t->handshake_timer.data = t;
    uv_timer_init(config->loop, &t->accept_timer);
    t->accept_timer.data = t;
    set_limits(t, config);
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

int void_transport_add_peer(struct void_transport *t, const struct void_transport_peer *peer)
{
    VOID_ASSERT(t != NULL && peer != NULL);
    VOID_ASSERT(!t->closing && t->peer_addrs != NULL);
    uint32_t n = t->config.count_peers;
    if (peer_index_of(t, peer->id) >= 0) {
        return 0;
    }
    if (n >= VOID_TRANSPORT_PEERS_MAX) {
        return VOID_EFULL;
    }
    struct sockaddr_storage addr;
    if (resolve(peer->host, peer->port, &addr) != 0) {
        return VOID_EINVAL;
    }
    /* One more address; the listen address stays last (listen_now). */
    struct sockaddr_storage *addrs = realloc(t->peer_addrs, (n + 2) * sizeof(*addrs));
    if (addrs == NULL) {
        return VOID_ENOMEM;
    }
    t->peer_addrs = addrs;
    addrs[n + 1] = addrs[n];
    addrs[n] = addr;
    struct void__conn *c = conn_new(t, 1, (int)n);
    if (c == NULL) {
        addrs[n] = addrs[n + 1];
        return VOID_ENOMEM;
    }
    t->peers[n] = *peer;
    c->bound_id = peer->id;
    uv_timer_init(t->config.loop, &c->retry);
    c->retry.data = c;
    t->outbound[n] = c;
    t->config.count_peers = n + 1;
    dial(c);
    VOID_ASSERT(peer_index_of(t, peer->id) == (int)n);
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
        t->listening = 0;
    }
    if (t->reserve_fd >= 0) {
        close(t->reserve_fd);
        t->reserve_fd = -1;
    }
    uv_close((uv_handle_t *)&t->delay_timer, NULL);
    uv_close((uv_handle_t *)&t->handshake_timer, NULL);
    uv_close((uv_handle_t *)&t->accept_timer, NULL);
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
        sock_close(c->sock); /* leaves the counts and the strangers list */
        c->sock->conn = NULL;
        conn_free(c);
    }
    VOID_ASSERT(t->strangers == NULL && t->stats.strangers_open == 0);
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

static const char *const byz_names[] = {
#define VOID__X(name, value, text) text,
    VOID_TRANSPORT_BYZ_MAP(VOID__X)
#undef VOID__X
};

const char *void_transport_byz_name(uint32_t byz)
{
    return byz < VOID_TRANSPORT_BYZ_COUNT ? byz_names[byz] : NULL;
}

int void_transport_byz_parse(const char *name)
{
    VOID_ASSERT(name != NULL);
    for (int i = 0; i < VOID_TRANSPORT_BYZ_COUNT; i++) {
        if (strcmp(name, byz_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int void_transport_byz_built(void)
{
#ifdef VOID_TEST_HOOKS
    return 1;
#else
    return 0;
#endif
}

int void_transport_set_byzantine(struct void_transport *t, uint32_t byz)
{
    VOID_ASSERT(t != NULL);
    if (byz >= VOID_TRANSPORT_BYZ_COUNT) {
        return VOID_EINVAL;
    }
    if (!void_transport_byz_built() && byz != 0) {
        return VOID_EPERM;
    }
    atomic_store(&t->fault_byz, byz);
    return 0;
}

uint64_t void_transport_peer_queued(const struct void_transport *t)
{
    VOID_ASSERT(t != NULL);
    uint64_t queued = 0;
    for (uint32_t i = 0; i < t->config.count_peers; i++) {
        queued += t->outbound[i] != NULL ? t->outbound[i]->q_count : 0;
    }
    return queued;
}

int void_transport_peer_up(const struct void_transport *t, uint32_t peer_id)
{
    VOID_ASSERT(t != NULL);
    int i = peer_index_of(t, peer_id);
    return i >= 0 && t->outbound[i] != NULL && t->outbound[i]->ready;
}

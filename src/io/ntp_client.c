/*
 * NTP client on libuv: the I/O half of the timekeeper. It owns the sockets,
 * the timers, the random transmit timestamps and the clock reads, and hands
 * everything it learns to the pure discipline core (src/core/clockdisc.c),
 * which decides whom to poll when and what time it is. Every datagram is run
 * through void_ntp_process_reply(); anything that fails is dropped and
 * counted by class, and never reaches the core except as a KoD.
 *
 * Timestamps: t1 is read just before the send call. t4 is the kernel's receive
 * timestamp of the datagram (SIOCGSTAMPNS, Linux), so the time the reply
 * waited for the event loop does not bias the offset; if the kernel gives
 * none, t4 is read first thing in the receive callback.
 */
#include "void/ntp_client.h"

#include "void/assert.h"
#include "void/config.h"
#include "void/error.h"

#include <linux/sockios.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t void_ntp_client_sys_now(const struct void_ntp_client *c)
{
    if (c->config.sys_clock != NULL) {
        return c->config.sys_clock(c->config.sys_clock_ctx);
    }
    return realtime_ns();
}

uint64_t void_ntp_client_now(void *client)
{
    struct void_ntp_client *c = client;
    VOID_ASSERT(c != NULL);
    return void_clockdisc_now(&c->disc, void_ntp_client_sys_now(c));
}

/* ---- addresses ------------------------------------------------------------ */

int void_ntp_client_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    VOID_ASSERT(host != NULL && port != NULL);
    VOID_ASSERT(host_cap > 0);
    return void_hostport_parse(s, 123, host, host_cap, port); /* the NTP port by default */
}

int void_ntp_client_resolve(const char *s, struct sockaddr_storage *addr)
{
    VOID_ASSERT(addr != NULL);
    char host[256], port_str[8];
    uint16_t port;
    if (void_ntp_client_parse_hostport(s, host, sizeof(host), &port) != 0) {
        return VOID_EPARSE;
    }
    snprintf(port_str, sizeof(port_str), "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port_str, &hints, &res) != 0 || res == NULL) {
        return VOID_ENTP_RESOLVE;
    }
    memset(addr, 0, sizeof(*addr));
    VOID_ASSERT(res->ai_addrlen <= sizeof(*addr));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (b == NULL || a->ss_family != b->sa_family) {
        return 0;
    }
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

int void_ntp_client_init(struct void_ntp_client *c,
                         uv_loop_t *loop,
                         const struct void_ntp_client_config *config)
{
    VOID_ASSERT(c != NULL && loop != NULL);
    VOID_ASSERT(config != NULL);
    memset(c, 0, sizeof(*c));
    if (config->count_servers == 0 || config->count_servers > VOID_CLOCKDISC_SERVERS_MAX ||
        config->servers == NULL) {
        return VOID_EINVAL;
    }
    if (sodium_init() < 0) {
        return VOID_EINTERNAL;
    }
    c->loop = loop;
    c->config = *config;
    c->config.servers = NULL; /* borrowed for init only */
    c->config.timeout_ms = config->timeout_ms ? config->timeout_ms : VOID_NTP_CLIENT_TIMEOUT_DEF;
    for (uint32_t i = 0; i < config->count_servers; i++) {
        struct void_ntp_client_server *s = &c->servers[i];
        int rc = void_ntp_client_resolve(config->servers[i], &s->addr);
        if (rc != 0) {
            return rc;
        }
        snprintf(s->name, sizeof(s->name), "%s", config->servers[i]);
        s->client = c;
        s->index = i;
    }
    c->config.disc.count_servers = config->count_servers;
    return void_clockdisc_init(&c->disc, &c->config.disc);
}

/* ---- requests and replies ---------------------------------------------------- */

static void emit(struct void_ntp_client *c, uint32_t server, int rc)
{
    if (c->config.on_event != NULL) {
        c->config.on_event(c->config.event_ctx, server, rc);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct void_ntp_client_server *s = t->data;
    VOID_ASSERT(s != NULL);
    if (s->sent_xmt == 0) {
        return;
    }
    /* Close the reply window: a late reply is now unexpected. The core
     * counts the miss at the next poll of this server. */
    s->sent_xmt = 0;
    s->count_timeouts++;
    s->last_error = VOID_ETIMEOUT;
    emit(s->client, s->index, VOID_ETIMEOUT);
}

/* log2 of the poll interval in seconds, as advertised in the request. */
static int8_t poll_log2(uint64_t poll_ns)
{
    int8_t l = 0;
    for (uint64_t secs = poll_ns / 1000000000ull; secs > 1 && l < 17; secs >>= 1) {
        l++;
    }
    return l;
}

static void send_request(struct void_ntp_client *c, struct void_ntp_client_server *s)
{
    if (s->sent_xmt != 0) {
        /* The next poll closes the previous reply window early. */
        uv_timer_stop(&s->timeout);
        on_timeout(&s->timeout);
        if (c->closing) {
            return; /* the event callback closed the client */
        }
    }
    uint64_t xmt = 0;
    while (xmt == 0) {
        randombytes_buf(&xmt, sizeof(xmt));
    }
    struct void_ntp_packet p;
    uint8_t wire[VOID_NTP_PACKET_SIZE];
    void_ntp_request(&p, xmt, poll_log2(c->disc.servers[s->index].poll_ns));
    void_ntp_encode(&p, wire);
    uv_buf_t buf = uv_buf_init((char *)wire, sizeof(wire));
    s->sent_xmt = xmt;
    /* Read just before the send: the datagram leaves early in the call
     * (on loopback the server's kernel stamps it before the call returns). */
    s->t1_sys_ns = void_ntp_client_sys_now(c);
    int rc = uv_udp_try_send(&s->sock, &buf, 1, (const struct sockaddr *)&s->addr);
    if (rc < 0) {
        s->sent_xmt = 0;
        s->count_send_errors++;
        return;
    }
    s->count_sent++;
    uv_timer_start(&s->timeout, on_timeout, c->config.timeout_ms, 0);
    VOID_ASSERT(s->sent_xmt != 0);
}

static void on_poll_timer(uv_timer_t *t)
{
    struct void_ntp_client *c = t->data;
    VOID_ASSERT(c != NULL);
    if (c->closing) {
        return;
    }
    uint64_t sys = void_ntp_client_sys_now(c);
    uint32_t mask = 0;
    uint64_t next = void_clockdisc_tick(&c->disc, sys, &mask);
    for (uint32_t i = 0; i < c->config.count_servers && !c->closing; i++) {
        if (mask & (1u << i)) {
            send_request(c, &c->servers[i]);
        }
    }
    if (c->closing || next == UINT64_MAX) {
        return; /* every server denied us: nothing left to poll */
    }
    uint64_t wait_ms = next > sys ? (next - sys + 999999) / 1000000 : 1;
    uv_timer_start(&c->poll_timer, on_poll_timer, wait_ms, 0);
}

/* Sorts a rejected datagram into its counter and tells the core about the
 * ones that end the exchange (KoD, unsynchronised). A forged or malformed
 * datagram leaves the request open: the real reply may still come. */
static void reject(struct void_ntp_client_server *s, int rc, uint64_t sys_ns)
{
    struct void_ntp_client *c = s->client;
    switch (rc) {
    case VOID_ENTP_ORIGIN:
        s->count_unexpected++;
        break;
    case VOID_ENTP_KOD_RATE:
    case VOID_ENTP_KOD_DENY:
    case VOID_ENTP_KOD_RSTR:
    case VOID_ENTP_KOD:
        s->count_kod++;
        s->sent_xmt = 0;
        uv_timer_stop(&s->timeout);
        void_clockdisc_kod(&c->disc, s->index, sys_ns, rc);
        break;
    case VOID_ENTP_UNSYNC:
    case VOID_ENTP_LEAP_ALARM:
        s->count_unsync++;
        s->sent_xmt = 0;
        uv_timer_stop(&s->timeout);
        break;
    default:
        s->count_malformed++;
        break;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct void_ntp_client_server *s = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)s->client->rx_buf, sizeof(s->client->rx_buf));
}

/* The system-clock time at which the datagram just read arrived: now, less
 * how long ago (on CLOCK_REALTIME) the kernel stamped it, so the time the
 * reply waited for the loop does not count. The correction is used only
 * when it is plausible (0..1 s); without a stamp, t4 is now. */
static uint64_t receive_time(const struct void_ntp_client_server *s)
{
    const struct void_ntp_client *c = s->client;
    uint64_t real_now = realtime_ns();
    uint64_t t4 = c->config.sys_clock != NULL ? void_ntp_client_sys_now(c) : real_now;
    uv_os_fd_t fd;
    struct timespec ts;
    if (uv_fileno((const uv_handle_t *)&s->sock, &fd) != 0 || ioctl(fd, SIOCGSTAMPNS, &ts) != 0) {
        return t4;
    }
    uint64_t stamp = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (stamp > real_now || real_now - stamp > 1000000000ull || real_now - stamp > t4) {
        return t4;
    }
    return t4 - (real_now - stamp);
}

static void on_recv(
    uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    struct void_ntp_client_server *s = h->data;
    struct void_ntp_client *c = s->client;
    if (nread == 0 && from == NULL) {
        return; /* libuv: nothing more to read */
    }
    uint64_t t4 = receive_time(s);
    int rc;
    if (nread < 0) {
        rc = VOID_EIO;
        s->count_malformed++;
    } else if (!same_addr(&s->addr, from) || s->sent_xmt == 0 || (flags & UV_UDP_PARTIAL)) {
        rc = VOID_ENTP_ORIGIN;
        s->count_unexpected++;
    } else {
        struct void_ntp_packet reply;
        struct void_ntp_sample sample;
        rc = void_ntp_process_reply((const uint8_t *)buf->base,
                                    (size_t)nread,
                                    s->sent_xmt,
                                    s->t1_sys_ns,
                                    t4,
                                    &reply,
                                    &sample);
        if (rc == 0) {
            s->sent_xmt = 0; /* one reply per request: a replay is now unexpected */
            uv_timer_stop(&s->timeout);
            s->count_accepted++;
            s->last_error = 0;
            void_clockdisc_sample(&c->disc, s->index, t4, &sample);
        } else {
            reject(s, rc, t4);
        }
    }
    if (rc != 0) {
        s->last_error = rc;
    }
    emit(c, s->index, rc);
}

/* ---- lifecycle --------------------------------------------------------------- */

static int open_server(struct void_ntp_client *c, struct void_ntp_client_server *s)
{
    if (uv_udp_init(c->loop, &s->sock) != 0) {
        return VOID_EIO;
    }
    s->sock.data = s;
    c->count_open++;
    if (uv_timer_init(c->loop, &s->timeout) != 0) {
        return VOID_EIO;
    }
    s->timeout.data = s;
    c->count_open++;
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    any.ss_family = s->addr.ss_family; /* wildcard address, ephemeral port */
    if (uv_udp_bind(&s->sock, (const struct sockaddr *)&any, 0) != 0 ||
        uv_udp_recv_start(&s->sock, on_alloc, on_recv) != 0) {
        return VOID_EIO;
    }
    /* The first SIOCGSTAMPNS switches on kernel receive timestamps for the
     * socket (and fails: nothing received yet); later ones read them. */
    uv_os_fd_t fd;
    struct timespec ts;
    if (uv_fileno((const uv_handle_t *)&s->sock, &fd) == 0) {
        (void)ioctl(fd, SIOCGSTAMPNS, &ts);
    }
    return 0;
}

int void_ntp_client_start(struct void_ntp_client *c)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(!c->started);
    c->started = 1;
    if (uv_timer_init(c->loop, &c->poll_timer) != 0) {
        return VOID_EIO;
    }
    c->poll_timer.data = c;
    c->count_open++;
    for (uint32_t i = 0; i < c->config.count_servers; i++) {
        int rc = open_server(c, &c->servers[i]);
        if (rc != 0) {
            return rc;
        }
    }
    on_poll_timer(&c->poll_timer);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct void_ntp_client *c = h->data;
    VOID_ASSERT(c->count_open > 0);
    if (--c->count_open == 0 && c->close_cb != NULL) {
        c->close_cb(c);
    }
}

static void close_handle(struct void_ntp_client *c, uv_handle_t *h)
{
    h->data = c;
    uv_close(h, on_closed);
}

void void_ntp_client_close(struct void_ntp_client *c, void (*cb)(struct void_ntp_client *c))
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(!c->closing);
    c->closing = 1;
    c->close_cb = cb;
    if (c->count_open == 0) {
        if (cb != NULL) {
            cb(c);
        }
        return;
    }
    /* Handles were opened in this order; count_open says how far start got. */
    uint32_t left = c->count_open;
    close_handle(c, (uv_handle_t *)&c->poll_timer);
    left--;
    for (uint32_t i = 0; i < c->config.count_servers && left > 0; i++) {
        close_handle(c, (uv_handle_t *)&c->servers[i].sock);
        if (--left > 0) {
            close_handle(c, (uv_handle_t *)&c->servers[i].timeout);
            left--;
        }
    }
    VOID_ASSERT(left == 0);
}

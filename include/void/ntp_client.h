/*
 * The timekeeper's driver: an NTP client on libuv that feeds the clock
 * discipline core (void/clockdisc.h) and exposes the disciplined virtual
 * clock as a void_clock_fn for the HLC.
 *
 * One UDP socket per server (so a reply can only come back on the socket
 * its request left from), requests with random transmit timestamps
 * (libsodium randombytes), a reply window per request, and counters for
 * everything that was dropped. Addresses are resolved once, blocking, at
 * init (getaddrinfo): the timekeeper starts before anything that could wait
 * on it.
 *
 * Everything runs on the loop's thread; none of these calls is thread-safe.
 */
#ifndef VOID_NTP_CLIENT_H
#define VOID_NTP_CLIENT_H

#include "void/clockdisc.h"
#include "void/hlc.h"
#include "void/ntp.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define VOID_NTP_CLIENT_NAME_MAX    264  /* "host:port" as configured, with NUL */
#define VOID_NTP_CLIENT_TIMEOUT_DEF 1000 /* ms a request waits for its reply */

struct void_ntp_client;

/* Called after each datagram or timeout of server i: rc is 0 for an
 * accepted sample, VOID_ETIMEOUT, or the VOID_ENTP_* code the datagram was
 * rejected with. It may call void_ntp_client_close(). */
typedef void (*void_ntp_client_event_fn)(void *ctx, uint32_t server, int rc);

struct void_ntp_client_config {
    const char *const *servers;        /* "host:port" / "[v6]:port"; borrowed for init */
    uint32_t count_servers;            /* 1..VOID_CLOCKDISC_SERVERS_MAX */
    struct void_clockdisc_config disc; /* count_servers is set from above */
    uint64_t timeout_ms;               /* 0: VOID_NTP_CLIENT_TIMEOUT_DEF */
    void_clock_fn sys_clock;           /* system clock; NULL: CLOCK_REALTIME. For tests. */
    void *sys_clock_ctx;
    void_ntp_client_event_fn on_event; /* may be NULL */
    void *event_ctx;
};

/* Per-server driver state and counters; read-only for callers. */
struct void_ntp_client_server {
    char name[VOID_NTP_CLIENT_NAME_MAX];
    struct sockaddr_storage addr;
    uv_udp_t sock;
    uv_timer_t timeout;
    struct void_ntp_client *client;
    uint32_t index;
    uint64_t sent_xmt;  /* random transmit of the open request; 0: none open */
    uint64_t t1_sys_ns; /* when it left, system clock */
    int last_error;     /* 0 or the last rejection / timeout code */
    uint64_t count_sent;
    uint64_t count_accepted;
    uint64_t count_malformed;  /* truncated, bad mode/version/timestamps/delay/root distance */
    uint64_t count_unexpected; /* origin mismatch, no request open, wrong source address */
    uint64_t count_kod;
    uint64_t count_unsync; /* stratum 16 or leap alarm */
    uint64_t count_timeouts;
    uint64_t count_send_errors;
};

struct void_ntp_client {
    uv_loop_t *loop;
    struct void_ntp_client_config config;
    struct void_clockdisc disc;
    struct void_ntp_client_server servers[VOID_CLOCKDISC_SERVERS_MAX];
    uv_timer_t poll_timer;
    uint32_t count_open; /* libuv handles initialised and not yet closed */
    int started;
    int closing;
    void (*close_cb)(struct void_ntp_client *c);
    uint8_t rx_buf[1024]; /* one datagram at a time: callbacks do not nest */
};

/* Splits "host:port", "[v6addr]:port" or a bare "host" (port 123) into host
 * (NUL-terminated, at most host_cap bytes with the NUL) and port: it is
 * void_hostport_parse (include/void/config.h) with the NTP port as default.
 * Returns 0 or VOID_EPARSE (empty host, bad brackets, port not 1..65535,
 * too long). */
int void_ntp_client_parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port);

/* Parses and resolves s into *addr (first UDP result). Returns 0,
 * VOID_EPARSE, or VOID_ENTP_RESOLVE (getaddrinfo failed). Blocks on DNS. */
int void_ntp_client_resolve(const char *s, struct sockaddr_storage *addr);

/* Resolves every server and initialises the core; no handle is opened yet.
 * loop is borrowed until the close callback. Returns 0, VOID_EINVAL (server
 * count, bad core config), VOID_EPARSE or VOID_ENTP_RESOLVE; then *c needs
 * no cleanup. */
int void_ntp_client_init(struct void_ntp_client *c,
                         uv_loop_t *loop,
                         const struct void_ntp_client_config *config);

/* Opens the sockets and timers and sends the first requests at once.
 * Returns 0 or VOID_EIO (socket/bind failure); in either case
 * void_ntp_client_close() must follow eventually. */
int void_ntp_client_start(struct void_ntp_client *c);

/* Closes every handle; cb (may be NULL) runs from the loop once all are
 * closed, after which *c may be freed. Safe after a failed start and when
 * never started (cb then runs before this returns). */
void void_ntp_client_close(struct void_ntp_client *c, void (*cb)(struct void_ntp_client *c));

/* Disciplined virtual time in Unix ns: a void_clock_fn, ctx is the client.
 * Non-decreasing. Use as the HLC's clock:
 *   struct void_hlc_config hc = {.clock = void_ntp_client_now, .clock_ctx = &client};
 * Cannot fail. */
uint64_t void_ntp_client_now(void *client);

/* The system clock as this client reads it (config.sys_clock or
 * CLOCK_REALTIME), Unix ns. Cannot fail. */
uint64_t void_ntp_client_sys_now(const struct void_ntp_client *c);

#endif

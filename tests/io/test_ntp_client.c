/*
 * Tests of the libuv NTP client (src/io/ntp_client.c) against a tiny fake
 * NTP server living on the same loop: a UDP socket on 127.0.0.1 that answers
 * each request according to a script (truncated packets, forged origins,
 * kiss-o'-death, stratum 0/16, leap alarm, replays, a reply from the wrong
 * address, ...). Also: address parsing and resolution errors, and the HLC
 * running on the disciplined clock.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/error.h"
#include "void/hlc.h"
#include "void/ntp.h"
#include "void/ntp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MS 1000000ull

enum fake_kind {
    F_END = 0, /* end of a reply list */
    F_VALID,
    F_TRUNCATED,
    F_WRONG_ORIGIN,
    F_OTHER_SOURCE, /* a valid reply, but sent from another port */
    F_KOD_RATE,
    F_KOD_DENY,
    F_KOD_OTHER,
    F_STRATUM16,
    F_LEAP3,
    F_ZERO_TX,
    F_CLIENT_MODE,
    F_BAD_VERSION,
    F_SILENT, /* no reply at all */
};

#define SCRIPT_MAX  16
#define REPLIES_MAX 4

struct fake {
    uv_udp_t sock, other;
    struct sockaddr_storage addr;
    int ipv6; /* listen on [::1] instead of 127.0.0.1 */
    enum fake_kind script[SCRIPT_MAX][REPLIES_MAX];
    uint32_t count_script;
    uint32_t count_requests;
    int64_t offset_ns; /* the fake server's clock minus CLOCK_REALTIME */
    uint8_t rx[512];
};

static uint64_t realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fake_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    struct fake *f = h->data;
    (void)n;
    *buf = uv_buf_init((char *)f->rx, sizeof(f->rx));
}

static void build_reply(struct fake *f, enum fake_kind k, uint64_t xmt, uint8_t out[48])
{
    uint64_t now = (uint64_t)((int64_t)realtime() + f->offset_ns);
    struct void_ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.version = 4;
    p.mode = VOID_NTP_MODE_SERVER;
    p.stratum = 1;
    p.ref_id = 0x4c4f434c; /* LOCL */
    p.origin_ts = xmt;
    p.receive_ts = void_ntp_ts_from_unix_ns(now);
    p.transmit_ts = void_ntp_ts_from_unix_ns(now + 5000);
    switch (k) {
    case F_WRONG_ORIGIN:
        p.origin_ts = xmt ^ 0x100;
        break;
    case F_KOD_RATE:
    case F_KOD_DENY:
    case F_KOD_OTHER:
        p.stratum = 0;
        p.ref_id = k == F_KOD_RATE ? 0x52415445 : k == F_KOD_DENY ? 0x44454e59 : 0x494e4954;
        break;
    case F_STRATUM16:
        p.stratum = 16;
        break;
    case F_LEAP3:
        p.leap = 3;
        break;
    case F_ZERO_TX:
        p.transmit_ts = 0;
        break;
    case F_CLIENT_MODE:
        p.mode = VOID_NTP_MODE_CLIENT;
        break;
    case F_BAD_VERSION:
        p.version = 1;
        break;
    default:
        break;
    }
    void_ntp_encode(&p, out);
}

static void fake_send(uv_udp_t *sock, const uint8_t *data, size_t len, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
    assert_true(uv_udp_try_send(sock, &b, 1, to) == (int)len);
}

static void
fake_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    struct fake *f = h->data;
    (void)flags;
    if (n < 48 || from == NULL) {
        return;
    }
    struct void_ntp_packet req;
    assert_int_equal(void_ntp_decode((const uint8_t *)buf->base, (size_t)n, &req), 0);
    assert_int_equal(req.mode, VOID_NTP_MODE_CLIENT);
    uint32_t k = f->count_requests++;
    const enum fake_kind *replies =
        k < f->count_script ? f->script[k] : (enum fake_kind[]){F_VALID, F_END};
    for (int r = 0; r < REPLIES_MAX && replies[r] != F_END; r++) {
        uint8_t out[48];
        build_reply(f, replies[r], req.transmit_ts, out);
        if (replies[r] == F_SILENT) {
            continue;
        }
        if (replies[r] == F_TRUNCATED) {
            fake_send(&f->sock, out, 30, from);
        } else if (replies[r] == F_OTHER_SOURCE) {
            fake_send(&f->other, out, 48, from);
        } else {
            fake_send(&f->sock, out, 48, from);
        }
    }
}

static void fake_start(struct fake *f, uv_loop_t *loop)
{
    assert_int_equal(uv_udp_init(loop, &f->sock), 0);
    assert_int_equal(uv_udp_init(loop, &f->other), 0);
    f->sock.data = f->other.data = f;
    if (f->ipv6) {
        uv_ip6_addr("::1", 0, (struct sockaddr_in6 *)&f->addr);
    } else {
        uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&f->addr);
    }
    assert_int_equal(uv_udp_bind(&f->sock, (const struct sockaddr *)&f->addr, 0), 0);
    assert_int_equal(uv_udp_bind(&f->other, (const struct sockaddr *)&f->addr, 0), 0);
    int len = sizeof(f->addr);
    assert_int_equal(uv_udp_getsockname(&f->sock, (struct sockaddr *)&f->addr, &len), 0);
    assert_int_equal(uv_udp_recv_start(&f->sock, fake_alloc, fake_recv), 0);
}

/* "127.0.0.1:PORT" or "[::1]:PORT" for the client's config. */
static void fake_name(const struct fake *f, char *buf, size_t cap)
{
    if (f->ipv6) {
        snprintf(buf, cap, "[::1]:%u", ntohs(((const struct sockaddr_in6 *)&f->addr)->sin6_port));
    } else {
        snprintf(buf, cap, "127.0.0.1:%u", ntohs(((const struct sockaddr_in *)&f->addr)->sin_port));
    }
}

static void fake_close(struct fake *f)
{
    uv_close((uv_handle_t *)&f->sock, NULL);
    uv_close((uv_handle_t *)&f->other, NULL);
}

/* Shared harness: one client, one fake, a deadline timer. */
struct rig {
    uv_loop_t loop;
    struct fake fake;
    struct void_ntp_client client;
    uv_timer_t deadline;
    char server[64];
    int stop_on;       /* an event code that ends the run early (after a grace period) */
    uint64_t grace_ms; /* how long to keep watching after stop_on */
};

static void rig_closed(struct void_ntp_client *c)
{
    (void)c;
}

static void on_deadline(uv_timer_t *t)
{
    struct rig *r = t->data;
    void_ntp_client_close(&r->client, rig_closed);
    fake_close(&r->fake);
    uv_close((uv_handle_t *)&r->deadline, NULL);
}

/* Ends the run grace_ms after the event stop_on, e.g. to check that
 * nothing else happens after a KoD DENY, without a fixed run time that a
 * slow machine could overrun. */
static void rig_event(void *ctx, uint32_t server, int rc)
{
    struct rig *r = ctx;
    (void)server;
    if (r->stop_on != 0 && rc == r->stop_on) {
        uv_timer_start(&r->deadline, on_deadline, r->grace_ms, 0);
    }
}

static void rig_run(struct rig *r, struct void_ntp_client_config *cfg, uint64_t run_ms)
{
    cfg->on_event = rig_event;
    cfg->event_ctx = r;
    uv_loop_init(&r->loop);
    fake_start(&r->fake, &r->loop);
    fake_name(&r->fake, r->server, sizeof(r->server));
    const char *servers[] = {r->server};
    cfg->servers = servers;
    cfg->count_servers = 1;
    assert_int_equal(void_ntp_client_init(&r->client, &r->loop, cfg), 0);
    assert_int_equal(void_ntp_client_start(&r->client), 0);
    uv_timer_init(&r->loop, &r->deadline);
    r->deadline.data = r;
    uv_timer_start(&r->deadline, on_deadline, run_ms, 0);
    assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void script(struct fake *f, uint32_t k, enum fake_kind a, enum fake_kind b, enum fake_kind c)
{
    f->script[k][0] = a;
    f->script[k][1] = b;
    f->script[k][2] = c;
    f->script[k][3] = F_END;
    if (k + 1 > f->count_script) {
        f->count_script = k + 1;
    }
}

/* Setup: a fake server that answers successive polls (every 100 ms, reply
 * window 80 ms: wide enough that a loaded machine still answers inside it;
 * 25 ms missed one reply beside a simulator campaign) with: a truncated packet; a reply from another port, a
 * forged origin, then the real reply; stratum 16; leap alarm; a zero
 * transmit timestamp; client mode; version 1; a valid reply sent twice
 * (replay); a KoD with an unknown code; KoD RATE; and KoD DENY. Expected:
 * each bad datagram is counted in its class and never used (4 malformed, 3
 * unexpected, 2 unsynchronised, 3 KoD), only the two genuine replies are
 * accepted, the forged ones did not spoil the genuine one that followed,
 * RATE doubled the interval, and after DENY no request is ever sent again. */
static void test_ntp_client_rejects_and_counts_bad_replies(void **state)
{
    (void)state;
    static struct rig r;
    memset(&r, 0, sizeof(r));
    struct fake *f = &r.fake;
    script(f, 0, F_TRUNCATED, F_END, F_END);
    script(f, 1, F_OTHER_SOURCE, F_WRONG_ORIGIN, F_VALID);
    script(f, 2, F_STRATUM16, F_END, F_END);
    script(f, 3, F_LEAP3, F_END, F_END);
    script(f, 4, F_ZERO_TX, F_END, F_END);
    script(f, 5, F_CLIENT_MODE, F_END, F_END);
    script(f, 6, F_BAD_VERSION, F_END, F_END);
    script(f, 7, F_VALID, F_VALID, F_END);
    script(f, 8, F_KOD_OTHER, F_END, F_END);
    script(f, 9, F_KOD_RATE, F_END, F_END);
    script(f, 10, F_KOD_DENY, F_END, F_END);
    struct void_ntp_client_config cfg = {
        .disc = {.poll_min_ns = 100 * MS, .poll_max_ns = 400 * MS, .unreach_polls = 100},
        .timeout_ms = 80};
    r.stop_on = VOID_ENTP_KOD_DENY;
    r.grace_ms = 700; /* the 200 ms poll would have fired 3 more times */
    rig_run(&r, &cfg, 20000);
    const struct void_ntp_client_server *s = &r.client.servers[0];
    assert_int_equal(f->count_requests, 11);
    assert_int_equal(s->count_sent, 11);
    assert_int_equal(s->count_accepted, 2);
    assert_int_equal(s->count_malformed, 4);
    assert_int_equal(s->count_unexpected, 3);
    assert_int_equal(s->count_unsync, 2);
    assert_int_equal(s->count_kod, 3);
    assert_int_equal(r.client.disc.servers[0].state, VOID_CLOCKDISC_DENIED);
    assert_int_equal(r.client.disc.servers[0].poll_floor_ns, 200 * MS);
    assert_int_equal(r.client.disc.servers[0].count_samples, 2);
    assert_int_equal(s->last_error, VOID_ENTP_KOD_DENY);
}

static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int ok = fd >= 0 && bind(fd, (const struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Setup: the fake server on [::1], answering validly, once also from
 * another port. Action: 6 polls 30 ms apart. Expected: the IPv6 path
 * (bracketed address, source check) accepts the genuine replies and counts
 * the one from the wrong port as unexpected. */
static void test_ntp_client_works_over_ipv6(void **state)
{
    (void)state;
    static struct rig r;
    memset(&r, 0, sizeof(r));
    if (!have_ipv6_loopback()) {
        skip(); /* e.g. a container started with IPv6 disabled */
    }
    r.fake.ipv6 = 1;
    script(&r.fake, 0, F_VALID, F_END, F_END);
    script(&r.fake, 1, F_VALID, F_END, F_END);
    script(&r.fake, 2, F_OTHER_SOURCE, F_VALID, F_END);
    struct void_ntp_client_config cfg = {.disc = {.poll_min_ns = 30 * MS, .poll_max_ns = 30 * MS},
                                         .timeout_ms = 20};
    rig_run(&r, &cfg, 200);
    const struct void_ntp_client_server *s = &r.client.servers[0];
    assert_int_equal(s->addr.ss_family, AF_INET6);
    assert_true(s->count_accepted >= 4);
    /* every request was answered; only the last may be cut off by the end */
    assert_true(s->count_accepted + 1 >= r.fake.count_requests);
    assert_int_equal(s->count_unexpected, 1);
    assert_int_equal(r.client.disc.servers[0].state, VOID_CLOCKDISC_TRUECHIMER);
}

/* Setup: a fake server that never answers. Action: run 10 polls of 30 ms
 * with a 10 ms reply window. Expected: every request times out, the reach
 * register is empty and the server ends unreachable after unreach_polls. */
static void test_ntp_client_times_out_silent_server(void **state)
{
    (void)state;
    static struct rig r;
    memset(&r, 0, sizeof(r));
    for (uint32_t k = 0; k < SCRIPT_MAX; k++) {
        script(&r.fake, k, F_SILENT, F_END, F_END);
    }
    struct void_ntp_client_config cfg = {
        .disc = {.poll_min_ns = 30 * MS, .poll_max_ns = 30 * MS, .unreach_polls = 3},
        .timeout_ms = 10};
    rig_run(&r, &cfg, 330);
    const struct void_ntp_client_server *s = &r.client.servers[0];
    assert_true(s->count_sent >= 5);
    assert_true(s->count_timeouts >= s->count_sent - 1);
    assert_int_equal(s->count_accepted, 0);
    assert_int_equal(r.client.disc.servers[0].reach, 0);
    assert_int_equal(r.client.disc.servers[0].state, VOID_CLOCKDISC_UNREACHABLE);
}

struct fake_sys {
    int64_t offset_ns;
};

static uint64_t fake_sys_clock(void *ctx)
{
    const struct fake_sys *fs = ctx;
    return (uint64_t)((int64_t)realtime() + fs->offset_ns);
}

/* Setup: the "system clock" the client reads is 40 ms behind real time; a
 * fake server serves real time; slew bound 100000 ppm so the test is fast.
 * An HLC takes its physical time from void_ntp_client_now. Action: poll
 * every 20 ms for 1.5 s, reading the HLC throughout. Expected: HLC
 * timestamps strictly increase; at the end the HLC wall time is within 2 ms
 * of real time although the system clock is 40 ms off (it follows the
 * disciplined clock, not the system clock). */
static void test_ntp_client_hlc_runs_on_disciplined_clock(void **state)
{
    (void)state;
    static struct rig r;
    memset(&r, 0, sizeof(r));
    struct fake_sys fs = {-40 * (int64_t)MS};
    struct void_ntp_client_config cfg = {
        .disc = {.poll_min_ns = 20 * MS, .poll_max_ns = 20 * MS, .slew_ppm_max = 100000},
        .timeout_ms = 15,
        .sys_clock = fake_sys_clock,
        .sys_clock_ctx = &fs};
    /* rig_run runs the loop to the end; drive it by hand here to read the
     * HLC while the client runs. */
    uv_loop_init(&r.loop);
    fake_start(&r.fake, &r.loop);
    fake_name(&r.fake, r.server, sizeof(r.server));
    const char *servers[] = {r.server};
    cfg.servers = servers;
    cfg.count_servers = 1;
    assert_int_equal(void_ntp_client_init(&r.client, &r.loop, &cfg), 0);
    assert_int_equal(void_ntp_client_start(&r.client), 0);
    struct void_hlc hlc;
    struct void_hlc_config hc = {.clock = void_ntp_client_now, .clock_ctx = &r.client};
    void_hlc_init(&hlc, &hc);
    struct void_hlc_ts prev = void_hlc_now(&hlc);
    uint64_t end = realtime() + 1500 * MS;
    while (realtime() < end) {
        uv_run(&r.loop, UV_RUN_ONCE);
        struct void_hlc_ts ts = void_hlc_now(&hlc);
        assert_true(void_hlc_compare(ts, prev) > 0);
        prev = ts;
    }
    int64_t hlc_err = (int64_t)void_hlc_now(&hlc).wall_ns - (int64_t)realtime();
    int64_t sys_err = (int64_t)fake_sys_clock(&fs) - (int64_t)realtime();
    print_message("system clock error %lld us, HLC error %lld us\n",
                  (long long)(sys_err / 1000),
                  (long long)(hlc_err / 1000));
    assert_true(llabs(sys_err) > 39 * (int64_t)MS);
    assert_true(llabs(hlc_err) < 2 * (int64_t)MS);
    assert_true(r.client.servers[0].count_accepted > 10);
    void_ntp_client_close(&r.client, rig_closed);
    fake_close(&r.fake);
    assert_int_equal(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&r.loop), 0);
}

/* Setup: good and bad server strings. Action: parse / resolve. Expected:
 * host and port split correctly (IPv6 in brackets, default port 123);
 * empty host, bad ports and bare IPv6 are VOID_EPARSE; an unresolvable
 * name is VOID_ENTP_RESOLVE, also from init, which then needs no cleanup. */
static void test_ntp_client_parses_and_resolves_addresses(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(void_ntp_client_parse_hostport("127.0.0.11:11123", host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "127.0.0.11");
    assert_int_equal(port, 11123);
    assert_int_equal(void_ntp_client_parse_hostport("[::1]:5", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 5);
    assert_int_equal(void_ntp_client_parse_hostport("localhost", host, sizeof(host), &port), 0);
    assert_int_equal(port, 123);
    const char *bad[] = {"",
                         ":123",
                         "host:",
                         "host:0",
                         "host:65536",
                         "host:12a",
                         "::1:123",
                         "[::1",
                         "[::1]x",
                         "host:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(void_ntp_client_parse_hostport(bad[i], host, sizeof(host), &port),
                         VOID_EPARSE);
    }
    struct sockaddr_storage ss;
    assert_int_equal(void_ntp_client_resolve("127.0.0.1:123", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(void_ntp_client_resolve("no-such-host.invalid:123", &ss), VOID_ENTP_RESOLVE);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct void_ntp_client c;
    const char *servers[] = {"127.0.0.1:123", "bad:port"};
    struct void_ntp_client_config cfg = {.servers = servers, .count_servers = 2};
    assert_int_equal(void_ntp_client_init(&c, &loop, &cfg), VOID_EPARSE);
    cfg.count_servers = 0;
    assert_int_equal(void_ntp_client_init(&c, &loop, &cfg), VOID_EINVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntp_client_rejects_and_counts_bad_replies),
        cmocka_unit_test(test_ntp_client_times_out_silent_server),
        cmocka_unit_test(test_ntp_client_works_over_ipv6),
        cmocka_unit_test(test_ntp_client_hlc_runs_on_disciplined_clock),
        cmocka_unit_test(test_ntp_client_parses_and_resolves_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Tests of the TCP transport with real sockets on loopback: two or three
 * transports on one libuv loop (so the test is single-threaded and bounded by
 * a deadline timer). They cover the HELLO binding, verification of frames,
 * reconnection after a peer restarts, the fault-injection layer, and the
 * limits on strangers (connections before their HELLO: deadline, size of
 * what they may send, caps per address and in total, descriptor pressure).
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include "void/codec.h"
#include "void/error.h"
#include "void/sign.h"
#include "void/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* BASE_PORT..BASE_PORT+9, picked free at setup: another worktree may run
 * this test at the same time on the same machine. */
static uint16_t BASE_PORT;

/* First base in 20000..29990 (from the pid on) whose 10 ports all bind. */
static uint16_t pick_base_port(void)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint16_t base =
            (uint16_t)(20000 + ((unsigned)getpid() * 10u + (unsigned)attempt * 10u) % 10000u);
        int ok = 1;
        for (uint16_t p = base; p < base + 10 && ok; p++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
            if (fd >= 0) {
                close(fd);
            }
        }
        if (ok) {
            return base;
        }
    }
    return 0;
}

struct node {
    struct void_transport t;
    struct void_sign_keypair kp;
    uint32_t id;
    uint64_t received;
    uint32_t last_sender;
    uint8_t last_type;
    uint64_t links_up;
};

static uv_loop_t loop;
static struct void_keyring ring;
static struct void_sign_keypair stranger_kp; /* not in the ring */

static void on_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *f)
{
    struct node *n = ctx;
    (void)buf;
    (void)len;
    n->received++;
    n->last_sender = f->sender;
    n->last_type = f->type;
}

static void on_link(void *ctx, uint32_t peer, int up)
{
    struct node *n = ctx;
    (void)peer;
    n->links_up += up ? 1u : 0u;
}

static void keypair(struct void_sign_keypair *kp, uint8_t s)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {s};
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

/* Limits for the next start() (zero: the defaults); reset by start(). */
static struct void_transport_config limits;

/* Starts node id listening on BASE_PORT + id and dialling the given peers. */
static void start(struct node *n,
                  uint32_t id,
                  const uint32_t *peers,
                  uint32_t count,
                  int listen,
                  const struct void_sign_keypair *kp)
{
    struct void_transport_peer p[4];
    for (uint32_t i = 0; i < count; i++) {
        p[i].id = peers[i];
        snprintf(p[i].host, sizeof(p[i].host), "127.0.0.1");
        p[i].port = (uint16_t)(BASE_PORT + peers[i]);
    }
    n->id = id;
    if (kp != NULL) {
        n->kp = *kp;
    } else {
        keypair(&n->kp, (uint8_t)id);
    }
    struct void_transport_config c = {.loop = &loop,
                                      .self_id = id,
                                      .keypair = &n->kp,
                                      .ring = &ring,
                                      .listen_host = listen ? "127.0.0.1" : NULL,
                                      .listen_port = (uint16_t)(BASE_PORT + id),
                                      .count_peers = count,
                                      .peers = p,
                                      .on_frame = on_frame,
                                      .on_link = on_link,
                                      .ctx = n,
                                      .seed = id,
                                      .handshake_ms = limits.handshake_ms,
                                      .unauth_max = limits.unauth_max,
                                      .unauth_per_addr_max = limits.unauth_per_addr_max,
                                      .conn_max = limits.conn_max,
                                      .fd_reserve = limits.fd_reserve,
                                      .rx_bytes_max = limits.rx_bytes_max};
    memset(&limits, 0, sizeof(limits));
    char err[256] = "";
    assert_int_equal(void_transport_init(&n->t, &c, err, sizeof(err)), 0);
}

static size_t
frame(const struct void_sign_keypair *kp, uint32_t sender, uint8_t type, uint8_t *buf, size_t cap)
{
    uint8_t body[16] = "hello, replica";
    struct void_frame f = {.type = type, .sender = sender, .body = body, .body_len = sizeof(body)};
    size_t len = 0;
    assert_int_equal(void_codec_encode(&f, kp, buf, cap, &len), 0);
    return len;
}

static void nap(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&ts, NULL);
}

/* Runs the loop until *counter reaches want or 3 s pass. */
static void run_until(const uint64_t *counter, uint64_t want)
{
    uint64_t start = uv_now(&loop);
    while (*counter < want && uv_now(&loop) - start < 3000) {
        uv_run(&loop, UV_RUN_NOWAIT);
        nap();
        uv_update_time(&loop);
    }
}

/* Runs the loop for ms milliseconds. */
static void run_for(uint64_t ms)
{
    uint64_t start = uv_now(&loop);
    while (uv_now(&loop) - start < ms) {
        uv_run(&loop, UV_RUN_NOWAIT);
        nap();
        uv_update_time(&loop);
    }
}

static void stop(struct node *n)
{
    void_transport_fini(&n->t);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(void_sign_global_init(), 0);
    BASE_PORT = pick_base_port();
    assert_true(BASE_PORT != 0);
    uv_loop_init(&loop);
    void_keyring_init(&ring);
    for (uint8_t id = 1; id <= 3; id++) {
        struct void_sign_keypair kp;
        keypair(&kp, id);
        assert_int_equal(void_keyring_add(&ring, id, kp.public_key), 0);
    }
    keypair(&stranger_kp, 99);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

/* Setup: node 1 dials node 2. Action: 1 sends 50 frames to 2. Expected: all
 * 50 arrive, verified, in one piece, with sender 1. */
static void test_transport_delivers_signed_frames_between_nodes(void **state)
{
    (void)state;
    static struct node a, b;
    uint32_t to_b = 2, to_a = 1;
    start(&b, 2, &to_a, 1, 1, NULL);
    start(&a, 1, &to_b, 1, 1, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    }
    run_until(&b.received, 50);
    assert_int_equal(b.received, 50);
    assert_int_equal(b.last_sender, 1);
    assert_int_equal(b.last_type, VOID_MSG_PREPARE);
    assert_int_equal(b.t.stats.drop_bad_frame, 0);
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: node 1 dials node 2. Action: 1 sends a REQUEST frame that node 3
 * (a client here) signed, as a replica relays a client's request to its
 * primary, then a VIEW-CHANGE node 3 signed, as a new primary relays the
 * view changes its NEW-VIEW names, then a PREPARE that node 3 signed.
 * Expected: the request and the view change are delivered with their author
 * as sender; the prepare, which only its author may send on its own link, is
 * dropped as a wrong sender. */
static void test_transport_passes_relayable_frames_only(void **state)
{
    (void)state;
    static struct node a, b;
    uint32_t to_b = 2, to_a = 1;
    struct void_sign_keypair kp3;
    keypair(&kp3, 3);
    start(&b, 2, &to_a, 1, 1, NULL);
    start(&a, 1, &to_b, 1, 1, NULL);
    uint8_t buf[256];
    size_t len = frame(&kp3, 3, VOID_MSG_REQUEST, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    assert_int_equal(b.last_sender, 3);
    assert_int_equal(b.last_type, VOID_MSG_REQUEST);
    len = frame(&kp3, 3, VOID_MSG_VIEW_CHANGE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 2);
    assert_int_equal(b.received, 2);
    assert_int_equal(b.last_sender, 3);
    assert_int_equal(b.last_type, VOID_MSG_VIEW_CHANGE);
    len = frame(&kp3, 3, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.t.stats.drop_wrong_sender, 1);
    assert_int_equal(b.t.stats.drop_wrong_sender, 1);
    assert_int_equal(b.received, 2);
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: a client whose key is not in the ring dials node 2. Action: it
 * sends a frame. Expected: node 2 delivers nothing and counts a bad frame
 * (its HELLO cannot be verified). */
static void test_transport_refuses_hello_from_unknown_key(void **state)
{
    (void)state;
    static struct node b, c;
    uint32_t to_b = 2;
    start(&b, 2, NULL, 0, 1, NULL);
    start(&c, 50, &to_b, 1, 0, &stranger_kp);
    uint8_t buf[256];
    size_t len = frame(&stranger_kp, 50, VOID_MSG_REQUEST, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&c.t, 2, buf, len), 0);
    run_until(&b.t.stats.drop_bad_frame, 1);
    assert_true(b.t.stats.drop_bad_frame >= 1);
    assert_int_equal(b.received, 0);
    stop(&b);
    stop(&c);
    run_for(20);
}

/* Setup: node 1 dials node 3, which is not running yet; node 1 queues 5
 * frames. Action: start node 3. Expected: after reconnection (backoff) the 5
 * queued frames arrive. */
static void test_transport_reconnects_and_flushes_queue(void **state)
{
    (void)state;
    static struct node a, c;
    uint32_t to_c = 3;
    start(&a, 1, &to_c, 1, 0, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_COMMIT, buf, sizeof(buf));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(void_transport_send(&a.t, 3, buf, len), 0);
    }
    run_for(120); /* a couple of failed dials */
    assert_false(void_transport_peer_up(&a.t, 3));
    start(&c, 3, NULL, 0, 1, NULL);
    run_until(&c.received, 5);
    assert_int_equal(c.received, 5);
    assert_true(void_transport_peer_up(&a.t, 3));
    stop(&a);
    stop(&c);
    run_for(20);
}

/* Setup: node 1 (listening) dials node 2; node 3 runs, and node 1 has no
 * route to it. Action: add node 3 as a peer of the running node 1 (twice),
 * send a frame to each. Expected: before the add, a send to 3 has no route
 * (VOID_ENOTFOUND); after it, both frames arrive, verified, the second add
 * changes nothing, and node 1's listen address is still its last address
 * (behind the added one: a listener reopened after EMFILE binds it). */
static void test_transport_adds_a_peer_at_run_time(void **state)
{
    (void)state;
    static struct node a, b, c;
    uint32_t to_b = 2;
    start(&b, 2, NULL, 0, 1, NULL);
    start(&c, 3, NULL, 0, 1, NULL);
    start(&a, 1, &to_b, 1, 1, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 3, buf, len), VOID_ENOTFOUND);
    struct void_transport_peer p3 = {
        .id = 3, .host = "127.0.0.1", .port = (uint16_t)(BASE_PORT + 3)};
    assert_int_equal(void_transport_add_peer(&a.t, &p3), 0);
    assert_int_equal(void_transport_add_peer(&a.t, &p3), 0);
    assert_int_equal(a.t.config.count_peers, 2);
    const struct sockaddr_in *listen_addr = (const struct sockaddr_in *)&a.t.peer_addrs[2];
    assert_int_equal(ntohs(listen_addr->sin_port), BASE_PORT + 1);
    assert_int_equal(void_transport_send(&a.t, 3, buf, len), 0);
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&c.received, 1);
    run_until(&b.received, 1);
    assert_int_equal(c.received, 1);
    assert_int_equal(c.last_sender, 1);
    assert_int_equal(b.received, 1);
    assert_true(void_transport_peer_up(&a.t, 3));
    stop(&a);
    stop(&b);
    stop(&c);
    run_for(20);
}

/* Setup: nodes 1 -> 2 connected. Action: set loss 100%, send 20; then block
 * node 2, send 20; then clear faults, send 1. Expected: nothing arrives while
 * faulty (counted as loss and blocked drops), the last frame arrives. */
static void test_transport_fault_injection_drops_and_heals(void **state)
{
    (void)state;
    static struct node a, b;
    uint32_t to_b = 2;
    start(&b, 2, NULL, 0, 1, NULL);
    start(&a, 1, &to_b, 1, 0, NULL);
    run_until(&a.links_up, 1);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    void_transport_set_fault(&a.t, 0, 100, NULL, 0, 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    }
    uint32_t blocked = 2;
    void_transport_set_fault(&a.t, 0, 0, &blocked, 1, 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    }
    run_for(50);
    assert_int_equal(b.received, 0);
    assert_int_equal(a.t.stats.drop_loss, 20);
    assert_int_equal(a.t.stats.drop_blocked, 20);
    void_transport_set_fault(&a.t, 0, 0, NULL, 0, 0);
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: nodes 1 -> 2 connected, delay 150 ms. Action: send one frame.
 * Expected: not there after 60 ms, there by 1 s. */
static void test_transport_delay_holds_frames_back(void **state)
{
    (void)state;
    static struct node a, b;
    uint32_t to_b = 2;
    start(&b, 2, NULL, 0, 1, NULL);
    start(&a, 1, &to_b, 1, 0, NULL);
    run_until(&a.links_up, 1);
    void_transport_set_fault(&a.t, 150, 0, NULL, 0, 0);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_for(60);
    assert_int_equal(b.received, 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: node 1 dials node 3, which never comes up. Action: queue
 * VOID_TRANSPORT_QUEUE_MAX + 10 frames. Expected: exactly 10 dropped as
 * queue-full (oldest first); sending to an unknown id has no route. */
static void test_transport_bounds_queue_and_drops_oldest(void **state)
{
    (void)state;
    static struct node a;
    uint32_t to_c = 3;
    start(&a, 1, &to_c, 1, 0, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    for (int i = 0; i < VOID_TRANSPORT_QUEUE_MAX + 10; i++) {
        assert_int_equal(void_transport_send(&a.t, 3, buf, len), 0);
    }
    assert_int_equal(a.t.stats.drop_queue_full, 10);
    assert_int_equal(void_transport_send(&a.t, 77, buf, len), VOID_ENOTFOUND);
    assert_int_equal(a.t.stats.drop_no_route, 1);
    stop(&a);
    run_for(20);
}

/* Setup: node 2 listens. Action: a raw TCP client sends a HELLO correctly
 * signed by node 1 but stamped two minutes in the past (a replayed
 * recording), then a signed PREPARE. Expected: the HELLO is refused and
 * counted, nothing is delivered. */
static void test_transport_refuses_stale_hello(void **state)
{
    (void)state;
    static struct node b;
    start(&b, 2, NULL, 0, 1, NULL);
    struct void_sign_keypair kp1;
    keypair(&kp1, 1);
    uint8_t body[4] = {0, 0, 0, 2};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct void_frame hello = {.type = VOID_MSG_HELLO, .sender = 1, .body = body, .body_len = 4};
    hello.hlc.wall_ns = ((uint64_t)now.tv_sec - 120u) * 1000000000ull;
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(void_codec_encode(&hello, &kp1, buf, sizeof(buf), &len), 0);
    len += frame(&kp1, 1, VOID_MSG_PREPARE, buf + len, sizeof(buf) - len);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(BASE_PORT + 2)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
    run_until(&b.t.stats.hello_rejected, 1);
    assert_int_equal(b.t.stats.hello_rejected, 1);
    assert_int_equal(b.received, 0);
    close(fd);
    stop(&b);
    run_for(20);
}

/* ---- strangers ---------------------------------------------------------- */

/* A raw TCP connection to node id from source address src (127.0.0.x). */
static int stranger(uint32_t id, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(BASE_PORT + id))};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
    return fd;
}

/* Whether the other end has closed fd (EOF or reset), without blocking. */
static int peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 1) {
        return 0;
    }
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Runs the loop until fd is closed by the node or ms pass; returns the
 * milliseconds it took, or -1. */
static long run_until_closed(int fd, uint64_t ms)
{
    uint64_t start = uv_now(&loop);
    while (uv_now(&loop) - start < ms) {
        if (peer_closed(fd)) {
            return (long)(uv_now(&loop) - start);
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        nap();
        uv_update_time(&loop);
    }
    return -1;
}

/* A frame header (docs/wire.md) announcing a body of body_len bytes. */
static void header(uint8_t *out, uint8_t type, uint32_t body_len)
{
    memset(out, 0, VOID_CODEC_HEADER_SIZE);
    memcpy(out, "VOID", 4);
    out[4] = VOID_CODEC_VERSION;
    out[5] = type;
    out[24] = (uint8_t)(body_len >> 24);
    out[25] = (uint8_t)(body_len >> 16);
    out[26] = (uint8_t)(body_len >> 8);
    out[27] = (uint8_t)body_len;
}

/* Setup: node 2 with a 300 ms handshake deadline. Action: one stranger stays
 * silent, another sends half a HELLO; node 1 then dials and sends a frame.
 * Expected: both strangers are closed by the node between 300 ms and ~1 s
 * (before the fix they stayed open for ever), counted as timeouts; node 1's
 * HELLO is not a stranger's and its frame arrives. */
static void test_transport_closes_strangers_without_hello_at_the_deadline(void **state)
{
    (void)state;
    static struct node a, b;
    limits.handshake_ms = 300;
    start(&b, 2, NULL, 0, 1, NULL);
    int silent = stranger(2, "127.0.0.1");
    int slow = stranger(2, "127.0.0.1");
    uint8_t part[40];
    header(part, VOID_MSG_HELLO, 4);
    assert_int_equal(send(slow, part, sizeof(part), 0), (ssize_t)sizeof(part));
    long took = run_until_closed(silent, 3000);
    assert_true(took >= 250);
    assert_true(took < 1500);
    assert_true(run_until_closed(slow, 500) >= 0);
    assert_int_equal(b.t.stats.stranger_timeouts, 2);
    assert_int_equal(b.t.stats.strangers_open, 0);
    assert_int_equal(b.t.stats.inbound_open, 0);
    uint32_t to_b = 2;
    start(&a, 1, &to_b, 1, 0, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    run_for(400); /* past the deadline: the bound link stays up */
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 2);
    assert_int_equal(b.received, 2);
    assert_int_equal(b.t.stats.stranger_timeouts, 2);
    close(silent);
    close(slow);
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: node 2 (default 2 s deadline). Action: 8 strangers each send a
 * header announcing a 4 MiB body, then 64 KiB of it. Expected: each is
 * closed at once (well before the deadline), counted, and the node's receive
 * buffers stay under 1 MiB in all; before the fix each buffer grew towards
 * 4 MiB and the connections stayed open. */
static void test_transport_closes_stranger_announcing_more_than_a_hello(void **state)
{
    (void)state;
    static struct node b;
    start(&b, 2, NULL, 0, 1, NULL);
    static uint8_t big[VOID_CODEC_HEADER_SIZE + 65536];
    header(big, VOID_MSG_PREPARE, VOID_CODEC_BODY_MAX);
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = stranger(2, "127.0.0.1");
        (void)send(fds[i], big, sizeof(big), MSG_DONTWAIT);
    }
    for (int i = 0; i < 8; i++) {
        long took = run_until_closed(fds[i], 3000);
        assert_true(took >= 0);
        assert_true(took < 1000);
        assert_true(b.t.stats.rx_bytes < (1u << 20));
    }
    assert_int_equal(b.t.stats.stranger_bad_header, 8);
    assert_int_equal(b.t.stats.stranger_timeouts, 0);
    assert_int_equal(b.received, 0);
    for (int i = 0; i < 8; i++) {
        close(fds[i]);
    }
    stop(&b);
    run_for(20);
}

/* Setup: node 2 taking 3 strangers per address and 5 in all. Action: 6
 * strangers from 127.0.0.1, then 4 from 127.0.0.2, one at a time; then node 1
 * dials. Expected: each address keeps at most 3 open, the total at most 5;
 * a newcomer over its address's cap closes that address's oldest, one over
 * the total cap the oldest of all; node 1's HELLO still gets through: its
 * frame arrives. */
static void test_transport_caps_strangers_per_address_and_in_total(void **state)
{
    (void)state;
    static struct node a, b;
    limits.unauth_per_addr_max = 3;
    limits.unauth_max = 5;
    start(&b, 2, NULL, 0, 1, NULL);
    int one[6], two[4];
    for (int i = 0; i < 6; i++) {
        one[i] = stranger(2, "127.0.0.1");
        run_until(&b.t.stats.strangers_open, i < 3 ? (uint64_t)i + 1 : 3);
        run_for(10);
    }
    assert_int_equal(b.t.stats.strangers_open, 3);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(peer_closed(one[i]), i < 3); /* the 3 oldest */
    }
    for (int i = 0; i < 4; i++) {
        two[i] = stranger(2, "127.0.0.2");
        run_for(30);
        assert_true(b.t.stats.strangers_open <= 5);
    }
    assert_int_equal(b.t.stats.strangers_open, 5);
    assert_int_equal(b.t.stats.stranger_shed, 5);
    /* The third from 127.0.0.2 found 5 open: the oldest of all went
     * (127.0.0.1's #3); the fourth found 3 of its own: its oldest went. */
    assert_true(peer_closed(one[3]));
    assert_false(peer_closed(one[4]));
    assert_false(peer_closed(one[5]));
    assert_true(peer_closed(two[0]));
    for (int i = 1; i < 4; i++) {
        assert_false(peer_closed(two[i]));
    }
    uint32_t to_b = 2;
    start(&a, 1, &to_b, 1, 0, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    for (int i = 0; i < 6; i++) {
        close(one[i]);
    }
    for (int i = 0; i < 4; i++) {
        close(two[i]);
    }
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: RLIMIT_NOFILE lowered to 200. Action: start node 2 reserving 150
 * descriptors, then with a configured cap of 20. Expected: the inbound cap is
 * what the limit leaves (50), then the configured 20; the strangers' cap
 * never exceeds it. */
static void test_transport_derives_inbound_cap_from_descriptor_limit(void **state)
{
    (void)state;
    static struct node b;
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = {.rlim_cur = 200, .rlim_max = saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    limits.fd_reserve = 150;
    start(&b, 2, NULL, 0, 1, NULL);
    assert_int_equal(b.t.conn_max, 50);
    assert_int_equal(b.t.unauth_max, 50);
    stop(&b);
    run_for(20);
    limits.fd_reserve = 150;
    limits.conn_max = 20;
    start(&b, 2, NULL, 0, 1, NULL);
    assert_int_equal(b.t.conn_max, 20);
    assert_int_equal(b.t.unauth_max, 20);
    stop(&b);
    run_for(20);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/* Setup: node 2 with 4 strangers open; libuv's own spare descriptor taken
 * away (as when another thread grabbed it) and every other descriptor of the
 * process used up. Action: one more connection arrives. Expected: accept
 * fails with EMFILE, which the node treats as pressure: it closes the oldest
 * strangers, pauses accepting, then accepts again; its loop keeps running
 * (before the fix libuv called back with EMFILE in a busy loop). Once
 * descriptors are back, node 1's HELLO gets through. */
static void test_transport_sheds_strangers_when_accept_runs_out_of_descriptors(void **state)
{
    (void)state;
    static struct node a, b;
    start(&b, 2, NULL, 0, 1, NULL);
    int fds[5];
    for (int i = 0; i < 4; i++) {
        fds[i] = stranger(2, "127.0.0.1");
    }
    run_until(&b.t.stats.strangers_open, 4);
    assert_int_equal(b.t.stats.strangers_open, 4);
    if (loop.emfile_fd >= 0) {
        close(loop.emfile_fd);
        loop.emfile_fd = -1;
    }
    fds[4] = socket(AF_INET, SOCK_STREAM, 0); /* the client end, made while we can */
    assert_true(fds[4] >= 0);
    static int filler[65536];
    int count = 0;
    while (count < 65536 && (filler[count] = dup(0)) >= 0) {
        count++;
    }
    assert_true(count < 65536);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(BASE_PORT + 2))};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fds[4], (struct sockaddr *)&to, sizeof(to)), 0);
    run_until(&b.t.stats.accept_errors, 1);
    assert_true(b.t.stats.accept_errors >= 1);
    assert_true(b.t.stats.stranger_shed >= 2);
    assert_true(peer_closed(fds[0]));
    assert_true(peer_closed(fds[1]));
    for (int i = 0; i < count; i++) {
        close(filler[i]);
    }
    run_for(2 * VOID_TRANSPORT_ACCEPT_PAUSE_MS);
    assert_int_equal(b.t.accept_paused, 0);
    uint32_t to_b = 2;
    start(&a, 1, &to_b, 1, 0, NULL);
    uint8_t buf[256];
    size_t len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    for (int i = 0; i < 5; i++) {
        close(fds[i]);
    }
    stop(&a);
    stop(&b);
    run_for(20);
}

/* Setup: node 2 with a 2 s deadline. Action: a stranger sends 100 bytes of
 * garbage. Expected: it is closed at once and counted as a bad frame; the log
 * names its address, not "replica 0" (checked by reading stderr). */
static void test_transport_names_stranger_address_in_bad_frame_log(void **state)
{
    (void)state;
    static struct node b;
    char path[] = "/tmp/void-test-transport-XXXXXX";
    int logfd = mkstemp(path);
    assert_true(logfd >= 0);
    int saved = dup(2);
    assert_int_equal(dup2(logfd, 2), 2);
    start(&b, 2, NULL, 0, 1, NULL);
    int fd = stranger(2, "127.0.0.3");
    struct sockaddr_in me;
    socklen_t me_len = sizeof(me);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &me_len), 0);
    uint8_t junk[100];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    assert_true(run_until_closed(fd, 1000) >= 0);
    assert_int_equal(b.t.stats.drop_bad_frame, 1);
    stop(&b);
    run_for(20);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char log[4096];
    ssize_t n = pread(logfd, log, sizeof(log) - 1, 0);
    close(logfd);
    unlink(path);
    assert_true(n > 0);
    log[n] = '\0';
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.3:%u", (unsigned)ntohs(me.sin_port));
    assert_non_null(strstr(log, want));
    assert_null(strstr(log, "from 0"));
    close(fd);
}

/* Setup: node 2 with a 1 MiB receive budget; node 1 dials it. Action: 1
 * sends a frame with a 600 KiB body, then one with a 2 MiB body, then a small
 * one. Expected: the first arrives and node 2's buffer shrinks back to 64 KiB
 * afterwards; the second does not fit in the budget: the link is closed and
 * counted, nothing delivered; node 1 reconnects and the small frame, sent
 * then, arrives. */
static void test_transport_bounds_receive_buffers_by_the_budget(void **state)
{
    (void)state;
    static struct node a, b;
    uint32_t to_b = 2;
    limits.rx_bytes_max = 1u << 20;
    start(&b, 2, NULL, 0, 1, NULL);
    start(&a, 1, &to_b, 1, 0, NULL);
    run_until(&a.links_up, 1);
    static uint8_t body[2u << 20], buf[(2u << 20) + 256];
    size_t lens[2] = {600u << 10, 2u << 20};
    size_t len = 0;
    struct void_frame f = {.type = VOID_MSG_STATE, .sender = 1, .body = body};
    f.body_len = (uint32_t)lens[0];
    assert_int_equal(void_codec_encode(&f, &a.kp, buf, sizeof(buf), &len), 0);
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 1);
    assert_int_equal(b.received, 1);
    run_for(20);
    assert_int_equal(b.t.stats.rx_bytes, 64u * 1024u);
    f.body_len = (uint32_t)lens[1];
    assert_int_equal(void_codec_encode(&f, &a.kp, buf, sizeof(buf), &len), 0);
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.t.stats.rx_budget_closed, 1);
    assert_int_equal(b.t.stats.rx_budget_closed, 1);
    assert_int_equal(b.received, 1);
    assert_true(b.t.stats.rx_bytes <= (1u << 20));
    run_until(&a.links_up, 2); /* what was in flight on the old link is lost */
    assert_int_equal(a.links_up, 2);
    len = frame(&a.kp, 1, VOID_MSG_PREPARE, buf, sizeof(buf));
    assert_int_equal(void_transport_send(&a.t, 2, buf, len), 0);
    run_until(&b.received, 2);
    assert_int_equal(b.received, 2);
    stop(&a);
    stop(&b);
    run_for(20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_delivers_signed_frames_between_nodes),
        cmocka_unit_test(test_transport_passes_relayable_frames_only),
        cmocka_unit_test(test_transport_refuses_hello_from_unknown_key),
        cmocka_unit_test(test_transport_reconnects_and_flushes_queue),
        cmocka_unit_test(test_transport_adds_a_peer_at_run_time),
        cmocka_unit_test(test_transport_fault_injection_drops_and_heals),
        cmocka_unit_test(test_transport_delay_holds_frames_back),
        cmocka_unit_test(test_transport_bounds_queue_and_drops_oldest),
        cmocka_unit_test(test_transport_refuses_stale_hello),
        cmocka_unit_test(test_transport_closes_strangers_without_hello_at_the_deadline),
        cmocka_unit_test(test_transport_closes_stranger_announcing_more_than_a_hello),
        cmocka_unit_test(test_transport_caps_strangers_per_address_and_in_total),
        cmocka_unit_test(test_transport_derives_inbound_cap_from_descriptor_limit),
        cmocka_unit_test(test_transport_sheds_strangers_when_accept_runs_out_of_descriptors),
        cmocka_unit_test(test_transport_names_stranger_address_in_bad_frame_log),
        cmocka_unit_test(test_transport_bounds_receive_buffers_by_the_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

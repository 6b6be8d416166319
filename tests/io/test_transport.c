/*
 * Tests of the TCP transport with real sockets on loopback: two or three
 * transports on one libuv loop (so the test is single-threaded and bounded by
 * a deadline timer). They cover the HELLO binding, verification of frames,
 * reconnection after a peer restarts, and the fault-injection layer.
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
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
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
                                      .seed = id};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_delivers_signed_frames_between_nodes),
        cmocka_unit_test(test_transport_passes_relayable_frames_only),
        cmocka_unit_test(test_transport_refuses_hello_from_unknown_key),
        cmocka_unit_test(test_transport_reconnects_and_flushes_queue),
        cmocka_unit_test(test_transport_fault_injection_drops_and_heals),
        cmocka_unit_test(test_transport_delay_holds_frames_back),
        cmocka_unit_test(test_transport_bounds_queue_and_drops_oldest),
        cmocka_unit_test(test_transport_refuses_stale_hello),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Tests of the configuration loader: a valid file loads with its defaults,
 * and each kind of mistake an operator makes is refused with a message that
 * names it.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include "void/config.h"
#include "void/error.h"
#include "void/sign.h"
#include "void/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static char pub_hex[4][65];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/void-test-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(void_sign_global_init(), 0);
    for (int i = 0; i < 4; i++) {
        uint8_t seed[VOID_SIGN_SEED_SIZE] = {(uint8_t)(i + 1)};
        struct void_sign_keypair kp;
        assert_int_equal(void_sign_keypair_from_seed(&kp, seed), 0);
        char s[512], p[512];
        snprintf(s, sizeof(s), "%s/node%d.secret", dir, i);
        snprintf(p, sizeof(p), "%s/node%d.public", dir, i);
        assert_int_equal(void_sign_keyfile_write(s, p, &kp, NULL, 0), 0);
        void_sign_public_key_to_hex(kp.public_key, pub_hex[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The replica sections of a 4-node cluster, ids 0..3 on ports 7000..7003. */
static void cluster_text(char *out, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < 4; i++) {
        len += (size_t)snprintf(
            out + len,
            cap - len,
            "[replica.%d]\naddress = 127.0.0.1:%d\npublic_key_file = node%d.public\n",
            i,
            7000 + i,
            i);
    }
}

static int load(const char *text, struct void_config *c, char *err, size_t cap)
{
    write_file("test.ini", text);
    char path[512];
    snprintf(path, sizeof(path), "%s/test.ini", dir);
    err[0] = '\0';
    int rc = void_config_load(c, path, err, cap);
    void_config_fini(c);
    return rc;
}

/* Setup: a node file with relative key paths and no http key. Action: load.
 * Expected: success, 4 replicas, the secret key read, http defaulting to
 * loopback on the replica port + 1000. */
static void test_config_loads_valid_node_file_with_defaults(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(
        text, sizeof(text), "[node]\nid = 2\nkey = node2.secret\ndata_dir = data2\nrack = r1\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.role, VOID_CONFIG_ROLE_NODE);
    assert_int_equal(c.count_replicas, 4);
    assert_int_equal(c.self_id, 2);
    assert_string_equal(c.http.host, "127.0.0.1");
    assert_int_equal(c.http.port, 8002);
    assert_string_equal(c.topology.rack, "r1");
    assert_non_null(strstr(c.data_dir, "/data2"));
    const struct void_config_replica *r = void_config_replica_get(&c, 3);
    assert_non_null(r);
    assert_int_equal(r->address.port, 7003);
}

/* Setup: [node] key names a file that does not exist. Action: load.
 * Expected: VOID_ENOTFOUND-class failure and the path in the message. */
static void test_config_rejects_missing_key_file(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[node]\nid = 0\nkey = nope.secret\ndata_dir = d\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_true(load(text, &c, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "nope.secret"));
}

/* Setup: two [replica.1] sections. Action: load. Expected: VOID_EPARSE and a
 * message about the duplicate. */
static void test_config_rejects_duplicate_replica_id(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[replica.1]\naddress = 127.0.0.1:7100\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "duplicate"));
}

/* Setup: a replica address without a port. Action: load. Expected:
 * VOID_EPARSE naming the malformed address. */
static void test_config_rejects_malformed_address(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    snprintf(text, sizeof(text), "[replica.0]\naddress = 127.0.0.1\npublic_key = %s\n", pub_hex[0]);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "malformed"));
    assert_non_null(strstr(err, "127.0.0.1"));
}

/* Setup: a misspelt key. Action: load. Expected: VOID_EPARSE, the key's name
 * and the line number in the message. */
static void test_config_rejects_unknown_key(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[node]\nid = 0\nkey = node0.secret\ndata_dirr = d\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "data_dirr"));
    assert_non_null(strstr(err, ":4:"));
}

/* Setup: node 1 configured with node 0's secret key. Action: load.
 * Expected: refused, because the key does not match replica 1's public key. */
static void test_config_rejects_secret_key_of_another_node(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[node]\nid = 1\nkey = node0.secret\ndata_dir = d\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_true(load(text, &c, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "does not match"));
}

/* Setup: clusters of 1 to 8 replicas. Action: load. Expected: 1 (a test
 * cluster) and every n from 4 load; 2 and 3 (f = 0: one failure stops them)
 * are refused naming the rule. */
static void test_config_refuses_two_or_three_replicas(void **state)
{
    (void)state;
    static struct void_config c;
    char text[4096], err[512];
    for (int n = 1; n <= 8; n++) {
        size_t len = 0;
        for (int i = 0; i < n; i++) {
            len += (size_t)snprintf(text + len,
                                    sizeof(text) - len,
                                    "[replica.%d]\naddress = 127.0.0.1:%d\npublic_key = %s\n",
                                    i,
                                    7000 + i,
                                    pub_hex[0]);
        }
        int rc = load(text, &c, err, sizeof(err));
        if (n != 2 && n != 3) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, VOID_EPARSE);
            assert_non_null(strstr(err, "at least 4"));
        }
    }
}

/* Setup: two replicas on the same address. Action: load. Expected:
 * VOID_EPARSE naming both ids. */
static void test_config_rejects_two_replicas_on_one_address(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    snprintf(text,
             sizeof(text),
             "[replica.0]\naddress = 127.0.0.1:7000\npublic_key = %s\n"
             "[replica.1]\naddress = 127.0.0.1:7000\npublic_key = %s\n",
             pub_hex[0],
             pub_hex[1]);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "same address"));
}

/* Setup: out-of-range fault knobs. Action: load. Expected: VOID_EPARSE. */
static void test_config_rejects_loss_above_100_percent(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[fault]\nloss_pct = 101\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "loss_pct"));
}

/* Setup: [fault] control = 1 without, then with, [clients] admin_key; and
 * control = 2. Action: load each. Expected: EPARSE naming the admin key;
 * loaded with fault_control 1; EPARSE naming control. */
static void test_config_fault_control_needs_an_admin_key(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[fault]\ncontrol = 1\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "admin_key"));
    n = snprintf(text, sizeof(text), "[fault]\ncontrol = 1\n[clients]\nadmin_key = %s\n", pub_hex[1]);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.fault_control, 1);
    void_config_fini(&c);
    n = snprintf(text, sizeof(text), "[fault]\ncontrol = 2\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    assert_non_null(strstr(err, "control"));
}

/* Setup: [fault] byzantine = 1 without control, then with control and an
 * admin key. Action: load each. Expected: EPARSE naming control; then, in a
 * build with VOID_TEST_HOOKS, loaded with fault_byzantine 1, and in any
 * other build EPARSE naming VOID_TEST_HOOKS (production cannot lie). */
static void test_config_byzantine_needs_control_and_a_test_build(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    int n = snprintf(text, sizeof(text), "[fault]\nbyzantine = 1\n");
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
    n = snprintf(text,
                 sizeof(text),
                 "[fault]\ncontrol = 1\nbyzantine = 1\n[clients]\nadmin_key = %s\n",
                 pub_hex[1]);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    if (void_transport_byz_built()) {
        assert_int_equal(load(text, &c, err, sizeof(err)), 0);
        assert_int_equal(c.fault_byzantine, 1);
        void_config_fini(&c);
    } else {
        assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
        assert_non_null(strstr(err, "VOID_TEST_HOOKS"));
    }
}

/* Setup: a node file with [pbft] pipeline = 3, batch_max = 20, window = 64,
 * retain_mb = 0; one without [pbft]; then files with pipeline 0, pipeline
 * 65, batch_max 129, window 8 and 65, retain_mb 4096 and an unknown [pbft]
 * key. Action: load each. Expected: the first loads with its values (0 MiB
 * kept: catch-up by batches off), the second leaves retain_mb unset (the
 * core's default); the others fail with VOID_EPARSE naming the key. */
static void test_config_reads_and_bounds_pbft_tuning(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    const char *node = "[node]\nid = 0\nkey = node0.secret\ndata_dir = data0\n";
    int n = snprintf(text,
                     sizeof(text),
                     "%s[pbft]\npipeline = 3\nbatch_max = 20\nwindow = 64\nretain_mb = 0\n",
                     node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.pbft_pipeline, 3);
    assert_int_equal(c.pbft_batch_max, 20);
    assert_int_equal(c.pbft_window, 64);
    assert_int_equal(c.pbft_retain_mb, 0);
    n = snprintf(text, sizeof(text), "%s", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.pbft_retain_mb, VOID_CONFIG_RETAIN_UNSET);
    const char *bad[][2] = {{"pipeline = 0", "pipeline"},
                            {"pipeline = 65", "pipeline"},
                            {"batch_max = 129", "batch_max"},
                            {"window = 8", "window"},
                            {"window = 65", "window"},
                            {"retain_mb = 4096", "retain_mb"},
                            {"windows = 32", "windows"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = snprintf(text, sizeof(text), "%s[pbft]\n%s\n", node, bad[i][0]);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
        assert_non_null(strstr(err, bad[i][1]));
    }
}

/* Setup: host:port texts of every shape. Action: void_hostport_parse with
 * and without a default port. Expected: IPv4, [IPv6]:port and names split;
 * the port 1..65535 taken, 0, 65536, a sign, letters or nothing refused; a
 * bare host takes the default only when there is one; a host of host_cap
 * bytes is refused, one byte less taken. */
static void test_hostport_parse_accepts_each_form_and_bounds_the_port(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    assert_int_equal(void_hostport_parse("127.0.0.1:7000", 0, host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7000);
    assert_int_equal(void_hostport_parse("[::1]:1", 0, host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 1);
    assert_int_equal(void_hostport_parse("[fe80::1%lo]:65535", 0, host, sizeof(host), &port), 0);
    assert_string_equal(host, "fe80::1%lo");
    assert_int_equal(port, 65535);
    assert_int_equal(void_hostport_parse("node-1.example.org:8080", 0, host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "node-1.example.org");
    assert_int_equal(port, 8080);
    /* A bare host: the default port, or refused without one. */
    assert_int_equal(void_hostport_parse("pool.ntp.org", 123, host, sizeof(host), &port), 0);
    assert_string_equal(host, "pool.ntp.org");
    assert_int_equal(port, 123);
    assert_int_equal(void_hostport_parse("[::1]", 123, host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(void_hostport_parse("pool.ntp.org", 0, host, sizeof(host), &port),
                     VOID_EPARSE);
    assert_int_equal(void_hostport_parse("[::1]", 0, host, sizeof(host), &port), VOID_EPARSE);
    const char *bad[] = {
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:4294967297",
        "127.0.0.1:",
        "127.0.0.1:-1",
        "127.0.0.1:+80",
        "127.0.0.1: 80",
        "127.0.0.1:80x",
        "127.0.0.1:0x50",
        ":80",
        "[]:80",
        "[::1:80",
        "[::1]x:80",
        "::1:80",
        "fe80::1",
        "",
        "[::1]:65536",
        "[::1]:0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        port = 0;
        if (void_hostport_parse(bad[i], 123, host, sizeof(host), &port) != VOID_EPARSE) {
            fail_msg("'%s' was accepted (port %u)", bad[i], (unsigned)port);
        }
    }
    assert_int_equal(void_hostport_parse(NULL, 123, host, sizeof(host), &port), VOID_EPARSE);
    /* host_cap bounds the host with its NUL: 7 characters fit in 8, 8 do not. */
    char small[8];
    assert_int_equal(void_hostport_parse("abcdefg:1", 0, small, sizeof(small), &port), 0);
    assert_string_equal(small, "abcdefg");
    assert_int_equal(void_hostport_parse("abcdefgh:1", 0, small, sizeof(small), &port),
                     VOID_EPARSE);
}

/* Setup: a node file per limit. Action: load it with each numeric or text
 * value at its limit and one past it. Expected: the limit loads with that
 * value, one past is VOID_EPARSE naming the key: nothing is cut to fit a
 * narrower field. */
static void test_config_takes_each_limit_and_refuses_one_past(void **state)
{
    (void)state;
    static struct void_config c;
    char text[4096], err[512];
    const char *node = "[node]\nid = 0\nkey = node0.secret\ndata_dir = data0\n";
    char name63[64], name64[65];
    memset(name63, 'n', 63);
    name63[63] = '\0';
    memset(name64, 'n', 64);
    name64[64] = '\0';
    char rack63[80], rack64[80];
    snprintf(rack63, sizeof(rack63), "rack = %s", name63);
    snprintf(rack64, sizeof(rack64), "rack = %s", name64);
    const struct {
        const char *ok, *bad, *key;
    } limits[] = {
        {"[fault]\ndelay_ms = 60000", "[fault]\ndelay_ms = 60001", "delay_ms"},
        {"[fault]\nloss_pct = 100", "[fault]\nloss_pct = 101", "loss_pct"},
        {"[pbft]\npipeline = 64", "[pbft]\npipeline = 65", "pipeline"},
        {"[pbft]\nbatch_max = 128", "[pbft]\nbatch_max = 129", "batch_max"},
        {"[membership]\nheartbeat_ms = 10000", "[membership]\nheartbeat_ms = 10001", "heartbeat_ms"},
        {"[membership]\nheartbeat_ms = 20", "[membership]\nheartbeat_ms = 19", "heartbeat_ms"},
        {"[membership]\nvoters_min = 64", "[membership]\nvoters_min = 65", "voters_min"},
        {"[membership]\nvoters_min = 1", "[membership]\nvoters_min = 0", "voters_min"},
        {"record_log_segment_bytes = 4096",
         "record_log_segment_bytes = 4095",
         "record_log_segment_bytes"},
        {"record_log_segment_bytes = 1073741824",
         "record_log_segment_bytes = 1073741825",
         "record_log_segment_bytes"},
        {"record_log_segment_bytes = 1073741824",
         "record_log_segment_bytes = 4294967297",
         "record_log_segment_bytes"},
        {rack63, rack64, "rack"},
        {"http = 127.0.0.1:65535", "http = 127.0.0.1:65536", "http"},
        {"http = 127.0.0.1:1", "http = 127.0.0.1:0", "http"},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        for (int past = 0; past < 2; past++) {
            const char *line = past ? limits[i].bad : limits[i].ok;
            int in_node = line[0] != '[';
            int n = snprintf(
                text, sizeof(text), "%s%s%s\n", node, in_node ? "" : "\n", in_node ? line : line);
            cluster_text(text + n, sizeof(text) - (size_t)n);
            int rc = load(text, &c, err, sizeof(err));
            if (past == 0 && rc != 0) {
                fail_msg("'%s' was refused: %s", line, err);
            }
            if (past == 1 && (rc != VOID_EPARSE || strstr(err, limits[i].key) == NULL)) {
                fail_msg("'%s' was not refused by name (rc %d): %s", line, rc, err);
            }
        }
    }
    /* The values at the limits arrive intact. */
    int n = snprintf(text,
                     sizeof(text),
                     "%srecord_log_segment_bytes = 1073741824\n%s\n[pbft]\nbatch_max = 128\n"
                     "[membership]\nheartbeat_ms = 10000\nvoters_min = 2\n",
                     node,
                     rack63);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.record_log_segment_bytes, 1073741824u);
    assert_int_equal(c.pbft_batch_max, 128);
    assert_int_equal(c.heartbeat_ms, 10000);
    assert_int_equal(c.voters_min, 2);
    assert_string_equal(c.topology.rack, name63);
}

/* Setup: a node file of four replicas with [membership] slots and genesis
 * (docs/membership.md, "Joining a running cluster"). Action: load. Expected:
 * without them slots = genesis = 4; slots = 8 leaves room for joins; a
 * joiner's genesis = 1 makes replicas 1..3 members that joined; genesis above
 * the listed replicas, 2 (f = 0 with every replica needed), slots below a
 * listed id or above 16 are refused by name. */
static void test_config_reads_slots_and_genesis(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    const char *node = "[node]\nid = 3\nkey = node3.secret\ndata_dir = d\n\n";
    const struct {
        const char *membership;
        int rc;
        uint32_t slots, genesis;
        const char *named;
    } cases[] = {
        {"", 0, 4, 4, NULL},
        {"[membership]\nslots = 8\n", 0, 8, 4, NULL},
        {"[membership]\nslots = 8\ngenesis = 1\n", 0, 8, 1, NULL},
        {"[membership]\ngenesis = 5\n", VOID_EPARSE, 0, 0, "genesis = 5"},
        {"[membership]\ngenesis = 2\n", VOID_EPARSE, 0, 0, "at least 4"},
        {"[membership]\nslots = 3\n", VOID_EPARSE, 0, 0, "slots = 3"},
        {"[membership]\nslots = 17\n", VOID_EPARSE, 0, 0, "slots"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = snprintf(text, sizeof(text), "%s%s\n", node, cases[i].membership);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        int rc = load(text, &c, err, sizeof(err));
        if (rc != cases[i].rc) {
            fail_msg("'%s': rc %d, want %d: %s", cases[i].membership, rc, cases[i].rc, err);
        }
        if (rc == 0) {
            assert_int_equal(c.slots, cases[i].slots);
            assert_int_equal(c.genesis_n, cases[i].genesis);
        } else if (strstr(err, cases[i].named) == NULL) {
            fail_msg("'%s' was not refused by name: %s", cases[i].membership, err);
        }
    }
}

/* Setup: replica 0 on port 64535, then on 64536, without an http key.
 * Action: load. Expected: the default status port (replica port + 1000) is
 * 65535 in the first; the second is refused, naming the replica, instead of
 * wrapping around to port 0. */
static void test_config_refuses_default_http_port_above_65535(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    for (int port = 64535; port <= 64536; port++) {
        snprintf(text,
                 sizeof(text),
                 "[replica.0]\naddress = 127.0.0.1:%d\npublic_key_file = node0.public\n",
                 port);
        int rc = load(text, &c, err, sizeof(err));
        if (port == 64535) {
            assert_int_equal(rc, 0);
            assert_int_equal(c.replicas[0].http.port, 65535);
        } else {
            assert_int_equal(rc, VOID_EPARSE);
            assert_non_null(strstr(err, "[replica.0]"));
            assert_non_null(strstr(err, "65535"));
        }
    }
}

/* Setup: a config file whose directory is 511 characters long, then 512.
 * Action: load. Expected: the first is read (it fails only for its missing
 * file); the second is refused with a message about the directory, where it
 * used to be cut short so that relative key paths named another
 * directory. */
static void test_config_refuses_a_directory_too_long_to_resolve_paths(void **state)
{
    (void)state;
    static struct void_config c;
    char path[1200], err[2048];
    for (int len = 511; len <= 512; len++) {
        snprintf(path, sizeof(path), "/%0*d/x.ini", len - 1, 0);
        err[0] = '\0';
        int rc = void_config_load(&c, path, err, sizeof(err));
        void_config_fini(&c);
        if (len == 511) {
            assert_int_equal(rc, VOID_ENOTFOUND);
        } else {
            assert_int_equal(rc, VOID_EPARSE);
            assert_non_null(strstr(err, "directory"));
        }
    }
}

/* Setup: a node file with a [limits] section; then files with
 * handshake_ms 50, fd_reserve 8, rx_buffer_mb 0, and an unknown key.
 * Action: load each. Expected: the first loads every value (absent keys stay
 * 0: the defaults); the others fail with VOID_EPARSE naming the key. */
static void test_config_reads_and_bounds_connection_limits(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    const char *node = "[node]\nid = 0\nkey = node0.secret\ndata_dir = data0\n";
    int n = snprintf(text,
                     sizeof(text),
                     "%s[limits]\nhandshake_ms = 500\nunauth_max = 40\nunauth_per_addr_max = 4\n"
                     "conn_max = 300\nfd_reserve = 200\nrx_buffer_mb = 64\nhttp_conn_max = 8\n",
                     node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.limits.handshake_ms, 500);
    assert_int_equal(c.limits.unauth_max, 40);
    assert_int_equal(c.limits.unauth_per_addr_max, 4);
    assert_int_equal(c.limits.conn_max, 300);
    assert_int_equal(c.limits.fd_reserve, 200);
    assert_int_equal(c.limits.rx_buffer_mb, 64);
    assert_int_equal(c.limits.http_conn_max, 8);
    assert_int_equal(c.limits.http_per_ip_max, 0);
    const char *bad[][2] = {{"handshake_ms = 50", "handshake_ms"},
                            {"fd_reserve = 8", "fd_reserve"},
                            {"rx_buffer_mb = 0", "rx_buffer_mb"},
                            {"backlog = 9", "backlog"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = snprintf(text, sizeof(text), "%s[limits]\n%s\n", node, bad[i][0]);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
        assert_non_null(strstr(err, bad[i][1]));
    }
}

/* Setup: [http] web_root relative, then twice, then an unknown [http] key.
 * Action: load. Expected: the path taken relative to the file's directory,
 * the repeat and the unknown key refused by name; absent, it is empty. */
static void test_config_reads_http_web_root(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    const char *node = "[node]\nid = 2\nkey = node2.secret\ndata_dir = data2\n";
    int n = snprintf(text, sizeof(text), "%s[http]\nweb_root = site/dist\n", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    write_file("test.ini", text);
    char path[512];
    snprintf(path, sizeof(path), "%s/test.ini", dir);
    assert_int_equal(void_config_load(&c, path, err, sizeof(err)), 0);
    char want[600];
    snprintf(want, sizeof(want), "%s/site/dist", dir);
    assert_string_equal(c.web_root, want);
    void_config_fini(&c);
    n = snprintf(text, sizeof(text), "%s[http]\nweb_root = a\nweb_root = b\n", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_not_equal(load(text, &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "web_root"));
    n = snprintf(text, sizeof(text), "%s[http]\nwebroot = a\n", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_not_equal(load(text, &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "unknown key 'webroot' in [http]"));
    n = snprintf(text, sizeof(text), "%s", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    write_file("test.ini", text);
    assert_int_equal(void_config_load(&c, path, err, sizeof(err)), 0);
    assert_string_equal(c.web_root, "");
    void_config_fini(&c);
}

/* [tasks]: client_file is a path relative to the file's directory,
 * submitters a list of client ids; a bad id, an empty list and an unknown
 * key are refused. */
static void test_config_reads_tasks_section(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512], path[512];
    const char *node = "[node]\nid = 2\nkey = node2.secret\ndata_dir = data2\n";
    int n = snprintf(text, sizeof(text),
                     "%s[tasks]\nclient_file = client.ini\nsubmitters = 100, 101,7\n", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    write_file("test.ini", text);
    snprintf(path, sizeof(path), "%s/test.ini", dir);
    assert_int_equal(void_config_load(&c, path, err, sizeof(err)), 0);
    char want[600];
    snprintf(want, sizeof(want), "%s/client.ini", dir);
    assert_string_equal(c.task_client_file, want);
    assert_int_equal(c.task_submitter_count, 3);
    assert_true(c.task_submitters[0] == 100 && c.task_submitters[1] == 101 &&
                c.task_submitters[2] == 7);
    void_config_fini(&c);
    static const char *const bad[][2] = {
        {"submitters = 100, x1\n", "'x1' is not a client id"},
        {"submitters = , \n", "submitters: empty"},
        {"runner = a\n", "unknown key 'runner' in [tasks]"},
        {"client_file = a\nclient_file = b\n", "client_file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = snprintf(text, sizeof(text), "%s[tasks]\n%s", node, bad[i][0]);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        assert_int_not_equal(load(text, &c, err, sizeof(err)), 0);
        assert_non_null(strstr(err, bad[i][1]));
    }
}

/* Writes a certificate for (id, node1's key) signed with node0's key, in
 * the file format voidctl cert issue writes. */
static void write_cert(const char *name, uint32_t id)
{
    uint8_t seed0[VOID_SIGN_SEED_SIZE] = {1}, seed1[VOID_SIGN_SEED_SIZE] = {2};
    struct void_sign_keypair admin, client;
    assert_int_equal(void_sign_keypair_from_seed(&admin, seed0), 0);
    assert_int_equal(void_sign_keypair_from_seed(&client, seed1), 0);
    struct void_client_cert c = {.id = id, .expires_ns = 1};
    memcpy(c.public_key, client.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    uint8_t bytes[VOID_CLIENT_CERT_SIZE];
    assert_int_equal(void_client_cert_issue(&c, &admin, bytes), 0);
    char text[2 * VOID_CLIENT_CERT_SIZE + 64];
    int n = snprintf(text, sizeof(text), "# void client certificate: id %u\n", (unsigned)id);
    for (size_t i = 0; i < sizeof(bytes); i++) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", bytes[i]);
    }
    snprintf(text + n, sizeof(text) - (size_t)n, "\n");
    write_file(name, text);
}

/* Setup: a replica file with [clients] admin_key, and client files whose
 * [client] cert names a certificate for their id and key, for another id,
 * or a file that holds no certificate. Action: load each. Expected: the
 * admin key and the certificate are taken; the others are refused with a
 * message naming the mistake; a second admin key is a duplicate. */
static void test_config_takes_admin_key_and_client_certificate(void **state)
{
    (void)state;
    static struct void_config c;
    char text[4096], err[512];
    int n = snprintf(text,
                     sizeof(text),
                     "[node]\nid = 0\nkey = node0.secret\ndata_dir = d\n[clients]\n"
                     "admin_key = %s\n",
                     pub_hex[0]);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.has_admin_key, 1);
    uint8_t want[VOID_SIGN_PUBLIC_KEY_SIZE];
    assert_int_equal(void_sign_public_key_from_hex(pub_hex[0], want), 0);
    assert_memory_equal(c.admin_key, want, sizeof(want));
    n = snprintf(text,
                 sizeof(text),
                 "[node]\nid = 0\nkey = node0.secret\ndata_dir = d\n[clients]\n"
                 "admin_key_file = node0.public\nadmin_key = %s\n",
                 pub_hex[0]);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_true(load(text, &c, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "twice"));

    write_cert("c500.cert", 500);
    write_cert("c501.cert", 501);
    write_file("junk.cert", "# nothing here\nabcd\n");
    const char *files[] = {"c500.cert", "c501.cert", "junk.cert"};
    const char *errs[] = {NULL, "is for client 501", "not a client certificate"};
    for (int k = 0; k < 3; k++) {
        n = snprintf(
            text, sizeof(text), "[client]\nid = 500\nkey = node1.secret\ncert = %s\n", files[k]);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        int rc = load(text, &c, err, sizeof(err));
        if (errs[k] == NULL) {
            assert_int_equal(rc, 0);
            assert_int_equal(c.has_client_cert, 1);
        } else {
            assert_true(rc < 0);
            assert_non_null(strstr(err, errs[k]));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_loads_valid_node_file_with_defaults),
        cmocka_unit_test(test_config_reads_and_bounds_pbft_tuning),
        cmocka_unit_test(test_config_reads_and_bounds_connection_limits),
        cmocka_unit_test(test_config_rejects_missing_key_file),
        cmocka_unit_test(test_config_rejects_duplicate_replica_id),
        cmocka_unit_test(test_config_rejects_malformed_address),
        cmocka_unit_test(test_config_rejects_unknown_key),
        cmocka_unit_test(test_config_rejects_secret_key_of_another_node),
        cmocka_unit_test(test_config_rejects_two_replicas_on_one_address),
        cmocka_unit_test(test_config_refuses_two_or_three_replicas),
        cmocka_unit_test(test_config_rejects_loss_above_100_percent),
        cmocka_unit_test(test_config_fault_control_needs_an_admin_key),
        cmocka_unit_test(test_config_byzantine_needs_control_and_a_test_build),
        cmocka_unit_test(test_hostport_parse_accepts_each_form_and_bounds_the_port),
        cmocka_unit_test(test_config_takes_each_limit_and_refuses_one_past),
        cmocka_unit_test(test_config_refuses_default_http_port_above_65535),
        cmocka_unit_test(test_config_refuses_a_directory_too_long_to_resolve_paths),
        cmocka_unit_test(test_config_reads_http_web_root),
        cmocka_unit_test(test_config_reads_tasks_section),
        cmocka_unit_test(test_config_reads_slots_and_genesis),
        cmocka_unit_test(test_config_takes_admin_key_and_client_certificate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

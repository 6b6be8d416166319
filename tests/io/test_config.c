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

/* Setup: a node file with [pbft] pipeline = 3, batch_max = 20; then files
 * with pipeline 0, pipeline 65, batch_max 129 and an unknown [pbft] key.
 * Action: load each. Expected: the first loads with both values; the others
 * fail with VOID_EPARSE naming the key. */
static void test_config_reads_and_bounds_pbft_tuning(void **state)
{
    (void)state;
    static struct void_config c;
    char text[2048], err[512];
    const char *node = "[node]\nid = 0\nkey = node0.secret\ndata_dir = data0\n";
    int n = snprintf(text, sizeof(text), "%s[pbft]\npipeline = 3\nbatch_max = 20\n", node);
    cluster_text(text + n, sizeof(text) - (size_t)n);
    assert_int_equal(load(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.pbft_pipeline, 3);
    assert_int_equal(c.pbft_batch_max, 20);
    const char *bad[][2] = {{"pipeline = 0", "pipeline"},
                            {"pipeline = 65", "pipeline"},
                            {"batch_max = 129", "batch_max"},
                            {"window = 8", "window"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = snprintf(text, sizeof(text), "%s[pbft]\n%s\n", node, bad[i][0]);
        cluster_text(text + n, sizeof(text) - (size_t)n);
        assert_int_equal(load(text, &c, err, sizeof(err)), VOID_EPARSE);
        assert_non_null(strstr(err, bad[i][1]));
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
        cmocka_unit_test(test_config_rejects_loss_above_100_percent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

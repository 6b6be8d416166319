/*
 * Tests of the block-transfer helpers: the CAS_FETCH and CAS_BLOCK bodies
 * reject malformed input, a block's name is recomputed from its bytes (so a
 * forged body cannot claim another name), and the DAG walk of a stored tree
 * lists children before their parents, which is the order a replica's store
 * accepts them in.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/casnet.h"
#include "void/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Setup: a FETCH body for a hash. Action: decode it, then decode a short
 * body and one with an unknown op. Expected: round trip; EBAD_LENGTH and
 * EBAD_FIELD for the bad ones. */
static void test_casnet_fetch_body_round_trips_and_rejects_garbage(void **state)
{
    (void)state;
    struct void_hash h, back;
    memset(h.b, 0xab, sizeof(h.b));
    uint8_t body[VOID_CASNET_FETCH_SIZE];
    void_casnet_fetch_encode(VOID_CASNET_STORED, &h, body);
    uint8_t op = 9;
    assert_int_equal(void_casnet_fetch_decode(body, sizeof(body), &op, &back), 0);
    assert_int_equal(op, VOID_CASNET_STORED);
    assert_memory_equal(back.b, h.b, VOID_HASH_SIZE);
    assert_int_equal(void_casnet_fetch_decode(body, sizeof(body) - 1, &op, &back),
                     VOID_EBAD_LENGTH);
    body[0] = 7;
    assert_int_equal(void_casnet_fetch_decode(body, sizeof(body), &op, &back), VOID_EBAD_FIELD);
}

/* Setup: a BLOCK body "kind | bytes". Action: decode it; flip one byte;
 * decode an empty body and one with an unknown kind. Expected: the hash is
 * SHA-256 of the bytes and changes with them; ETRUNCATED and EBAD_FIELD. */
static void test_casnet_block_name_is_recomputed_from_bytes(void **state)
{
    (void)state;
    uint8_t body[1 + 100];
    body[0] = VOID_CAS_BLOB;
    memset(body + 1, 'z', 100);
    uint8_t kind = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    struct void_hash h1, h2, expect;
    assert_int_equal(void_casnet_block_decode(body, sizeof(body), &kind, &data, &len, &h1), 0);
    void_hash_compute(body + 1, 100, &expect);
    assert_int_equal(kind, VOID_CAS_BLOB);
    assert_int_equal(len, 100);
    assert_true(void_hash_equal(&h1, &expect));
    body[50] ^= 1;
    assert_int_equal(void_casnet_block_decode(body, sizeof(body), &kind, &data, &len, &h2), 0);
    assert_false(void_hash_equal(&h1, &h2));
    assert_int_equal(void_casnet_block_decode(body, 0, &kind, &data, &len, &h2), VOID_ETRUNCATED);
    body[0] = 9;
    assert_int_equal(void_casnet_block_decode(body, sizeof(body), &kind, &data, &len, &h2),
                     VOID_EBAD_FIELD);
}

struct seen {
    struct void_hash hashes[4096];
    uint8_t kinds[4096];
    size_t count;
};

static int
record(void *ctx, const struct void_hash *h, uint8_t kind, const uint8_t *data, size_t len)
{
    struct seen *s = ctx;
    (void)data;
    (void)len;
    if (s->count < 4096) {
        s->hashes[s->count] = *h;
        s->kinds[s->count++] = kind;
    }
    return 0;
}

static int index_of(const struct seen *s, const struct void_hash *h)
{
    for (size_t i = 0; i < s->count; i++) {
        if (void_hash_equal(&s->hashes[i], h)) {
            return (int)i;
        }
    }
    return -1;
}

struct order_check {
    const struct seen *s;
    int parent;
};

static int child_before_parent(void *ctx, const struct void_hash *h)
{
    struct order_check *oc = ctx;
    int i = index_of(oc->s, h);
    return i >= 0 && i < oc->parent ? 0 : -1;
}

/* Setup: a tree (two files, one 300 KB, in a subdirectory) put into a
 * temporary store. Action: walk it from the root. Expected: the root comes
 * last, and every object's children appear before it. */
static void test_casnet_walk_lists_children_before_parents(void **state)
{
    (void)state;
    char dir[] = "/tmp/void-test-casnet-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[512];
    snprintf(cmd,
             sizeof(cmd),
             "mkdir -p %s/src/sub && head -c 300000 /dev/urandom > %s/src/sub/big && echo hi > "
             "%s/src/small",
             dir,
             dir,
             dir);
    assert_int_equal(system(cmd), 0);
    struct void_cas cas;
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    cc.create = 1;
    snprintf(path, sizeof(path), "%s/store", dir);
    assert_int_equal(void_cas_init(&cas, path, &cc), 0);
    struct void_cas_put_result res;
    snprintf(path, sizeof(path), "%s/src", dir);
    assert_int_equal(void_cas_put_path(&cas, path, NULL, NULL, NULL, &res), 0);
    static struct seen s;
    assert_int_equal(void_casnet_walk(&cas, &res.root, record, &s), 0);
    assert_true(s.count >= 4); /* root dir, sub dir, two files, their chunks */
    assert_true(void_hash_equal(&s.hashes[s.count - 1], &res.root));
    for (size_t i = 0; i < s.count; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        uint8_t kind = 0;
        assert_int_equal(void_cas_get_block(&cas, &s.hashes[i], &data, &len, &kind), 0);
        struct order_check oc = {.s = &s, .parent = (int)i};
        assert_int_equal(void_casnet_children(kind, data, len, child_before_parent, &oc), 0);
        free(data);
    }
    void_cas_fini(&cas);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_casnet_fetch_body_round_trips_and_rejects_garbage),
        cmocka_unit_test(test_casnet_block_name_is_recomputed_from_bytes),
        cmocka_unit_test(test_casnet_walk_lists_children_before_parents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

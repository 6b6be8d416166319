/*
 * Tests of the RFC 9162 Merkle tree (src/core/merkle.c) that signs a batch's
 * replies once: known answers from the Certificate Transparency reference
 * tests, every audit path of every tree size up to past a batch, and that a
 * changed path, position or leaf never yields the root.
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
#include "void/hash.h"
#include "void/merkle.h"
#include "void/sign.h"

#include <string.h>

#define H VOID_MERKLE_HASH_SIZE

/* The eight inputs of the CT reference tests (merkle_tree_test). */
static const uint8_t in0[] = {0};
static const uint8_t in1[] = {0x00};
static const uint8_t in2[] = {0x10};
static const uint8_t in3[] = {0x20, 0x21};
static const uint8_t in4[] = {0x30, 0x31};
static const uint8_t in5[] = {0x40, 0x41, 0x42, 0x43};
static const uint8_t in6[] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57};
static const uint8_t in7[] = {
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
static const uint8_t *const inputs[8] = {in0, in1, in2, in3, in4, in5, in6, in7};
static const size_t input_len[8] = {0, 1, 1, 2, 2, 4, 8, 16};

static void hex(const char *s, uint8_t out[H])
{
    struct void_hash h;
    assert_int_equal(void_hash_from_hex(s, &h), 0);
    memcpy(out, h.b, H);
}

static void reference_leaves(uint8_t leaves[8][H])
{
    for (int i = 0; i < 8; i++) {
        void_merkle_leaf(inputs[i], input_len[i], leaves[i]);
    }
}

/* Setup: the CT reference inputs. Action: the root of the first n of them,
 * n = 1..8. Expected: the published roots. */
static void test_merkle_roots_match_the_reference(void **state)
{
    (void)state;
    static const char *const roots[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    uint8_t leaves[8][H];
    reference_leaves(leaves);
    for (uint32_t n = 1; n <= 8; n++) {
        uint8_t root[H], want[H];
        void_merkle_build((const uint8_t(*)[H])leaves, n, NULL, root);
        hex(roots[n - 1], want);
        assert_memory_equal(root, want, H);
    }
}

/* Setup: the CT reference inputs. Action: the audit paths of leaf 0 and 5
 * of 8, 2 of 3 and 1 of 5. Expected: the published paths, and each leads
 * back to its tree's root. */
static void test_merkle_paths_match_the_reference(void **state)
{
    (void)state;
    static const struct {
        uint32_t index, count, len;
        const char *path[3];
    } cases[] = {
        {0,
         8,
         3,
         {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {5,
         8,
         3,
         {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
          "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
        {1,
         5,
         3,
         {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    };
    uint8_t leaves[8][H];
    reference_leaves(leaves);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint32_t count = cases[c].count;
        assert_int_equal(void_merkle_path_len(cases[c].index, count), cases[c].len);
        uint8_t storage[8][3 * H];
        uint8_t *paths[8];
        for (uint32_t i = 0; i < 8; i++) {
            paths[i] = storage[i];
        }
        uint8_t root[H];
        void_merkle_build((const uint8_t(*)[H])leaves, count, paths, root);
        for (uint32_t k = 0; k < cases[c].len; k++) {
            uint8_t want[H];
            hex(cases[c].path[k], want);
            assert_memory_equal(storage[cases[c].index] + k * H, want, H);
        }
        uint8_t again[H];
        assert_int_equal(void_merkle_root_from_path(leaves[cases[c].index],
                                                    cases[c].index,
                                                    count,
                                                    storage[cases[c].index],
                                                    cases[c].len,
                                                    again),
                         0);
        assert_memory_equal(again, root, H);
    }
}

/* Setup: trees of 1..130 distinct leaves (past the largest batch, 128).
 * Action: build every path, then check each; then one flipped bit in a path
 * hash, the neighbour's position, the next leaf's hash, and a path one hash
 * short. Expected: every path gives the root; no change does; a wrong
 * length or position is refused outright (EBAD_FIELD). */
static void test_merkle_every_path_proves_its_leaf_only(void **state)
{
    (void)state;
    enum { MAX = 130 };
    static uint8_t leaves[MAX][H];
    static uint8_t storage[MAX][VOID_MERKLE_PATH_MAX * H];
    uint8_t *paths[MAX];
    for (uint32_t i = 0; i < MAX; i++) {
        uint8_t data[4] = {(uint8_t)i, 0xa5, (uint8_t)(i >> 8), 7};
        void_merkle_leaf(data, sizeof(data), leaves[i]);
        paths[i] = storage[i];
    }
    for (uint32_t count = 1; count <= MAX; count++) {
        uint8_t root[H], got[H];
        void_merkle_build((const uint8_t(*)[H])leaves, count, paths, root);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t len = void_merkle_path_len(i, count);
            assert_true(len <= 8);
            assert_int_equal(void_merkle_root_from_path(leaves[i], i, count, paths[i], len, got),
                             0);
            assert_memory_equal(got, root, H);
            if (count == 1) {
                continue;
            }
            for (uint32_t k = 0; k < len; k++) {
                paths[i][k * H + (i + k) % H] ^= 0x10;
                assert_int_equal(
                    void_merkle_root_from_path(leaves[i], i, count, paths[i], len, got), 0);
                assert_memory_not_equal(got, root, H);
                paths[i][k * H + (i + k) % H] ^= 0x10;
            }
            uint32_t other = (i + 1) % count;
            assert_int_equal(
                void_merkle_root_from_path(leaves[other], i, count, paths[i], len, got), 0);
            assert_memory_not_equal(got, root, H);
            if (void_merkle_path_len(other, count) == len) {
                assert_int_equal(
                    void_merkle_root_from_path(leaves[i], other, count, paths[i], len, got), 0);
                assert_memory_not_equal(got, root, H);
            }
            assert_int_equal(
                void_merkle_root_from_path(leaves[i], i, count, paths[i], len - 1, got),
                VOID_EBAD_FIELD);
        }
        assert_int_equal(void_merkle_root_from_path(leaves[0], count, count, paths[0], 0, got),
                         VOID_EBAD_FIELD);
    }
    uint8_t got[H];
    assert_int_equal(void_merkle_root_from_path(leaves[0], 0, 0, NULL, 0, got), VOID_EBAD_FIELD);
}

/* Setup: one leaf. Expected: the root is the leaf hash and the path empty;
 * a leaf never equals the node hash of the same bytes (the prefixes). */
static void test_merkle_one_leaf_is_its_own_root(void **state)
{
    (void)state;
    uint8_t leaf[H], root[H];
    void_merkle_leaf((const uint8_t *)"abc", 3, leaf);
    assert_int_equal(void_merkle_path_len(0, 1), 0);
    void_merkle_build((const uint8_t(*)[H])leaf, 1, NULL, root);
    assert_memory_equal(root, leaf, H);
    uint8_t two[2][H];
    memcpy(two[0], leaf, H);
    memcpy(two[1], leaf, H);
    void_merkle_build((const uint8_t(*)[H])two, 2, NULL, root);
    uint8_t as_leaf[H];
    uint8_t joined[2 * H];
    memcpy(joined, leaf, H);
    memcpy(joined + H, leaf, H);
    void_merkle_leaf(joined, sizeof(joined), as_leaf);
    assert_memory_not_equal(root, as_leaf, H);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merkle_roots_match_the_reference),
        cmocka_unit_test(test_merkle_paths_match_the_reference),
        cmocka_unit_test(test_merkle_every_path_proves_its_leaf_only),
        cmocka_unit_test(test_merkle_one_leaf_is_its_own_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

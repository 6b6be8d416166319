/*
 * Tests of the Ed25519 wrapper: the RFC 8032 section 7.1 vectors against raw
 * libsodium (they carry no domain prefix), our prefixed sign/verify, rejection
 * of every single-bit change, domain separation, key files and the keyring.
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
#include "void/sign.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* RFC 8032 section 7.1, TEST 1024: a 1023-byte message. */
static const char test1024_msg[] =
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0";

struct rfc_vector {
    const char *name;
    const char *seed;
    const char *public_key;
    const char *msg;
    const char *sig;
};

static const struct rfc_vector rfc_vectors[] = {
    {"TEST 1",
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2",
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3",
     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024",
     "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     test1024_msg,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d"
     "94b"
     "5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)",
     "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fee"
     "bbd"
     "454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e"
     "030"
     "3dca179c138ac17ad9bef1177331a704"},
};

/* Decodes exactly strlen(hex)/2 bytes into out (capacity cap); returns the length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
    assert_int_equal(n * 2, strlen(hex));
    return n;
}

static void keypair_from_byte(struct void_sign_keypair *kp, uint8_t b)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, b, sizeof(seed));
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static int setup_sodium(void **state)
{
    (void)state;
    return void_sign_global_init();
}

/* Setup: each RFC 8032 vector's seed. Action: derive the key pair through our
 * API and sign the vector's message with raw libsodium (the vectors have no
 * prefix). Expected: public key and signature equal the RFC's bytes, both
 * verify; our domain-prefixed signature of the same message round-trips and
 * differs from the unprefixed one. */
static void test_sign_rfc8032_vectors_match_byte_for_byte(void **state)
{
    (void)state;
    static uint8_t msg[1024];
    for (size_t v = 0; v < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); v++) {
        const struct rfc_vector *vec = &rfc_vectors[v];
        uint8_t seed[32], pk[32], want_sig[64], sig[64];
        unhex(vec->seed, seed, sizeof(seed));
        unhex(vec->public_key, pk, sizeof(pk));
        unhex(vec->sig, want_sig, sizeof(want_sig));
        size_t len = unhex(vec->msg, msg, sizeof(msg));
        struct void_sign_keypair kp;
        assert_int_equal(void_sign_keypair_from_seed(&kp, seed), 0);
        assert_memory_equal(kp.public_key, pk, 32);
        assert_int_equal(crypto_sign_detached(sig, NULL, msg, len, kp.secret_key), 0);
        assert_memory_equal(sig, want_sig, 64);
        assert_int_equal(crypto_sign_verify_detached(want_sig, msg, len, pk), 0);

        uint8_t ours[64];
        assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_FRAME, msg, len, ours), 0);
        assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_FRAME, msg, len, ours), 0);
        assert_memory_not_equal(ours, want_sig, 64);
        /* The raw RFC signature is not a valid domain-prefixed one. */
        assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_FRAME, msg, len, want_sig),
                         VOID_EBAD_SIG);
        void_sign_keypair_wipe(&kp);
    }
}

/* Setup: SHA-512("abc") from libsodium. Expected: it is byte for byte the
 * message of the RFC's TEST SHA(abc), so that vector tests what it claims. */
static void test_sign_rfc8032_sha_abc_message_is_sha512_of_abc(void **state)
{
    (void)state;
    uint8_t digest[crypto_hash_sha512_BYTES], msg[64];
    crypto_hash_sha512(digest, (const uint8_t *)"abc", 3);
    assert_int_equal(unhex(rfc_vectors[4].msg, msg, sizeof(msg)), 64);
    assert_memory_equal(digest, msg, 64);
}

/* Setup: a signature over msg[0..len). Action: flip every bit of the message,
 * the signature and the public key, one at a time. Expected: each flip is
 * rejected with VOID_EBAD_SIG, and the untouched triple still verifies. */
static void check_every_bit_flip_rejected(size_t len)
{
    struct void_sign_keypair kp;
    keypair_from_byte(&kp, 7);
    uint8_t *msg = malloc(len);
    assert_non_null(msg);
    for (size_t i = 0; i < len; i++) {
        msg[i] = (uint8_t)(i * 31 + 5);
    }
    uint8_t sig[64], pk[32];
    memcpy(pk, kp.public_key, 32);
    assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_TEST, msg, len, sig), 0);
    size_t msg_bits = len * 8 > 1024 ? 1024 : len * 8; /* bound the cost for big messages */
    for (size_t bit = 0; bit < msg_bits; bit++) {
        size_t at = (bit / 8) * (len / (msg_bits / 8)); /* spread over the whole message */
        msg[at] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_TEST, msg, len, sig), VOID_EBAD_SIG);
        msg[at] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 64 * 8; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_TEST, msg, len, sig), VOID_EBAD_SIG);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 32 * 8; bit++) {
        pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_TEST, msg, len, sig), VOID_EBAD_SIG);
        pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(void_sign_verify(pk, VOID_SIGN_DOMAIN_TEST, msg, len, sig), 0);
    free(msg);
}

/* A 100-byte message goes through the stack path of the prefixing. */
static void test_sign_rejects_every_single_bit_flip(void **state)
{
    (void)state;
    check_every_bit_flip_rejected(100);
}

/* A 10000-byte message goes through the heap path of the prefixing. */
static void test_sign_rejects_every_bit_flip_of_large_message(void **state)
{
    (void)state;
    check_every_bit_flip_rejected(10000);
}

/* Setup: two key pairs. Action: sign with one, verify with the other's public
 * key. Expected: VOID_EBAD_SIG. */
static void test_sign_rejects_signature_from_other_key(void **state)
{
    (void)state;
    struct void_sign_keypair a, b;
    keypair_from_byte(&a, 1);
    keypair_from_byte(&b, 2);
    const uint8_t msg[] = "prepare v=1 n=7";
    uint8_t sig[64];
    assert_int_equal(void_sign(&a, VOID_SIGN_DOMAIN_FRAME, msg, sizeof(msg), sig), 0);
    assert_int_equal(void_sign_verify(b.public_key, VOID_SIGN_DOMAIN_FRAME, msg, sizeof(msg), sig),
                     VOID_EBAD_SIG);
    assert_int_equal(void_sign_verify(a.public_key, VOID_SIGN_DOMAIN_FRAME, msg, sizeof(msg), sig),
                     0);
}

/* Setup: one message signed in each domain. Action: verify each signature in
 * every domain. Expected: it verifies only in its own domain. */
static void test_sign_rejects_cross_domain(void **state)
{
    (void)state;
    struct void_sign_keypair kp;
    keypair_from_byte(&kp, 3);
    const uint8_t msg[] = "checkpoint n=100 digest=...";
    for (int d = 0; d < VOID_SIGN_DOMAIN_COUNT; d++) {
        uint8_t sig[64];
        assert_int_equal(void_sign(&kp, (enum void_sign_domain)d, msg, sizeof(msg), sig), 0);
        for (int e = 0; e < VOID_SIGN_DOMAIN_COUNT; e++) {
            int rc =
                void_sign_verify(kp.public_key, (enum void_sign_domain)e, msg, sizeof(msg), sig);
            assert_int_equal(rc, d == e ? 0 : VOID_EBAD_SIG);
        }
    }
}

/* Action: sign/verify with an out-of-range domain and an oversized length.
 * Expected: sign says VOID_EINVAL / VOID_EOVERSIZED; verify says
 * VOID_EBAD_SIG; nothing is read from the (short) message buffer. */
static void test_sign_rejects_bad_domain_and_oversized(void **state)
{
    (void)state;
    struct void_sign_keypair kp;
    keypair_from_byte(&kp, 4);
    const uint8_t msg[4] = {1, 2, 3, 4};
    uint8_t sig[64];
    assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_COUNT, msg, 4, sig), VOID_EINVAL);
    assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_TEST, msg, VOID_SIGN_MSG_MAX + 1ul, sig),
                     VOID_EOVERSIZED);
    assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_TEST, msg, 4, sig), 0);
    assert_int_equal(void_sign_verify(kp.public_key, VOID_SIGN_DOMAIN_COUNT, msg, 4, sig),
                     VOID_EBAD_SIG);
    assert_int_equal(
        void_sign_verify(kp.public_key, VOID_SIGN_DOMAIN_TEST, msg, VOID_SIGN_MSG_MAX + 1ul, sig),
        VOID_EBAD_SIG);
    /* An empty message is fine, with or without a pointer. */
    assert_int_equal(void_sign(&kp, VOID_SIGN_DOMAIN_TEST, NULL, 0, sig), 0);
    assert_int_equal(void_sign_verify(kp.public_key, VOID_SIGN_DOMAIN_TEST, NULL, 0, sig), 0);
}

/* Two generated key pairs differ and each signs and verifies. */
static void test_sign_generated_keypairs_work_and_differ(void **state)
{
    (void)state;
    struct void_sign_keypair a, b;
    assert_int_equal(void_sign_keypair_generate(&a), 0);
    assert_int_equal(void_sign_keypair_generate(&b), 0);
    assert_memory_not_equal(a.public_key, b.public_key, 32);
    uint8_t sig[64];
    assert_int_equal(void_sign(&a, VOID_SIGN_DOMAIN_CLIENT, (const uint8_t *)"x", 1, sig), 0);
    assert_int_equal(
        void_sign_verify(a.public_key, VOID_SIGN_DOMAIN_CLIENT, (const uint8_t *)"x", 1, sig), 0);
    void_sign_keypair_wipe(&a);
    uint8_t zero[64] = {0};
    assert_memory_equal(a.secret_key, zero, 64);
}

/* ---- key files ---------------------------------------------------------- */

struct tmpdir {
    char dir[64];
    char secret[128];
    char public_key[128];
};

static void tmpdir_make(struct tmpdir *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/void-test-sign-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->secret, sizeof(t->secret), "%s/node.key", t->dir);
    snprintf(t->public_key, sizeof(t->public_key), "%s/node.pub", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
    unlink(t->secret);
    unlink(t->public_key);
    rmdir(t->dir);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Setup: a key pair written to a fresh directory. Expected: the secret file
 * has mode 0600, the public one 0644; reading both gives back the same key
 * pair, which signs what the original verifies. */
static void test_keyfile_write_read_round_trip(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    struct void_sign_keypair kp, back;
    keypair_from_byte(&kp, 9);
    char err[256] = "";
    assert_int_equal(void_sign_keyfile_write(t.secret, t.public_key, &kp, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(t.secret, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(t.public_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(void_sign_keyfile_read_secret(t.secret, &back, err, sizeof(err)), 0);
    assert_memory_equal(back.secret_key, kp.secret_key, 64);
    assert_memory_equal(back.public_key, kp.public_key, 32);
    uint8_t pk[32];
    assert_int_equal(void_sign_keyfile_read_public(t.public_key, pk, err, sizeof(err)), 0);
    assert_memory_equal(pk, kp.public_key, 32);
    tmpdir_remove(&t);
}

/* Setup: a valid secret key file chmod'ed to 0644 (and then 0640). Action:
 * read it. Expected: VOID_EKEY_PERM and a message naming the file and the
 * fix "chmod 600 PATH"; after chmod 600 it reads. */
static void test_keyfile_refuses_group_or_world_readable_secret(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    struct void_sign_keypair kp;
    keypair_from_byte(&kp, 10);
    assert_int_equal(void_sign_keyfile_write(t.secret, t.public_key, &kp, NULL, 0), 0);
    char err[512] = "", fix[256];
    snprintf(fix, sizeof(fix), "chmod 600 %s", t.secret);
    const mode_t bad_modes[] = {0644, 0640, 0604};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(chmod(t.secret, bad_modes[i]), 0);
        err[0] = '\0';
        assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, err, sizeof(err)),
                         VOID_EKEY_PERM);
        assert_non_null(strstr(err, fix));
    }
    assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, NULL, 0), VOID_EKEY_PERM);
    assert_int_equal(chmod(t.secret, 0600), 0);
    assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, err, sizeof(err)), 0);
    tmpdir_remove(&t);
}

/* Setup: key files already present. Action: write again (either file in the
 * way). Expected: VOID_EEXIST and the existing files are unchanged. */
static void test_keyfile_write_refuses_to_overwrite(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    struct void_sign_keypair a, b, back;
    keypair_from_byte(&a, 11);
    keypair_from_byte(&b, 12);
    assert_int_equal(void_sign_keyfile_write(t.secret, t.public_key, &a, NULL, 0), 0);
    char err[256] = "";
    assert_int_equal(void_sign_keyfile_write(t.secret, t.public_key, &b, err, sizeof(err)),
                     VOID_EEXIST);
    assert_non_null(strstr(err, "overwrite"));
    /* Only the public file in the way: the new secret file is not left behind. */
    assert_int_equal(unlink(t.secret), 0);
    assert_int_equal(void_sign_keyfile_write(t.secret, t.public_key, &b, NULL, 0), VOID_EEXIST);
    assert_int_equal(access(t.secret, F_OK), -1);
    uint8_t pk[32];
    assert_int_equal(void_sign_keyfile_read_public(t.public_key, pk, NULL, 0), 0);
    assert_memory_equal(pk, a.public_key, 32);
    (void)back;
    tmpdir_remove(&t);
}

/* Setup: malformed key files. Expected: VOID_EKEY_FORMAT for each, and
 * VOID_ENOTFOUND for a missing file. */
static void test_keyfile_rejects_malformed_and_missing(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_make(&t);
    struct void_sign_keypair kp;
    const char *bad[] = {
        "",
        "void-ed25519-secret \n",
        "void-ed25519-secret 00\n",
        "void-ed25519-public 0000000000000000000000000000000000000000000000000000000000000000\n",
        "void-ed25519-secret 000000000000000000000000000000000000000000000000000000000000000g\n",
        "void-ed25519-secret 0000000000000000000000000000000000000000000000000000000000000000 x\n",
        "void-ed25519-secret 0000000000000000000000000000000000000000000000000000000000000000\n\n",
        "void-ed25519-secret 00000000000000000000000000000000000000000000000000000000000000000\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_text(t.secret, bad[i], 0600);
        assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, NULL, 0), VOID_EKEY_FORMAT);
    }
    write_text(
        t.secret,
        "void-ed25519-secret 0000000000000000000000000000000000000000000000000000000000000000",
        0600);
    assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, NULL, 0), 0);
    write_text(t.public_key, "void-ed25519-public 12\n", 0644);
    uint8_t pk[32];
    assert_int_equal(void_sign_keyfile_read_public(t.public_key, pk, NULL, 0), VOID_EKEY_FORMAT);
    tmpdir_remove(&t);
    char err[256] = "";
    assert_int_equal(void_sign_keyfile_read_secret(t.secret, &kp, err, sizeof(err)),
                     VOID_ENOTFOUND);
    assert_non_null(strstr(err, t.secret));
    assert_int_equal(void_sign_keyfile_read_public(t.public_key, pk, NULL, 0), VOID_ENOTFOUND);
}

/* Public keys print as 64 hex digits and parse back; anything else is
 * VOID_EPARSE. */
static void test_sign_public_key_hex_round_trip(void **state)
{
    (void)state;
    struct void_sign_keypair kp;
    keypair_from_byte(&kp, 13);
    char hex[65];
    void_sign_public_key_to_hex(kp.public_key, hex);
    assert_int_equal(strlen(hex), 64);
    uint8_t pk[32];
    assert_int_equal(void_sign_public_key_from_hex(hex, pk), 0);
    assert_memory_equal(pk, kp.public_key, 32);
    hex[63] = '\0';
    assert_int_equal(void_sign_public_key_from_hex(hex, pk), VOID_EPARSE);
    assert_int_equal(void_sign_public_key_from_hex("", pk), VOID_EPARSE);
    assert_int_equal(void_sign_public_key_from_hex(
                         "zz00000000000000000000000000000000000000000000000000000000000000", pk),
                     VOID_EPARSE);
}

/* ---- keyring ------------------------------------------------------------- */

/* Setup: a keyring with two nodes. Expected: get finds each, unknown ids give
 * NULL; re-adding the same pair is a no-op, another key for a known id is
 * VOID_EEXIST; verify by id accepts the right signer, rejects another signer
 * with VOID_EBAD_SIG and an unknown id with VOID_EUNKNOWN_SENDER. */
static void test_keyring_add_get_verify(void **state)
{
    (void)state;
    struct void_keyring ring;
    void_keyring_init(&ring);
    struct void_sign_keypair a, b;
    keypair_from_byte(&a, 21);
    keypair_from_byte(&b, 22);
    assert_int_equal(void_keyring_add(&ring, 1, a.public_key), 0);
    assert_int_equal(void_keyring_add(&ring, 2, b.public_key), 0);
    assert_int_equal(void_keyring_add(&ring, 1, a.public_key), 0);
    assert_int_equal(ring.count, 2);
    assert_int_equal(void_keyring_add(&ring, 1, b.public_key), VOID_EEXIST);
    assert_memory_equal(void_keyring_get(&ring, 1), a.public_key, 32);
    assert_memory_equal(void_keyring_get(&ring, 2), b.public_key, 32);
    assert_null(void_keyring_get(&ring, 3));

    const uint8_t msg[] = "heartbeat";
    uint8_t sig[64];
    assert_int_equal(void_sign(&a, VOID_SIGN_DOMAIN_HEARTBEAT, msg, sizeof(msg), sig), 0);
    assert_int_equal(
        void_keyring_verify(&ring, 1, VOID_SIGN_DOMAIN_HEARTBEAT, msg, sizeof(msg), sig), 0);
    assert_int_equal(
        void_keyring_verify(&ring, 2, VOID_SIGN_DOMAIN_HEARTBEAT, msg, sizeof(msg), sig),
        VOID_EBAD_SIG);
    assert_int_equal(
        void_keyring_verify(&ring, 3, VOID_SIGN_DOMAIN_HEARTBEAT, msg, sizeof(msg), sig),
        VOID_EUNKNOWN_SENDER);
}

/* Setup: a keyring filled to VOID_KEYRING_MAX. Expected: one more id is
 * VOID_EFULL; all earlier ids are still found. */
static void test_keyring_full(void **state)
{
    (void)state;
    static struct void_keyring ring;
    void_keyring_init(&ring);
    uint8_t key[32] = {0};
    for (uint32_t id = 0; id < VOID_KEYRING_MAX; id++) {
        key[0] = (uint8_t)id;
        assert_int_equal(void_keyring_add(&ring, id * 7, key), 0);
    }
    assert_int_equal(void_keyring_add(&ring, 99999, key), VOID_EFULL);
    for (uint32_t id = 0; id < VOID_KEYRING_MAX; id++) {
        const uint8_t *got = void_keyring_get(&ring, id * 7);
        assert_non_null(got);
        assert_int_equal(got[0], (uint8_t)id);
    }
}

/* ct_equal is 1 for equal buffers and 0 when any byte differs. */
static void test_sign_ct_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_int_equal(void_sign_ct_equal(a, b, 32), 1);
    for (size_t i = 0; i < 32; i++) {
        b[i] ^= 1;
        assert_int_equal(void_sign_ct_equal(a, b, 32), 0);
        b[i] ^= 1;
    }
    assert_int_equal(void_sign_ct_equal(a, b, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_rfc8032_vectors_match_byte_for_byte),
        cmocka_unit_test(test_sign_rfc8032_sha_abc_message_is_sha512_of_abc),
        cmocka_unit_test(test_sign_rejects_every_single_bit_flip),
        cmocka_unit_test(test_sign_rejects_every_bit_flip_of_large_message),
        cmocka_unit_test(test_sign_rejects_signature_from_other_key),
        cmocka_unit_test(test_sign_rejects_cross_domain),
        cmocka_unit_test(test_sign_rejects_bad_domain_and_oversized),
        cmocka_unit_test(test_sign_generated_keypairs_work_and_differ),
        cmocka_unit_test(test_keyfile_write_read_round_trip),
        cmocka_unit_test(test_keyfile_refuses_group_or_world_readable_secret),
        cmocka_unit_test(test_keyfile_write_refuses_to_overwrite),
        cmocka_unit_test(test_keyfile_rejects_malformed_and_missing),
        cmocka_unit_test(test_sign_public_key_hex_round_trip),
        cmocka_unit_test(test_keyring_add_get_verify),
        cmocka_unit_test(test_keyring_full),
        cmocka_unit_test(test_sign_ct_equal),
    };
    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}

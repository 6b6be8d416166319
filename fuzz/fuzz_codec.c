/*
 * libFuzzer target for the wire decoder. Every input is decoded, peeked and
 * verified against a keyring holding the fuzz key (node 1); whatever decodes
 * must describe a frame that lies inside the input, agree with peek_size, and
 * survive a re-encode/decode round trip unchanged. A REPLY also goes through
 * the client's check (leaf, audit path, root signature): it must fail as
 * the frame signature does, or pass only when the root is signed by the
 * fuzz key; and its tag is checked under the fuzz MAC key (the seed's tag
 * is made with it). Seeds in
 * fuzz/corpus/fuzz_codec are frames signed by that same key, so mutations
 * reach the signature check as well as every header check.
 */
#include "void/codec.h"
#include "void/error.h"
#include "void/pbft_msg.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NODE 1

static struct void_sign_keypair fuzz_key;
static struct void_keyring fuzz_ring;
static uint8_t fuzz_mac_key[VOID_MAC_KEY_SIZE];

static void fuzz_init(void)
{
    static int done;
    if (done) {
        return;
    }
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, 0x5a, sizeof(seed));
    if (void_sign_global_init() != 0 || void_sign_keypair_from_seed(&fuzz_key, seed) != 0) {
        abort();
    }
    memset(fuzz_mac_key, 0x33, sizeof(fuzz_mac_key));
    void_keyring_init(&fuzz_ring);
    if (void_keyring_add(&fuzz_ring, FUZZ_NODE, fuzz_key.public_key) != 0) {
        abort();
    }
    done = 1;
}

static void check_frame(const uint8_t *data, size_t size, const struct void_frame *f)
{
    if (f->body != data + VOID_CODEC_HEADER_SIZE || f->sig != f->body + f->body_len ||
        f->sig + VOID_SIGN_SIZE != data + size || void_codec_frame_size(f->body_len) != size ||
        void_codec_peek_size(data, size) != (long)size || void_msg_type_name(f->type) == NULL) {
        abort();
    }
    /* Re-encode with the fuzz key and decode again: the fields survive. */
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        return;
    }
    size_t n = 0;
    struct void_frame back;
    if (void_codec_encode(f, &fuzz_key, buf, size, &n) != 0 || n != size ||
        void_codec_decode(buf, n, &back) != 0 ||
        void_sign_verify(
            fuzz_key.public_key, VOID_SIGN_DOMAIN_FRAME, buf, n - VOID_SIGN_SIZE, back.sig) != 0 ||
        back.type != f->type || back.sender != f->sender ||
        void_hlc_compare(back.hlc, f->hlc) != 0 || back.body_len != f->body_len ||
        memcmp(back.body, f->body, f->body_len) != 0) {
        abort();
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    struct void_frame f;
    int rc = void_codec_decode(data, size, &f);
    int rv = void_codec_decode_verified(data, size, &fuzz_ring, &f);
    long peek = void_codec_peek_size(data, size);
    if (rc == 0 && f.type == VOID_MSG_REPLY) {
        struct void_frame rf;
        struct void_pbft_reply m;
        int rr = void_pbft_reply_verify(data, size, &fuzz_ring, &rf, &m);
        if (rr == 0 && (rf.sender != FUZZ_NODE || rv == 0 ||
                        void_pbft_reply_leaf_len(size, &m) < VOID_CODEC_HEADER_SIZE + 34)) {
            abort(); /* a REPLY never passes the FRAME check, and its leaf holds its fields */
        }
        if (rr != 0 && rr != VOID_EBAD_SIG && rr != VOID_EUNKNOWN_SENDER && rr != VOID_ETRUNCATED &&
            rr != VOID_EBAD_LENGTH && rr != VOID_EBAD_FIELD) {
            abort();
        }
        if (rr == 0 || rr == VOID_EBAD_SIG || rr == VOID_EUNKNOWN_SENDER) {
            /* The body decoded, so it ends with a tag. */
            int rt = void_pbft_reply_check_mac(data, size, fuzz_mac_key);
            if (rt != 0 && rt != VOID_EBAD_SIG) {
                abort();
            }
        }
    }
    if (rc == 0) {
        check_frame(data, size, &f);
        if (rv != 0 && rv != VOID_EBAD_SIG && rv != VOID_EUNKNOWN_SENDER) {
            abort();
        }
    } else {
        /* decode_verified fails first where decode does, with the same code. */
        if (rv != rc || rc >= 0 || void_strerror(rc)[0] == '\0') {
            abort();
        }
        if (peek > 0 && (rc != VOID_ETRUNCATED && rc != VOID_EBAD_LENGTH)) {
            abort();
        }
    }
    return 0;
}

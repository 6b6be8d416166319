/*
 * Tests of the PBFT client core (f+1 matching replies, retries with
 * broadcast and backoff, view tracking, rejection of bad replies) and of the
 * PBFT message body codecs (round trips and one distinct error per kind of
 * malformed input).
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/mac.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/pbft_msg.h"
#include "void/sign.h"

#include <stdlib.h>
#include <string.h>

#define CLIENT 100

static struct void_sign_keypair keys[5];
static struct void_keyring ring;
static struct void_pbft_effect effects[64];
static uint8_t arena[1 << 16];

static void keys_setup(void)
{
    void_keyring_init(&ring);
    for (uint32_t i = 0; i < 5; i++) {
        uint8_t seed[32] = {(uint8_t)i, 7};
        assert_int_equal(void_sign_keypair_from_seed(&keys[i], seed), 0);
        assert_int_equal(void_keyring_add(&ring, i < 4 ? i : CLIENT, keys[i].public_key), 0);
    }
}

static void client_setup(struct void_pbft_client *c, struct void_pbft_out *out)
{
    keys_setup();
    struct void_pbft_client_config cfg = {.id = CLIENT,
                                          .n = 4,
                                          .timeout_ns = 1000,
                                          .verify_signatures = 1,
                                          .keyring = &ring,
                                          .keypair = &keys[4]};
    assert_int_equal(void_pbft_client_init(c, &cfg), 0);
    void_pbft_out_init(out, effects, 64, arena, sizeof(arena));
}

/* The request most tests send: a get of key "k". */
static const uint8_t GET_K[] = {2, 0, 1, 'k'};

/* Sets up a client and submits GET_K at time 10. */
static void submit_get_k(struct void_pbft_client *c, struct void_pbft_out *out)
{
    client_setup(c, out);
    assert_int_equal(void_pbft_client_submit(c, 10, GET_K, sizeof(GET_K), out), 0);
}

/* An unsigned REPLY frame from replica `from` to client `client`: leaf
 * index of count (zero path). Returns its length. */
static size_t reply_unsigned(uint32_t from,
                             uint32_t client,
                             uint64_t view,
                             uint64_t reqno,
                             const char *result,
                             uint16_t index,
                             uint16_t count,
                             uint8_t *buf)
{
    struct void_pbft_reply m = {.ev = 1u + index,
                                .view = view,
                                .client = client,
                                .reqno = reqno,
                                .result = (const uint8_t *)result,
                                .result_len = (uint16_t)strlen(result),
                                .index = index,
                                .count = count};
    uint8_t body[256];
    int blen = void_pbft_reply_encode(&m, body, sizeof(body));
    assert_true(blen > 0);
    struct void_frame fr = {.type = VOID_MSG_REPLY,
                            .sender = from,
                            .hlc = {10, index},
                            .body = body,
                            .body_len = (uint32_t)blen};
    size_t len;
    assert_int_equal(void_codec_encode_unsigned(&fr, buf, 512, &len), 0);
    return len;
}

/* A REPLY frame from replica `from` (signed with key `signer`). */
static size_t reply(
    uint32_t from, uint32_t signer, uint64_t view, uint64_t reqno, const char *result, uint8_t *buf)
{
    size_t len = reply_unsigned(from, CLIENT, view, reqno, result, 0, 1, buf);
    assert_int_equal(void_pbft_reply_sign(buf, len, &keys[signer]), 0);
    return len;
}

static int
deliver(struct void_pbft_client *c, struct void_pbft_out *out, const uint8_t *buf, size_t len)
{
    int rc = void_pbft_client_step_receive(c, 20, buf, len, out);
    return rc;
}

/* Setup: n=4 (f=1), one request submitted. Action: a reply from replica 1,
 * the same reply again from 1, a different result from 2, then the first
 * result from 3. Expected: only the last completes the request (two distinct
 * replicas agree), with that result, and the retry timer is cancelled. */
static void test_client_accepts_f_plus_one_matching_replies(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    assert_int_equal(void_pbft_client_submit(&c, 10, GET_K, sizeof(GET_K), &out), VOID_EBUSY);
    /* The request went to the primary of view 0 only. */
    int sends = 0;
    for (uint32_t k = 0; k < out.count; k++) {
        if (out.effects[k].kind == VOID_PBFT_EFFECT_SEND) {
            assert_int_equal(out.effects[k].u.send.to, 0);
            sends++;
        }
    }
    assert_int_equal(sends, 1);
    void_pbft_out_reset(&out);
    uint8_t buf[512];
    const uint8_t *res;
    size_t len = reply(1, 1, 0, 1, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(void_pbft_client_result(&c, &res), VOID_EAGAIN);
    len = reply(2, 2, 0, 1, "B", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    len = reply(3, 3, 2, 1, "A", buf);
    void_pbft_out_reset(&out);
    assert_int_equal(deliver(&c, &out, buf, len), 1);
    assert_int_equal(void_pbft_client_result(&c, &res), 1);
    assert_memory_equal(res, "A", 1);
    assert_int_equal(out.effects[out.count - 1].kind, VOID_PBFT_EFFECT_TIMER_CANCEL);
    /* Replica 3 alone named view 2: a view needs f + 1 voters behind it. */
    assert_int_equal(void_pbft_client_view(&c), 0);
}

/* Setup: one request outstanding. Action: replies with a forged signature,
 * from a non-replica, for another request number, and garbage. Expected:
 * each is counted in its own counter and none completes the request. */
static void test_client_rejects_bad_replies(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    uint8_t buf[512];
    size_t len = reply(1, 2, 0, 1, "A", buf); /* replica 2's key posing as 1 */
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    len = reply(1, 2, 0, 1, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.rx_bad_sig, 2);
    len = reply(CLIENT, 4, 0, 1, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.rx_unknown_sender, 1);
    len = reply(1, 1, 0, 7, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.rx_stale, 1);
    memset(buf, 0xee, 64);
    assert_int_equal(deliver(&c, &out, buf, 64), 0);
    assert_int_equal(c.stats.rx_malformed, 1);
    assert_true(c.busy);
}

/* `count` REPLY frames from replica `from`, one per client id CLIENT + i
 * (reqno 1, result "R"), signed once through their Merkle root as a replica
 * signs a batch's replies. */
static void batch_replies(uint32_t from, uint16_t count, uint8_t frames[][512], size_t *lens)
{
    uint8_t leaves[8][VOID_MERKLE_HASH_SIZE];
    uint8_t *paths[8];
    assert_true(count <= 8);
    for (uint16_t i = 0; i < count; i++) {
        lens[i] = reply_unsigned(from, CLIENT + i, 0, 1, "R", i, count, frames[i]);
        struct void_pbft_reply m = {.path_len = void_merkle_path_len(i, count)};
        void_merkle_leaf(frames[i], void_pbft_reply_leaf_len(lens[i], &m), leaves[i]);
        paths[i] = frames[i] + lens[i] - VOID_SIGN_SIZE - VOID_MAC_SIZE -
                   m.path_len * VOID_MERKLE_HASH_SIZE;
    }
    uint8_t root[VOID_MERKLE_HASH_SIZE], sig[VOID_SIGN_SIZE];
    void_merkle_build((const uint8_t(*)[VOID_MERKLE_HASH_SIZE])leaves, count, paths, root);
    assert_int_equal(void_sign(&keys[from], VOID_SIGN_DOMAIN_REPLY, root, sizeof(root), sig), 0);
    for (uint16_t i = 0; i < count; i++) {
        memcpy(frames[i] + lens[i] - VOID_SIGN_SIZE, sig, VOID_SIGN_SIZE);
    }
}

/* Setup: replicas 1 and 2 each sign the replies of a five-request batch once
 * (one signature over the Merkle root); the client is the first of them.
 * Action: replica 1's reply with its result changed, with another leaf's
 * path, signed over FRAME like any other message, and replica 2's reply
 * under replica 1's name; then the two true replies. Expected: the four
 * forgeries count as bad signatures and do not complete the request; the
 * true ones do, and every reply of the batch verifies on its own. */
static void test_client_checks_batch_signed_replies(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    uint8_t one[5][512], two[5][512];
    size_t one_len[5], two_len[5];
    batch_replies(1, 5, one, one_len);
    batch_replies(2, 5, two, two_len);
    for (int i = 0; i < 5; i++) {
        struct void_frame fr;
        struct void_pbft_reply m;
        assert_int_equal(void_pbft_reply_verify(one[i], one_len[i], &ring, &fr, &m), 0);
        assert_int_equal(m.client, CLIENT + (uint32_t)i);
    }
    uint8_t buf[512];
    memcpy(buf, one[0], one_len[0]);
    buf[VOID_CODEC_HEADER_SIZE + 32] ^= 0x01; /* the result byte (after the u32 result_len) */
    assert_int_equal(deliver(&c, &out, buf, one_len[0]), 0);
    /* Leaf 0's header and reply with leaf 1's path (same length: 3 hashes). */
    memcpy(buf, one[0], one_len[0]);
    size_t path_at = one_len[0] - VOID_SIGN_SIZE - VOID_MAC_SIZE - 3 * VOID_MERKLE_HASH_SIZE;
    memcpy(buf + path_at, one[1] + path_at, 3 * VOID_MERKLE_HASH_SIZE);
    assert_int_equal(deliver(&c, &out, buf, one_len[0]), 0);
    /* The same reply signed as a plain frame. */
    struct void_frame plain;
    assert_int_equal(void_codec_decode(one[0], one_len[0], &plain), 0);
    size_t plain_len;
    assert_int_equal(void_codec_encode(&plain, &keys[1], buf, sizeof(buf), &plain_len), 0);
    assert_int_equal(deliver(&c, &out, buf, plain_len), 0);
    /* Replica 2's reply claimed by replica 1. */
    memcpy(buf, two[0], two_len[0]);
    buf[11] = 1;
    assert_int_equal(deliver(&c, &out, buf, two_len[0]), 0);
    assert_int_equal(c.stats.rx_bad_sig, 4);
    assert_true(c.busy);
    assert_int_equal(deliver(&c, &out, one[0], one_len[0]), 0);
    assert_int_equal(deliver(&c, &out, two[0], two_len[0]), 1);
    const uint8_t *res;
    assert_int_equal(void_pbft_client_result(&c, &res), 1);
    assert_memory_equal(res, "R", 1);
}

/* Tags the REPLY frame buf[0..len) as replica `from` tags it for CLIENT. */
static void tag_reply(uint32_t from, uint8_t *buf, size_t len)
{
    uint8_t key[VOID_MAC_KEY_SIZE];
    assert_int_equal(void_mac_key_derive(&keys[from], keys[4].public_key, key), 0);
    void_pbft_reply_tag(buf, len, key);
}

/* Setup: one request in flight. Action: replica 1's reply tagged for the
 * client but with a zeroed signature; replica 2's reply tagged by replica 1
 * (wrong key) and signed by nobody; then replica 2's reply with a spoiled
 * tag and a good signature. Expected: the first is taken on its tag with no
 * signature check; the second fails its tag, then its signature (a bad
 * reply); the third fails its tag and is taken on its signature, which
 * completes the request: two checked replies, one signature verification. */
static void test_client_takes_a_reply_on_its_tag(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    uint64_t reqno = void_pbft_client_reqno(&c);
    uint8_t buf[512];
    size_t len = reply_unsigned(1, CLIENT, 0, reqno, "R", 0, 1, buf);
    tag_reply(1, buf, len);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.macs_ok, 1);
    assert_int_equal(c.stats.verifies, 0);
    len = reply_unsigned(2, CLIENT, 0, reqno, "R", 0, 1, buf);
    tag_reply(1, buf, len);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.macs_bad, 1);
    assert_int_equal(c.stats.rx_bad_sig, 1);
    assert_true(c.busy);
    len = reply_unsigned(2, CLIENT, 0, reqno, "R", 0, 1, buf);
    tag_reply(2, buf, len);
    assert_int_equal(void_pbft_reply_sign(buf, len, &keys[2]), 0);
    buf[len - VOID_SIGN_SIZE - 1] ^= 0x01; /* the tag's last byte */
    assert_int_equal(deliver(&c, &out, buf, len), 1);
    assert_int_equal(c.stats.macs_ok, 1);
    assert_int_equal(c.stats.macs_bad, 2);
    assert_int_equal(c.stats.verifies, 2);
    assert_int_equal(c.stats.rx_bad_sig, 1);
    const uint8_t *res;
    assert_int_equal(void_pbft_client_result(&c, &res), 1);
    assert_memory_equal(res, "R", 1);
}

/* Setup: one request completed by matching replies from replicas 1 and 2.
 * Action: replica 3's late reply to it, with a forged signature, and one for
 * an older request number. Expected: both are counted stale and neither is
 * counted as a bad signature: a reply to nothing in flight is dropped before
 * its signature is checked, so the client verifies f + 1 replies per request
 * and not n. */
static void test_client_drops_late_replies_unverified(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    uint8_t buf[512];
    size_t len = reply(1, 1, 0, 1, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    len = reply(2, 2, 0, 1, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 1);
    len = reply(3, 2, 0, 1, "A", buf); /* replica 2's key posing as 3 */
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    len = reply(3, 3, 0, 0, "A", buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.rx_stale, 2);
    assert_int_equal(c.stats.rx_bad_sig, 0);
    const uint8_t *res;
    assert_int_equal(void_pbft_client_result(&c, &res), 1);
    assert_memory_equal(res, "A", 1);
}

/* Setup: one request outstanding, timeout 1000 ns. Action: the retry timer
 * fires twice. Expected: each time the request is broadcast to all replicas
 * with the same request number, and the next timeout doubles. */
static void test_client_broadcasts_on_timeout_with_backoff(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    for (uint64_t expect = 2000; expect <= 4000; expect *= 2) {
        void_pbft_out_reset(&out);
        assert_int_equal(void_pbft_client_step_timer(&c, 2000, &out), 0);
        int broadcast = 0, timer = 0;
        for (uint32_t k = 0; k < out.count; k++) {
            const struct void_pbft_effect *e = &out.effects[k];
            if (e->kind == VOID_PBFT_EFFECT_SEND) {
                broadcast = e->u.send.to == VOID_PBFT_TO_ALL;
                struct void_frame fr;
                assert_int_equal(
                    void_codec_decode_verified(e->u.send.frame, e->u.send.len, &ring, &fr), 0);
                struct void_pbft_request q;
                size_t used;
                assert_int_equal(
                    void_pbft_request_decode(e->u.send.frame, e->u.send.len, &q, &used), 0);
                assert_int_equal(q.reqno, 1);
                assert_int_equal(void_pbft_request_verify(&q, &ring), 0);
            }
            if (e->kind == VOID_PBFT_EFFECT_TIMER_SET) {
                timer = e->u.timer.delay_ns == expect;
            }
        }
        assert_true(broadcast);
        assert_true(timer);
    }
    assert_int_equal(c.stats.retries, 2);
}

/* Setup: a client with broadcast_first. Action: submit a request, complete
 * it with f+1 replies of view 5, submit another. Expected: the first request
 * goes to every replica (the view is unknown), the second only to the
 * primary of view 5 (replica 1). */
static void test_client_broadcasts_first_request_until_view_known(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    keys_setup();
    struct void_pbft_client_config cfg = {.id = CLIENT,
                                          .n = 4,
                                          .timeout_ns = 1000,
                                          .verify_signatures = 1,
                                          .broadcast_first = 1,
                                          .keyring = &ring,
                                          .keypair = &keys[4]};
    assert_int_equal(void_pbft_client_init(&c, &cfg), 0);
    void_pbft_out_init(&out, effects, 64, arena, sizeof(arena));
    const uint8_t op[] = {2, 0, 1, 'k'};
    for (int round = 0; round < 2; round++) {
        void_pbft_out_reset(&out);
        assert_int_equal(void_pbft_client_submit(&c, 10, op, sizeof(op), &out), 0);
        int sends = 0;
        for (uint32_t k = 0; k < out.count; k++) {
            if (out.effects[k].kind == VOID_PBFT_EFFECT_SEND) {
                assert_int_equal(out.effects[k].u.send.to, round == 0 ? VOID_PBFT_TO_ALL : 1);
                sends++;
            }
        }
        assert_int_equal(sends, 1);
        uint8_t buf[512];
        for (uint32_t from = 2; from <= 3; from++) {
            size_t len = reply(from, from, 5, (uint64_t)round + 1, "A", buf);
            assert_int_equal(deliver(&c, &out, buf, len), from == 3);
        }
        assert_int_equal(void_pbft_client_view(&c), 5);
    }
}

/* ---- message bodies ------------------------------------------------------- */

/* The repliers named by the request record in the first SEND of out. */
static uint16_t sent_repliers(const struct void_pbft_out *out)
{
    for (uint32_t k = 0; k < out->count; k++) {
        const struct void_pbft_effect *e = &out->effects[k];
        if (e->kind == VOID_PBFT_EFFECT_SEND) {
            struct void_pbft_request q;
            size_t used = 0;
            assert_int_equal(void_pbft_request_decode(e->u.send.frame, e->u.send.len, &q, &used),
                             0);
            return q.repliers;
        }
    }
    fail_msg("no request sent");
    return 0;
}

/* Submits request reqno at now and completes it with "ok" from the
 * replicas it names; returns the repliers mask. */
static uint16_t put_one(struct void_pbft_client *c, struct void_pbft_out *out, uint64_t now)
{
    const uint8_t op[] = {2, 0, 1, 'k'};
    void_pbft_out_reset(out);
    assert_int_equal(void_pbft_client_submit(c, now, op, sizeof(op), out), 0);
    uint16_t mask = sent_repliers(out);
    uint8_t buf[512];
    int completed = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (mask & (1u << i)) {
            size_t len = reply(i, i, 0, void_pbft_client_reqno(c), "ok", buf);
            completed += void_pbft_client_step_receive(c, now, buf, len, out) == 1;
        }
    }
    assert_int_equal(completed, 1);
    return mask;
}

/* Where the last submitted request went. */
static uint32_t sent_to(const struct void_pbft_out *out)
{
    for (uint32_t k = 0; k < out->count; k++) {
        if (out->effects[k].kind == VOID_PBFT_EFFECT_SEND) {
            return out->effects[k].u.send.to;
        }
    }
    fail_msg("no request sent");
    return 0;
}

/* Setup: n=4 (f=1); replica 3 is faulty and names view 7 (whose primary it
 * is) in every reply. Action: three requests; the first completes on
 * replica 2 (view 1) then 3, the second on 0 (view 2) then 3, each time
 * with the faulty reply last. Expected: the client believes view 1, then 2
 * (the views f + 1 voters named), and sends the next request to their
 * primaries, never to replica 3. Taking the view of the reply that
 * completed the quorum, it would believe view 7 and send every request to
 * replica 3 first (voidsim seeds 54 and 70 of --faults crash --requests
 * 300: a retry timeout on each request). */
static void test_client_takes_a_view_only_when_f_plus_one_replicas_name_it(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    assert_int_equal(sent_to(&out), 0);
    static const uint32_t honest[] = {2, 0};
    static const uint64_t honest_view[] = {1, 2};
    for (uint32_t round = 0; round < 2; round++) {
        uint8_t buf[512];
        size_t len = reply(honest[round], honest[round], honest_view[round], round + 1, "A", buf);
        assert_int_equal(deliver(&c, &out, buf, len), 0);
        len = reply(3, 3, 7, round + 1, "A", buf);
        assert_int_equal(deliver(&c, &out, buf, len), 1);
        assert_int_equal(void_pbft_client_view(&c), honest_view[round]);
        void_pbft_out_reset(&out);
        assert_int_equal(void_pbft_client_submit(&c, 30, GET_K, sizeof(GET_K), &out), 0);
        assert_int_equal(sent_to(&out), void_pbft_client_primary(&c));
        assert_int_equal(sent_to(&out), honest_view[round]);
    }
}

/* Setup: n=4 (f=1), view 0. Action: the driver says replica 1's link is
 * down, then request 1 (which would name {1,2}); then replica 0's link
 * (the primary's) is down too, request 2; then both are up again, request 3.
 * Expected: request 1 names {2,3} and goes to the primary; request 2 names
 * {2,3} and goes to every replica, which relay it; request 3 names {3,0}
 * and goes to the primary; no retry timeout was paid. */
static void test_client_skips_replicas_whose_link_is_down(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    client_setup(&c, &out);
    void_pbft_client_link(&c, 1, 0);
    void_pbft_client_link(&c, 9, 0); /* not a replica: ignored */
    const uint8_t op[] = {2, 0, 1, 'k'};
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_submit(&c, 10, op, sizeof(op), &out), 0);
    assert_int_equal(sent_repliers(&out), 0xc);
    assert_int_equal(sent_to(&out), 0);
    uint8_t buf[512];
    size_t len = reply(2, 2, 0, 1, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 20, buf, len, &out), 0);
    len = reply(3, 3, 0, 1, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 20, buf, len, &out), 1);
    void_pbft_client_link(&c, 0, 0);
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_submit(&c, 30, op, sizeof(op), &out), 0);
    assert_int_equal(sent_repliers(&out), 0xc);
    assert_int_equal(sent_to(&out), VOID_PBFT_TO_ALL);
    len = reply(2, 2, 0, 2, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 40, buf, len, &out), 0);
    len = reply(3, 3, 0, 2, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 40, buf, len, &out), 1);
    void_pbft_client_link(&c, 0, 1);
    void_pbft_client_link(&c, 1, 1);
    assert_int_equal(put_one(&c, &out, 50), 0x9);
    assert_int_equal(sent_to(&out), 0);
    assert_int_equal(c.stats.retries, 0);
}

/* Setup: n=4 (f=1), every link down (a client just started), request 1
 * sent to every replica. Action: replica 0's link comes up; replicas 2
 * and 3 answer; then replica 1's link comes up with nothing outstanding.
 * Expected: the first link_up sends request 1 (same number) to replica 0
 * alone and leaves the retry timer alone; the second sends nothing. */
static void test_client_sends_the_outstanding_request_to_a_link_that_comes_up(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    client_setup(&c, &out);
    for (uint32_t i = 0; i < 4; i++) {
        void_pbft_client_link(&c, i, 0);
    }
    const uint8_t op[] = {2, 0, 1, 'k'};
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_submit(&c, 10, op, sizeof(op), &out), 0);
    assert_int_equal(sent_to(&out), VOID_PBFT_TO_ALL);
    uint64_t reqno = void_pbft_client_reqno(&c);
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_link_up(&c, 0, 15, &out), 1);
    assert_int_equal(sent_to(&out), 0);
    assert_int_equal(void_pbft_client_reqno(&c), reqno);
    for (uint32_t i = 0; i < out.count; i++) {
        assert_true(out.effects[i].kind != VOID_PBFT_EFFECT_TIMER_SET &&
                    out.effects[i].kind != VOID_PBFT_EFFECT_TIMER_CANCEL);
    }
    assert_int_equal(c.stats.link_resends, 1);
    uint8_t buf[512];
    size_t len = reply(2, 2, 0, reqno, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 20, buf, len, &out), 0);
    len = reply(3, 3, 0, reqno, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, 20, buf, len, &out), 1);
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_link_up(&c, 1, 30, &out), 0);
    assert_int_equal(out.count, 0);
    assert_int_equal(c.stats.link_resends, 1);
    assert_int_equal(c.stats.retries, 0);
}

/* Setup: n=4 (f=1), requests 1..4. Expected: each record names f + 1 = 2
 * repliers, rotating with the request number: {1,2}, {2,3}, {3,0}, {0,1}.
 * Action: request 5 names {1,2}; replica 2 stays silent, so only 1 replies;
 * the retry timer fires and replica 0 answers the retransmission. Expected:
 * the request completes with 1 and 0, replica 2 is suspected, request 6
 * (which would name {2,3}) names {3,0}; once VOID_PBFT_CLIENT_SUSPECT_NS has
 * passed, request 10 names {2,3} again. With reply_all, a record names all
 * four, and completing with two replies of four suspects nobody. */
static void test_client_names_f_plus_one_repliers_and_avoids_silent_ones(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    client_setup(&c, &out);
    uint64_t now = 1000;
    const uint16_t rot[4] = {0x6, 0xc, 0x9, 0x3};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(put_one(&c, &out, now), rot[i]);
    }
    const uint8_t op[] = {2, 0, 1, 'k'};
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_submit(&c, now, op, sizeof(op), &out), 0);
    assert_int_equal(sent_repliers(&out), 0x6);
    uint8_t buf[512];
    size_t len = reply(1, 1, 0, 5, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, now, buf, len, &out), 0);
    now += 2000;
    assert_int_equal(void_pbft_client_step_timer(&c, now, &out), 0);
    assert_int_equal(c.stats.retries, 1);
    len = reply(0, 0, 0, 5, "ok", buf);
    assert_int_equal(void_pbft_client_step_receive(&c, now, buf, len, &out), 1);
    assert_int_equal(c.stats.suspected, 1);
    assert_int_equal(put_one(&c, &out, now), 0x9); /* request 6: {3,0}, not {2,3} */
    for (int i = 7; i <= 9; i++) {
        assert_int_equal(put_one(&c, &out, now) & 0x4, 0); /* 2 is left out meanwhile */
    }
    now += VOID_PBFT_CLIENT_SUSPECT_NS;
    assert_int_equal(put_one(&c, &out, now), 0xc); /* request 10: {2,3} again */

    struct void_pbft_client all;
    client_setup(&all, &out);
    all.cfg.reply_all = 1;
    assert_int_equal(put_one(&all, &out, now), 0xf);
    assert_int_equal(all.stats.suspected, 0); /* the two slower replies suspect nobody */
}

/* Setup: a COMMIT frame from replica 1 of four, tagged with the keys it
 * shares with replicas 0, 2 and 3 (derived from both sides), then signed.
 * Action: each replica checks its tag. Expected: 0, 2 and 3 accept theirs;
 * the sender's own slot (zeros) and a replica beyond mac_count have no valid
 * tag; any changed byte under the tags, or another replica's key, fails;
 * the signature covers the tags. */
/* A signed REPLY from replica `from` for request reqno of session `session`
 * whose result is VOID_SM_STALE naming `above` as the superseding number. */
static size_t
stale_reply(uint32_t from, uint64_t reqno, uint32_t session, uint64_t above, uint8_t *buf)
{
    uint8_t value[8], result[64];
    void_bytes_put_be64(value, above);
    struct void_sm_result res = {.status = VOID_SM_STALE, .value = value, .value_len = 8};
    int rlen = void_sm_result_encode(&res, result, sizeof(result));
    assert_true(rlen > 0);
    struct void_pbft_reply m = {.ev = 1,
                                .client = CLIENT,
                                .reqno = reqno,
                                .result = result,
                                .result_len = (uint16_t)rlen,
                                .session = session,
                                .index = 0,
                                .count = 1};
    uint8_t body[256];
    int blen = void_pbft_reply_encode(&m, body, sizeof(body));
    assert_true(blen > 0);
    struct void_frame fr = {.type = VOID_MSG_REPLY,
                            .sender = from,
                            .hlc = {10, 0},
                            .body = body,
                            .body_len = (uint32_t)blen};
    size_t len;
    assert_int_equal(void_codec_encode_unsigned(&fr, buf, 512, &len), 0);
    assert_int_equal(void_pbft_reply_sign(buf, len, &keys[from]), 0);
    return len;
}

/* Setup: n = 4 (f = 1), a request (number 1) outstanding. Action: a faulty
 * replica answers STALE naming a huge number, a reply for another session
 * names another, then an honest replica answers STALE naming 500. Expected:
 * the other session's reply is dropped; the two STALE answers of this
 * session complete the request as STALE with the smaller number (the
 * (f+1)-th largest: the faulty replica cannot inflate it alone), and the
 * next request is numbered 501. */
static void test_client_completes_on_f_plus_one_stale_answers_and_numbers_above(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    submit_get_k(&c, &out);
    void_pbft_out_reset(&out);
    uint8_t buf[512];
    size_t len = stale_reply(1, 1, 0, UINT64_MAX / 2, buf);
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    len = stale_reply(2, 1, 99, 600, buf); /* another process's session */
    assert_int_equal(deliver(&c, &out, buf, len), 0);
    assert_int_equal(c.stats.rx_stale, 1);
    len = stale_reply(3, 1, 0, 500, buf);
    assert_int_equal(deliver(&c, &out, buf, len), 1);
    const uint8_t *res;
    int rlen = void_pbft_client_result(&c, &res);
    struct void_sm_result r;
    assert_int_equal(void_sm_result_decode(res, (size_t)rlen, &r), 0);
    assert_int_equal(r.status, VOID_SM_STALE);
    assert_int_equal(void_bytes_get_be64(r.value), 500);
    assert_int_equal(c.stats.stale, 1);
    void_pbft_out_reset(&out);
    assert_int_equal(void_pbft_client_submit(&c, 30, GET_K, sizeof(GET_K), &out), 0);
    assert_int_equal(void_pbft_client_reqno(&c), 501);
}

static void test_pbft_commit_tags_authenticate_each_receiver(void **state)
{
    (void)state;
    struct void_sign_keypair kp[4];
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t seed[VOID_SIGN_SEED_SIZE] = {(uint8_t)(i + 1), 0x33};
        assert_int_equal(void_sign_keypair_from_seed(&kp[i], seed), 0);
    }
    uint8_t send_keys[4][VOID_MAC_KEY_SIZE] = {{0}}, recv_keys[4][VOID_MAC_KEY_SIZE] = {{0}};
    for (uint32_t i = 0; i < 4; i++) {
        if (i != 1) {
            assert_int_equal(void_mac_key_derive(&kp[1], kp[i].public_key, send_keys[i]), 0);
            assert_int_equal(void_mac_key_derive(&kp[i], kp[1].public_key, recv_keys[i]), 0);
            assert_memory_equal(send_keys[i], recv_keys[i], VOID_MAC_KEY_SIZE);
        }
    }
    struct void_pbft_vote v = {.ev = 5, .view = 2, .seq = 40, .mac_count = 4};
    memset(v.digest, 0x2d, 32);
    uint8_t body[256], frame[512];
    int blen = void_pbft_commit_encode(&v, body, sizeof(body));
    assert_true(blen > 0);
    struct void_frame fr = {.type = VOID_MSG_COMMIT,
                            .sender = 1,
                            .hlc = {1000, 0},
                            .body = body,
                            .body_len = (uint32_t)blen};
    size_t len = 0;
    assert_int_equal(void_codec_encode_unsigned(&fr, frame, sizeof(frame), &len), 0);
    void_pbft_commit_tag(frame, len, (const uint8_t(*)[VOID_MAC_KEY_SIZE])send_keys, 0xd);
    assert_int_equal(void_sign(&kp[1], VOID_SIGN_DOMAIN_FRAME, frame, len - 64, frame + len - 64),
                     0);
    struct void_frame got;
    assert_int_equal(void_codec_decode(frame, len, &got), 0);
    for (uint32_t i = 0; i < 4; i++) {
        int want = i == 1 ? VOID_EBAD_SIG : 0;
        assert_int_equal(void_pbft_commit_check_mac(frame, len, &got, i, recv_keys[i]), want);
    }
    assert_int_equal(void_pbft_commit_check_mac(frame, len, &got, 4, recv_keys[0]), VOID_ENOTFOUND);
    assert_int_equal(void_pbft_commit_check_mac(frame, len, &got, 2, recv_keys[3]), VOID_EBAD_SIG);
    uint8_t ring_keys[4][VOID_SIGN_PUBLIC_KEY_SIZE];
    for (uint32_t i = 0; i < 4; i++) {
        memcpy(ring_keys[i], kp[i].public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    }
    for (size_t at = 0; at < VOID_PBFT_COMMIT_TAGGED; at++) {
        uint8_t copy[512];
        memcpy(copy, frame, len);
        copy[at] ^= 0x01;
        struct void_frame cf;
        if (void_codec_decode(copy, len, &cf) != 0) {
            continue; /* the header no longer decodes: nothing to check */
        }
        assert_int_not_equal(void_pbft_commit_check_mac(copy, len, &cf, 0, recv_keys[0]), 0);
    }
    /* The tags are under the signature: a changed tag fails it. */
    assert_int_equal(
        void_sign_verify(ring_keys[1], VOID_SIGN_DOMAIN_FRAME, frame, len - 64, frame + len - 64),
        0);
    frame[VOID_PBFT_COMMIT_TAGGED] ^= 0x01;
    assert_int_not_equal(
        void_sign_verify(ring_keys[1], VOID_SIGN_DOMAIN_FRAME, frame, len - 64, frame + len - 64),
        0);
}

/* Setup: one body of each fixed type. Action: encode, decode; then decode
 * every truncation and a version with a trailing byte. Expected: equal
 * fields; ETRUNCATED for every short prefix; EBAD_LENGTH for trailing bytes. */
static void test_pbft_msg_round_trips_and_rejects_truncation(void **state)
{
    (void)state;
    uint8_t buf[1024];
    struct void_pbft_vote v = {.ev = 9, .view = 3, .seq = 77}, v2;
    memset(v.digest, 0x5c, 32);
    int len = void_pbft_vote_encode(&v, buf, sizeof(buf));
    assert_int_equal(void_pbft_vote_decode(buf, (size_t)len, &v2), 0);
    assert_true(v2.ev == v.ev && v2.view == v.view && v2.seq == v.seq && v2.mac_count == 0);
    assert_memory_equal(v.digest, v2.digest, 32);
    for (int cut = 0; cut < len; cut++) {
        assert_int_equal(void_pbft_vote_decode(buf, (size_t)cut, &v2), VOID_ETRUNCATED);
    }
    assert_int_equal(void_pbft_vote_decode(buf, (size_t)len + 1, &v2), VOID_EBAD_LENGTH);

    /* A COMMIT body: the vote, mac_count and that many zeroed tags. */
    v.mac_count = 4;
    len = void_pbft_commit_encode(&v, buf, sizeof(buf));
    assert_int_equal(len, VOID_PBFT_VOTE_SIZE + 1 + 4 * VOID_MAC_SIZE);
    assert_int_equal(void_pbft_commit_decode(buf, (size_t)len, &v2), 0);
    assert_true(v2.ev == v.ev && v2.view == v.view && v2.seq == v.seq && v2.mac_count == 4);
    assert_ptr_equal(v2.macs, buf + VOID_PBFT_VOTE_SIZE + 1);
    for (int cut = 0; cut < len; cut++) {
        assert_int_equal(void_pbft_commit_decode(buf, (size_t)cut, &v2), VOID_ETRUNCATED);
    }
    assert_int_equal(void_pbft_commit_decode(buf, (size_t)len + 1, &v2), VOID_EBAD_LENGTH);
    buf[VOID_PBFT_VOTE_SIZE] = VOID_PBFT_MACS_MAX + 1;
    assert_int_equal(void_pbft_commit_decode(buf, (size_t)len, &v2), VOID_EBAD_FIELD);
    v.mac_count = VOID_PBFT_MACS_MAX + 1;
    assert_int_equal(void_pbft_commit_encode(&v, buf, sizeof(buf)), VOID_EINVAL);
    v.mac_count = 0;

    struct void_pbft_checkpoint k = {.ev = 1, .seq = 16}, k2;
    memset(k.digest, 0x11, 32);
    len = void_pbft_checkpoint_encode(&k, buf, sizeof(buf));
    assert_int_equal(void_pbft_checkpoint_decode(buf, (size_t)len, &k2), 0);
    assert_true(k2.ev == k.ev && k2.seq == k.seq);
    assert_memory_equal(k.digest, k2.digest, 32);
    assert_int_equal(void_pbft_checkpoint_decode(buf, (size_t)len - 1, &k2), VOID_ETRUNCATED);

    struct void_pbft_reply r = {.ev = 2,
                                .view = 1,
                                .client = 100,
                                .reqno = 5,
                                .result = (const uint8_t *)"xyz",
                                .result_len = 3,
                                .session = 0xc0ffee,
                                .epoch = 0x0102030405060708ull,
                                .index = 3,
                                .count = 5},
                           r2;
    uint8_t path[3 * VOID_MERKLE_HASH_SIZE];
    for (size_t i = 0; i < sizeof(path); i++) {
        path[i] = (uint8_t)i;
    }
    r.path = path;
    len = void_pbft_reply_encode(&r, buf, sizeof(buf));
    assert_int_equal(len, (int)void_pbft_reply_size(3, 3, 5));
    assert_int_equal(void_pbft_reply_decode(buf, (size_t)len, &r2), 0);
    assert_int_equal(r2.reqno, 5);
    assert_int_equal(r2.session, 0xc0ffee);
    assert_int_equal(r2.epoch, 0x0102030405060708ull);
    assert_memory_equal(r2.result, "xyz", 3);
    assert_int_equal(r2.index, 3);
    assert_int_equal(r2.count, 5);
    assert_int_equal(r2.path_len, 3); /* leaf 3 of 5: siblings 2, (0..1), (4) */
    assert_memory_equal(r2.path, path, sizeof(path));
    for (int cut = 0; cut < len; cut++) {
        assert_int_equal(void_pbft_reply_decode(buf, (size_t)cut, &r2), VOID_ETRUNCATED);
    }
    assert_int_equal(void_pbft_reply_decode(buf, (size_t)len + 1, &r2), VOID_EBAD_LENGTH);
    buf[32 + 3 + 12 + 1] = 5; /* index 5 of 5 (after the result, session and epoch) */
    assert_int_equal(void_pbft_reply_decode(buf, (size_t)len, &r2), VOID_EBAD_FIELD);
    buf[32 + 3 + 12 + 1] = 4; /* leaf 4 of 5 has a path of one hash: the body is too long */
    assert_int_equal(void_pbft_reply_decode(buf, (size_t)len, &r2), VOID_EBAD_LENGTH);
    buf[32 + 3 + 12 + 3] = 0; /* count 0 */
    assert_int_equal(void_pbft_reply_decode(buf, (size_t)len, &r2), VOID_EBAD_FIELD);
    r.index = 5;
    assert_int_equal(void_pbft_reply_encode(&r, buf, sizeof(buf)), VOID_EINVAL);

    uint8_t batch[40] = {0};
    struct void_pbft_pre_prepare p = {.ev = 3,
                                      .view = 2,
                                      .seq = 9,
                                      .hlc = {123, 4},
                                      .count = 0,
                                      .batch = batch,
                                      .batch_len = 40},
                                 p2;
    len = void_pbft_pre_prepare_encode(&p, buf, sizeof(buf));
    assert_int_equal(void_pbft_pre_prepare_decode(buf, (size_t)len, &p2), 0);
    assert_int_equal(p2.hlc.logical, 4);
    assert_int_equal(p2.batch_len, 40);
    assert_int_equal(void_pbft_pre_prepare_decode(buf, (size_t)len - 1, &p2), VOID_ETRUNCATED);
    assert_int_equal(void_pbft_pre_prepare_decode(buf, (size_t)len + 1, &p2), VOID_EBAD_LENGTH);
    buf[24 + VOID_HLC_ENCODED_SIZE] = 0xff; /* count 65280 > VOID_PBFT_BATCH_MAX */
    assert_int_equal(void_pbft_pre_prepare_decode(buf, (size_t)len, &p2), VOID_EBAD_FIELD);
}

/* Setup: a signed REQUEST frame followed by more bytes (as in a batch).
 * Action: decode and verify it; then with one op byte changed; truncated;
 * with repliers 0; with a body one byte longer than its fields; and as
 * another type. Expected: 0 (consumed = the frame) and 0, then BAD_SIG,
 * ETRUNCATED, EBAD_FIELD, EBAD_LENGTH, EBAD_TYPE; encoding refuses an empty
 * op, no repliers and a short buffer. */
static void test_pbft_msg_request_signature_and_bounds(void **state)
{
    (void)state;
    keys_setup();
    uint8_t buf[512], copy[512];
    const uint8_t op[] = {1, 0, 1, 'k', 0, 1, 'v'};
    struct void_pbft_request m = {.client = CLIENT,
                                  .hlc = {5, 0},
                                  .ev = 9,
                                  .reqno = 42,
                                  .repliers = 0x6,
                                  .op = op,
                                  .op_len = sizeof(op)};
    int len = void_pbft_request_encode(&m, &keys[4], buf, sizeof(buf));
    assert_true(len > 0);
    memset(buf + len, 0xee, 16); /* the next request of a batch */
    memcpy(copy, buf, sizeof(copy));
    struct void_pbft_request q;
    size_t used;
    assert_int_equal(void_pbft_request_decode(buf, (size_t)len + 16, &q, &used), 0);
    assert_int_equal(used, (size_t)len);
    assert_int_equal(q.client, CLIENT);
    assert_int_equal(q.ev, 9);
    assert_int_equal(q.reqno, 42);
    assert_int_equal(q.repliers, 0x6);
    assert_int_equal(q.op_len, sizeof(op));
    assert_memory_equal(q.op, op, sizeof(op));
    assert_int_equal(void_pbft_request_verify(&q, &ring), 0);
    buf[VOID_CODEC_HEADER_SIZE + VOID_PBFT_REQUEST_HEAD] ^= 1;
    assert_int_equal(void_pbft_request_verify(&q, &ring), VOID_EBAD_SIG);
    assert_int_equal(void_pbft_request_decode(buf, (size_t)len - 1, &q, &used), VOID_ETRUNCATED);
    memcpy(buf, copy, sizeof(buf));
    buf[VOID_CODEC_HEADER_SIZE + 16] = 0;
    buf[VOID_CODEC_HEADER_SIZE + 17] = 0;
    assert_int_equal(void_pbft_request_decode(buf, (size_t)len, &q, &used), VOID_EBAD_FIELD);
    memcpy(buf, copy, sizeof(buf));
    buf[VOID_CODEC_HEADER_SIZE - 1]++; /* body length, low byte: one byte more */
    assert_int_equal(void_pbft_request_decode(buf, (size_t)len + 1, &q, &used), VOID_EBAD_LENGTH);
    memcpy(buf, copy, sizeof(buf));
    buf[5] = VOID_MSG_REPLY;
    assert_int_equal(void_pbft_request_decode(buf, (size_t)len, &q, &used), VOID_EBAD_TYPE);
    m.op_len = 0;
    assert_int_equal(void_pbft_request_encode(&m, &keys[4], buf, sizeof(buf)), VOID_EINVAL);
    m.op_len = sizeof(op);
    m.repliers = 0;
    assert_int_equal(void_pbft_request_encode(&m, &keys[4], buf, sizeof(buf)), VOID_EINVAL);
    m.repliers = VOID_PBFT_REPLIERS_ALL;
    assert_int_equal(void_pbft_request_encode(&m, &keys[4], buf, 10), VOID_EFULL);
}

/* Setup: a client of n=4. Action: it submits a request; the request's
 * authenticator is checked with each replica's own derivation of the key it
 * shares with the client; then with another replica's key, for a replica
 * past the tags, after one op byte changed, and malformed authenticators.
 * Expected: both ends derive the same key, every tag checks for its
 * replica only, a changed byte spoils the tags and the signature, and
 * decode refuses more than 16 tags or a cut tag; encode refuses a count
 * without keys or over 16. */
static void test_pbft_msg_request_authenticator(void **state)
{
    (void)state;
    struct void_pbft_client c;
    struct void_pbft_out out;
    client_setup(&c, &out);
    uint8_t replica_side[4][VOID_MAC_KEY_SIZE];
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(void_mac_key_derive(&keys[i], keys[4].public_key, replica_side[i]), 0);
        assert_memory_equal(replica_side[i], c.mac_keys[i], VOID_MAC_KEY_SIZE);
    }
    assert_memory_not_equal(replica_side[0], replica_side[1], VOID_MAC_KEY_SIZE);
    const uint8_t op[] = {2, 0, 1, 'k'};
    assert_int_equal(void_pbft_client_submit(&c, 10, op, sizeof(op), &out), 0);
    assert_int_equal(out.effects[1].kind, VOID_PBFT_EFFECT_SEND);
    uint8_t buf[512];
    size_t len = out.effects[1].u.send.len;
    memcpy(buf, out.effects[1].u.send.frame, len);
    struct void_pbft_request q;
    size_t used;
    assert_int_equal(void_pbft_request_decode(buf, len, &q, &used), 0);
    assert_int_equal(q.mac_count, 4);
    assert_int_equal(void_pbft_request_verify(&q, &ring), 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(void_pbft_request_check_mac(&q, i, replica_side[i]), 0);
        assert_int_equal(void_pbft_request_check_mac(&q, i, replica_side[(i + 1) % 4]),
                         VOID_EBAD_SIG);
    }
    assert_int_equal(void_pbft_request_check_mac(&q, 4, replica_side[0]), VOID_ENOTFOUND);
    buf[VOID_CODEC_HEADER_SIZE + VOID_PBFT_REQUEST_HEAD + 1] ^= 0x20; /* an op byte */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(void_pbft_request_check_mac(&q, i, replica_side[i]), VOID_EBAD_SIG);
    }
    assert_int_equal(void_pbft_request_verify(&q, &ring), VOID_EBAD_SIG);
    buf[VOID_CODEC_HEADER_SIZE + VOID_PBFT_REQUEST_HEAD + 1] ^= 0x20;
    size_t count_at = VOID_CODEC_HEADER_SIZE + VOID_PBFT_REQUEST_HEAD + sizeof(op);
    buf[count_at] = 17;
    assert_int_equal(void_pbft_request_decode(buf, len, &q, &used), VOID_EBAD_FIELD);
    buf[count_at] = 5; /* one tag more than the frame holds */
    assert_int_equal(void_pbft_request_decode(buf, len, &q, &used), VOID_ETRUNCATED);
    buf[count_at] = 3; /* one tag fewer: bytes left over */
    assert_int_equal(void_pbft_request_decode(buf, len, &q, &used), VOID_EBAD_LENGTH);
    struct void_pbft_request m = {.client = CLIENT,
                                  .ev = 1,
                                  .reqno = 1,
                                  .repliers = 1,
                                  .op = op,
                                  .op_len = sizeof(op),
                                  .mac_count = 1};
    assert_int_equal(void_pbft_request_encode(&m, &keys[4], buf, sizeof(buf)), VOID_EINVAL);
    m.mac_keys = (const uint8_t(*)[VOID_MAC_KEY_SIZE])c.mac_keys;
    m.mac_count = VOID_PBFT_MACS_MAX + 1;
    assert_int_equal(void_pbft_request_encode(&m, &keys[4], buf, sizeof(buf)), VOID_EINVAL);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_accepts_f_plus_one_matching_replies),
        cmocka_unit_test(test_client_takes_a_view_only_when_f_plus_one_replicas_name_it),
        cmocka_unit_test(test_client_rejects_bad_replies),
        cmocka_unit_test(test_client_checks_batch_signed_replies),
        cmocka_unit_test(test_client_takes_a_reply_on_its_tag),
        cmocka_unit_test(test_client_drops_late_replies_unverified),
        cmocka_unit_test(test_client_names_f_plus_one_repliers_and_avoids_silent_ones),
        cmocka_unit_test(test_client_completes_on_f_plus_one_stale_answers_and_numbers_above),
        cmocka_unit_test(test_client_skips_replicas_whose_link_is_down),
        cmocka_unit_test(test_client_sends_the_outstanding_request_to_a_link_that_comes_up),
        cmocka_unit_test(test_client_broadcasts_on_timeout_with_backoff),
        cmocka_unit_test(test_client_broadcasts_first_request_until_view_known),
        cmocka_unit_test(test_pbft_msg_round_trips_and_rejects_truncation),
        cmocka_unit_test(test_pbft_commit_tags_authenticate_each_receiver),
        cmocka_unit_test(test_pbft_msg_request_signature_and_bounds),
        cmocka_unit_test(test_pbft_msg_request_authenticator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

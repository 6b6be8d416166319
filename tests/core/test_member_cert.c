/*
 * Tests of the certified REMOVE (docs/membership.md, "Removal by
 * certificate"): a REMOVE that carries 2f + 1 signed suspicions of one member
 * by distinct voters of the epoch instead of the admin's signature, or
 * several such certificates removing several members in one change,
 * executed by the state machine. A state machine on an in-memory store executes the
 * ops directly, in batches stamped by the test, as PBFT would order them.
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
#include "void/error.h"
#include "void/kvs.h"
#include "void/membership.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS     1000000ull
#define SEC    (1000 * MS)
#define VOTERS 7 /* f = 2: a certificate needs 5 */
#define NOW    (1764000000ull * SEC)

struct fix {
    struct void_kvs kvs;
    struct void_sm sm;
    struct void_membership_config genesis;
    struct void_sign_keypair kp[VOTERS + 1]; /* ids 0..6 voters, 7 a learner */
    uint64_t seq;
    uint64_t reqno;
};

static void keypair(struct void_sign_keypair *kp, uint32_t id)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {'m', 'c', (uint8_t)id};
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    static struct void_member members[VOTERS + 1];
    memset(members, 0, sizeof(members));
    for (uint32_t i = 0; i <= VOTERS; i++) {
        keypair(&f->kp[i], i);
        members[i].id = i;
        members[i].role = i < VOTERS ? VOID_MEMBER_VOTER : VOID_MEMBER_LEARNER;
        memcpy(members[i].public_key, f->kp[i].public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        snprintf(members[i].address, sizeof(members[i].address), "replica-%u", i);
    }
    assert_int_equal(void_membership_config_init(&f->genesis, members, VOTERS + 1, 4), 0);
    assert_int_equal(void_kvs_mem_init(&f->kvs, NULL), 0);
    assert_int_equal(void_sm_init(&f->sm, NULL, &f->kvs), 0);
    struct void_sm_member_setup ms = {
        .genesis = &f->genesis, .checkpoint_interval = 10, .window = 20};
    assert_int_equal(void_sm_member_setup(&f->sm, &ms), 0);
    f->seq = 0;
    f->reqno = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    void_sm_fini(&f->sm);
    void_kvs_close(&f->kvs);
    free(f);
    return 0;
}

/* A certificate of suspect in epoch by suspectors[0..count) (ascending),
 * each signed by signer[k] (its own key unless the test forges), HLC walls
 * at wall + k ms. */
static void make_cert(struct fix *f,
                      struct void_sm_member_cert *op,
                      uint64_t epoch,
                      uint32_t suspect,
                      const uint32_t *suspectors,
                      const uint32_t *signers,
                      uint32_t count,
                      uint64_t wall)
{
    memset(op, 0, sizeof(*op));
    op->cert.epoch = epoch;
    op->cert.suspect = suspect;
    op->cert.count = count;
    for (uint32_t k = 0; k < count; k++) {
        struct void_suspicion *s = &op->cert.items[k];
        *s = (struct void_suspicion){.epoch = epoch,
                                     .suspect = suspect,
                                     .suspector = suspectors[k],
                                     .hlc = {wall + k * MS, 0}};
        uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
        void_suspicion_encode(s, msg);
        uint32_t signer = signers != NULL ? signers[k] : suspectors[k];
        assert_int_equal(
            void_sign(&f->kp[signer], VOID_SIGN_DOMAIN_SUSPICION, msg, sizeof(msg), op->sig[k]), 0);
    }
}

/* Executes op bytes in a batch of their own stamped at wall, ten sequence
 * numbers after the last (past any pending window), and decodes the result. */
static struct void_sm_result
exec_bytes(struct fix *f, const uint8_t *op, size_t len, uint64_t wall, uint64_t gap)
{
    static uint8_t out[VOID_SM_RESULT_MAX];
    f->seq += gap;
    assert_int_equal(void_sm_begin_batch(&f->sm, (struct void_hlc_ts){wall, 0}, f->seq, NULL), 0);
    size_t out_len = 0;
    assert_int_equal(
        void_sm_execute(&f->sm, 77, f->reqno++, op, len, out, sizeof(out), &out_len), 0);
    assert_int_equal(void_sm_end_batch(&f->sm), 0);
    struct void_sm_result r;
    assert_int_equal(void_sm_result_decode(out, out_len, &r), 0);
    return r;
}

static struct void_sm_result
exec_cert(struct fix *f, const struct void_sm_member_cert *op, uint64_t wall)
{
    static uint8_t buf[VOID_SM_MEMBER_CERT_SIZE(VOID_MEMBERSHIP_MEMBERS_MAX)];
    int len = void_sm_member_cert_encode(op, buf, sizeof(buf));
    assert_true(len > 0);
    return exec_bytes(f, buf, (size_t)len, wall, 50);
}

/* The refusal's code: the value begins with its name. */
static void assert_refused(struct void_sm_result r, int code)
{
    assert_int_equal(r.status, VOID_SM_REFUSED);
    const char *name = void_err_name(code);
    size_t n = strlen(name);
    if (r.value_len < n || memcmp(r.value, name, n) != 0) {
        fail_msg("refused with %.*s, expected %s", (int)r.value_len, (const char *)r.value, name);
    }
}

static uint64_t epoch_now(struct fix *f, int *present, uint32_t id)
{
    static struct void_membership_config latest, prev;
    uint64_t act = 0, prev_act = 0;
    assert_int_equal(void_sm_member_get(&f->sm, &latest, &act, &prev, &prev_act), 0);
    *present = void_membership_find(&latest, id) >= 0;
    return latest.epoch;
}

static const uint32_t FIVE[] = {0, 1, 2, 4, 5};

/* 2f + 1 = 5 signed suspicions of replica 6 by voters of epoch 1 remove it:
 * epoch 2, in effect above the next checkpoint boundary. */
static void test_member_cert_valid_certificate_removes(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert op;
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW - 2 * SEC);
    struct void_sm_result r = exec_cert(f, &op, NOW);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, 16);
    assert_int_equal(void_bytes_get_be64(r.value), 2);
    assert_int_equal(void_bytes_get_be64(r.value + 8), 50); /* executed at 50: boundary 50 */
    int present = 1;
    assert_int_equal(epoch_now(f, &present, 6), 2);
    assert_false(present);
    assert_int_equal(void_sm_member_take_changed(&f->sm), 1);
}

/* The encoding round-trips, and every malformed length or field is a bad op
 * (never a crash, never a change). */
static void test_member_cert_encoding_round_trips_and_refuses_malformed(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert op, back;
    static uint8_t buf[VOID_SM_MEMBER_CERT_SIZE(5) + 1];
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    int len = void_sm_member_cert_encode(&op, buf, sizeof(buf));
    assert_int_equal(len, (int)VOID_SM_MEMBER_CERT_SIZE(5));
    assert_int_equal(len, 15 + 5 * 80);
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len, &back), 0);
    assert_int_equal(back.cert.epoch, 1);
    assert_int_equal(back.cert.suspect, 6);
    assert_int_equal(back.cert.count, 5);
    for (uint32_t k = 0; k < 5; k++) {
        const struct void_suspicion *x = &back.cert.items[k], *y = &op.cert.items[k];
        assert_true(x->epoch == y->epoch && x->suspect == y->suspect);
        assert_true(x->suspector == y->suspector && x->hlc.wall_ns == y->hlc.wall_ns);
        assert_int_equal(x->hlc.logical, y->hlc.logical);
    }
    assert_memory_equal(back.sig, op.sig, 5 * 64);
    assert_int_equal(void_sm_member_cert_encode(&op, buf, (size_t)len - 1), VOID_EFULL);
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len - 1, &back), VOID_ETRUNCATED);
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len + 1, &back), VOID_EBAD_LENGTH);
    buf[14] = 0;
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len, &back), VOID_EBAD_FIELD);
    buf[14] = 65;
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len, &back), VOID_EBAD_FIELD);
    buf[14] = 5;
    buf[1] = VOID_MEMBERSHIP_REMOVE;
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len, &back), VOID_EBAD_TYPE);
    buf[1] = VOID_SM_MEMBER_CERT_REMOVE;
    /* Through the state machine: a truncated certificate is a bad op. */
    struct void_sm_result r = exec_bytes(f, buf, (size_t)len - 3, NOW, 50);
    assert_int_equal(r.status, VOID_SM_BAD_OP);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 6), 1);
    assert_true(present);
    /* The admin's REMOVE keeps its 78 bytes and its decoder. */
    struct void_sm_member_op m = {.change = VOID_MEMBERSHIP_REMOVE, .id = 6, .epoch = 1};
    uint8_t admin[VOID_SM_MEMBER_OP_SIZE];
    assert_int_equal(void_sm_member_op_encode(&m, admin, sizeof(admin)), 78);
    assert_int_equal(admin[1], VOID_MEMBERSHIP_REMOVE);
    struct void_sm_member_op m2;
    assert_int_equal(void_sm_member_op_decode(admin, sizeof(admin), &m2), 0);
    assert_int_equal(void_sm_member_op_decode(buf, (size_t)len, &m2), VOID_EBAD_LENGTH);
}

/* f = 2 Byzantine voters (5 and 6) accuse honest replica 0. Their own two
 * signatures, padded with suspicions they forge in the names of honest
 * voters, repeated, or signed by a learner, never remove it; every
 * combination of real and forged is tried. */
static void test_member_cert_f_byzantine_plus_forgeries_never_suffice(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert op;
    /* Alone: 2 of 5. */
    const uint32_t byz[] = {5, 6};
    make_cert(f, &op, 1, 0, byz, NULL, 2, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_QUORUM);
    /* Each honest voter's name among 1..4, signed by a Byzantine key: every
     * subset of three of them, with the two real ones, is refused. */
    const uint32_t honest[] = {1, 2, 3, 4};
    for (uint32_t skip = 0; skip < 4; skip++) {
        uint32_t sus[5], sig[5], n = 0;
        for (uint32_t k = 0; k < 4; k++) {
            if (k != skip) {
                sus[n] = honest[k];
                sig[n++] = 5 + (k & 1);
            }
        }
        sus[n] = 5;
        sig[n++] = 5;
        sus[n] = 6;
        sig[n++] = 6;
        make_cert(f, &op, 1, 0, sus, sig, 5, NOW);
        assert_refused(exec_cert(f, &op, NOW), VOID_EBAD_SIG);
    }
    /* Only one forged name: still a bad signature. */
    const uint32_t one[] = {1, 2, 3, 5, 6};
    const uint32_t one_sig[] = {1, 2, 6, 5, 6}; /* 3's forged by 6 (1 and 2 suspect too) */
    make_cert(f, &op, 1, 0, one, one_sig, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EBAD_SIG);
    /* Repeated: the two real ones counted several times. */
    make_cert(f, &op, 1, 0, byz, NULL, 2, NOW);
    op.cert.count = 5;
    for (uint32_t k = 2; k < 5; k++) {
        op.cert.items[k] = op.cert.items[1];
        memcpy(op.sig[k], op.sig[1], 64);
    }
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_DUP_SUSPICION);
    /* A learner's (7) genuine suspicion does not count. */
    const uint32_t with_learner[] = {1, 2, 5, 6, 7};
    make_cert(f, &op, 1, 0, with_learner, NULL, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_NOT_VOTER);
    /* An honest voter's genuine suspicion of another member (a crashed 3),
     * lifted into a certificate against 0: the signature covers the suspect. */
    const uint32_t lift[] = {1, 2, 4, 5, 6};
    make_cert(f, &op, 1, 0, lift, NULL, 5, NOW);
    static struct void_sm_member_cert other;
    make_cert(f, &other, 1, 3, lift, NULL, 5, NOW);
    memcpy(op.sig[0], other.sig[0], 64);
    memcpy(op.sig[1], other.sig[1], 64);
    memcpy(op.sig[2], other.sig[2], 64);
    assert_refused(exec_cert(f, &op, NOW), VOID_EBAD_SIG);
    /* The suspect cannot vouch for its own removal either. */
    const uint32_t self[] = {0, 1, 2, 5, 6};
    make_cert(f, &op, 1, 0, self, NULL, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EINVAL);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 0), 1);
    assert_true(present);
}

/* Each refusal of a certified REMOVE, with its code, and nothing changed. */
static void test_member_cert_refusals(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert op;
    /* Fewer than 2f + 1 distinct voters. */
    make_cert(f, &op, 1, 6, FIVE, NULL, 4, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_QUORUM);
    /* A suspicion from a non-voter: an id never admitted. */
    const uint32_t stranger[] = {0, 1, 2, 4, 9};
    make_cert(f, &op, 1, 6, stranger, (const uint32_t[]){0, 1, 2, 4, 5}, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_NOT_VOTER);
    /* Wrong epoch (a later one, or a replay from an earlier one). */
    make_cert(f, &op, 2, 6, FIVE, NULL, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_EPOCH);
    /* A bad signature: one bit of one. */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    op.sig[3][10] ^= 1;
    assert_refused(exec_cert(f, &op, NOW), VOID_EBAD_SIG);
    /* The signature covers the HLC: a suspicion moved in time. */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    op.cert.items[2].hlc.logical = 1;
    assert_refused(exec_cert(f, &op, NOW), VOID_EBAD_SIG);
    /* Window exceeded: spread over more than 10 s... */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    op.cert.items[0].hlc.wall_ns = NOW - 11 * SEC;
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_STALE);
    /* ... or all of it older than 10 s before the batch's stamp ... */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW - 12 * SEC);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_STALE);
    /* ... or stamped ahead of it by more than the HLC bound. */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW + 2 * SEC);
    assert_refused(exec_cert(f, &op, NOW), VOID_EHLC_AHEAD);
    /* An unknown suspect. */
    make_cert(f, &op, 1, 99, FIVE, NULL, 5, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_UNKNOWN);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 6), 1);
    assert_true(present);
    /* Removed, then a second certificate too soon (pending), then the
     * suspect already removed. */
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    assert_int_equal(exec_cert(f, &op, NOW).status, VOID_SM_OK);
    const uint32_t four[] = {0, 1, 2, 4}; /* n = 6 now: f = 1, 3 suffice */
    make_cert(f, &op, 2, 5, four, NULL, 3, NOW);
    static uint8_t buf[VOID_SM_MEMBER_CERT_SIZE(5)];
    int len = void_sm_member_cert_encode(&op, buf, sizeof(buf));
    assert_refused(exec_bytes(f, buf, (size_t)len, NOW, 5), VOID_EMEMBER_PENDING);
    make_cert(f, &op, 2, 6, four, NULL, 4, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_REMOVED);
    /* A suspicion by the removed member no longer counts. */
    const uint32_t with_removed[] = {0, 1, 6};
    make_cert(f, &op, 2, 5, with_removed, NULL, 3, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_NOT_VOTER);
    /* In epoch 2, f = 1: three voters suffice, down to voters_min. */
    make_cert(f, &op, 2, 5, four, NULL, 3, NOW);
    assert_int_equal(exec_cert(f, &op, NOW).status, VOID_SM_OK);
    assert_int_equal(epoch_now(f, &present, 5), 3);
    assert_false(present);
}

/* voters_min holds: removals stop at 4 voters. */
static void test_member_cert_refuses_below_voters_min(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert op;
    make_cert(f, &op, 1, 6, FIVE, NULL, 5, NOW);
    assert_int_equal(exec_cert(f, &op, NOW).status, VOID_SM_OK);
    const uint32_t e2[] = {0, 1, 2};
    make_cert(f, &op, 2, 5, e2, NULL, 3, NOW);
    assert_int_equal(exec_cert(f, &op, NOW).status, VOID_SM_OK);
    make_cert(f, &op, 3, 4, e2, NULL, 3, NOW);
    assert_int_equal(exec_cert(f, &op, NOW).status, VOID_SM_OK);
    make_cert(f, &op, 4, 3, e2, NULL, 3, NOW);
    assert_refused(exec_cert(f, &op, NOW), VOID_EMEMBER_TOO_FEW);
}

/* Two state machines executing the same ops reach the same state and the
 * same answers: the checks read nothing but replicated input. */
static void test_member_cert_is_deterministic(void **state)
{
    struct fix *a = *state;
    struct fix *b = NULL;
    assert_int_equal(setup((void **)&b), 0);
    static struct void_sm_member_cert ok, bad;
    make_cert(a, &ok, 1, 6, FIVE, NULL, 5, NOW);
    make_cert(a, &bad, 1, 2, FIVE, NULL, 4, NOW);
    struct void_sm_result ra = exec_cert(a, &bad, NOW);
    struct void_sm_result rb = exec_cert(b, &bad, NOW);
    assert_int_equal(ra.status, rb.status);
    ra = exec_cert(a, &ok, NOW + SEC);
    uint64_t ea = void_bytes_get_be64(ra.value);
    rb = exec_cert(b, &ok, NOW + SEC);
    assert_int_equal(ea, void_bytes_get_be64(rb.value));
    uint8_t da[VOID_SM_DIGEST_SIZE], db[VOID_SM_DIGEST_SIZE];
    void_sm_digest(&a->sm, da);
    void_sm_digest(&b->sm, db);
    assert_memory_equal(da, db, sizeof(da));
    void *bs = b;
    teardown(&bs);
}

/* ---- several suspects in one change (VOID_SM_MEMBER_CERTS_REMOVE) -------- */

/* Encodes certs[0..k) as one REMOVE of several suspects and executes it. */
static struct void_sm_result
exec_certs(struct fix *f, const struct void_sm_member_cert *const *certs, uint32_t k, uint64_t wall)
{
    static uint8_t buf[VOID_SM_MEMBER_CERTS_SIZE(VOID_SM_MEMBER_CERTS_MAX, 8)];
    int len = void_sm_member_certs_encode(certs, k, buf, sizeof(buf));
    assert_true(len > 0);
    return exec_bytes(f, buf, (size_t)len, wall, 50);
}

static uint32_t voters_now(struct fix *f)
{
    static struct void_membership_config latest, prev;
    uint64_t act = 0, prev_act = 0;
    assert_int_equal(void_sm_member_get(&f->sm, &latest, &act, &prev, &prev_act), 0);
    return void_membership_voters(&latest);
}

static const uint32_t LOW5[] = {0, 1, 2, 3, 4};

/* Two dead voters of seven (f = 2), each certified by the five others
 * (one of 6's suspectors is 5, itself removed in the same change: its
 * suspicion is judged by epoch 1, where it votes): ONE change removes
 * both, epoch 2 with five voters (f = 1), not epochs 2 and 3. */
static void test_member_certs_remove_several_in_one_epoch(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert a, b;
    make_cert(f, &a, 1, 5, LOW5, NULL, 5, NOW - SEC);
    make_cert(f, &b, 1, 6, (const uint32_t[]){0, 1, 2, 4, 5}, NULL, 5, NOW - SEC);
    const struct void_sm_member_cert *certs[] = {&a, &b};
    struct void_sm_result r = exec_certs(f, certs, 2, NOW);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, 16);
    assert_int_equal(void_bytes_get_be64(r.value), 2);
    assert_int_equal(void_bytes_get_be64(r.value + 8), 50);
    int present = 1;
    assert_int_equal(epoch_now(f, &present, 5), 2);
    assert_false(present);
    assert_int_equal(epoch_now(f, &present, 6), 2);
    assert_false(present);
    assert_int_equal(voters_now(f), 5);
    assert_int_equal(void_sm_member_take_changed(&f->sm), 1);
    /* The next change is judged by epoch 2's f = 1: three suspicions. */
    make_cert(f, &a, 2, 4, (const uint32_t[]){0, 1, 2}, NULL, 3, NOW + SEC);
    assert_int_equal(exec_certs(f, (const struct void_sm_member_cert *[]){&a}, 1, NOW + SEC).status,
                     VOID_SM_OK);
    assert_int_equal(epoch_now(f, &present, 4), 3);
    assert_int_equal(voters_now(f), 4);
}

/* One bad certificate among good ones refuses the whole op: a forged
 * signature, a short certificate, another epoch's, a stale one; nothing is
 * removed, and the good one alone then goes through. */
static void test_member_certs_one_bad_certificate_refuses_all(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert good, bad;
    make_cert(f, &good, 1, 5, LOW5, NULL, 5, NOW);
    const struct void_sm_member_cert *certs[] = {&good, &bad};
    const uint32_t sus6[] = {0, 1, 2, 3, 4};
    /* A forged signature in the second (its last suspicion signed by 0). */
    make_cert(f, &bad, 1, 6, sus6, (const uint32_t[]){0, 1, 2, 3, 0}, 5, NOW);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EBAD_SIG);
    /* ... or in the first, the second valid. */
    make_cert(f, &bad, 1, 6, sus6, NULL, 5, NOW);
    good.sig[2][7] ^= 1;
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EBAD_SIG);
    good.sig[2][7] ^= 1;
    /* Short: four of the five needed. */
    make_cert(f, &bad, 1, 6, sus6, NULL, 4, NOW);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_QUORUM);
    /* Another epoch's evidence: one epoch per op (in its header), so the
     * encoder refuses to mix them, and an op of epoch 2 is refused whole. */
    make_cert(f, &bad, 2, 6, sus6, NULL, 5, NOW);
    static uint8_t mixed[VOID_SM_MEMBER_CERTS_SIZE(2, 5)];
    assert_int_equal(void_sm_member_certs_encode(certs, 2, mixed, sizeof(mixed)), VOID_EINVAL);
    make_cert(f, &good, 2, 5, LOW5, NULL, 5, NOW);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_EPOCH);
    make_cert(f, &good, 1, 5, LOW5, NULL, 5, NOW);
    /* Stale: older than the window before the batch's stamp. */
    make_cert(f, &bad, 1, 6, sus6, NULL, 5, NOW - 12 * SEC);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_STALE);
    /* A learner (7) among the suspectors. */
    make_cert(f, &bad, 1, 6, (const uint32_t[]){0, 1, 2, 3, 7}, NULL, 5, NOW);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_NOT_VOTER);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 5), 1);
    assert_true(present);
    assert_int_equal(epoch_now(f, &present, 6), 1);
    assert_true(present);
    assert_int_equal(void_sm_member_take_changed(&f->sm), 0);
    assert_int_equal(exec_certs(f, certs, 1, NOW).status, VOID_SM_OK);
    assert_int_equal(epoch_now(f, &present, 5), 2);
    assert_false(present);
}

/* The same suspect twice in one op (two valid certificates of it) is
 * refused; so is an already removed suspect next to a live one. */
static void test_member_certs_refuses_duplicate_suspect(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert a, b;
    make_cert(f, &a, 1, 6, LOW5, NULL, 5, NOW);
    make_cert(f, &b, 1, 6, (const uint32_t[]){0, 1, 2, 4, 5}, NULL, 5, NOW);
    const struct void_sm_member_cert *certs[] = {&a, &b};
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_BATCH_DUP);
    assert_refused(exec_certs(f, (const struct void_sm_member_cert *[]){&a, &a}, 2, NOW),
                   VOID_EMEMBER_BATCH_DUP);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 6), 1);
    assert_true(present);
    assert_int_equal(exec_certs(f, certs, 1, NOW).status, VOID_SM_OK);
    /* Epoch 2 (six voters, f = 1): 6 again beside a valid 5. */
    make_cert(f, &a, 2, 5, (const uint32_t[]){0, 1, 2}, NULL, 3, NOW);
    make_cert(f, &b, 2, 6, (const uint32_t[]){0, 1, 2}, NULL, 3, NOW);
    assert_refused(exec_certs(f, certs, 2, NOW), VOID_EMEMBER_REMOVED);
    assert_int_equal(epoch_now(f, &present, 5), 2);
    assert_true(present);
}

/* voters_min (4) after removing all of them: four of seven is refused as a
 * whole, three of seven goes through. */
static void test_member_certs_refuses_below_voters_min(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert c3, c4, c5, c6;
    make_cert(f, &c3, 1, 3, (const uint32_t[]){0, 1, 2, 4, 5}, NULL, 5, NOW);
    make_cert(f, &c4, 1, 4, (const uint32_t[]){0, 1, 2, 3, 5}, NULL, 5, NOW);
    make_cert(f, &c5, 1, 5, LOW5, NULL, 5, NOW);
    make_cert(f, &c6, 1, 6, LOW5, NULL, 5, NOW);
    const struct void_sm_member_cert *four[] = {&c3, &c4, &c5, &c6};
    assert_refused(exec_certs(f, four, 4, NOW), VOID_EMEMBER_TOO_FEW);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 3), 1);
    assert_true(present);
    assert_int_equal(voters_now(f), 7);
    assert_int_equal(exec_certs(f, four + 1, 3, NOW).status, VOID_SM_OK);
    assert_int_equal(epoch_now(f, &present, 4), 2);
    assert_false(present);
    assert_int_equal(voters_now(f), 4);
}

/* The several-suspect encoding round-trips section by section; every
 * malformed length or field is refused by the decoder and is a bad op
 * (never a change); the one-suspect form keeps its own code. */
static void test_member_certs_encoding_round_trips_and_refuses_malformed(void **state)
{
    struct fix *f = *state;
    static struct void_sm_member_cert a, b, back;
    static uint8_t buf[VOID_SM_MEMBER_CERTS_SIZE(2, 5) + 1];
    make_cert(f, &a, 1, 5, LOW5, NULL, 5, NOW);
    make_cert(f, &b, 1, 6, LOW5, NULL, 4, NOW + SEC);
    const struct void_sm_member_cert *certs[] = {&a, &b};
    int len = void_sm_member_certs_encode(certs, 2, buf, sizeof(buf));
    assert_int_equal(len, 11 + (5 + 5 * 80) + (5 + 4 * 80));
    assert_int_equal(buf[1], VOID_SM_MEMBER_CERTS_REMOVE);
    uint32_t k = 0;
    for (uint32_t i = 0; i < 2; i++) {
        const struct void_sm_member_cert *want = certs[i];
        assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, i, &k, &back), 0);
        assert_int_equal(k, 2);
        assert_int_equal(back.cert.epoch, 1);
        assert_int_equal(back.cert.suspect, want->cert.suspect);
        assert_int_equal(back.cert.count, want->cert.count);
        for (uint32_t j = 0; j < back.cert.count; j++) {
            /* Field by field: the struct's padding is not the encoding's. */
            const struct void_suspicion *x = &back.cert.items[j], *y = &want->cert.items[j];
            assert_true(x->epoch == y->epoch && x->suspect == y->suspect);
            assert_true(x->suspector == y->suspector && x->hlc.wall_ns == y->hlc.wall_ns);
            assert_int_equal(x->hlc.logical, y->hlc.logical);
        }
        assert_memory_equal(back.sig, want->sig, want->cert.count * 64);
    }
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 2, &k, &back), VOID_ERANGE);
    assert_int_equal(k, 2);
    assert_int_equal(void_sm_member_certs_encode(certs, 2, buf, (size_t)len - 1), VOID_EFULL);
    assert_int_equal(void_sm_member_certs_encode(certs, 0, buf, sizeof(buf)), VOID_EINVAL);
    b.cert.epoch = 2;
    assert_int_equal(void_sm_member_certs_encode(certs, 2, buf, sizeof(buf)), VOID_EINVAL);
    b.cert.epoch = 1;
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len - 1, 0, &k, &back),
                     VOID_ETRUNCATED);
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len + 1, 0, &k, &back),
                     VOID_EBAD_LENGTH);
    assert_int_equal(void_sm_member_certs_decode(buf, 5, 0, &k, &back), VOID_ETRUNCATED);
    buf[10] = 0;
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_EBAD_FIELD);
    buf[10] = VOID_SM_MEMBER_CERTS_MAX + 1;
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_EBAD_FIELD);
    buf[10] = 3; /* a third section that is not there */
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_ETRUNCATED);
    buf[10] = 2;
    size_t second = 11 + 5 + 5 * 80;
    buf[second + 4] = 0; /* the second section's count */
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_EBAD_FIELD);
    buf[second + 4] = 5; /* claims one item more than it carries */
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_ETRUNCATED);
    buf[second + 4] = 4;
    buf[1] = VOID_SM_MEMBER_CERT_REMOVE;
    assert_int_equal(void_sm_member_certs_decode(buf, (size_t)len, 0, &k, &back), VOID_EBAD_TYPE);
    assert_int_equal(void_sm_member_cert_decode(buf, (size_t)len, &back) != 0, 1);
    buf[1] = VOID_SM_MEMBER_CERTS_REMOVE;
    /* Through the state machine: truncated is a bad op, nothing changes. */
    assert_int_equal(exec_bytes(f, buf, (size_t)len - 3, NOW, 50).status, VOID_SM_BAD_OP);
    int present = 0;
    assert_int_equal(epoch_now(f, &present, 5), 1);
    assert_true(present);
    /* Intact, it is refused for the short second certificate only. */
    assert_refused(exec_bytes(f, buf, (size_t)len, NOW + SEC, 50), VOID_EMEMBER_QUORUM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_member_cert_valid_certificate_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_cert_encoding_round_trips_and_refuses_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_cert_f_byzantine_plus_forgeries_never_suffice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_cert_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_cert_refuses_below_voters_min, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_cert_is_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_certs_remove_several_in_one_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_certs_one_bad_certificate_refuses_all, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_certs_refuses_duplicate_suspect, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_certs_refuses_below_voters_min, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_member_certs_encoding_round_trips_and_refuses_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

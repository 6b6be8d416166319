/*
 * Tests of the membership core: quorum arithmetic, configuration changes and
 * their refusals, the configuration encoding against truncated and garbage
 * input, the failure detector (crash detection, loss and jitter, the local
 * health multiplier) and the suspicion certificate.
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
#include "void/membership.h"
#include "void/prng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

/* ---- helpers ------------------------------------------------------------- */

static struct void_member member(uint32_t id, uint8_t role)
{
    struct void_member m;
    memset(&m, 0, sizeof m);
    m.id = id;
    m.role = role;
    for (size_t i = 0; i < sizeof m.public_key; i++) {
        m.public_key[i] = (uint8_t)(id * 31u + i + 1u);
    }
    snprintf(m.address, sizeof m.address, "10.0.0.%u:7000", id);
    snprintf(m.datacenter, sizeof m.datacenter, "dc%u", id % 3);
    snprintf(m.rack, sizeof m.rack, "r%u", id % 5);
    snprintf(m.host, sizeof m.host, "h%u", id);
    return m;
}

/* n voters with ids 0..n-1, epoch 1. */
static void make_config(struct void_membership_config *cfg, uint32_t n, uint16_t voters_min)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->epoch = 1;
    cfg->id_next = n;
    cfg->voters_min = voters_min;
    cfg->count = (uint16_t)n;
    for (uint32_t i = 0; i < n; i++) {
        cfg->members[i] = member(i, VOID_MEMBER_VOTER);
    }
    assert_int_equal(void_membership_config_check(cfg), 0);
}

static struct void_membership_change change(uint8_t op, uint32_t id)
{
    struct void_membership_change c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.id = id;
    if (op == VOID_MEMBERSHIP_JOIN) {
        c.member = member(id, VOID_MEMBER_LEARNER);
    }
    return c;
}

static int apply1(struct void_membership_config *cfg, uint8_t op, uint32_t id)
{
    struct void_membership_change c = change(op, id);
    return void_membership_apply(cfg, &c, 1, cfg);
}

/* ---- quorum arithmetic --------------------------------------------------- */

/* For every n in 1..64: q is the smallest size whose pairs overlap in f+1,
 * q <= n - f (the live voters form one), n = 3f+1 gives 2f+1, and the two
 * quorums that overlap least (the first q and the last q voters) share
 * exactly 2q - n >= f + 1 voters. */
static void test_membership_quorums_intersect_in_f_plus_one_for_n_1_to_64(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 64; n++) {
        uint32_t f = void_membership_f(n);
        uint32_t q = void_membership_quorum(n);
        assert_true(n >= 3 * f + 1);
        assert_true(n < 3 * (f + 1) + 1);
        assert_true(2 * q >= n + f + 1);
        assert_true(2 * (q - 1) < n + f + 1);
        assert_true(q + f <= n);
        if (n == 3 * f + 1) {
            assert_int_equal(q, 2 * f + 1);
        }
        uint64_t all = n == 64 ? UINT64_MAX : (1ull << n) - 1;
        uint64_t first = q == 64 ? UINT64_MAX : (1ull << q) - 1;
        uint64_t last = (first << (n - q)) & all;
        assert_int_equal(__builtin_popcountll(first & last), 2 * q - n);
    }
    assert_int_equal(void_membership_quorum(0), 0);
}

/* Exhaustively for n <= 10: every pair of q-subsets shares >= f+1 members,
 * and some pair of (q-1)-subsets does not (q is minimal). */
static void test_membership_quorum_minimal_by_exhaustion(void **state)
{
    (void)state;
    for (uint32_t n = 1; n <= 10; n++) {
        uint32_t f = void_membership_f(n), q = void_membership_quorum(n);
        int min_q = 64, min_q1 = 64;
        for (uint32_t a = 0; a < (1u << n); a++) {
            for (uint32_t b = 0; b < (1u << n); b++) {
                int pa = __builtin_popcount(a), pb = __builtin_popcount(b);
                int both = __builtin_popcount(a & b);
                if (pa == (int)q && pb == (int)q && both < min_q) {
                    min_q = both;
                }
                if (pa == (int)q - 1 && pb == (int)q - 1 && both < min_q1) {
                    min_q1 = both;
                }
            }
        }
        assert_true(min_q >= (int)f + 1);
        assert_true(q == 1 || min_q1 < (int)f + 1);
    }
}

/* The primary of view v is the (v mod n)-th voter; learners are skipped. */
static void test_membership_primary_rotates_over_voters_only(void **state)
{
    (void)state;
    struct void_membership_config cfg;
    make_config(&cfg, 4, 1);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 7), 0);
    assert_int_equal(void_membership_voters(&cfg), 4);
    for (uint64_t v = 0; v < 12; v++) {
        assert_int_equal(void_membership_primary(&cfg, v), v % 4);
    }
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 1), 0);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_PROMOTE, 7), 0);
    uint32_t want[4] = {0, 2, 3, 7};
    for (uint64_t v = 0; v < 8; v++) {
        assert_int_equal(void_membership_primary(&cfg, v), want[v % 4]);
    }
}

/* ---- configuration changes ------------------------------------------------ */

/* Join then promote: each batch bumps the epoch by one, members stay sorted
 * by id, the joiner is a learner until promoted, f follows the voters. */
static void test_membership_join_promote_leave_bump_epoch(void **state)
{
    (void)state;
    struct void_membership_config cfg;
    make_config(&cfg, 4, 4);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 9), 0);
    assert_int_equal(cfg.epoch, 2);
    assert_int_equal(cfg.id_next, 10);
    assert_int_equal(cfg.members[4].role, VOID_MEMBER_LEARNER);
    struct void_membership_change batch[3] = {change(VOID_MEMBERSHIP_PROMOTE, 9),
                                              change(VOID_MEMBERSHIP_JOIN, 12),
                                              change(VOID_MEMBERSHIP_JOIN, 11)};
    assert_int_equal(void_membership_apply(&cfg, batch, 3, &cfg), 0);
    assert_int_equal(cfg.epoch, 3);
    assert_int_equal(cfg.count, 7);
    assert_int_equal(cfg.members[5].id, 11);
    assert_int_equal(cfg.members[6].id, 12);
    assert_int_equal(void_membership_voters(&cfg), 5);
    assert_int_equal(void_membership_quorum(void_membership_voters(&cfg)), 4);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_LEAVE, 11), 0);
    assert_int_equal(cfg.count, 6);
    assert_int_equal(cfg.epoch, 4);
}

/* The seed's scenario on the value: n = 10 (f = 3) removes 3 in one batch,
 * giving n = 7, f = 2, quorum 5, and can still lose 2. */
static void test_membership_ten_remove_three_gives_f_two(void **state)
{
    (void)state;
    struct void_membership_config cfg;
    make_config(&cfg, 10, 4);
    assert_int_equal(void_membership_f(10), 3);
    struct void_membership_change batch[3] = {change(VOID_MEMBERSHIP_REMOVE, 2),
                                              change(VOID_MEMBERSHIP_REMOVE, 5),
                                              change(VOID_MEMBERSHIP_REMOVE, 8)};
    assert_int_equal(void_membership_apply(&cfg, batch, 3, &cfg), 0);
    uint32_t n = void_membership_voters(&cfg);
    assert_int_equal(n, 7);
    assert_int_equal(void_membership_f(n), 2);
    assert_int_equal(void_membership_quorum(n), 5);
    uint32_t live[5] = {0, 1, 3, 4, 6};
    assert_int_equal(void_membership_check_live(&cfg, live, 5), 0);
    assert_int_equal(void_membership_check_live(&cfg, live, 4), VOID_EMEMBER_QUORUM);
}

/* Each refusal has its own code, and a refused batch leaves the
 * configuration untouched even when out aliases in. */
static void test_membership_refuses_each_bad_change_with_its_code(void **state)
{
    (void)state;
    struct void_membership_config cfg, before;
    make_config(&cfg, 5, 4);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 4), 0);
    before = cfg;
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 42), VOID_EMEMBER_UNKNOWN);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 4), VOID_EMEMBER_REMOVED);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_LEAVE, 4), VOID_EMEMBER_REMOVED);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_PROMOTE, 4), VOID_EMEMBER_REMOVED);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 4), VOID_EMEMBER_REMOVED);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 3), VOID_EMEMBER_EXISTS);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_PROMOTE, 3), VOID_EMEMBER_ROLE);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 3), VOID_EMEMBER_TOO_FEW);
    struct void_membership_change c = change(VOID_MEMBERSHIP_JOIN, 20);
    memcpy(c.member.public_key, cfg.members[0].public_key, sizeof c.member.public_key);
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EMEMBER_DUP_KEY);
    c = change(VOID_MEMBERSHIP_JOIN, 20);
    strcpy(c.member.address, cfg.members[1].address);
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EMEMBER_DUP_ADDR);
    c = change(VOID_MEMBERSHIP_JOIN, 20);
    c.member.role = VOID_MEMBER_VOTER;
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EBAD_FIELD);
    c = change(VOID_MEMBERSHIP_JOIN, 20);
    c.member.address[0] = 0;
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EBAD_FIELD);
    c = change(VOID_MEMBERSHIP_JOIN, 20);
    c.id = 21;
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EINVAL);
    c = change(99, 1);
    assert_int_equal(void_membership_apply(&cfg, &c, 1, &cfg), VOID_EINVAL);
    assert_int_equal(void_membership_apply(&cfg, &c, 0, &cfg), VOID_EINVAL);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

/* Two changes of one member in a batch (me-hub#293) and two joins with the
 * same key or address in a batch are refused; nothing is applied. */
static void test_membership_refuses_two_changes_of_one_member_in_a_batch(void **state)
{
    (void)state;
    struct void_membership_config cfg, before;
    make_config(&cfg, 5, 4);
    before = cfg;
    struct void_membership_change b[2] = {change(VOID_MEMBERSHIP_JOIN, 8),
                                          change(VOID_MEMBERSHIP_PROMOTE, 8)};
    assert_int_equal(void_membership_apply(&cfg, b, 2, &cfg), VOID_EMEMBER_BATCH_DUP);
    b[0] = change(VOID_MEMBERSHIP_REMOVE, 1);
    b[1] = change(VOID_MEMBERSHIP_REMOVE, 1);
    assert_int_equal(void_membership_apply(&cfg, b, 2, &cfg), VOID_EMEMBER_BATCH_DUP);
    b[0] = change(VOID_MEMBERSHIP_JOIN, 8);
    b[1] = change(VOID_MEMBERSHIP_JOIN, 9);
    memcpy(b[1].member.public_key, b[0].member.public_key, sizeof b[0].member.public_key);
    assert_int_equal(void_membership_apply(&cfg, b, 2, &cfg), VOID_EMEMBER_DUP_KEY);
    b[1] = change(VOID_MEMBERSHIP_JOIN, 9);
    strcpy(b[1].member.address, b[0].member.address);
    assert_int_equal(void_membership_apply(&cfg, b, 2, &cfg), VOID_EMEMBER_DUP_ADDR);
    b[0] = change(VOID_MEMBERSHIP_REMOVE, 0);
    b[1] = change(VOID_MEMBERSHIP_REMOVE, 1);
    assert_int_equal(void_membership_apply(&cfg, b, 2, &cfg), VOID_EMEMBER_TOO_FEW);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

/* A configuration at capacity refuses one more join with VOID_EFULL. */
static void test_membership_refuses_join_beyond_capacity(void **state)
{
    (void)state;
    struct void_membership_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    make_config(cfg, VOID_MEMBERSHIP_MEMBERS_MAX, 4);
    assert_int_equal(apply1(cfg, VOID_MEMBERSHIP_JOIN, 100), VOID_EFULL);
    free(cfg);
}

/* The bootstrap configuration sorts members by id, sets id_next past the
 * largest, keeps the roles given, and refuses a repeated id, a repeated
 * address and too few voters. */
static void test_membership_config_init_sorts_and_validates(void **state)
{
    (void)state;
    static struct void_membership_config cfg;
    struct void_member ms[4] = {member(7, VOID_MEMBER_VOTER),
                                member(2, VOID_MEMBER_VOTER),
                                member(5, VOID_MEMBER_LEARNER),
                                member(3, VOID_MEMBER_VOTER)};
    assert_int_equal(void_membership_config_init(&cfg, ms, 4, 3), 0);
    assert_int_equal(cfg.epoch, 1);
    assert_int_equal(cfg.id_next, 8);
    assert_int_equal(cfg.members[0].id, 2);
    assert_int_equal(cfg.members[3].id, 7);
    assert_int_equal(void_membership_primary(&cfg, 2), 7);
    assert_int_equal(void_membership_config_init(&cfg, ms, 4, 4), VOID_EBAD_FIELD);
    ms[3].id = 7;
    assert_int_equal(void_membership_config_init(&cfg, ms, 4, 1), VOID_EMEMBER_EXISTS);
    ms[3] = member(3, VOID_MEMBER_VOTER);
    strcpy(ms[3].address, ms[0].address);
    assert_int_equal(void_membership_config_init(&cfg, ms, 4, 1), VOID_EMEMBER_DUP_ADDR);
    assert_int_equal(void_membership_config_init(&cfg, ms, 0, 1), VOID_EINVAL);
}

/* ---- encoding ---------------------------------------------------------------- */

static void random_config(struct void_membership_config *cfg, struct void_prng *p)
{
    uint32_t n = (uint32_t)void_prng_range(p, 1, VOID_MEMBERSHIP_MEMBERS_MAX);
    make_config(cfg, n, 1);
    cfg->epoch = void_prng_next(p);
    cfg->id_next = n + (uint32_t)void_prng_below(p, 1000);
    for (size_t i = 0; i < sizeof cfg->admin_key && void_prng_chance(p, 1, 2); i++) {
        cfg->admin_key[i] = (uint8_t)void_prng_next(p);
    }
    for (uint32_t i = 1; i < n; i++) {
        cfg->members[i].role = void_prng_chance(p, 1, 3) ? VOID_MEMBER_LEARNER : VOID_MEMBER_VOTER;
    }
    memset(cfg->members[0].host, 0, sizeof cfg->members[0].host);
    memset(cfg->members[n - 1].address, 'a', VOID_MEMBERSHIP_ADDR_MAX);
    assert_int_equal(void_membership_config_check(cfg), 0);
}

/* Random configurations survive encode -> decode -> encode byte for byte. */
static void test_membership_config_round_trips(void **state)
{
    (void)state;
    static struct void_membership_config a, b;
    static uint8_t buf[VOID_MEMBERSHIP_ENCODED_MAX], buf2[VOID_MEMBERSHIP_ENCODED_MAX];
    struct void_prng p;
    void_prng_seed(&p, 18);
    for (int round = 0; round < 200; round++) {
        random_config(&a, &p);
        int len = void_membership_config_encode(&a, buf, sizeof buf);
        assert_true(len > VOID_MEMBERSHIP_HEADER_SIZE);
        assert_int_equal(void_membership_config_decode(&b, buf, (size_t)len), 0);
        assert_memory_equal(&a, &b, sizeof a);
        assert_int_equal(void_membership_config_encode(&b, buf2, sizeof buf2), len);
        assert_memory_equal(buf, buf2, (size_t)len);
        assert_int_equal(void_membership_config_encode(&a, buf, (size_t)len - 1), VOID_EOVERSIZED);
    }
}

/* Every truncation of a valid encoding, bytes appended, a wrong version and
 * seeded garbage and bit flips return an error or a valid configuration that
 * re-encodes to the same bytes; nothing asserts. */
static void test_membership_decode_refuses_truncated_and_garbage(void **state)
{
    (void)state;
    static struct void_membership_config a, b;
    static uint8_t buf[VOID_MEMBERSHIP_ENCODED_MAX + 1], buf2[VOID_MEMBERSHIP_ENCODED_MAX];
    struct void_prng p;
    void_prng_seed(&p, 1807);
    make_config(&a, 7, 4);
    int len = void_membership_config_encode(&a, buf, sizeof buf);
    for (int k = 0; k < len; k++) {
        int rc = void_membership_config_decode(&b, buf, (size_t)k);
        assert_true(rc == VOID_ETRUNCATED || rc == VOID_EBAD_FIELD || rc == VOID_EBAD_LENGTH);
    }
    buf[len] = 0;
    assert_int_equal(void_membership_config_decode(&b, buf, (size_t)len + 1), VOID_EBAD_LENGTH);
    buf[0] = 2;
    assert_int_equal(void_membership_config_decode(&b, buf, (size_t)len), VOID_EBAD_VERSION);
    /* 3,000 rounds (20,000 took 30 s of CPU under the sanitizers, most of it
     * in random_config; fuzz/fuzz_membership explores the decoder further). */
    enum { ROUNDS = 3000 };
    int valid = 0;
    for (int round = 0; round < ROUNDS; round++) {
        random_config(&a, &p);
        len = void_membership_config_encode(&a, buf, sizeof buf);
        size_t glen = (size_t)len;
        if (round % 2 == 0) {
            for (int k = 0; k < 1 + round % 4; k++) {
                buf[void_prng_below(&p, (uint64_t)len)] ^= (uint8_t)(1u << void_prng_below(&p, 8));
            }
        } else {
            glen = (size_t)void_prng_below(&p, sizeof buf);
            for (size_t k = 1; k < glen; k += 8) {
                uint64_t r = void_prng_next(&p);
                memcpy(buf + k, &r, glen - k < 8 ? glen - k : 8);
            }
        }
        if (void_membership_config_decode(&b, buf, glen) == 0) {
            valid++;
            assert_int_equal(void_membership_config_encode(&b, buf2, sizeof buf2), (int)glen);
            assert_memory_equal(buf, buf2, glen);
        }
    }
    assert_true(valid < ROUNDS);
}

/* ---- failure detector -------------------------------------------------------- */

/* Ticks fd every 50 ms from *t to end, recording the first time each of
 * suspect and dead was reached for peer id. */
static void
run_ticks(struct void_fd *fd, uint64_t *t, uint64_t end, uint64_t *suspect_at, uint64_t *dead_at)
{
    struct void_fd_transition tr[VOID_MEMBERSHIP_MEMBERS_MAX];
    for (; *t <= end; *t += 50 * MS) {
        uint32_t n = void_fd_tick(fd, *t, tr, VOID_MEMBERSHIP_MEMBERS_MAX);
        for (uint32_t i = 0; i < n; i++) {
            if (tr[i].to == VOID_FD_SUSPECT && *suspect_at == 0) {
                *suspect_at = *t;
            }
            if (tr[i].to == VOID_FD_DEAD && *dead_at == 0) {
                *dead_at = *t;
                if (*suspect_at == 0) {
                    *suspect_at = *t;
                }
            }
        }
    }
}

/* A peer that sends every 200 ms and then crashes is suspect 800-850 ms and
 * dead 1200-1250 ms after its last heartbeat (the defaults, one 50 ms tick of
 * granularity); a healthy one stays alive. */
static void test_fd_crashed_peer_goes_suspect_then_dead_in_time(void **state)
{
    (void)state;
    struct void_fd fd;
    assert_int_equal(void_fd_init(&fd, NULL, 0), 0);
    uint32_t ids[2] = {1, 2};
    assert_int_equal(void_fd_set_peers(&fd, ids, 2, 0), 0);
    uint64_t t = 0, suspect_at = 0, dead_at = 0, last = 0;
    for (uint64_t hb = 1; hb <= 50; hb++) {
        uint64_t at = hb * 200 * MS + 3 * MS;
        run_ticks(&fd, &t, at, &suspect_at, &dead_at);
        struct void_fd_heartbeat h = {.sender = 1, .hlc = {at, 0}, .executed = hb};
        assert_int_equal(void_fd_heartbeat(&fd, &h, at), 0);
        h.sender = 2;
        assert_int_equal(void_fd_heartbeat(&fd, &h, at), 0);
        last = at;
    }
    assert_int_equal(suspect_at, 0);
    for (uint64_t hb = 51; hb <= 70; hb++) {
        uint64_t at = hb * 200 * MS + 3 * MS;
        run_ticks(&fd, &t, at, &suspect_at, &dead_at);
        struct void_fd_heartbeat h = {.sender = 2, .hlc = {at, 0}, .executed = hb};
        assert_int_equal(void_fd_heartbeat(&fd, &h, at), 0);
    }
    assert_int_equal(void_fd_state(&fd, 2), VOID_FD_ALIVE);
    assert_int_equal(void_fd_state(&fd, 1), VOID_FD_DEAD);
    uint32_t alive[2];
    assert_int_equal(void_fd_alive(&fd, alive, 2), 1);
    assert_int_equal(alive[0], 2);
    assert_in_range(suspect_at - last, 800 * MS, 850 * MS);
    assert_in_range(dead_at - last, 1200 * MS, 1250 * MS);
    assert_int_equal(fd.peers[0].last_executed, 50);
}

/* A replayed heartbeat (HLC not above the last) neither revives a dead peer
 * nor counts; a heartbeat from a non-peer is refused; a fresh one revives. */
static void test_fd_stale_or_unknown_heartbeat_does_not_revive(void **state)
{
    (void)state;
    struct void_fd fd;
    assert_int_equal(void_fd_init(&fd, NULL, 0), 0);
    uint32_t id = 3;
    assert_int_equal(void_fd_set_peers(&fd, &id, 1, 0), 0);
    struct void_fd_heartbeat h = {.sender = 3, .hlc = {100, 0}, .executed = 1};
    assert_int_equal(void_fd_heartbeat(&fd, &h, 100), 0);
    struct void_fd_transition tr[2];
    for (uint64_t t = 50 * MS; t <= 2000 * MS; t += 50 * MS) {
        (void)void_fd_tick(&fd, t, tr, 2);
    }
    assert_int_equal(void_fd_state(&fd, 3), VOID_FD_DEAD);
    assert_int_equal(void_fd_heartbeat(&fd, &h, 2001 * MS), VOID_EAGAIN);
    assert_int_equal(void_fd_state(&fd, 3), VOID_FD_DEAD);
    h.sender = 4;
    assert_int_equal(void_fd_heartbeat(&fd, &h, 2001 * MS), VOID_EUNKNOWN_SENDER);
    h.sender = 3;
    h.hlc.logical = 1;
    assert_int_equal(void_fd_heartbeat(&fd, &h, 2002 * MS), 1);
    assert_int_equal(void_fd_state(&fd, 3), VOID_FD_ALIVE);
    assert_int_equal(fd.peers[0].count_stale, 1);
    assert_int_equal(fd.count_unknown, 1);
}

/* Bad detector configurations are refused. */
static void test_fd_refuses_bad_config(void **state)
{
    (void)state;
    struct void_fd fd;
    struct void_fd_config c = {.suspect_intervals = 6, .dead_intervals = 6};
    assert_int_equal(void_fd_init(&fd, &c, 0), VOID_EINVAL);
    c = (struct void_fd_config){.interval_ns = 100 * MS, .tick_ns = 200 * MS};
    assert_int_equal(void_fd_init(&fd, &c, 0), VOID_EINVAL);
    uint32_t ids[2] = {1, 1};
    assert_int_equal(void_fd_init(&fd, NULL, 0), 0);
    assert_int_equal(void_fd_set_peers(&fd, ids, 2, 0), VOID_EINVAL);
}

/* Simulates one peer heartbeating every 200 ms for `intervals` periods with
 * seeded loss (loss_pct) and jitter: the sender's timer fires 0-20 ms late,
 * the network adds 0.2 ms plus an exponential-ish 0-60 ms delay. The receiver
 * ticks every 50 ms. Returns false suspicions and false deaths. */
static void simulate_loss(
    uint64_t seed, uint64_t intervals, uint32_t loss_pct, uint64_t *suspects, uint64_t *deads)
{
    struct void_fd fd;
    assert_int_equal(void_fd_init(&fd, NULL, 0), 0);
    uint32_t id = 1;
    assert_int_equal(void_fd_set_peers(&fd, &id, 1, 0), 0);
    struct void_prng p;
    void_prng_seed(&p, seed);
    struct void_fd_transition tr[1];
    uint64_t tick = 50 * MS;
    *suspects = 0;
    *deads = 0;
    for (uint64_t k = 1; k <= intervals; k++) {
        uint64_t sent = k * 200 * MS + void_prng_below(&p, 20 * MS);
        uint64_t delay = 200000 + void_prng_below(&p, 20 * MS);
        if (void_prng_chance(&p, 1, 10)) {
            delay += void_prng_below(&p, 40 * MS);
        }
        for (; tick < sent + delay; tick += 50 * MS) {
            if (void_fd_tick(&fd, tick, tr, 1) == 1) {
                *suspects += tr[0].from == VOID_FD_ALIVE;
                *deads += tr[0].to == VOID_FD_DEAD;
            }
        }
        if (!void_prng_chance(&p, loss_pct, 100)) {
            struct void_fd_heartbeat h = {.sender = 1, .hlc = {sent, 0}, .executed = k};
            (void)void_fd_heartbeat(&fd, &h, sent + delay);
        }
    }
}

/* Under 5 % loss and jitter, 10^6 heartbeat intervals (55 hours) at the
 * defaults give no false death (the figure in docs/membership.md) and far
 * fewer false suspicions than intervals; 30 % loss, as a control, does
 * produce false deaths, so the run can fail. */
static void test_fd_no_false_dead_under_five_percent_loss(void **state)
{
    (void)state;
    uint64_t suspects = 0, deads = 0;
    simulate_loss(0x5eed18, 1000000, 5, &suspects, &deads);
    print_message("5%% loss, 10^6 intervals: %llu false suspect, %llu false dead\n",
                  (unsigned long long)suspects,
                  (unsigned long long)deads);
    assert_int_equal(deads, 0);
    assert_true(suspects < 20);
    simulate_loss(0x5eed18, 100000, 30, &suspects, &deads);
    assert_true(deads > 0);
}

/* Lifeguard: this node is paused (CPU starved) for 1.2 s, so its next tick
 * runs 1.15 s late, before the heartbeats queued meanwhile are processed
 * (libuv runs timers before polling for I/O). With the local health
 * multiplier the late tick stretches the timeouts and the healthy peer is not
 * suspected; with the multiplier disabled the same trace declares it dead. */
static void test_fd_lifeguard_multiplier_prevents_false_suspicion(void **state)
{
    (void)state;
    for (int lifeguard = 1; lifeguard >= 0; lifeguard--) {
        struct void_fd fd;
        struct void_fd_config c = {.lhm_max = lifeguard ? 0 : UINT32_MAX};
        assert_int_equal(void_fd_init(&fd, &c, 0), 0);
        uint32_t id = 1;
        assert_int_equal(void_fd_set_peers(&fd, &id, 1, 0), 0);
        struct void_fd_transition tr[1];
        uint64_t transitions = 0, t = 0;
        for (uint64_t hb = 1; hb <= 100; hb++) {
            uint64_t at = hb * 200 * MS;
            int paused = hb >= 50 && hb < 56; /* no tick, no receive from 10.0 s to 11.2 s */
            for (; t + 50 * MS <= at && !paused && hb != 56; t += 50 * MS) {
                transitions += void_fd_tick(&fd, t + 50 * MS, tr, 1);
            }
            if (paused) {
                continue;
            }
            if (hb == 56) { /* one late tick first, then the queued heartbeats */
                transitions += void_fd_tick(&fd, at, tr, 1);
                t = at;
            }
            struct void_fd_heartbeat h = {.sender = 1, .hlc = {at, 0}, .executed = hb};
            assert_true(void_fd_heartbeat(&fd, &h, at) >= 0);
        }
        if (lifeguard) {
            assert_int_equal(transitions, 0);
            assert_int_equal(fd.count_late_ticks, 1);
        } else {
            assert_true(transitions >= 1);
        }
    }
}

/* Under CPU burn every local tick is 0-150 ms late and heartbeats are
 * processed as late; with 5 % loss on top, 10^5 intervals give no false
 * death, and the multiplier returns to 0 once the ticks are on time again. */
static void test_fd_cpu_burn_and_loss_give_no_false_dead(void **state)
{
    (void)state;
    struct void_fd fd;
    assert_int_equal(void_fd_init(&fd, NULL, 0), 0);
    uint32_t id = 1;
    assert_int_equal(void_fd_set_peers(&fd, &id, 1, 0), 0);
    struct void_prng p;
    void_prng_seed(&p, 424242);
    struct void_fd_transition tr[1];
    uint64_t deads = 0, t = 0;
    for (uint64_t k = 1; k <= 100000; k++) {
        uint64_t sent = k * 200 * MS;
        while (t < sent) {
            t += 50 * MS + void_prng_below(&p, 150 * MS);
            deads += void_fd_tick(&fd, t, tr, 1) == 1 && tr[0].to == VOID_FD_DEAD;
        }
        if (!void_prng_chance(&p, 5, 100)) {
            struct void_fd_heartbeat h = {.sender = 1, .hlc = {sent, 0}, .executed = k};
            (void)void_fd_heartbeat(&fd, &h, t);
        }
    }
    assert_int_equal(deads, 0);
    for (int i = 0; i < 400; i++) {
        t += 50 * MS;
        struct void_fd_heartbeat h = {.sender = 1, .hlc = {t, 0}, .executed = 0};
        (void)void_fd_heartbeat(&fd, &h, t);
        (void)void_fd_tick(&fd, t, tr, 1);
    }
    assert_int_equal(fd.lhm, 0);
}

/* ---- suspicions ----------------------------------------------------------------- */

static struct void_suspicion suspicion(uint64_t epoch, uint32_t suspect, uint32_t by, uint64_t at)
{
    struct void_suspicion s = {.epoch = epoch, .suspect = suspect, .suspector = by};
    s.hlc.wall_ns = at;
    return s;
}

/* For n = 4, 5, 7, 10, 16 and 64: 2f suspicions of a member never yield a
 * certificate, the (2f+1)-th distinct voter's does, and the certificate
 * checks on a replica holding the same configuration. */
static void test_suspicion_cert_needs_two_f_plus_one_distinct_voters(void **state)
{
    (void)state;
    static struct void_membership_config cfg;
    static struct void_suspicion_collector c;
    static struct void_suspicion_cert cert;
    uint32_t ns[6] = {4, 5, 7, 10, 16, 64};
    for (int k = 0; k < 6; k++) {
        make_config(&cfg, ns[k], 1);
        void_suspicion_collector_reset(&c, &cfg, 0);
        uint32_t f = void_membership_f(ns[k]);
        uint64_t now = 1000 * MS;
        for (uint32_t by = 1; by <= 2 * f; by++) {
            struct void_suspicion s = suspicion(1, 0, by, now);
            assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), 0);
            assert_int_equal(void_suspicion_cert_check(&cfg, &cert, c.window_ns),
                             VOID_EMEMBER_QUORUM);
        }
        struct void_suspicion s = suspicion(1, 0, 2 * f + 1, now + 1);
        assert_int_equal(void_suspicion_collector_add(&c, &s, now + 1, &cert), 1);
        assert_int_equal(cert.count, 2 * f + 1);
        assert_int_equal(void_suspicion_cert_check(&cfg, &cert, c.window_ns), 0);
    }
}

/* f Byzantine voters (n = 10, f = 3) accusing an honest member cannot get a
 * certificate by repeating themselves: each repeat within the window is
 * refused; after it expires, a fresh one replaces the old, still f in all. */
static void test_suspicion_f_byzantine_voters_never_suffice(void **state)
{
    (void)state;
    static struct void_membership_config cfg;
    static struct void_suspicion_collector c;
    static struct void_suspicion_cert cert;
    make_config(&cfg, 10, 4);
    void_suspicion_collector_reset(&c, &cfg, 10000 * MS);
    uint64_t now = 20000 * MS;
    for (int round = 0; round < 100; round++, now += 300 * MS) {
        for (uint32_t by = 7; by <= 9; by++) {
            struct void_suspicion s = suspicion(1, 0, by, now);
            int rc = void_suspicion_collector_add(&c, &s, now, &cert);
            assert_true(rc == 0 || rc == VOID_EMEMBER_DUP_SUSPICION);
            assert_true(rc != 0 || cert.count <= 3);
        }
    }
    assert_int_equal(c.count_accepted, 3 * 3);
}

/* Suspicions from a non-member, a learner, a member removed in the new
 * epoch, another epoch, of a removed or unknown suspect, of oneself, too old
 * or stamped in the future are refused, each with its code. */
static void test_suspicion_refuses_outsiders_other_epochs_and_stale(void **state)
{
    (void)state;
    static struct void_membership_config cfg;
    static struct void_suspicion_collector c;
    static struct void_suspicion_cert cert;
    make_config(&cfg, 7, 4);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 6), 0); /* epoch 2 */
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 9), 0);   /* epoch 3, 9 learns */
    void_suspicion_collector_reset(&c, &cfg, 10000 * MS);
    uint64_t now = 50000 * MS;
    struct void_suspicion s = suspicion(3, 0, 42, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_NOT_VOTER);
    s = suspicion(3, 0, 9, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_NOT_VOTER);
    s = suspicion(3, 0, 6, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_NOT_VOTER);
    s = suspicion(2, 0, 1, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_EPOCH);
    s = suspicion(3, 6, 1, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_REMOVED);
    s = suspicion(3, 77, 1, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_UNKNOWN);
    s = suspicion(3, 1, 1, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EINVAL);
    s = suspicion(3, 0, 1, now - 10001 * MS);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_STALE);
    s = suspicion(3, 0, 1, now + 600 * MS);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EHLC_AHEAD);
    s = suspicion(3, 0, 1, now);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), 0);
    assert_int_equal(void_suspicion_collector_add(&c, &s, now, &cert), VOID_EMEMBER_DUP_SUSPICION);
    assert_int_equal(c.count_accepted, 1);
    assert_int_equal(c.count_refused, 10);
}

/* A certificate is checked from its content: a repeated suspector, an
 * outsider, a short one, one spread beyond the window and one of a past
 * epoch are all refused. */
static void test_suspicion_cert_check_refuses_forged_certificates(void **state)
{
    (void)state;
    static struct void_membership_config cfg;
    static struct void_suspicion_cert cert, bad;
    make_config(&cfg, 4, 1);
    memset(&cert, 0, sizeof cert);
    cert.epoch = 1;
    cert.suspect = 3;
    cert.count = 3;
    for (uint32_t i = 0; i < 3; i++) {
        cert.items[i] = suspicion(1, 3, i, 1000 * MS + i);
    }
    uint64_t w = 10000 * MS;
    assert_int_equal(void_suspicion_cert_check(&cfg, &cert, w), 0);
    bad = cert;
    bad.items[2].suspector = 1;
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EMEMBER_DUP_SUSPICION);
    bad = cert;
    bad.items[0].suspector = 2; /* 2, 1, 2: not ascending */
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EINVAL);
    bad = cert;
    bad.items[2].suspector = 8;
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EMEMBER_NOT_VOTER);
    bad = cert;
    bad.count = 2;
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EMEMBER_QUORUM);
    bad = cert;
    bad.items[2].hlc.wall_ns += w;
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EMEMBER_STALE);
    bad = cert;
    bad.items[1].epoch = 2;
    assert_int_equal(void_suspicion_cert_check(&cfg, &bad, w), VOID_EINVAL);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_JOIN, 4), 0);
    assert_int_equal(void_suspicion_cert_check(&cfg, &cert, w), VOID_EMEMBER_EPOCH);
}

/* The 28-byte suspicion encoding round-trips and refuses wrong lengths. */
static void test_suspicion_encoding_round_trips(void **state)
{
    (void)state;
    struct void_suspicion s = {.epoch = 0x0102030405060708ull, .suspect = 9, .suspector = 3};
    s.hlc.wall_ns = 0x1122334455667788ull;
    s.hlc.logical = 77;
    uint8_t buf[VOID_SUSPICION_ENCODED_SIZE + 1];
    void_suspicion_encode(&s, buf);
    assert_int_equal(buf[0], 0x01);
    assert_int_equal(buf[7], 0x08);
    struct void_suspicion d;
    assert_int_equal(void_suspicion_decode(&d, buf, VOID_SUSPICION_ENCODED_SIZE), 0);
    assert_int_equal(d.epoch, s.epoch);
    assert_int_equal(d.suspect, s.suspect);
    assert_int_equal(d.suspector, s.suspector);
    assert_int_equal(d.hlc.wall_ns, s.hlc.wall_ns);
    assert_int_equal(d.hlc.logical, s.hlc.logical);
    assert_int_equal(void_suspicion_decode(&d, buf, 27), VOID_ETRUNCATED);
    assert_int_equal(void_suspicion_decode(&d, buf, 29), VOID_EBAD_LENGTH);
}

/* ---- ten nodes: detectors feeding a collector ------------------------------ */

#define CL_N 10

struct cl_arrival {
    uint64_t at;
    uint32_t sender;
    uint64_t sent;
};

/* Ten nodes heartbeat each other every 200 ms over links with 5 % loss and
 * the jitter of simulate_loss, each running the default detector; when a
 * node's detector declares a peer dead, its suspicion goes to one observing
 * collector. Nodes >= crash_from stop at crash_ns (crash_ns 0: never);
 * nodes >= byz_from (if byz) stay up but accuse nodes 0..2 on every tick.
 * Returns in cert_ns[i] the time node i was certified (0: never). */
static void cluster_run(uint64_t seed,
                        uint64_t end_ns,
                        uint32_t crash_from,
                        uint64_t crash_ns,
                        uint32_t byz_from,
                        uint64_t cert_ns[CL_N])
{
    static struct void_membership_config cfg;
    static struct void_suspicion_collector col;
    static struct void_suspicion_cert cert;
    static struct void_fd fd[CL_N];
    static struct cl_arrival q[CL_N][CL_N];
    uint32_t qn[CL_N] = {0};
    make_config(&cfg, CL_N, 4);
    void_suspicion_collector_reset(&col, &cfg, 0);
    struct void_prng p;
    void_prng_seed(&p, seed);
    for (uint32_t i = 0; i < CL_N; i++) {
        uint32_t ids[CL_N - 1], n = 0;
        for (uint32_t j = 0; j < CL_N; j++) {
            if (j != i) {
                ids[n++] = j;
            }
        }
        assert_int_equal(void_fd_init(&fd[i], NULL, 0), 0);
        assert_int_equal(void_fd_set_peers(&fd[i], ids, n, 0), 0);
        cert_ns[i] = 0;
    }
    struct void_fd_transition tr[CL_N];
    for (uint64_t k = 1; k * 200 * MS < end_ns; k++) {
        for (uint32_t s = 0; s < CL_N; s++) {
            uint64_t sent = k * 200 * MS + void_prng_below(&p, 20 * MS);
            for (uint32_t r = 0; r < CL_N; r++) {
                uint64_t delay = 200000 + void_prng_below(&p, 20 * MS);
                delay += void_prng_chance(&p, 1, 10) ? void_prng_below(&p, 40 * MS) : 0;
                int lost = void_prng_chance(&p, 5, 100);
                if (r != s && !lost && !(s >= crash_from && crash_ns && sent >= crash_ns)) {
                    q[r][qn[r]++] = (struct cl_arrival){sent + delay, s, sent};
                }
            }
        }
        for (uint64_t t = k * 200 * MS + 50 * MS; t <= (k + 1) * 200 * MS; t += 50 * MS) {
            for (uint32_t r = 0; r < CL_N; r++) {
                if (r >= crash_from && crash_ns && t >= crash_ns) {
                    qn[r] = 0;
                    continue;
                }
                uint32_t keep = 0;
                for (uint32_t i = 0; i < qn[r]; i++) {
                    if (q[r][i].at <= t) {
                        struct void_fd_heartbeat h = {.sender = q[r][i].sender,
                                                      .hlc = {q[r][i].sent, 0}};
                        assert_true(void_fd_heartbeat(&fd[r], &h, q[r][i].at) >= 0);
                    } else {
                        q[r][keep++] = q[r][i];
                    }
                }
                qn[r] = keep;
                uint32_t n = void_fd_tick(&fd[r], t, tr, CL_N);
                for (uint32_t i = 0; i < n + (r >= byz_from ? 3u : 0u); i++) {
                    uint32_t suspect = i < n ? tr[i].id : i - n; /* a Byzantine accuses 0..2 */
                    if (i < n && tr[i].to != VOID_FD_DEAD) {
                        continue;
                    }
                    struct void_suspicion su = suspicion(1, suspect, r, t);
                    if (void_suspicion_collector_add(&col, &su, t, &cert) == 1 &&
                        cert_ns[suspect] == 0) {
                        assert_int_equal(void_suspicion_cert_check(&cfg, &cert, col.window_ns), 0);
                        cert_ns[suspect] = t;
                    }
                }
            }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* n = 10, f = 3, 5 % loss: SIGKILL nodes 7, 8, 9 at 10 s; in each of 20
 * seeded runs the seven survivors certify exactly the three dead ones, within
 * 1.3 s of the crash (dead at 1.2 s of silence, plus one tick), and nobody
 * else. The p50 and max are printed (docs/membership.md). */
static void test_cluster_ten_kill_three_certifies_exactly_the_dead(void **state)
{
    (void)state;
    uint64_t lat[20 * 3];
    for (uint64_t seed = 0; seed < 20; seed++) {
        uint64_t cert_ns[CL_N];
        uint64_t crash = 10000 * MS + seed * 7 * MS;
        cluster_run(seed, 20000 * MS, 7, crash, CL_N, cert_ns);
        for (uint32_t i = 0; i < CL_N; i++) {
            assert_true(i < 7 ? cert_ns[i] == 0 : cert_ns[i] > crash);
            if (i >= 7) {
                lat[seed * 3 + i - 7] = cert_ns[i] - crash;
                assert_true(cert_ns[i] - crash <= 1300 * MS);
            }
        }
    }
    qsort(lat, 60, sizeof lat[0], cmp_u64);
    print_message("crash -> 2f+1 certificate: p50 %llu ms, max %llu ms (60 removals)\n",
                  (unsigned long long)(lat[30] / MS),
                  (unsigned long long)(lat[59] / MS));
}

/* n = 10, f = 3, 5 % loss for 10 simulated minutes: three Byzantine voters
 * (7, 8, 9) accuse nodes 0, 1, 2 on every tick while the honest detectors
 * run; no node is ever certified. */
static void test_cluster_three_byzantine_accusers_evict_nobody(void **state)
{
    (void)state;
    uint64_t cert_ns[CL_N];
    cluster_run(99, 600000 * MS, CL_N, 0, 7, cert_ns);
    for (uint32_t i = 0; i < CL_N; i++) {
        assert_int_equal(cert_ns[i], 0);
    }
}

/* Setup: a heartbeat body for epoch 7 at executed sequence 2^40 + 5.
 * Action: encode, decode; decode one byte short and one byte long.
 * Expected: the values come back; short is VOID_ETRUNCATED, long
 * VOID_EBAD_LENGTH, the bytes are big-endian as documented. */
static void test_heartbeat_body_round_trips_and_refuses_bad_lengths(void **state)
{
    (void)state;
    uint8_t b[VOID_HEARTBEAT_BODY_SIZE + 1] = {0};
    void_heartbeat_body_encode(7, (1ull << 40) + 5, b);
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0, 0, 5};
    assert_memory_equal(b, want, sizeof(want));
    uint64_t epoch = 0, executed = 0;
    assert_int_equal(void_heartbeat_body_decode(b, VOID_HEARTBEAT_BODY_SIZE, &epoch, &executed), 0);
    assert_int_equal(epoch, 7);
    assert_int_equal(executed, (1ull << 40) + 5);
    assert_int_equal(void_heartbeat_body_decode(b, VOID_HEARTBEAT_BODY_SIZE - 1, &epoch, &executed),
                     VOID_ETRUNCATED);
    assert_int_equal(void_heartbeat_body_decode(b, VOID_HEARTBEAT_BODY_SIZE + 1, &epoch, &executed),
                     VOID_EBAD_LENGTH);
    assert_int_equal(void_heartbeat_body_decode(NULL, 0, &epoch, &executed), VOID_ETRUNCATED);
}

/* Setup: a heartbeat body with the sender's HTTP address, one without.
 * Action: encode, decode; decode damaged copies.
 * Expected: the address comes back (and "" from the 16-byte body, which
 * is byte for byte the body without one); a length byte that does not
 * match the bytes is VOID_ETRUNCATED or VOID_EBAD_LENGTH, an empty
 * address, a NUL in it or one above 127 bytes VOID_EBAD_FIELD; an address
 * too long to carry is left out by the encoder. */
static void test_heartbeat_body_carries_the_http_address(void **state)
{
    (void)state;
    uint8_t b[VOID_HEARTBEAT_BODY_MAX + 8], plain[VOID_HEARTBEAT_BODY_SIZE];
    char http[VOID_HEARTBEAT_ADDR_MAX + 1];
    uint64_t epoch = 0, executed = 0;
    size_t n = void_heartbeat_body_encode_addr(3, 99, "10.0.0.7:9104", b);
    assert_int_equal(n, VOID_HEARTBEAT_BODY_SIZE + 1 + 13);
    assert_int_equal(void_heartbeat_body_decode_addr(b, n, &epoch, &executed, http), 0);
    assert_string_equal(http, "10.0.0.7:9104");
    assert_int_equal(epoch, 3);
    assert_int_equal(executed, 99);
    /* The plain decoder refuses the longer body; the new one reads the old. */
    assert_int_equal(void_heartbeat_body_decode(b, n, &epoch, &executed), VOID_EBAD_LENGTH);
    void_heartbeat_body_encode(4, 100, plain);
    assert_int_equal(void_heartbeat_body_encode_addr(4, 100, "", b), VOID_HEARTBEAT_BODY_SIZE);
    assert_memory_equal(b, plain, sizeof(plain));
    assert_int_equal(
        void_heartbeat_body_decode_addr(plain, sizeof(plain), &epoch, &executed, http), 0);
    assert_string_equal(http, "");
    assert_int_equal(epoch, 4);
    n = void_heartbeat_body_encode_addr(3, 99, "h:1", b);
    assert_int_equal(void_heartbeat_body_decode_addr(b, n - 1, &epoch, &executed, http),
                     VOID_ETRUNCATED);
    b[n] = 'x';
    assert_int_equal(void_heartbeat_body_decode_addr(b, n + 1, &epoch, &executed, http),
                     VOID_EBAD_LENGTH);
    b[VOID_HEARTBEAT_BODY_SIZE + 2] = '\0';
    assert_int_equal(void_heartbeat_body_decode_addr(b, n, &epoch, &executed, http),
                     VOID_EBAD_FIELD);
    b[VOID_HEARTBEAT_BODY_SIZE] = 0;
    assert_int_equal(void_heartbeat_body_decode_addr(b, VOID_HEARTBEAT_BODY_SIZE + 1, &epoch,
                                                     &executed, http),
                     VOID_EBAD_FIELD);
    memset(b + VOID_HEARTBEAT_BODY_SIZE + 1, 'a', 130);
    b[VOID_HEARTBEAT_BODY_SIZE] = 128;
    assert_int_equal(void_heartbeat_body_decode_addr(b, VOID_HEARTBEAT_BODY_SIZE + 1 + 128,
                                                     &epoch, &executed, http),
                     VOID_EBAD_FIELD);
    char long_addr[VOID_HEARTBEAT_ADDR_MAX + 2];
    memset(long_addr, 'a', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    assert_int_equal(void_heartbeat_body_encode_addr(1, 1, long_addr, b), VOID_HEARTBEAT_BODY_SIZE);
    assert_int_equal(void_heartbeat_body_decode_addr(NULL, 0, &epoch, &executed, http),
                     VOID_ETRUNCATED);
}

/* ---- suspicion gossip ---------------------------------------------------- */

/* A SUSPICION body carries 1..16 signed suspicions and decodes back to the
 * same bytes; truncated, padded, empty and oversized bodies are refused
 * with their codes. */
static void test_suspicion_gossip_round_trips_and_refuses_bad_bodies(void **state)
{
    (void)state;
    struct void_suspicion_signed in[VOID_SUSPICION_GOSSIP_MAX], out[VOID_SUSPICION_GOSSIP_MAX];
    for (uint32_t i = 0; i < VOID_SUSPICION_GOSSIP_MAX; i++) {
        in[i].s = (struct void_suspicion){
            .epoch = 3, .suspect = 7, .suspector = i, .hlc = {1000 * MS + i, i * 3u}};
        memset(in[i].sig, (int)(i + 1), sizeof in[i].sig);
    }
    uint8_t buf[1 + VOID_SUSPICION_GOSSIP_MAX * VOID_SUSPICION_SIGNED_SIZE + 1];
    int len = void_suspicion_gossip_encode(in, 3, buf, sizeof buf);
    assert_int_equal(len, 1 + 3 * VOID_SUSPICION_SIGNED_SIZE);
    uint32_t count = 0;
    assert_int_equal(void_suspicion_gossip_decode(buf, (size_t)len, out, &count), 0);
    assert_int_equal(count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].s.suspector, i);
        assert_int_equal(out[i].s.hlc.wall_ns, in[i].s.hlc.wall_ns);
        assert_int_equal(out[i].s.hlc.logical, in[i].s.hlc.logical);
        assert_int_equal(out[i].s.epoch, 3);
        assert_memory_equal(out[i].sig, in[i].sig, sizeof in[i].sig);
    }
    assert_int_equal(void_suspicion_gossip_decode(buf, (size_t)len - 1, out, &count),
                     VOID_ETRUNCATED);
    assert_int_equal(void_suspicion_gossip_decode(buf, (size_t)len + 1, out, &count),
                     VOID_EBAD_LENGTH);
    assert_int_equal(void_suspicion_gossip_decode(buf, 0, out, &count), VOID_ETRUNCATED);
    buf[0] = 0;
    assert_int_equal(void_suspicion_gossip_decode(buf, 1, out, &count), VOID_EBAD_FIELD);
    buf[0] = VOID_SUSPICION_GOSSIP_MAX + 1;
    assert_int_equal(void_suspicion_gossip_decode(buf, sizeof buf, out, &count), VOID_EBAD_FIELD);
    assert_int_equal(void_suspicion_gossip_encode(in, 0, buf, sizeof buf), VOID_EINVAL);
    assert_int_equal(void_suspicion_gossip_encode(in, VOID_SUSPICION_GOSSIP_MAX + 1, buf, sizeof buf),
                     VOID_EINVAL);
    assert_int_equal(void_suspicion_gossip_encode(in, 2, buf, 10), VOID_EFULL);
    len = void_suspicion_gossip_encode(in, VOID_SUSPICION_GOSSIP_MAX, buf, sizeof buf);
    assert_int_equal(void_suspicion_gossip_decode(buf, (size_t)len, out, &count), 0);
    assert_int_equal(count, VOID_SUSPICION_GOSSIP_MAX);
}

/* n = 10, 7..9 dead: the live voters rank 0..6 in id order, the suspect
 * and the dead do not take a rank, and only one voter has rank 0 whatever
 * the suspect; a non-voter has none. */
static void test_suspicion_submit_rank_picks_one_first_submitter(void **state)
{
    (void)state;
    struct void_membership_config cfg;
    make_config(&cfg, 10, 4);
    uint32_t alive[7] = {0, 1, 2, 3, 4, 5, 6};
    for (uint32_t self = 0; self < 7; self++) {
        assert_int_equal(void_suspicion_submit_rank(&cfg, alive, 7, self, 8), self);
    }
    /* Node 0 is the suspect: node 1 goes first. */
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive + 1, 6, 1, 0), 0);
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive + 1, 6, 4, 0), 3);
    /* Node 3 sees node 0 dead too (not in its alive set): it moves up. */
    uint32_t alive3[2] = {1, 2};
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive3, 2, 3, 9), 2);
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive, 7, 42, 8), UINT32_MAX);
    assert_int_equal(apply1(&cfg, VOID_MEMBERSHIP_REMOVE, 2), 0);
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive, 7, 2, 8), UINT32_MAX);
    assert_int_equal(void_suspicion_submit_rank(&cfg, alive, 7, 3, 8), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership_quorums_intersect_in_f_plus_one_for_n_1_to_64),
        cmocka_unit_test(test_membership_quorum_minimal_by_exhaustion),
        cmocka_unit_test(test_heartbeat_body_round_trips_and_refuses_bad_lengths),
        cmocka_unit_test(test_heartbeat_body_carries_the_http_address),
        cmocka_unit_test(test_membership_primary_rotates_over_voters_only),
        cmocka_unit_test(test_membership_join_promote_leave_bump_epoch),
        cmocka_unit_test(test_membership_ten_remove_three_gives_f_two),
        cmocka_unit_test(test_membership_refuses_each_bad_change_with_its_code),
        cmocka_unit_test(test_membership_refuses_two_changes_of_one_member_in_a_batch),
        cmocka_unit_test(test_membership_refuses_join_beyond_capacity),
        cmocka_unit_test(test_membership_config_init_sorts_and_validates),
        cmocka_unit_test(test_membership_config_round_trips),
        cmocka_unit_test(test_membership_decode_refuses_truncated_and_garbage),
        cmocka_unit_test(test_fd_crashed_peer_goes_suspect_then_dead_in_time),
        cmocka_unit_test(test_fd_stale_or_unknown_heartbeat_does_not_revive),
        cmocka_unit_test(test_fd_refuses_bad_config),
        cmocka_unit_test(test_fd_no_false_dead_under_five_percent_loss),
        cmocka_unit_test(test_fd_lifeguard_multiplier_prevents_false_suspicion),
        cmocka_unit_test(test_fd_cpu_burn_and_loss_give_no_false_dead),
        cmocka_unit_test(test_suspicion_cert_needs_two_f_plus_one_distinct_voters),
        cmocka_unit_test(test_suspicion_f_byzantine_voters_never_suffice),
        cmocka_unit_test(test_suspicion_refuses_outsiders_other_epochs_and_stale),
        cmocka_unit_test(test_suspicion_cert_check_refuses_forged_certificates),
        cmocka_unit_test(test_suspicion_encoding_round_trips),
        cmocka_unit_test(test_suspicion_gossip_round_trips_and_refuses_bad_bodies),
        cmocka_unit_test(test_suspicion_submit_rank_picks_one_first_submitter),
        cmocka_unit_test(test_cluster_ten_kill_three_certifies_exactly_the_dead),
        cmocka_unit_test(test_cluster_three_byzantine_accusers_evict_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

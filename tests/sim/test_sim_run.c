/*
 * Tests of whole simulator runs through void_sim_run: a fault-free honest run
 * answers every request with all checkers passing, runs are a function of
 * their configuration (trace hash), each fault family actually happens when
 * enabled, the signature memo changes nothing in a run's trace, and invalid
 * configurations are refused. The seed of every run is
 * printed on failure so that `voidsim --seed N ...` replays it.
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
#include "void/sim.h"

#include <stdio.h>
#include <string.h>

static int setup(void **state)
{
    (void)state;
    return void_sign_global_init();
}

static void run_ok(struct void_sim_config *c, struct void_sim_result *r)
{
    int rc = void_sim_run(c, r);
    if (rc != 0 || r->violations != 0) {
        fprintf(
            stderr, "seed %llu failed: rc=%d %s\n", (unsigned long long)c->seed, rc, r->violation);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(r->violations, 0);
}

/* Setup: n = 4, no faults, no Byzantine replica. Action: run. Expected:
 * every request answered, batches executed, no view change needed. */
static void test_sim_honest_run_answers_every_request(void **state)
{
    (void)state;
    struct void_sim_config c;
    void_sim_config_from_seed(&c, 1);
    c.n = 4;
    c.faults = 0;
    c.byzantine = 0;
    struct void_sim_result r;
    run_ok(&c, &r);
    assert_int_equal(r.requests_done, c.requests);
    assert_int_equal(r.requests_pending, 0);
    assert_true(r.seq_executed > 0);
    assert_int_equal(r.view_max, 0);
    assert_true(r.events > 100);
}

/* Setup: one configuration with every fault type and a Byzantine replica
 * using every strategy. Action: run it twice, then with another seed.
 * Expected: identical results and trace hash for the same seed, a different
 * hash for the other (whatever the checkers said: this is about the
 * simulator, not the protocol). */
static void test_sim_run_is_a_function_of_the_seed(void **state)
{
    (void)state;
    struct void_sim_config c;
    void_sim_config_from_seed(&c, 12);
    c.n = 4;
    c.faults = VOID_SIM_FAULTS_ALL;
    c.byzantine = 1;
    c.strategies = VOID_SIM_BYZ_ALL;
    struct void_sim_result a, b, d;
    assert_int_equal(void_sim_run(&c, &a), 0);
    assert_int_equal(void_sim_run(&c, &b), 0);
    assert_int_equal(a.trace_hash, b.trace_hash);
    assert_int_equal(a.end_ns, b.end_ns);
    assert_int_equal(a.frames_sent, b.frames_sent);
    assert_int_equal(a.violations, b.violations);
    assert_true(a.byz_frames > 0);
    assert_true(a.faults_injected > 0);
    c.seed = 13;
    assert_int_equal(void_sim_run(&c, &d), 0);
    assert_int_not_equal(a.trace_hash, d.trace_hash);
}

/* Setup: every fault type and a Byzantine replica using every strategy
 * (forged signatures included). Action: run it with the signature memo and
 * without. Expected: the same trace hash and results — the memo changes no
 * answer — while the memo answered most checks and still sent the unknown
 * ones (forgeries among them) to libsodium. */
static void test_sim_signature_memo_changes_nothing_in_the_trace(void **state)
{
    (void)state;
    struct void_sim_config c;
    void_sim_config_from_seed(&c, 12);
    c.n = 4;
    c.faults = VOID_SIM_FAULTS_ALL;
    c.byzantine = 1;
    c.strategies = VOID_SIM_BYZ_ALL;
    assert_int_equal(c.sig_memo, 1);
    struct void_sim_result with, without;
    assert_int_equal(void_sim_run(&c, &with), 0);
    c.sig_memo = 0;
    assert_int_equal(void_sim_run(&c, &without), 0);
    assert_int_equal(with.trace_hash, without.trace_hash);
    assert_int_equal(with.end_ns, without.end_ns);
    assert_int_equal(with.frames_sent, without.frames_sent);
    assert_int_equal(with.byz_frames, without.byz_frames);
    assert_int_equal(with.violations, without.violations);
    assert_true(with.sig_memo_hits > 10 * with.sig_memo_misses);
    assert_true(with.sig_memo_misses > 0);
    assert_int_equal(without.sig_memo_hits + without.sig_memo_misses, 0);
}

/* Setup: only crash faults (n = 7). Action: run. Expected: replicas crashed
 * and the run still passes every checker, liveness included. */
static void test_sim_crash_faults_happen_and_are_survived(void **state)
{
    (void)state;
    struct void_sim_config c;
    void_sim_config_from_seed(&c, 7);
    c.n = 7;
    c.byzantine = 0;
    assert_int_equal(void_sim_parse_faults("crash", &c.faults), 0);
    struct void_sim_result r;
    run_ok(&c, &r);
    assert_true(r.crashes > 0);
    assert_int_equal(r.requests_done, c.requests);
}

/* Setup: the restart scenario (issue 16) on honest n = 4 and on n = 4 with
 * one Byzantine replica: a backup stops cleanly at 0.3 s, restarts 1 s
 * later, and its links take 0.3 s to connect, so its first FETCH_STATE is
 * lost. Expected: one crash, every request answered, and the restarted
 * backup never out of the view the others commit in for more than a
 * request timeout (the view checker's bound is 3 s; the old core stayed
 * out for good: tests/sim/test_sim_mutant.sh). */
static void test_sim_restarted_backup_stays_in_the_view(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        struct void_sim_config c;
        void_sim_config_from_seed(&c, seed);
        c.n = 4;
        c.byzantine = seed % 2;
        c.strategies = c.byzantine ? (1u << VOID_SIM_BYZ_REPLAY_BIT) : 0;
        c.faults = 0;
        c.restart_backup = 1;
        c.fault_window_ns = 8ull * 1000 * 1000 * 1000;
        struct void_sim_result r;
        run_ok(&c, &r);
        assert_int_equal(r.crashes, 1);
        assert_int_equal(r.requests_done, c.requests);
        assert_true(r.out_of_view_ns_max < 500ull * 1000 * 1000);
    }
}

/* Setup: only loss and partitions. Expected: frames were dropped, faults
 * counted, and all requests still answered after the heal. */
static void test_sim_network_faults_drop_frames(void **state)
{
    (void)state;
    struct void_sim_config c;
    void_sim_config_from_seed(&c, 9);
    c.byzantine = 0;
    assert_int_equal(void_sim_parse_faults("loss,partition", &c.faults), 0);
    struct void_sim_result r;
    run_ok(&c, &r);
    assert_true(r.frames_dropped > 0);
    assert_true(r.faults_injected > 1);
    assert_int_equal(r.requests_done, c.requests);
}

/* Setup: n = 4, honest, partitions only (a backup cut off lags behind
 * its window while the others go on), 300 requests over seeds 1..6.
 * Expected: every run passes every checker and answers every request, and
 * the replicas that lagged caught up on the batches they missed, each with
 * its commit certificate, without taking a state up: catch-up by batches
 * (docs/pbft.md). With retention off (config.retain_bytes) each of these
 * gaps was a state transfer. */
static void test_sim_lagging_replica_catches_up_by_batches(void **state)
{
    (void)state;
    uint64_t batches = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        struct void_sim_config c;
        void_sim_config_from_seed(&c, seed);
        c.n = 4;
        c.byzantine = 0;
        c.requests = 300;
        assert_int_equal(void_sim_parse_faults("partition", &c.faults), 0);
        struct void_sim_result r;
        run_ok(&c, &r);
        assert_int_equal(r.requests_done, c.requests);
        assert_int_equal(r.state_transfers, 0);
        batches += r.catchup_batches;
    }
    assert_true(batches > 0);
}

/* Setup: configurations outside the model. Expected: VOID_EINVAL. */
static void test_sim_rejects_invalid_config(void **state)
{
    (void)state;
    struct void_sim_config c;
    struct void_sim_result r;
    void_sim_config_from_seed(&c, 1);
    c.n = 3;
    assert_int_equal(void_sim_run(&c, &r), VOID_EINVAL);
    c.n = 4;
    c.byzantine = 2;
    assert_int_equal(void_sim_run(&c, &r), VOID_EINVAL);
    c.byzantine = 0;
    c.clients = 0;
    assert_int_equal(void_sim_run(&c, &r), VOID_EINVAL);
}

/* Setup: 300 seeds. Expected: config_from_seed draws both cluster sizes,
 * every fault type, every strategy, honest and Byzantine runs, and never
 * more than f Byzantine replicas. */
static void test_sim_seed_configs_cover_the_model(void **state)
{
    (void)state;
    uint32_t faults = 0, strategies = 0;
    int n4 = 0, n7 = 0, honest = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        struct void_sim_config c;
        void_sim_config_from_seed(&c, seed);
        assert_true(c.byzantine <= (c.n - 1) / 3);
        faults |= c.faults;
        strategies |= c.strategies;
        n4 += c.n == 4;
        n7 += c.n == 7;
        honest += c.byzantine == 0;
    }
    assert_int_equal(faults, VOID_SIM_FAULTS_ALL);
    assert_int_equal(strategies, VOID_SIM_BYZ_ALL);
    assert_true(n4 > 50 && n7 > 50 && honest > 50);
}

/* Setup: fault and strategy lists. Expected: names parse to bits and format
 * back; an unknown name is VOID_EPARSE. */
static void test_sim_parses_and_formats_names(void **state)
{
    (void)state;
    uint32_t m;
    char buf[160];
    assert_int_equal(void_sim_parse_faults("loss,crash", &m), 0);
    void_sim_format_faults(m, buf, sizeof(buf));
    assert_string_equal(buf, "loss,crash");
    assert_int_equal(void_sim_parse_faults("all", &m), 0);
    assert_int_equal(m, VOID_SIM_FAULTS_ALL);
    assert_int_equal(void_sim_parse_faults("none", &m), 0);
    void_sim_format_faults(m, buf, sizeof(buf));
    assert_string_equal(buf, "none");
    assert_int_equal(void_sim_parse_faults("loss,fire", &m), VOID_EPARSE);
    assert_int_equal(void_sim_parse_strategies("equivocate,garbage", &m), 0);
    void_sim_format_strategies(m, buf, sizeof(buf));
    assert_string_equal(buf, "equivocate,garbage");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_honest_run_answers_every_request),
        cmocka_unit_test(test_sim_run_is_a_function_of_the_seed),
        cmocka_unit_test(test_sim_signature_memo_changes_nothing_in_the_trace),
        cmocka_unit_test(test_sim_crash_faults_happen_and_are_survived),
        cmocka_unit_test(test_sim_network_faults_drop_frames),
        cmocka_unit_test(test_sim_restarted_backup_stays_in_the_view),
        cmocka_unit_test(test_sim_lagging_replica_catches_up_by_batches),
        cmocka_unit_test(test_sim_rejects_invalid_config),
        cmocka_unit_test(test_sim_seed_configs_cover_the_model),
        cmocka_unit_test(test_sim_parses_and_formats_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

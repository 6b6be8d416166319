/*
 * Tests of the simulator's causality checker (src/sim/sim_causal.c): every
 * run records its event DAG through the verifier of include/void/causal.h,
 * honest runs raise no alert, and the CAUSAL Byzantine strategy's lies (a
 * receive stamped at its send's HLC, a skipped sequence number, a receive
 * naming a send that never comes, one naming an event that sent nothing)
 * are each reported first, with their kind, in every seed that injects one.
 * The seed of every failing run is printed so that
 * `voidsim --seed N --n 4 --byzantine 1 --strategies causal` replays it.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/causal.h"
#include "void/error.h"
#include "void/sign.h"
#include "void/sim.h"

#include <stdio.h>
#include <string.h>

#define LIAR_SEEDS 24 /* 6 per injected kind (the kind is 1 + seed % 4) */

static int setup(void **state)
{
    (void)state;
    return void_sign_global_init();
}

static void liar_config(struct void_sim_config *c, uint64_t seed)
{
    void_sim_config_from_seed(c, seed);
    c->n = 4;
    c->byzantine = 1;
    c->strategies = 1u << VOID_SIM_BYZ_CAUSAL_BIT;
}

/* Setup: seeds 1..LIAR_SEEDS, n = 4 with one Byzantine replica that only
 * lies in its event log, faults from the seed. Action: run each. Expected:
 * wherever the lie was injected (almost everywhere: it comes early), the
 * verifier's first alert has the injected kind, and the run fails with a
 * causality violation naming it. */
static void test_sim_causal_detects_each_injected_violation_kind(void **state)
{
    (void)state;
    uint32_t injected[VOID_CAUSAL_BUFFER_OVERFLOW + 1] = {0};
    for (uint64_t seed = 1; seed <= LIAR_SEEDS; seed++) {
        struct void_sim_config c;
        liar_config(&c, seed);
        struct void_sim_result r;
        assert_int_equal(void_sim_run(&c, &r), 0);
        if (r.causal_injected == 0) {
            continue;
        }
        char want[64];
        snprintf(want, sizeof(want), "causality: %s:", void_causal_violation_name((int)r.causal_injected));
        if (r.causal_first != r.causal_injected || strncmp(r.violation, want, strlen(want)) != 0) {
            fprintf(stderr,
                    "seed %llu: injected %s, first alert %s: %s\n",
                    (unsigned long long)seed,
                    void_causal_violation_name((int)r.causal_injected),
                    void_causal_violation_name((int)r.causal_first),
                    r.violation);
        }
        assert_int_equal(r.causal_first, r.causal_injected);
        assert_true(r.violations > 0);
        assert_int_equal(strncmp(r.violation, want, strlen(want)), 0);
        injected[r.causal_injected]++;
    }
    for (int k = VOID_CAUSAL_HLC_ORDER; k <= VOID_CAUSAL_FORGED_PARENT; k++) {
        assert_true(injected[k] >= 4); /* each kind really was injected */
    }
}

/* Setup: seeds 1..12 as the campaign draws them (faults, Byzantine
 * replicas with the protocol strategies). Action: run. Expected: the
 * verifier accepted the run's events and raised nothing. */
static void test_sim_causal_campaign_runs_raise_no_alert(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct void_sim_config c;
        void_sim_config_from_seed(&c, seed);
        struct void_sim_result r;
        assert_int_equal(void_sim_run(&c, &r), 0);
        if (r.causal_first != 0) {
            fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed, r.violation);
        }
        assert_int_equal(r.causal_first, 0);
        assert_int_equal(r.causal_injected, 0);
        assert_true(r.causal_accepted > 100);
    }
}

/* Setup: a liar run. Action: run it twice. Expected: the same trace hash
 * and the same alert: the strategy is a function of the seed. */
static void test_sim_causal_liar_run_is_a_function_of_the_seed(void **state)
{
    (void)state;
    struct void_sim_config c;
    liar_config(&c, 7);
    struct void_sim_result a, b;
    assert_int_equal(void_sim_run(&c, &a), 0);
    assert_int_equal(void_sim_run(&c, &b), 0);
    assert_int_equal(a.trace_hash, b.trace_hash);
    assert_string_equal(a.violation, b.violation);
    assert_int_equal(a.causal_accepted, b.causal_accepted);
}

/* Setup: none. Action: parse "all" and "causal". Expected: "all" is the
 * protocol strategies without CAUSAL, which must be named. */
static void test_sim_causal_strategy_is_not_in_all(void **state)
{
    (void)state;
    uint32_t mask = 0;
    assert_int_equal(void_sim_parse_strategies("all", &mask), 0);
    assert_int_equal(mask & (1u << VOID_SIM_BYZ_CAUSAL_BIT), 0);
    assert_int_equal(void_sim_parse_strategies("causal", &mask), 0);
    assert_int_equal(mask, 1u << VOID_SIM_BYZ_CAUSAL_BIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_causal_detects_each_injected_violation_kind),
        cmocka_unit_test(test_sim_causal_campaign_runs_raise_no_alert),
        cmocka_unit_test(test_sim_causal_liar_run_is_a_function_of_the_seed),
        cmocka_unit_test(test_sim_causal_strategy_is_not_in_all),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

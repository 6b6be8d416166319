/*
 * Tasks in the simulator (config.tasks; docs/scheduler.md, "Determinism
 * checker"). A client's op is, one time in four, a task op instead: a
 * SUBMIT of 1-3 CPU units (no inputs: placement by load alone, which every
 * member shares) or a CANCEL of one of the tasks it may have made, which
 * frees capacity and makes the replicas place the waiting batch again.
 * After every batch an honest replica executes, the checker hashes its
 * table of active tasks (id, state, member of each) and compares it with
 * every other honest replica's at the same executed sequence number: the
 * same state must give the same placement, under every fault of the run.
 */
#include "sim_int.h"
#include "void/assert.h"
#include "void/hash.h"
#include "void/task.h"

#include <string.h>

int void__sim_task_due(struct sim *s, const struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    return s->cfg->tasks && void_prng_below(&s->rng_work, 4) == 0;
}

int void__sim_task_op(struct sim *s, struct sim_node *node, uint8_t *enc, size_t cap)
{
    VOID_ASSERT(s->cfg->tasks && node->is_client);
    struct void_task_op op;
    memset(&op, 0, sizeof(op));
    static const char exe[] = "/bin/true";
    if (void_prng_below(&s->rng_work, 3) == 0) {
        op.op = VOID_TASK_CANCEL;
        op.id = 1 + void_prng_below(&s->rng_work, s->res->requests_done / 4 + 1);
    } else {
        op.op = VOID_TASK_SUBMIT;
        op.submit.cpu = 1 + (uint32_t)void_prng_below(&s->rng_work, 3);
        op.submit.mem = 1u << 20;
        op.submit.timeout_s = 60;
        op.submit.exe = (struct void_task_str){(const uint8_t *)exe, sizeof(exe) - 1};
    }
    void__sim_trace(
        s, "client n%u task %s", node->id, op.op == VOID_TASK_CANCEL ? "cancel" : "submit");
    return void_task_op_encode(&op, enc, cap);
}

void void__sim_task_check(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    if (!s->cfg->tasks || node->replica == NULL || void_sm_failed(&node->replica->sm) != 0) {
        return;
    }
    /* Keyed by what the replica has executed, not by the event's seq: one
     * step may execute several batches before its effects are performed. */
    uint64_t seq = void_pbft_last_executed(node->replica);
    struct void_sm_result res;
    void_sm_read(&node->replica->sm,
                 (const uint8_t *)VOID_TASK_TABLE_KEY,
                 VOID_TASK_TABLE_KEY_LEN,
                 NULL,
                 &res);
    struct void_hash h;
    void_hash_compute(res.status == VOID_SM_OK ? res.value : NULL,
                      res.status == VOID_SM_OK ? res.value_len : 0,
                      &h);
    s->res->task_checks++;
    int rc = void_check_agreement_record(&s->task_agree, node->id, seq, h.b);
    if (rc == 1) {
        void__sim_violation(s, "task placement: %s", s->task_agree.msg);
    } else if (rc < 0) {
        s->oom = 1;
    }
}

/*
 * The simulated clients' workload and the history it produces. Each client
 * runs one operation at a time through the PBFT client core: put, get,
 * delete, compare-and-set (expecting the last value it saw, so that some
 * succeed) and get-as-of (at a commit stamp it saw earlier), on a handful of
 * keys so that clients contend. Every invocation and return is recorded with
 * its virtual time; at the end the history goes to the linearizability and
 * as-of checkers. Values are unique per write, so a read names the write it
 * saw.
 */
#include "sim/sim_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/sm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int history_add(struct sim *s, const struct void_check_op *op, const struct sim_op_extra *x)
{
    if (s->count_ops == s->cap_ops) {
        size_t cap = s->cap_ops == 0 ? 64 : s->cap_ops * 2;
        struct void_check_op *ops = realloc(s->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            return VOID_ENOMEM;
        }
        s->ops = ops;
        struct sim_op_extra *extra = realloc(s->extra, cap * sizeof(*extra));
        if (extra == NULL) {
            return VOID_ENOMEM;
        }
        s->extra = extra;
        s->cap_ops = cap;
    }
    s->ops[s->count_ops] = *op;
    s->extra[s->count_ops] = *x;
    s->count_ops++;
    return 0;
}

static int value_text(uint64_t value, uint8_t *buf, size_t cap)
{
    return snprintf((char *)buf, cap, "v%" PRIu64, value);
}

static uint64_t value_parse(const uint8_t *bytes, size_t len)
{
    char text[32];
    if (len < 2 || len >= sizeof(text) || bytes[0] != 'v') {
        return UINT64_MAX; /* not a value this workload wrote */
    }
    memcpy(text, bytes + 1, len - 1);
    text[len - 1] = '\0';
    return strtoull(text, NULL, 10);
}

/* Draws the next operation for node into op (the sm encoding) and the
 * history record. */
static void draw_op(struct sim *s,
                    struct sim_node *node,
                    struct void_sm_op *op,
                    struct void_check_op *h,
                    struct sim_op_extra *x,
                    uint8_t *vbuf,
                    uint8_t *ebuf,
                    uint8_t *kbuf)
{
    uint32_t key = (uint32_t)void_prng_below(&s->rng_work, SIM_KEYS);
    uint64_t roll = void_prng_below(&s->rng_work, 100);
    uint64_t value = (uint64_t)(node->id + 1) * 1000000u + ++node->value_counter;
    op->key = kbuf;
    op->key_len = (uint16_t)snprintf((char *)kbuf, 8, "k%u", key);
    h->key = key + 1;
    h->client = node->id;
    if (roll < 35) {
        op->kind = VOID_SM_OP_PUT;
        h->kind = VOID_CHECK_PUT;
    } else if (roll < 60) {
        op->kind = VOID_SM_OP_GET;
        h->kind = VOID_CHECK_GET;
        /* About half the plain GETs go read-only, decided by the same roll
         * (no extra draw: the workload's other choices stay as they were). */
        x->read_only = roll < 48 && !s->cfg->no_read_only;
    } else if (roll < 70) {
        op->kind = VOID_SM_OP_DELETE;
        h->kind = VOID_CHECK_DEL;
    } else if (roll < 88 || node->count_stamps == 0) {
        op->kind = VOID_SM_OP_CAS;
        h->kind = VOID_CHECK_CAS;
        h->expected = node->seen[key];
        op->expect_present = h->expected != 0;
        op->expected = ebuf;
        op->expected_len = h->expected != 0 ? (uint16_t)value_text(h->expected, ebuf, 32) : 0;
    } else {
        op->kind = VOID_SM_OP_GET_AS_OF;
        h->kind = VOID_CHECK_GET;
        x->as_of = 1;
        x->at = node->stamps[void_prng_below(&s->rng_work, node->count_stamps)];
        op->as_of = x->at;
    }
    if (op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_CAS) {
        h->value = value;
        op->value = vbuf;
        op->value_len = (uint16_t)value_text(value, vbuf, 32);
    }
}

static const char *op_name(uint8_t kind)
{
    switch ((enum void_sm_op_kind)kind) {
    case VOID_SM_OP_PUT:
        return "put";
    case VOID_SM_OP_GET:
        return "get";
    case VOID_SM_OP_DELETE:
        return "delete";
    case VOID_SM_OP_CAS:
        return "cas";
    case VOID_SM_OP_GET_AS_OF:
        return "get-as-of";
    case VOID_SM_OP_MEMBER:
        return "member";
    }
    return "?";
}

int void__sim_client_submit(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(node->is_client);
    if (node->busy ||
        (node->ops_left == 0 && s->member.count_certs == 0 && !void__sim_member_due(s, node))) {
        return 0; /* busy: a wake-up for a certificate found it at work */
    }
    struct void_sm_op op;
    struct void_check_op h;
    struct sim_op_extra x;
    uint8_t vbuf[32], ebuf[32], kbuf[8], enc[VOID_SM_OP_MAX];
    memset(&op, 0, sizeof(op));
    memset(&h, 0, sizeof(h));
    memset(&x, 0, sizeof(x));
    x.status = -1;
    int len;
    if (void__sim_member_due(s, node)) {
        /* The admin's change, in place of this client's next operation
         * (outside the key/value history: x.member). */
        x.member = 1;
        h.kind = VOID_CHECK_GET;
        h.key = 1;
        op.kind = VOID_SM_OP_MEMBER;
        len = void__sim_member_op(s, enc, sizeof(enc));
    } else if (s->member.count_certs > 0) {
        /* A certified removal a replica queued (outside the history and
         * the workload's count). */
        h.kind = VOID_CHECK_GET;
        h.key = 1;
        op.kind = VOID_SM_OP_MEMBER;
        len = void__sim_member_cert_op(s, node, &x, enc, sizeof(enc));
    } else if (void__sim_task_due(s, node)) {
        x.member = 1; /* outside the key/value history, as a membership change */
        x.task = 1;
        h.kind = VOID_CHECK_GET;
        h.key = 1;
        op.kind = VOID_SM_OP_MEMBER; /* for the trace's name only */
        len = void__sim_task_op(s, node, enc, sizeof(enc));
    } else {
        draw_op(s, node, &op, &h, &x, vbuf, ebuf, kbuf);
        len = void_sm_op_encode(&op, enc, sizeof(enc));
    }
    VOID_ASSERT(len > 0);
    h.invoke_ns = s->now;
    node->op_index = s->count_ops;
    int rc = history_add(s, &h, &x);
    if (rc != 0) {
        return rc;
    }
    if (!x.cert && !(x.member && !x.task && s->member.join)) {
        node->ops_left--; /* join mode: the JOIN and PROMOTEs are extra */
    }
    node->busy = 1;
    s->requests_issued++;
    void__sim_trace(s,
                    "client n%u invoke #%zu %s k%" PRIu64 " value=%" PRIu64 " expected=%" PRIu64,
                    node->id,
                    node->op_index,
                    x.read_only ? "read-only get" : op_name(op.kind),
                    h.key - 1,
                    h.value,
                    h.expected);
    rc =
        x.read_only
            ? void_pbft_client_submit_read(
                  node->client, void_simclock_read(&node->clock, s->now), enc, (size_t)len, &s->out)
            : void_pbft_client_submit(node->client,
                                      void_simclock_read(&node->clock, s->now),
                                      enc,
                                      (size_t)len,
                                      &s->out);
    if (rc != 0) {
        void__sim_violation(s, "client n%u cannot submit: %s", node->id, void_strerror(rc));
        void_pbft_out_reset(&s->out);
        return 0;
    }
    return void__sim_perform(s, node);
}

static void note_stamp(struct sim_node *node, struct void_hlc_ts stamp)
{
    if (stamp.wall_ns == 0) {
        return;
    }
    node->stamps[node->count_stamps % VOID_ARRAY_LEN(node->stamps)] = stamp;
    if (node->count_stamps < VOID_ARRAY_LEN(node->stamps)) {
        node->count_stamps++;
    }
}

/* Fills the history record of a returned op from its sm result. */
static void record_result(struct sim *s,
                          struct sim_node *node,
                          struct void_check_op *h,
                          struct sim_op_extra *x,
                          const struct void_sm_result *res)
{
    x->status = res->status;
    x->stamp = res->version;
    uint64_t value = res->status == VOID_SM_OK ? value_parse(res->value, res->value_len) : 0;
    uint64_t key = h->key - 1;
    switch ((enum void_check_op_kind)h->kind) {
    case VOID_CHECK_GET:
        h->out_value = value;
        if (!x->as_of) {
            node->seen[key] = value;
        }
        break;
    case VOID_CHECK_CAS:
        h->out_ok = res->status == VOID_SM_OK;
        node->seen[key] = h->out_ok             ? h->value
                          : res->value_len == 0 ? 0
                                                : value_parse(res->value, res->value_len);
        break;
    case VOID_CHECK_PUT:
        node->seen[key] = h->value;
        break;
    case VOID_CHECK_DEL:
        node->seen[key] = 0;
        break;
    }
    if (res->status == VOID_SM_FULL) {
        /* A write refused for capacity had no effect: as neutral as a read
         * whose answer nobody saw. */
        h->kind = VOID_CHECK_GET;
        h->completed = 0;
    }
    if (res->status == VOID_SM_STALE || res->status == VOID_SM_BAD_OP) {
        void__sim_violation(
            s, "client n%u got status %u for a fresh, well-formed request", node->id, res->status);
    }
    if (res->status == VOID_SM_OK && h->kind != VOID_CHECK_GET) {
        note_stamp(node, res->version);
    }
}

int void__sim_client_done(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(node->is_client);
    VOID_ASSERT(node->op_index < s->count_ops);
    struct void_check_op *h = &s->ops[node->op_index];
    struct sim_op_extra *x = &s->extra[node->op_index];
    const uint8_t *bytes;
    int len = void_pbft_client_result(node->client, &bytes);
    struct void_sm_result res;
    if (len < 0 || void_sm_result_decode(bytes, (size_t)len, &res) != 0) {
        void__sim_violation(s, "client n%u accepted an undecodable result", node->id);
        return 0;
    }
    h->completed = 1;
    h->return_ns = s->now;
    node->busy = 0;
    if (x->cert) {
        x->status = res.status;
        void__sim_member_cert_result(s, node, x, &res);
    } else if (x->member && x->task) {
        x->status = res.status;
        s->res->tasks_placed += res.status == VOID_SM_OK && res.value_len == 17;
    } else if (x->member) {
        x->status = res.status;
        void__sim_member_result(s, &res);
    } else {
        record_result(s, node, h, x, &res);
    }
    s->res->requests_done++;
    s->res->last_done_ns = s->now;
    void__sim_trace(s,
                    "client n%u return #%zu status=%u value=%" PRIu64 " ok=%d stamp=%" PRIu64 "/%u",
                    node->id,
                    node->op_index,
                    res.status,
                    h->out_value,
                    h->out_ok,
                    res.version.wall_ns,
                    res.version.logical);
    if (node->ops_left == 0 && s->member.count_certs > 0) {
        struct void_simq_item it = {.at_ns = s->now, .kind = SIM_EV_SUBMIT, .node = node->id};
        return void_simq_push(&s->q, &it); /* the next queued certificate */
    }
    uint64_t promote_at = 0;
    if (node->ops_left == 0 && void__sim_member_wants(s, node, &promote_at)) {
        /* Join mode: the admin's PROMOTE is still to be answered OK. */
        struct void_simq_item it = {
            .at_ns = promote_at > s->now ? promote_at : s->now, .kind = SIM_EV_SUBMIT, .node = node->id};
        return void_simq_push(&s->q, &it);
    }
    if (node->ops_left == 0) {
        return 0;
    }
    /* Think time spreads the workload over the fault window. */
    uint64_t think = s->cfg->fault_window_ns * s->cfg->clients / (s->cfg->requests + 1);
    struct void_simq_item it = {.at_ns = s->now + void_prng_range(&s->rng_work, 0, 2 * think + 1),
                                .kind = SIM_EV_SUBMIT,
                                .node = node->id};
    return void_simq_push(&s->q, &it);
}

/* Collects the committed versions (completed writes with their stamps) and
 * the checkable as-of reads: those on keys where no write's outcome is
 * unknown, since an unanswered write may hold a version the history lacks. */
static void check_asof(struct sim *s)
{
    struct void_check_version *versions = calloc(s->count_ops + 1, sizeof(*versions));
    struct void_check_asof *reads = calloc(s->count_ops + 1, sizeof(*reads));
    size_t nv = 0, nr = 0;
    int unknown[SIM_KEYS + 1] = {0};
    if (versions == NULL || reads == NULL) {
        s->oom = 1;
        goto done;
    }
    for (size_t i = 0; i < s->count_ops; i++) {
        const struct void_check_op *h = &s->ops[i];
        const struct sim_op_extra *x = &s->extra[i];
        int write = h->kind != VOID_CHECK_GET;
        if (write && !h->completed) {
            unknown[h->key] = 1;
        }
        if (write && h->completed && x->status == VOID_SM_OK) {
            versions[nv++] = (struct void_check_version){
                .key = h->key, .value = h->kind == VOID_CHECK_DEL ? 0 : h->value, .hlc = x->stamp};
        }
    }
    for (size_t i = 0; i < s->count_ops; i++) {
        const struct void_check_op *h = &s->ops[i];
        const struct sim_op_extra *x = &s->extra[i];
        if (x->as_of && !x->member && h->completed && !unknown[h->key] &&
            (x->status == VOID_SM_OK || x->status == VOID_SM_NOT_FOUND)) {
            reads[nr++] =
                (struct void_check_asof){.key = h->key, .as_of = x->at, .out_value = h->out_value};
        }
    }
    char msg[VOID_CHECK_MSG_MAX];
    int rc = void_check_asof_reads(versions, nv, reads, nr, msg, sizeof(msg));
    if (rc > 0) {
        void__sim_violation(s, "%s", msg);
    }
done:
    free(versions);
    free(reads);
}

void void__sim_client_check(struct sim *s)
{
    /* As-of reads are not current reads: leave them out of the
     * linearizability check (a pending one is neutral). */
    for (size_t i = 0; i < s->count_ops; i++) {
        s->res->requests_pending += s->extra[i].status < 0;
    }
    for (uint32_t i = 0; i < s->count_nodes; i++) {
        if (s->nodes[i].is_client && s->nodes[i].client != NULL) {
            s->res->reads_quorum += s->nodes[i].client->stats.reads_quorum;
            s->res->reads_ordered += s->nodes[i].client->stats.reads_ordered;
        }
    }
    struct void_check_op *lin = calloc(s->count_ops + 1, sizeof(*lin));
    if (lin == NULL) {
        s->oom = 1;
        return;
    }
    size_t count = 0;
    for (size_t i = 0; i < s->count_ops; i++) {
        if (!s->extra[i].as_of && !s->extra[i].member) {
            lin[count++] = s->ops[i];
        }
    }
    char msg[VOID_CHECK_MSG_MAX];
    int rc = void_check_linearizable(lin, count, 0, msg, sizeof(msg));
    if (rc > 0) {
        void__sim_violation(s, "linearizability: %s", msg);
    } else if (rc < 0) {
        void__sim_trace(s, "linearizability undecided: %s", void_strerror(rc));
    }
    free(lin);
    check_asof(s);
}

/*
 * Task operations and records (include/void/task.h): their byte encodings,
 * shared by the client, the state machine (src/core/task_sm.c) and the
 * executing node. Big-endian integers, strings as u16 length and bytes.
 */
#include "void/task.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

/* ---- a bounds-checked writer and reader ----------------------------------- */

struct wr {
    uint8_t *p;
    size_t cap, len;
    int full;
};

static void put(struct wr *w, const void *data, size_t n)
{
    if (w->full || n > w->cap - w->len) {
        w->full = 1;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, data, n);
    }
    w->len += n;
}

static void put8(struct wr *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put16(struct wr *w, uint16_t v)
{
    uint8_t b[2];
    void_bytes_put_be16(b, v);
    put(w, b, 2);
}

static void put32(struct wr *w, uint32_t v)
{
    uint8_t b[4];
    void_bytes_put_be32(b, v);
    put(w, b, 4);
}

static void put64(struct wr *w, uint64_t v)
{
    uint8_t b[8];
    void_bytes_put_be64(b, v);
    put(w, b, 8);
}

static void put_str(struct wr *w, struct void_task_str s)
{
    put16(w, s.len);
    put(w, s.p, s.len);
}

struct rd {
    const uint8_t *p;
    size_t left;
    int rc; /* first error */
};

static const uint8_t *take(struct rd *r, size_t n)
{
    if (r->rc != 0 || r->left < n) {
        r->rc = r->rc != 0 ? r->rc : VOID_ETRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t get8(struct rd *r)
{
    const uint8_t *p = take(r, 1);
    return p != NULL ? p[0] : 0;
}

static uint16_t get16(struct rd *r)
{
    const uint8_t *p = take(r, 2);
    return p != NULL ? void_bytes_get_be16(p) : 0;
}

static uint32_t get32(struct rd *r)
{
    const uint8_t *p = take(r, 4);
    return p != NULL ? void_bytes_get_be32(p) : 0;
}

static uint64_t get64(struct rd *r)
{
    const uint8_t *p = take(r, 8);
    return p != NULL ? void_bytes_get_be64(p) : 0;
}

static void get_bytes(struct rd *r, uint8_t *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p != NULL) {
        memcpy(out, p, n);
    } else {
        memset(out, 0, n);
    }
}

/* A string of at most max bytes. */
static struct void_task_str get_str(struct rd *r, size_t max)
{
    struct void_task_str s = {NULL, 0};
    uint16_t len = get16(r);
    if (r->rc == 0 && len > max) {
        r->rc = VOID_EBAD_LENGTH;
        return s;
    }
    s.p = take(r, len);
    s.len = s.p != NULL ? len : 0;
    return s;
}

/* A count of at most max. */
static uint32_t get_count(struct rd *r, uint32_t max)
{
    uint8_t n = get8(r);
    if (r->rc == 0 && n > max) {
        r->rc = VOID_EBAD_FIELD;
        return 0;
    }
    return n;
}

/* ---- keys and names ------------------------------------------------------- */

void void_task_key(uint64_t id, uint8_t key[VOID_TASK_KEY_LEN])
{
    static const char hex[] = "0123456789abcdef";
    VOID_ASSERT(key != NULL);
    memcpy(key, VOID_TASK_KEY_PREFIX, VOID_TASK_KEY_PREFIX_LEN);
    for (int i = 0; i < 16; i++) {
        key[VOID_TASK_KEY_PREFIX_LEN + i] = (uint8_t)hex[(id >> (60 - 4 * i)) & 15];
    }
    VOID_ASSERT(key[0] == 0);
}

const char *void_task_state_name(uint8_t state)
{
    static const char *names[] = {"?", "waiting", "running", "done", "failed", "cancelled"};
    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

const char *void_task_outcome_name(uint8_t outcome)
{
    static const char *names[] = {
        "-", "exited", "signalled", "timeout", "memory", "cpu", "error", "lost"};
    return outcome < sizeof(names) / sizeof(names[0]) ? names[outcome] : "?";
}

/* ---- ops ------------------------------------------------------------------ */

static int str_ok(struct void_task_str s, size_t max)
{
    return s.len >= 1 && s.len <= max && s.p != NULL;
}

static int submit_ok(const struct void_task_submit *s)
{
    if (s->input_count > VOID_TASK_INPUTS_MAX || s->arg_count > VOID_TASK_ARGS_MAX ||
        !str_ok(s->exe, VOID_TASK_ARG_MAX)) {
        return 0;
    }
    for (uint32_t i = 0; i < s->input_count; i++) {
        if (!str_ok(s->inputs[i], VOID_TASK_NAME_MAX)) {
            return 0;
        }
    }
    for (uint32_t i = 0; i < s->arg_count; i++) {
        if (s->args[i].len > VOID_TASK_ARG_MAX || (s->args[i].len > 0 && s->args[i].p == NULL)) {
            return 0;
        }
    }
    return 1;
}

static void put_report_body(struct wr *w, const struct void_task_report *r)
{
    put8(w, VOID_SM_OP_TASK);
    put8(w, VOID_TASK_REPORT);
    put64(w, r->id);
    put32(w, r->attempt);
    put32(w, r->node);
    put8(w, r->outcome);
    put32(w, (uint32_t)r->code);
    put_str(w, r->reason);
    put(w, r->out_root, VOID_HASH_SIZE);
    put64(w, r->out_bytes);
}

int void_task_op_encode(const struct void_task_op *op, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(op != NULL && buf != NULL);
    struct wr w = {buf, cap, 0, 0};
    switch (op->op) {
    case VOID_TASK_SUBMIT: {
        const struct void_task_submit *s = &op->submit;
        if (!submit_ok(s)) {
            return VOID_EINVAL;
        }
        put8(&w, VOID_SM_OP_TASK);
        put8(&w, op->op);
        put32(&w, s->cpu);
        put64(&w, s->mem);
        put32(&w, s->timeout_s);
        put8(&w, (uint8_t)s->input_count);
        for (uint32_t i = 0; i < s->input_count; i++) {
            put_str(&w, s->inputs[i]);
        }
        put_str(&w, s->exe);
        put8(&w, (uint8_t)s->arg_count);
        for (uint32_t i = 0; i < s->arg_count; i++) {
            put_str(&w, s->args[i]);
        }
        break;
    }
    case VOID_TASK_REPORT:
        if (op->report.reason.len > VOID_TASK_REASON_MAX) {
            return VOID_EINVAL;
        }
        put_report_body(&w, &op->report);
        put(&w, op->report.sig, VOID_SIGN_SIZE);
        break;
    case VOID_TASK_CANCEL:
    case VOID_TASK_EXPIRE:
        put8(&w, VOID_SM_OP_TASK);
        put8(&w, op->op);
        put64(&w, op->id);
        break;
    case VOID_TASK_HOLD: {
        const struct void_task_hold *h = &op->hold;
        if (!str_ok(h->name, VOID_TASK_NAME_MAX) || h->holder_count > VOID_TASK_HOLDERS_MAX) {
            return VOID_EINVAL;
        }
        put8(&w, VOID_SM_OP_TASK);
        put8(&w, op->op);
        put_str(&w, h->name);
        put(&w, h->root, VOID_HASH_SIZE);
        put64(&w, h->bytes);
        put8(&w, (uint8_t)h->holder_count);
        for (uint32_t i = 0; i < h->holder_count; i++) {
            put32(&w, h->holders[i]);
        }
        break;
    }
    default:
        return VOID_EINVAL;
    }
    if (w.full) {
        return VOID_EFULL;
    }
    VOID_ASSERT(w.len <= VOID_TASK_OP_MAX);
    return (int)w.len;
}

int void_task_op_decode(const uint8_t *buf, size_t len, struct void_task_op *op)
{
    VOID_ASSERT(buf != NULL || len == 0);
    VOID_ASSERT(op != NULL);
    memset(op, 0, sizeof(*op));
    struct rd r = {buf, len, 0};
    if (get8(&r) != VOID_SM_OP_TASK && r.rc == 0) {
        return VOID_EBAD_TYPE;
    }
    op->op = get8(&r);
    switch (op->op) {
    case VOID_TASK_SUBMIT: {
        struct void_task_submit *s = &op->submit;
        s->cpu = get32(&r);
        s->mem = get64(&r);
        s->timeout_s = get32(&r);
        s->input_count = get_count(&r, VOID_TASK_INPUTS_MAX);
        for (uint32_t i = 0; i < s->input_count; i++) {
            s->inputs[i] = get_str(&r, VOID_TASK_NAME_MAX);
        }
        s->exe = get_str(&r, VOID_TASK_ARG_MAX);
        s->arg_count = get_count(&r, VOID_TASK_ARGS_MAX);
        for (uint32_t i = 0; i < s->arg_count; i++) {
            s->args[i] = get_str(&r, VOID_TASK_ARG_MAX);
        }
        break;
    }
    case VOID_TASK_REPORT: {
        struct void_task_report *p = &op->report;
        p->id = get64(&r);
        p->attempt = get32(&r);
        p->node = get32(&r);
        p->outcome = get8(&r);
        p->code = (int32_t)get32(&r);
        p->reason = get_str(&r, VOID_TASK_REASON_MAX);
        get_bytes(&r, p->out_root, VOID_HASH_SIZE);
        p->out_bytes = get64(&r);
        get_bytes(&r, p->sig, VOID_SIGN_SIZE);
        break;
    }
    case VOID_TASK_CANCEL:
    case VOID_TASK_EXPIRE:
        op->id = get64(&r);
        break;
    case VOID_TASK_HOLD: {
        struct void_task_hold *h = &op->hold;
        h->name = get_str(&r, VOID_TASK_NAME_MAX);
        get_bytes(&r, h->root, VOID_HASH_SIZE);
        h->bytes = get64(&r);
        h->holder_count = get_count(&r, VOID_TASK_HOLDERS_MAX);
        for (uint32_t i = 0; i < h->holder_count; i++) {
            h->holders[i] = get32(&r);
        }
        break;
    }
    default:
        return r.rc != 0 ? r.rc : VOID_EBAD_TYPE;
    }
    if (r.rc == 0 && r.left != 0) {
        r.rc = VOID_EBAD_LENGTH;
    }
    return r.rc;
}

int void_task_report_message(const struct void_task_report *rep, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(rep != NULL && buf != NULL);
    if (rep->reason.len > VOID_TASK_REASON_MAX) {
        return VOID_EINVAL;
    }
    struct wr w = {buf, cap, 0, 0};
    put_report_body(&w, rep);
    return w.full ? VOID_EFULL : (int)w.len;
}

int void_task_report_sign(struct void_task_report *rep, const struct void_sign_keypair *kp)
{
    VOID_ASSERT(rep != NULL && kp != NULL);
    uint8_t msg[64 + VOID_TASK_REASON_MAX + VOID_HASH_SIZE];
    int n = void_task_report_message(rep, msg, sizeof(msg));
    if (n < 0) {
        return n;
    }
    return void_sign(kp, VOID_SIGN_DOMAIN_MEMBER, msg, (size_t)n, rep->sig);
}

/* ---- records -------------------------------------------------------------- */

#define RECORD_VERSION 1

int void_task_encode(const struct void_task *t, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(t != NULL && buf != NULL);
    VOID_ASSERT(t->input_count <= VOID_TASK_INPUTS_MAX && t->arg_count <= VOID_TASK_ARGS_MAX);
    struct wr w = {buf, cap, 0, 0};
    put8(&w, RECORD_VERSION);
    put64(&w, t->id);
    put8(&w, t->state);
    put64(&w, t->client);
    put64(&w, t->submitted);
    put32(&w, t->cpu);
    put64(&w, t->mem);
    put32(&w, t->timeout_s);
    put32(&w, t->attempt);
    put32(&w, t->node);
    put32(&w, t->avoid);
    put64(&w, t->placed);
    put64(&w, t->started_ns);
    put64(&w, t->finished_ns);
    put64(&w, t->cost);
    put64(&w, t->bytes_in);
    put64(&w, t->bytes_moved);
    put8(&w, t->outcome);
    put32(&w, (uint32_t)t->code);
    put(&w, t->out_root, VOID_HASH_SIZE);
    put64(&w, t->out_bytes);
    put_str(&w, t->reason);
    put8(&w, (uint8_t)t->input_count);
    for (uint32_t i = 0; i < t->input_count; i++) {
        const struct void_task_input *in = &t->inputs[i];
        VOID_ASSERT(in->holder_count <= VOID_TASK_HOLDERS_MAX);
        put_str(&w, in->name);
        put(&w, in->root, VOID_HASH_SIZE);
        put64(&w, in->bytes);
        put8(&w, (uint8_t)in->holder_count);
        for (uint32_t k = 0; k < in->holder_count; k++) {
            put32(&w, in->holders[k]);
        }
    }
    put_str(&w, t->exe);
    put8(&w, (uint8_t)t->arg_count);
    for (uint32_t i = 0; i < t->arg_count; i++) {
        put_str(&w, t->args[i]);
    }
    return w.full ? VOID_EFULL : (int)w.len;
}

int void_task_decode(const uint8_t *buf, size_t len, struct void_task *t)
{
    VOID_ASSERT(buf != NULL || len == 0);
    VOID_ASSERT(t != NULL);
    memset(t, 0, sizeof(*t));
    struct rd r = {buf, len, 0};
    if (get8(&r) != RECORD_VERSION) {
        return VOID_ECORRUPT;
    }
    t->id = get64(&r);
    t->state = get8(&r);
    t->client = get64(&r);
    t->submitted = get64(&r);
    t->cpu = get32(&r);
    t->mem = get64(&r);
    t->timeout_s = get32(&r);
    t->attempt = get32(&r);
    t->node = get32(&r);
    t->avoid = get32(&r);
    t->placed = get64(&r);
    t->started_ns = get64(&r);
    t->finished_ns = get64(&r);
    t->cost = get64(&r);
    t->bytes_in = get64(&r);
    t->bytes_moved = get64(&r);
    t->outcome = get8(&r);
    t->code = (int32_t)get32(&r);
    get_bytes(&r, t->out_root, VOID_HASH_SIZE);
    t->out_bytes = get64(&r);
    t->reason = get_str(&r, VOID_TASK_REASON_MAX);
    t->input_count = get_count(&r, VOID_TASK_INPUTS_MAX);
    for (uint32_t i = 0; i < t->input_count; i++) {
        struct void_task_input *in = &t->inputs[i];
        in->name = get_str(&r, VOID_TASK_NAME_MAX);
        get_bytes(&r, in->root, VOID_HASH_SIZE);
        in->bytes = get64(&r);
        in->holder_count = get_count(&r, VOID_TASK_HOLDERS_MAX);
        for (uint32_t k = 0; k < in->holder_count; k++) {
            in->holders[k] = get32(&r);
        }
    }
    t->exe = get_str(&r, VOID_TASK_ARG_MAX);
    t->arg_count = get_count(&r, VOID_TASK_ARGS_MAX);
    for (uint32_t i = 0; i < t->arg_count; i++) {
        t->args[i] = get_str(&r, VOID_TASK_ARG_MAX);
    }
    if (r.rc != 0 || r.left != 0 || t->state < VOID_TASK_WAITING ||
        t->state > VOID_TASK_CANCELLED) {
        return VOID_ECORRUPT;
    }
    return 0;
}

/*
 * POST /fault, the node's fault-injection control (node_fault.h,
 * docs/chaos.md). It used to take a GET from anyone who reached the HTTP
 * port; now the config must switch it on, and each request must be signed
 * by the admin key, fresh and not seen before.
 */
#include "node_fault.h"

#include "node_causal.h" /* void__node_json_answer */
#include "void/assert.h"
#include "void/error.h"
#include "void/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAULT_DELAY_MS_MAX 60000u /* as [fault] delay_ms */

static const char *const reason_text[] = {
#define VOID__X(name, text) text,
    VOID__NODE_FAULT_REASONS(VOID__X)
#undef VOID__X
};

int void__node_fault_init(struct void__node_fault *f)
{
    VOID_ASSERT(f != NULL);
    memset(f, 0, sizeof(*f));
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    f->ready = 1;
    return 0;
}

void void__node_fault_fini(struct void__node_fault *f)
{
    VOID_ASSERT(f != NULL);
    if (f->ready) {
        pthread_mutex_destroy(&f->lock);
        f->ready = 0;
    }
}

/* An optional decimal argument in 0..max (absent: 0). Digits only: a value
 * that does not fit is refused, not cut to 32 bits. */
static int fault_number(const char *text, uint64_t max, uint64_t *out)
{
    *out = 0;
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    if (text[0] < '0' || text[0] > '9') {
        return VOID_EPARSE;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return VOID_EPARSE;
    }
    *out = (uint64_t)v;
    return 0;
}

static int fault_u32(const char *text, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    int rc = fault_number(text, max, &v);
    *out = (uint32_t)v;
    return rc;
}

/* Parses block=1,2,...: numbers, at most VOID_FAULT_BLOCK_MAX of them (which
 * ids are replicas is checked with the other ranges, after the signature). */
static int fault_ids(const char *text, struct void_fault_request *r)
{
    r->count_blocked = 0;
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        char one[16];
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof(one) || r->count_blocked == VOID_FAULT_BLOCK_MAX) {
            return VOID_EPARSE;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        if (fault_u32(one, UINT32_MAX, &r->blocked[r->count_blocked]) != 0) {
            return VOID_EPARSE;
        }
        r->count_blocked++;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return 0;
}

/* Exactly 2 * n hex digits into out[0..n). */
static int parse_hex(const char *text, uint8_t *out, size_t n)
{
    if (text == NULL || strlen(text) != 2 * n) {
        return VOID_EPARSE;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        char ch = text[i];
        int v = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (v < 0) {
            return VOID_EPARSE;
        }
        out[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : out[i / 2] | v);
    }
    return 0;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int refuse(struct void__node_fault *f,
                  enum void__node_fault_reason why,
                  const char *msg,
                  char *out,
                  size_t cap,
                  size_t *len)
{
    VOID_ASSERT((unsigned)why < VOID__NODE_FAULT_REASON_COUNT);
    pthread_mutex_lock(&f->lock);
    f->refused[why]++;
    pthread_mutex_unlock(&f->lock);
    void_log(VOID_LOG_WARN, "fault control: refused (%s): %s", reason_text[why], msg);
    *len = void__node_json_answer(
        json_pack("{s:s, s:s}", "error", msg, "reason", reason_text[why]), out, cap);
    return why == VOID__NODE_FAULT_METHOD ? 405 : 403;
}

/* The knobs of the request as numbers (what the signature covers); a
 * message naming one that is not a number, or NULL. */
static const char *parse_knobs(void_http_arg_fn arg, void *req, struct void_fault_request *r)
{
    if (fault_u32(arg(req, "delay_ms"), UINT32_MAX, &r->delay_ms) != 0) {
        return "delay_ms: want 0..60000";
    }
    if (fault_u32(arg(req, "loss_pct"), UINT32_MAX, &r->loss_pct) != 0) {
        return "loss_pct: want 0..100";
    }
    if (fault_u32(arg(req, "isolate"), UINT32_MAX, &r->isolate) != 0) {
        return "isolate: want 0 or 1";
    }
    if (fault_ids(arg(req, "block"), r) != 0) {
        return "block: want replica ids separated by commas";
    }
    /* skew_ms is signed: the clock moved either way. */
    const char *skew = arg(req, "skew_ms");
    if (skew != NULL && skew[0] != '\0') {
        uint64_t mag = 0;
        int neg = skew[0] == '-';
        if (fault_number(skew + neg, VOID_FAULT_SKEW_MS_MAX, &mag) != 0 || (neg && mag == 0)) {
            return "skew_ms: want -600000..600000";
        }
        r->skew_ms = neg ? -(int32_t)mag : (int32_t)mag;
    }
    const char *byz = arg(req, "byz");
    if (byz != NULL && byz[0] != '\0') {
        int b = void_transport_byz_parse(byz);
        if (b < 0) {
            return "byz: want none, silent, garbage, future or equivocate";
        }
        r->byz = (uint32_t)b;
    }
    return NULL;
}

/* The ranges of the knobs; a message naming one out of range, or NULL. */
static const char *check_knobs(const struct void_config *c, const struct void_fault_request *r)
{
    if (r->delay_ms > FAULT_DELAY_MS_MAX) {
        return "delay_ms: want 0..60000";
    }
    if (r->loss_pct > 100) {
        return "loss_pct: want 0..100";
    }
    if (r->isolate > 1) {
        return "isolate: want 0 or 1";
    }
    for (uint32_t i = 0; i < r->count_blocked; i++) {
        if (r->blocked[i] >= c->count_replicas) {
            return "block: want replica ids separated by commas";
        }
    }
    if (r->byz != 0 && !c->fault_byzantine) {
        return "byz: this node may not turn Byzantine ([fault] byzantine = 1 in a build with "
               "VOID_TEST_HOOKS)";
    }
    return NULL;
}

/* A signed request with a knob that is not a number or out of range:
 * counted, answered 400, nothing changes. */
static int
bad_request(struct void__node_fault *f, const char *msg, char *out, size_t cap, size_t *len)
{
    pthread_mutex_lock(&f->lock);
    f->bad++;
    pthread_mutex_unlock(&f->lock);
    *len = void__node_json_answer(json_pack("{s:s}", "error", msg), out, cap);
    return 400;
}

/* Signature and freshness: 0, or the reason to refuse (and *msg). */
static int authenticate(struct void__node_fault *f,
                        const struct void_config *c,
                        void_http_arg_fn arg,
                        void *req,
                        struct void_fault_request *r,
                        const char **msg)
{
    uint8_t sig[VOID_SIGN_SIZE];
    uint64_t ts = 0;
    const char *ts_text = arg(req, "ts_ms");
    if (ts_text == NULL || fault_number(ts_text, UINT64_MAX, &ts) != 0 || ts == 0 ||
        parse_hex(arg(req, "nonce"), r->nonce, sizeof(r->nonce)) != 0 ||
        parse_hex(arg(req, "sig"), sig, sizeof(sig)) != 0) {
        *msg = "unsigned: want ts_ms, nonce (32 hex digits) and sig (128) from voidctl fault";
        return VOID__NODE_FAULT_UNSIGNED + 1;
    }
    r->ts_ms = ts;
    r->node = c->self_id;
    if (void_fault_request_verify(r, c->admin_key, sig) != 0) {
        *msg = "the signature is not the admin key's over this request to this node";
        return VOID__NODE_FAULT_SIGNATURE + 1;
    }
    pthread_mutex_lock(&f->lock);
    int rc = void_fault_replay_admit(&f->replay, ts, r->nonce, wall_ms());
    pthread_mutex_unlock(&f->lock);
    if (rc == VOID_EEXIST) {
        *msg = "replayed: this nonce was taken before";
        return VOID__NODE_FAULT_REPLAY + 1;
    }
    if (rc != 0) {
        *msg = "stale: ts_ms is more than 30 s from this node's clock, or older than a "
               "request it forgot";
        return VOID__NODE_FAULT_STALE + 1;
    }
    return 0;
}

int void__node_fault_http(struct void__node_fault *f,
                          const struct void_config *c,
                          struct void_transport *t,
                          const char *method,
                          void_http_arg_fn arg,
                          void *req,
                          char *out,
                          size_t cap,
                          size_t *len)
{
    VOID_ASSERT(f != NULL && f->ready);
    VOID_ASSERT(c != NULL && t != NULL && method != NULL);
    if (strcmp(method, "POST") != 0) {
        return refuse(
            f, VOID__NODE_FAULT_METHOD, "fault control takes POST (voidctl fault)", out, cap, len);
    }
    if (!c->fault_control) {
        return refuse(f,
                      VOID__NODE_FAULT_OFF,
                      "fault control is off ([fault] control = 1 enables it)",
                      out,
                      cap,
                      len);
    }
    struct void_fault_request r;
    memset(&r, 0, sizeof(r));
    const char *bad = parse_knobs(arg, req, &r);
    if (bad != NULL) {
        return bad_request(f, bad, out, cap, len); /* nothing to check a signature over */
    }
    const char *msg = NULL;
    int why = authenticate(f, c, arg, req, &r, &msg);
    if (why != 0) {
        return refuse(f, (enum void__node_fault_reason)(why - 1), msg, out, cap, len);
    }
    if ((bad = check_knobs(c, &r)) != NULL) {
        return bad_request(f, bad, out, cap, len);
    }
    if (void_transport_set_byzantine(t, r.byz) != 0) {
        return bad_request(f, "byz: this build cannot turn Byzantine", out, cap, len);
    }
    void_transport_set_fault(t, r.delay_ms, r.loss_pct, r.blocked, r.count_blocked, (int)r.isolate);
    atomic_store(&f->skew_ns, (int64_t)r.skew_ms * 1000000);
    pthread_mutex_lock(&f->lock);
    f->applied++;
    pthread_mutex_unlock(&f->lock);
    void_log(VOID_LOG_WARN,
             "fault injection: delay_ms=%u loss_pct=%u blocked=%u isolate=%u skew_ms=%ld byz=%s",
             (unsigned)r.delay_ms,
             (unsigned)r.loss_pct,
             (unsigned)r.count_blocked,
             (unsigned)r.isolate,
             (long)r.skew_ms,
             void_transport_byz_name(r.byz));
    *len = void__node_json_answer(json_pack("{s:I, s:I, s:I, s:i, s:I, s:s}",
                                            "delay_ms",
                                            (json_int_t)r.delay_ms,
                                            "loss_pct",
                                            (json_int_t)r.loss_pct,
                                            "blocked",
                                            (json_int_t)r.count_blocked,
                                            "isolate",
                                            (int)r.isolate,
                                            "skew_ms",
                                            (json_int_t)r.skew_ms,
                                            "byz",
                                            void_transport_byz_name(r.byz)),
                                  out,
                                  cap);
    return 200;
}

int64_t void__node_fault_skew_ns(const struct void__node_fault *f)
{
    VOID_ASSERT(f != NULL);
    return atomic_load(&((struct void__node_fault *)(uintptr_t)f)->skew_ns);
}

void void__node_fault_metrics(struct void__node_fault *f, struct void__metrics_writer *w)
{
    VOID_ASSERT(f != NULL && f->ready);
    VOID_ASSERT(w != NULL);
    pthread_mutex_lock(&f->lock);
    void__metrics_family(w,
                         "void_fault_requests_total",
                         VOID_METRICS_COUNTER,
                         "Signed /fault requests: applied, or bad (a knob out of range).");
    void__metrics_u64(w, "result", "applied", f->applied);
    void__metrics_u64(w, "result", "bad", f->bad);
    void__metrics_family(w,
                         "void_fault_refused_total",
                         VOID_METRICS_COUNTER,
                         "/fault requests refused, by reason (docs/chaos.md).");
    for (int i = 0; i < VOID__NODE_FAULT_REASON_COUNT; i++) {
        void__metrics_u64(w, "reason", reason_text[i], f->refused[i]);
    }
    pthread_mutex_unlock(&f->lock);
}

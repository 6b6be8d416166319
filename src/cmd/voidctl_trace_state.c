/*
 * voidctl trace state --at HLC / trace diff --from HLC --to HLC: the
 * key/value state as of a time, and the keys created, changed and deleted
 * between two times, from the replicas' executed state (docs/causality.md,
 * "State and diff").
 *
 * A replica answers a time only at or below its executed horizon, where the
 * state as of that time is final, so every correct replica that answers
 * gives the same keys, and signs the digest of its answer. voidctl first
 * asks every replica for that digest alone (digest_only=1), needs f + 1
 * replicas signing one digest (so at least one correct one), then streams
 * the answer from one of them, printing each key as it arrives (nothing is
 * held but the line being read) while it recomputes the digest; an answer
 * that does not hash to the agreed digest is reported at its end (exit 1).
 */
#include "cmd/voidctl.h"
#include "cmd/voidctl_http.h"
#include "cmd/voidctl_trace.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/causal.h"
#include "void/config.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/hlc.h"
#include "void/kvs.h"
#include "void/sign.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES                                                                             \
    (4u << 20) /* a line holds at most a 4 KiB key and two 1 MiB values in base64 */

/* ---- reading an NDJSON stream line by line ---------------------------------- */

struct line_reader {
    char *buf;
    size_t len, cap;
    voidctl_line_fn fn;
    void *ctx;
    int stopped;    /* fn answered nonzero, or a line was too long */
    int fn_stopped; /* fn answered nonzero */
};

static size_t on_data(char *data, size_t size, size_t count, void *arg)
{
    struct line_reader *r = arg;
    size_t n = size * count;
    if (r->len + n > r->cap) {
        size_t cap = r->cap == 0 ? 65536 : r->cap;
        while (cap < r->len + n) {
            cap *= 2;
        }
        char *grown = cap <= LINE_MAX_BYTES + 65536 ? realloc(r->buf, cap) : NULL;
        if (grown == NULL) {
            r->stopped = 1;
            return 0;
        }
        r->buf = grown;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    size_t start = 0;
    for (size_t i = r->len - n; i < r->len; i++) {
        if (r->buf[i] != '\n') {
            continue;
        }
        if (i > start && r->fn(r->ctx, r->buf + start, i - start) != 0) {
            r->stopped = r->fn_stopped = 1;
            return 0;
        }
        start = i + 1;
    }
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
    return n;
}

int voidctl_get_lines(const char *url, double timeout_s, voidctl_line_fn fn, void *ctx, long *code)
{
    CURL *easy = curl_easy_init();
    struct line_reader r = {.fn = fn, .ctx = ctx};
    *code = 0;
    if (easy == NULL) {
        return -1;
    }
    long secs = (long)timeout_s + 1;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r);
    /* A stream may be long: no total timeout, but none may stall. */
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_s * 1000.0));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, secs);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, code);
    if (rc == CURLE_OK && r.len > 0 && !r.stopped) {
        (void)fn(ctx, r.buf, r.len); /* a last line without its newline */
    }
    free(r.buf);
    curl_easy_cleanup(easy);
    return rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && r.fn_stopped) ? 0 : -1;
}

/* ---- one replica's answer ----------------------------------------------------- */

struct answer {
    const struct voidctl_opts *o;
    const struct voidctl_trace_kv *q;
    uint32_t id;
    const uint8_t *public_key;
    int print; /* the full answer, printed as it streams */
    json_t *header, *error;
    int got_end, bad;
    uint64_t count;
    int more;
    char *next_after_b64;
    uint8_t digest[VOID_HASH_SIZE]; /* the one the replica signed */
    int signed_ok;
    struct void_causal_kv_digest local; /* recomputed from the lines (print) */
    uint8_t *key, *old_value, *new_value;
};

static int hex_decode(const char *hex, uint8_t *out, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n) {
        return -1;
    }
    size_t got = 0;
    return sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) == 0 && got == n ? 0 : -1;
}

/* Decodes base64 field name of j into buf (at most cap bytes). */
static int
b64_field(json_t *j, const char *name, uint8_t *buf, size_t cap, size_t *len, int *present)
{
    const char *text = json_string_value(json_object_get(j, name));
    *len = 0;
    *present = text != NULL;
    if (text == NULL) {
        return 0;
    }
    return sodium_base642bin(
               buf, cap, text, strlen(text), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0
               ? 0
               : -1;
}

static int hlc_field(json_t *j, const char *name, struct void_hlc_ts *t)
{
    char w[64], l[64];
    snprintf(w, sizeof(w), "%s_wall_ns", name);
    snprintf(l, sizeof(l), "%s_logical", name);
    json_t *jw = json_object_get(j, w), *jl = json_object_get(j, l);
    if (!json_is_integer(jw) || !json_is_integer(jl)) {
        return -1;
    }
    t->wall_ns = (uint64_t)json_integer_value(jw);
    t->logical = (uint32_t)json_integer_value(jl);
    return 0;
}

static void hlc_text(struct void_hlc_ts t, char *buf, size_t cap)
{
    if (void_hlc_format(t, buf, cap) < 0) {
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu32, t.wall_ns, t.logical);
    }
}

/* Text when the bytes are UTF-8 without control characters, else NULL. */
static int is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            return 0;
        }
    }
    json_t *s = json_stringn((const char *)p, n);
    json_decref(s);
    return s != NULL;
}

static void print_bytes(const uint8_t *p, size_t n)
{
    if (is_text(p, n)) {
        fwrite(p, 1, n, stdout);
        return;
    }
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    VOID_ASSERT(b64 != NULL);
    sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    printf("b64:%s", b64);
    free(b64);
}

/* One key line of a full answer: digest it and print it. */
static int on_entry(struct answer *a, json_t *j)
{
    size_t klen = 0, olen = 0, nlen = 0;
    int kp = 0, op = 0, np = 0;
    struct void_causal_kv_side old_side = {0}, new_side = {0};
    int diff = a->q->diff;
    if (b64_field(j, "key_b64", a->key, VOID_KVS_KEY_MAX, &klen, &kp) != 0 || !kp || klen == 0 ||
        b64_field(
            j, diff ? "old_b64" : "value_b64", a->old_value, VOID_KVS_VALUE_MAX, &olen, &op) != 0 ||
        (diff && b64_field(j, "new_b64", a->new_value, VOID_KVS_VALUE_MAX, &nlen, &np) != 0)) {
        return -1;
    }
    if (diff) {
        old_side = (struct void_causal_kv_side){.present = op, .value = a->old_value, .len = olen};
        new_side = (struct void_causal_kv_side){.present = np, .value = a->new_value, .len = nlen};
        if ((op && hlc_field(j, "old_hlc", &old_side.hlc) != 0) ||
            (np && hlc_field(j, "new_hlc", &new_side.hlc) != 0) || (!op && !np)) {
            return -1;
        }
    } else {
        new_side = (struct void_causal_kv_side){.present = 1, .value = a->old_value, .len = olen};
        if (!op || hlc_field(j, "hlc", &new_side.hlc) != 0) {
            return -1;
        }
    }
    void_causal_kv_digest_entry(&a->local, a->key, klen, &old_side, &new_side);
    char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX];
    hlc_text(old_side.hlc, t1, sizeof(t1));
    hlc_text(new_side.hlc, t2, sizeof(t2));
    if (a->o->json) {
        json_t *out = json_object();
        voidctl_json_set_bytes(out, "key", a->key, klen);
        if (diff) {
            json_object_set_new(out,
                                "change",
                                json_string(!op   ? "created"
                                            : !np ? "deleted"
                                                  : "changed"));
            if (op) {
                voidctl_json_set_bytes(out, "old", a->old_value, olen);
                json_object_set_new(out, "old_version", json_string(t1));
            }
            if (np) {
                voidctl_json_set_bytes(out, "new", a->new_value, nlen);
                json_object_set_new(out, "new_version", json_string(t2));
            }
        } else {
            voidctl_json_set_bytes(out, "value", a->old_value, olen);
            json_object_set_new(out, "version", json_string(t2));
        }
        char *text = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        if (text != NULL) {
            printf("%s\n", text);
            free(text);
        }
        return 0;
    }
    if (!diff) {
        print_bytes(a->key, klen);
        printf(" = ");
        print_bytes(a->old_value, olen);
        printf("  (%s)\n", t2);
    } else if (!op) {
        printf("+ ");
        print_bytes(a->key, klen);
        printf(" = ");
        print_bytes(a->new_value, nlen);
        printf("  (%s)\n", t2);
    } else if (!np) {
        printf("- ");
        print_bytes(a->key, klen);
        printf(" (was ");
        print_bytes(a->old_value, olen);
        printf(", %s)\n", t1);
    } else {
        printf("~ ");
        print_bytes(a->key, klen);
        printf(": ");
        print_bytes(a->old_value, olen);
        printf(" -> ");
        print_bytes(a->new_value, nlen);
        printf("  (%s)\n", t2);
    }
    return 0;
}

static int on_line(void *ctx, const char *line, size_t len)
{
    struct answer *a = ctx;
    json_t *j = json_loadb(line, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        a->bad = 1;
        return 1;
    }
    if (json_object_get(j, "error") != NULL) {
        json_decref(a->error);
        a->error = j;
        return 1;
    }
    if (a->header == NULL) {
        a->header = j;
        return 0;
    }
    if (json_is_true(json_object_get(j, "end"))) {
        a->got_end = 1;
        json_t *c = json_object_get(j, "count");
        a->count = json_is_integer(c) ? (uint64_t)json_integer_value(c) : 0;
        a->more = json_is_true(json_object_get(j, "more"));
        const char *next = json_string_value(json_object_get(j, "next_after_b64"));
        a->next_after_b64 = next != NULL ? strdup(next) : NULL;
        uint8_t sig[VOID_SIGN_SIZE], msg[4 + VOID_HASH_SIZE];
        if (hex_decode(
                json_string_value(json_object_get(j, "digest")), a->digest, VOID_HASH_SIZE) == 0 &&
            hex_decode(json_string_value(json_object_get(j, "sig")), sig, VOID_SIGN_SIZE) == 0) {
            void_bytes_put_be32(msg, a->id);
            memcpy(msg + 4, a->digest, VOID_HASH_SIZE);
            a->signed_ok =
                void_sign_verify(a->public_key, VOID_SIGN_DOMAIN_TRACE, msg, sizeof(msg), sig) == 0;
        }
        json_decref(j);
        return 1;
    }
    int rc = a->print ? on_entry(a, j) : -1; /* digest_only answers have no key lines */
    json_decref(j);
    if (rc != 0) {
        a->bad = 1;
        return 1;
    }
    return 0;
}

static void answer_free(struct answer *a)
{
    json_decref(a->header);
    json_decref(a->error);
    free(a->next_after_b64);
    free(a->key);
    free(a->old_value);
    free(a->new_value);
    memset(a, 0, sizeof(*a));
}

/* ---- the query ------------------------------------------------------------------ */

static char *escaped_b64(CURL *easy, const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    VOID_ASSERT(b64 != NULL);
    sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    char *esc = curl_easy_escape(easy, b64, 0);
    free(b64);
    return esc;
}

static int parse_time(const char *what, const char *text, struct void_hlc_ts *t)
{
    if (text == NULL) {
        fprintf(stderr, "voidctl trace: %s wants an HLC (see voidctl trace --help)\n", what);
        return -1;
    }
    if (void_hlc_parse(text, t) != 0) {
        fprintf(stderr,
                "voidctl trace: %s '%s' is not an HLC timestamp (want e.g. "
                "2026-12-07T09:00:00.5Z/0, or WALLNS/LOGICAL)\n",
                what,
                text);
        return -1;
    }
    return 0;
}

static int alloc_buffers(struct answer *a)
{
    a->key = malloc(VOID_KVS_KEY_MAX);
    a->old_value = malloc(VOID_KVS_VALUE_MAX);
    a->new_value = malloc(VOID_KVS_VALUE_MAX);
    return a->key != NULL && a->old_value != NULL && a->new_value != NULL ? 0 : -1;
}

int voidctl_trace_kv_run(const struct voidctl_opts *o,
                         const struct void_config *cl,
                         const struct voidctl_trace_kv *q)
{
    VOID_ASSERT(o != NULL && cl != NULL && q != NULL);
    const char *cmd = q->diff ? "diff" : "state";
    struct void_hlc_ts from = {0, 0}, at = {0, 0};
    if (q->diff ? parse_time("--from", q->from, &from) != 0 || parse_time("--to", q->to, &at) != 0
                : parse_time("--at", q->at, &at) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (q->diff && void_hlc_compare(from, at) > 0) {
        fprintf(stderr, "voidctl trace diff: --from is after --to\n");
        return VOIDCTL_EXIT_USAGE;
    }
    size_t plen = q->prefix != NULL ? strlen(q->prefix) : 0;
    size_t alen = q->after != NULL ? strlen(q->after) : 0;
    if (plen > VOID_KVS_KEY_MAX || alen > VOID_KVS_KEY_MAX || (q->after != NULL && alen == 0)) {
        fprintf(stderr,
                "voidctl trace %s: --prefix and --after want keys of 1..%u bytes\n",
                cmd,
                VOID_KVS_KEY_MAX);
        return VOIDCTL_EXIT_USAGE;
    }
    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        return VOIDCTL_EXIT_FAILED;
    }
    char query[VOID_KVS_KEY_MAX * 6 + 256];
    int n = q->diff ? snprintf(query,
                               sizeof(query),
                               "/trace/diff?from=%" PRIu64 "/%" PRIu32 "&to=%" PRIu64 "/%" PRIu32
                               "&limit=%" PRIu64,
                               from.wall_ns,
                               from.logical,
                               at.wall_ns,
                               at.logical,
                               q->limit)
                    : snprintf(query,
                               sizeof(query),
                               "/trace/state?at=%" PRIu64 "/%" PRIu32 "&limit=%" PRIu64,
                               at.wall_ns,
                               at.logical,
                               q->limit);
    VOID_ASSERT(n > 0 && (size_t)n < sizeof(query));
    size_t qlen = (size_t)n;
    if (plen > 0) {
        char *e = escaped_b64(easy, (const uint8_t *)q->prefix, plen);
        qlen += (size_t)snprintf(query + qlen, sizeof(query) - qlen, "&prefix=%s", e);
        curl_free(e);
    }
    if (q->after != NULL) {
        char *e = escaped_b64(easy, (const uint8_t *)q->after, alen);
        qlen += (size_t)snprintf(query + qlen, sizeof(query) - qlen, "&after=%s", e);
        curl_free(e);
    }
    curl_easy_cleanup(easy);
    VOID_ASSERT(qlen < sizeof(query) - 20);

    /* 1. Every replica's signed digest of the answer. */
    uint32_t nrep = cl->count_replicas, f = (nrep - 1) / 3;
    struct answer *ans = calloc(nrep, sizeof(*ans));
    int *status =
        calloc(nrep, sizeof(*status)); /* 0 none, 1 signed, 2 too_old, 3 not_executed, 4 other */
    if (ans == NULL || status == NULL) {
        free(ans);
        free(status);
        return VOIDCTL_EXIT_FAILED;
    }
    uint32_t reached = 0;
    for (uint32_t i = 0; i < nrep; i++) {
        char url[sizeof(query) + VOID_CONFIG_ADDR_MAX + 64];
        char pq[sizeof(query) + 16];
        snprintf(pq, sizeof(pq), "%s&digest_only=1", query);
        voidctl_http_url(&cl->replicas[i].http, pq, url, sizeof(url));
        struct answer *a = &ans[i];
        a->o = o;
        a->q = q;
        a->id = cl->replicas[i].id;
        a->public_key = cl->replicas[i].public_key;
        long code = 0;
        if (voidctl_get_lines(url, o->timeout_s, on_line, a, &code) != 0 && !a->got_end &&
            a->error == NULL) {
            continue;
        }
        reached++;
        const char *kind =
            a->error != NULL ? json_string_value(json_object_get(a->error, "code")) : NULL;
        if (a->got_end && a->signed_ok && !a->bad) {
            status[i] = 1;
        } else if (kind != NULL && strcmp(kind, "too_old") == 0) {
            status[i] = 2;
        } else if (kind != NULL && strcmp(kind, "not_executed") == 0) {
            status[i] = 3;
        } else {
            status[i] = 4;
            fprintf(stderr,
                    "voidctl trace %s: replica %" PRIu32 ": %s\n",
                    cmd,
                    a->id,
                    a->error != NULL ? json_string_value(json_object_get(a->error, "error"))
                    : a->got_end     ? "its answer is not signed by its key: left out"
                                     : "a malformed answer: left out");
        }
    }
    /* The digest most replicas signed. */
    uint32_t best = nrep, best_votes = 0;
    for (uint32_t i = 0; i < nrep; i++) {
        uint32_t votes = 0;
        for (uint32_t k = 0; status[i] == 1 && k < nrep; k++) {
            votes += status[k] == 1 && memcmp(ans[k].digest, ans[i].digest, VOID_HASH_SIZE) == 0 &&
                     ans[k].more == ans[i].more && ans[k].count == ans[i].count;
        }
        if (votes > best_votes) {
            best = i;
            best_votes = votes;
        }
    }
    int rc = VOIDCTL_EXIT_OK;
    if (best_votes < f + 1) {
        uint32_t old = 0, future = 0;
        const char *msg = NULL;
        for (uint32_t i = 0; i < nrep; i++) {
            old += status[i] == 2;
            future += status[i] == 3;
            if ((status[i] == 2 && msg == NULL) || (status[i] == 3 && old == 0 && msg == NULL)) {
                msg = json_string_value(json_object_get(ans[i].error, "error"));
            }
        }
        if (old > 0 || future > 0) {
            /* The furthest executed horizon, to say how far the cluster is. */
            const char *furthest = NULL;
            for (uint32_t i = 0; i < nrep; i++) {
                const char *e = status[i] == 3
                                    ? json_string_value(json_object_get(ans[i].error, "executed"))
                                    : NULL;
                furthest =
                    e != NULL && (furthest == NULL || strcmp(e, furthest) > 0) ? e : furthest;
            }
            if (old > 0) {
                fprintf(stderr,
                        "voidctl trace %s: too_old: %s\n",
                        cmd,
                        msg != NULL ? msg : "before the retention horizon");
            } else {
                fprintf(
                    stderr,
                    "voidctl trace %s: not_executed: the time is after the executed horizon of "
                    "too many replicas (the furthest: %s): the state as of then is not final yet\n",
                    cmd,
                    furthest != NULL ? furthest : "?");
            }
            rc = VOIDCTL_EXIT_REFUSED;
        } else if (reached < f + 1) {
            fprintf(stderr,
                    "voidctl trace %s: %" PRIu32 " replicas answered, %" PRIu32 " needed\n",
                    cmd,
                    reached,
                    f + 1);
            rc = VOIDCTL_EXIT_UNREACHABLE;
        } else {
            fprintf(stderr,
                    "voidctl trace %s: no %" PRIu32
                    " replicas signed the same answer (at most %" PRIu32 " did)\n",
                    cmd,
                    f + 1,
                    best_votes);
            rc = VOIDCTL_EXIT_FAILED;
        }
    }
    /* 2. The answer itself, streamed from one of those replicas. */
    struct answer full = {0};
    if (rc == VOIDCTL_EXIT_OK) {
        full.o = o;
        full.q = q;
        full.id = ans[best].id;
        full.public_key = ans[best].public_key;
        full.print = 1;
        uint32_t idx = best;
        if (alloc_buffers(&full) != 0) {
            rc = VOIDCTL_EXIT_FAILED;
        } else {
            void_causal_kv_digest_init(&full.local,
                                       q->diff != 0,
                                       from,
                                       at,
                                       (const uint8_t *)q->prefix,
                                       plen,
                                       q->after != NULL,
                                       (const uint8_t *)q->after,
                                       alen,
                                       q->limit);
            char url[sizeof(query) + VOID_CONFIG_ADDR_MAX + 64];
            voidctl_http_url(&cl->replicas[idx].http, query, url, sizeof(url));
            long code = 0;
            (void)voidctl_get_lines(url, o->timeout_s, on_line, &full, &code);
            uint8_t mine[VOID_HASH_SIZE];
            void_causal_kv_digest_final(&full.local, full.more != 0, mine);
            if (!full.got_end || full.bad || full.error != NULL ||
                memcmp(mine, ans[best].digest, VOID_HASH_SIZE) != 0) {
                fprintf(stderr,
                        "voidctl trace %s: replica %" PRIu32 "'s answer %s: what was printed "
                        "above is not confirmed\n",
                        cmd,
                        full.id,
                        full.error != NULL ? json_string_value(json_object_get(full.error, "error"))
                        : !full.got_end    ? "ended early"
                                           : "does not hash to the digest the replicas signed");
                rc = VOIDCTL_EXIT_FAILED;
            }
        }
    }
    if (rc == VOIDCTL_EXIT_OK) {
        char hex[2 * VOID_HASH_SIZE + 1], t[VOID_HLC_FORMAT_MAX];
        for (size_t i = 0; i < VOID_HASH_SIZE; i++) {
            snprintf(hex + 2 * i, 3, "%02x", ans[best].digest[i]);
        }
        const char *executed = json_string_value(json_object_get(full.header, "executed"));
        uint8_t *next = NULL;
        size_t next_len = 0;
        if (full.more && full.next_after_b64 != NULL) {
            next = malloc(VOID_KVS_KEY_MAX);
            if (next == NULL || sodium_base642bin(next,
                                                  VOID_KVS_KEY_MAX,
                                                  full.next_after_b64,
                                                  strlen(full.next_after_b64),
                                                  NULL,
                                                  &next_len,
                                                  NULL,
                                                  sodium_base64_VARIANT_ORIGINAL) != 0) {
                next_len = 0;
            }
        }
        hlc_text(at, t, sizeof(t));
        if (o->json) {
            json_t *agree = json_array();
            for (uint32_t k = 0; k < nrep; k++) {
                if (status[k] == 1 &&
                    memcmp(ans[k].digest, ans[best].digest, VOID_HASH_SIZE) == 0) {
                    json_array_append_new(agree, json_integer(ans[k].id));
                }
            }
            json_t *end = json_pack("{s:b, s:I, s:b, s:s, s:s?, s:s, s:I, s:o}",
                                    "end",
                                    1,
                                    "count",
                                    (json_int_t)full.count,
                                    "more",
                                    full.more,
                                    q->diff ? "to" : "at",
                                    t,
                                    "executed",
                                    executed,
                                    "digest",
                                    hex,
                                    "replica",
                                    (json_int_t)full.id,
                                    "agree",
                                    agree);
            if (next_len > 0) {
                voidctl_json_set_bytes(end, "next_after", next, next_len);
            }
            char *text = json_dumps(end, JSON_COMPACT);
            json_decref(end);
            printf("%s\n", text != NULL ? text : "{}");
            free(text);
        } else {
            printf("# %" PRIu64 " keys %s %s (from replica %" PRIu32 ", executed to %s; %" PRIu32
                   " replicas signed digest %.16s)\n",
                   full.count,
                   q->diff ? "changed up to" : "as of",
                   t,
                   full.id,
                   executed != NULL ? executed : "?",
                   best_votes,
                   hex);
            if (next_len > 0) {
                printf("# more: resume with --after '");
                print_bytes(next, next_len);
                printf("'\n");
            }
        }
        free(next);
    }
    answer_free(&full);
    for (uint32_t i = 0; i < nrep; i++) {
        answer_free(&ans[i]);
    }
    free(ans);
    free(status);
    return rc;
}

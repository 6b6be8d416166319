/*
 * The Prometheus text exposition writer and the driver's histograms
 * (contract in metrics.h). Debian has no C library for the exposition (the
 * client libraries are for Go, Python and Java), and the format is small, so
 * it is written here and checked against `promtool check metrics` by the
 * cluster tests (tests/cluster/test_prometheus.sh).
 *
 * Every byte goes through put(), which either fits it whole or cuts the
 * output back to the start of the open family: that one rule is what makes
 * the output end on a family boundary however small the buffer. Numbers are
 * formatted by hand from integers (no printf, no floating point): a scrape
 * formats a few hundred of them.
 */
#include "metrics.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdio.h>
#include <string.h>

/* ---- histograms ------------------------------------------------------------ */

void void__metrics_histogram_init(struct void__metrics_histogram *h,
                                  const struct void__metrics_buckets *b)
{
    VOID_ASSERT(h != NULL && b != NULL);
    VOID_ASSERT(b->count >= 1 && b->count <= VOID_METRICS_BUCKETS_MAX);
    for (uint32_t i = 1; i < b->count; i++) {
        VOID_ASSERT(b->upper[i - 1] < b->upper[i]);
    }
    memset(h, 0, sizeof(*h));
    h->buckets = b;
}

void void__metrics_histogram_observe(struct void__metrics_histogram *h, uint64_t v)
{
    VOID_ASSERT(h != NULL && h->buckets != NULL);
    const struct void__metrics_buckets *b = h->buckets;
    uint32_t i = 0;
    while (i < b->count && v > b->upper[i]) {
        i++;
    }
    h->counts[i]++; /* i == count: past the last bound, only in +Inf */
    h->count++;
    h->sum += v;
    VOID_ASSERT(i <= b->count);
}

/* ---- numbers ------------------------------------------------------------- */

/* Writes u with `digits` implied decimals, trailing zeros of the fraction
 * dropped; returns the length (at most 20 digits, a point and a 0). */
static size_t format_ufixed(uint64_t u, unsigned digits, char *buf)
{
    VOID_ASSERT(digits <= 18);
    char tmp[32];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (u % 10u));
        u /= 10u;
    } while (u != 0);
    while (n <= digits) {
        tmp[n++] = '0'; /* at least one digit before the point */
    }
    /* tmp holds the digits in reverse: tmp[0..digits) is the fraction. */
    size_t frac_from = 0;
    while (frac_from < digits && tmp[frac_from] == '0') {
        frac_from++;
    }
    size_t len = 0;
    for (size_t i = n; i > digits; i--) {
        buf[len++] = tmp[i - 1];
    }
    if (frac_from < digits) {
        buf[len++] = '.';
        for (size_t i = digits; i > frac_from; i--) {
            buf[len++] = tmp[i - 1];
        }
    }
    buf[len] = '\0';
    VOID_ASSERT(len > 0 && len < 32);
    return len;
}

size_t void__metrics_format_fixed(int64_t v, unsigned digits, char *buf)
{
    VOID_ASSERT(buf != NULL);
    if (v >= 0) {
        return format_ufixed((uint64_t)v, digits, buf);
    }
    buf[0] = '-';
    /* -(v + 1) + 1 stays in range for INT64_MIN. */
    return 1 + format_ufixed((uint64_t)(-(v + 1)) + 1u, digits, buf + 1);
}

/* ---- names ---------------------------------------------------------------- */

static int name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        return 1;
    }
    if (colon && c == ':') {
        return 1;
    }
    return !first && c >= '0' && c <= '9';
}

/* Whether s is a metric name (colon) or a label name (no colon) of fewer
 * than VOID_METRICS_NAME_MAX bytes. */
static int valid_name(const char *s, int colon)
{
    size_t n = strlen(s);
    if (n == 0 || n >= VOID_METRICS_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i], i == 0, colon)) {
            return 0;
        }
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* ---- output ---------------------------------------------------------------- */

/* Gives up on the open family: the output goes back to where it began and
 * nothing more is written. */
static void cut(struct void__metrics_writer *w)
{
    VOID_ASSERT(w->rc == 0);
    VOID_ASSERT(w->family_start <= w->len);
    w->rc = VOID_EFULL;
    w->len = w->family_start;
    (void)snprintf(w->first_cut, sizeof(w->first_cut), "%s", w->family);
}

static void put(struct void__metrics_writer *w, const char *s, size_t n)
{
    if (w->rc != 0) {
        return;
    }
    if (n > w->cap - w->len) {
        cut(w);
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    VOID_ASSERT(w->len <= w->cap);
}

static void puts_(struct void__metrics_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Writes s escaped: backslash and newline always, the double quote too in a
 * label value (help text keeps its quotes). */
static void put_escaped(struct void__metrics_writer *w, const char *s, int quote)
{
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        const char *esc = NULL;
        if (*p == '\\') {
            esc = "\\\\";
        } else if (*p == '\n') {
            esc = "\\n";
        } else if (*p == '"' && quote) {
            esc = "\\\"";
        }
        if (esc != NULL) {
            put(w, run, (size_t)(p - run));
            put(w, esc, 2);
            run = p + 1;
        }
    }
    puts_(w, run);
}

static void put_u64(struct void__metrics_writer *w, uint64_t v)
{
    char buf[32];
    put(w, buf, format_ufixed(v, 0, buf));
}

void void__metrics_init(struct void__metrics_writer *w, char *out, size_t cap)
{
    VOID_ASSERT(w != NULL && out != NULL);
    VOID_ASSERT(cap > VOID_METRICS_TAIL);
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->cap = cap - VOID_METRICS_TAIL;
}

/* The open family is complete: it stays. */
static void close_family(struct void__metrics_writer *w)
{
    if (w->family[0] != '\0' && w->rc == 0) {
        w->families++;
    }
    w->family[0] = '\0';
    w->family_start = w->len;
}

#if defined(VOID_DEBUG) && VOID_DEBUG
/* Whether name was opened before: its samples would be split in two. */
static int seen_before(struct void__metrics_writer *w, const char *name)
{
    for (uint32_t i = 0; i < w->count_names; i++) {
        if (strcmp(w->names[i], name) == 0) {
            return 1;
        }
    }
    if (w->count_names < VOID_METRICS_FAMILIES_MAX) {
        (void)snprintf(w->names[w->count_names++], VOID_METRICS_NAME_MAX, "%s", name);
    }
    return 0;
}
#else
/* Only referenced inside VOID_ASSERT_SLOW's sizeof in release builds. */
static int seen_before(struct void__metrics_writer *w, const char *name)
{
    (void)w;
    (void)name;
    return 0;
}
#endif

void void__metrics_family(struct void__metrics_writer *w,
                          const char *name,
                          enum void__metrics_type type,
                          const char *help)
{
    VOID_ASSERT(w != NULL && name != NULL && help != NULL);
    VOID_ASSERT(valid_name(name, 1));
    /* promtool's rules: counters end in _total, nothing else does. */
    VOID_ASSERT((type == VOID_METRICS_COUNTER) == ends_with(name, "_total"));
    VOID_ASSERT_SLOW(!seen_before(w, name));
    close_family(w);
    if (w->rc != 0) {
        return;
    }
    (void)snprintf(w->family, sizeof(w->family), "%s", name);
    w->type = type;
    static const char *const types[] = {"", "counter", "gauge", "histogram"};
    VOID_ASSERT((size_t)type < VOID_ARRAY_LEN(types));
    puts_(w, "# HELP ");
    puts_(w, name);
    put(w, " ", 1);
    put_escaped(w, help, 0);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, types[type]);
    put(w, "\n", 1);
}

/* `<family><suffix>{label="value"`, its brace left open for the caller to
 * add le or close it, or `<family><suffix>` when label is NULL. */
static void
put_series(struct void__metrics_writer *w, const char *suffix, const char *label, const char *value)
{
    puts_(w, w->family);
    puts_(w, suffix);
    if (label != NULL) {
        VOID_ASSERT(value != NULL && valid_name(label, 0));
        VOID_ASSERT(strcmp(label, "le") != 0 && strncmp(label, "__", 2) != 0);
        put(w, "{", 1);
        puts_(w, label);
        put(w, "=\"", 2);
        put_escaped(w, value, 1);
        put(w, "\"", 1);
    }
}

void void__metrics_u64(struct void__metrics_writer *w,
                       const char *label,
                       const char *value,
                       uint64_t v)
{
    VOID_ASSERT(w != NULL);
    VOID_ASSERT(w->rc != 0 || (w->family[0] != '\0' && w->type != VOID_METRICS_HISTOGRAM));
    put_series(w, "", label, value);
    puts_(w, label != NULL ? "} " : " ");
    put_u64(w, v);
    put(w, "\n", 1);
}

void void__metrics_fixed(struct void__metrics_writer *w,
                         const char *label,
                         const char *value,
                         int64_t v,
                         unsigned digits)
{
    VOID_ASSERT(w != NULL);
    /* A gauge, or a counter of a unit measured finer than its base unit
     * (seconds counted in microseconds): never negative. */
    VOID_ASSERT(w->rc != 0 ||
                (w->family[0] != '\0' &&
                 (w->type == VOID_METRICS_GAUGE || (w->type == VOID_METRICS_COUNTER && v >= 0))));
    char buf[32];
    put_series(w, "", label, value);
    puts_(w, label != NULL ? "} " : " ");
    put(w, buf, void__metrics_format_fixed(v, digits, buf));
    put(w, "\n", 1);
}

void void__metrics_histogram(struct void__metrics_writer *w,
                             const char *label,
                             const char *value,
                             const struct void__metrics_histogram *h)
{
    VOID_ASSERT(w != NULL && h != NULL && h->buckets != NULL);
    VOID_ASSERT(w->rc != 0 || (w->family[0] != '\0' && w->type == VOID_METRICS_HISTOGRAM));
    const struct void__metrics_buckets *b = h->buckets;
    char buf[32];
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i <= b->count; i++) {
        cumulative += h->counts[i];
        put_series(w, "_bucket", label, value);
        puts_(w, label != NULL ? ",le=\"" : "{le=\"");
        if (i < b->count) {
            put(w, buf, format_ufixed(b->upper[i], b->digits, buf));
        } else {
            puts_(w, "+Inf");
        }
        puts_(w, "\"} ");
        put_u64(w, cumulative);
        put(w, "\n", 1);
    }
    /* The +Inf bucket and _count agree: both are every observation. */
    VOID_ASSERT(cumulative == h->count);
    put_series(w, "_sum", label, value);
    puts_(w, label != NULL ? "} " : " ");
    put(w, buf, format_ufixed(h->sum, b->digits, buf));
    put(w, "\n", 1);
    put_series(w, "_count", label, value);
    puts_(w, label != NULL ? "} " : " ");
    put_u64(w, h->count);
    put(w, "\n", 1);
}

int void__metrics_finish(struct void__metrics_writer *w, size_t *len)
{
    VOID_ASSERT(w != NULL && len != NULL);
    close_family(w);
    if (w->rc != 0) {
        /* The tail was held back for this line, so it always fits. */
        int n = snprintf(w->out + w->len,
                         VOID_METRICS_TAIL,
                         "# truncated: family %.64s and those after it did not fit in %zu bytes\n",
                         w->first_cut,
                         w->cap + VOID_METRICS_TAIL);
        VOID_ASSERT(n > 0 && n < VOID_METRICS_TAIL);
        w->len += (size_t)n;
    }
    *len = w->len;
    VOID_ASSERT(w->len <= w->cap + VOID_METRICS_TAIL);
    return w->rc;
}

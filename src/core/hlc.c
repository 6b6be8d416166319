/*
 * Hybrid logical clock: the update rules of Kulkarni et al. (2014, fig. 5)
 * with a bounded logical counter and a max-offset guard on receive. See
 * include/void/hlc.h for the guarantees; this file is pure (physical time is
 * an argument) apart from the two convenience calls that read the configured
 * clock function.
 */
#include "void/hlc.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdio.h>
#include <string.h>

void void_hlc_init(struct void_hlc *h, const struct void_hlc_config *config)
{
    VOID_ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
    h->max_offset_ns = VOID_HLC_MAX_OFFSET_NS_DEF;
    h->logical_max = UINT32_MAX;
    if (config != NULL) {
        if (config->max_offset_ns != 0) {
            h->max_offset_ns = config->max_offset_ns;
        }
        if (config->logical_max != 0) {
            h->logical_max = config->logical_max;
        }
        h->clock = config->clock;
        h->clock_ctx = config->clock_ctx;
    }
}

/* Sets h->last to (wall, logical), where logical may exceed the bound by one:
 * then the wall part borrows 1 ns from the future and logical restarts. */
static void set_last(struct void_hlc *h, uint64_t wall, uint64_t logical)
{
    if (logical > h->logical_max) {
        VOID_ASSERT(wall < UINT64_MAX);
        wall += 1;
        logical = 0;
        h->count_overflows++;
    }
    VOID_ASSERT(logical <= h->logical_max);
    h->last.wall_ns = wall;
    h->last.logical = (uint32_t)logical;
}

struct void_hlc_ts void_hlc_now_at(struct void_hlc *h, uint64_t phys_ns)
{
    VOID_ASSERT(h != NULL);
    struct void_hlc_ts prev = h->last;
    if (phys_ns > prev.wall_ns) {
        set_last(h, phys_ns, 0);
    } else {
        if (phys_ns < prev.wall_ns) {
            h->count_backwards++;
        }
        set_last(h, prev.wall_ns, (uint64_t)prev.logical + 1);
    }
    VOID_ASSERT(void_hlc_compare(h->last, prev) > 0);
    return h->last;
}

struct void_hlc_ts void_hlc_now(struct void_hlc *h)
{
    VOID_ASSERT(h->clock != NULL);
    return void_hlc_now_at(h, h->clock(h->clock_ctx));
}

int void_hlc_update_at(struct void_hlc *h,
                       uint64_t phys_ns,
                       struct void_hlc_ts remote,
                       struct void_hlc_ts *out)
{
    VOID_ASSERT(h != NULL);
    if (remote.wall_ns > phys_ns && remote.wall_ns - phys_ns > h->max_offset_ns) {
        h->count_rejected_ahead++;
        return VOID_EHLC_AHEAD;
    }
    struct void_hlc_ts prev = h->last;
    uint64_t wall = prev.wall_ns;
    if (remote.wall_ns > wall) {
        wall = remote.wall_ns;
    }
    if (phys_ns > wall) {
        wall = phys_ns;
    }
    if (phys_ns < prev.wall_ns) {
        h->count_backwards++;
    }
    uint64_t logical;
    if (wall == prev.wall_ns && wall == remote.wall_ns) {
        logical = (prev.logical > remote.logical ? prev.logical : remote.logical) + 1ull;
    } else if (wall == prev.wall_ns) {
        logical = (uint64_t)prev.logical + 1;
    } else if (wall == remote.wall_ns) {
        logical = (uint64_t)remote.logical + 1;
    } else {
        logical = 0;
    }
    set_last(h, wall, logical);
    VOID_ASSERT(void_hlc_compare(h->last, prev) > 0);
    VOID_ASSERT(void_hlc_compare(h->last, remote) > 0);
    if (out != NULL) {
        *out = h->last;
    }
    return 0;
}

int void_hlc_update(struct void_hlc *h, struct void_hlc_ts remote, struct void_hlc_ts *out)
{
    VOID_ASSERT(h->clock != NULL);
    return void_hlc_update_at(h, h->clock(h->clock_ctx), remote, out);
}

int void_hlc_compare(struct void_hlc_ts a, struct void_hlc_ts b)
{
    if (a.wall_ns != b.wall_ns) {
        return a.wall_ns < b.wall_ns ? -1 : 1;
    }
    if (a.logical != b.logical) {
        return a.logical < b.logical ? -1 : 1;
    }
    return 0;
}

void void_hlc_encode(struct void_hlc_ts ts, uint8_t out[VOID_HLC_ENCODED_SIZE])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(ts.wall_ns >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out[8 + i] = (uint8_t)(ts.logical >> (24 - 8 * i));
    }
}

struct void_hlc_ts void_hlc_decode(const uint8_t in[VOID_HLC_ENCODED_SIZE])
{
    struct void_hlc_ts ts = {0, 0};
    for (int i = 0; i < 8; i++) {
        ts.wall_ns = (ts.wall_ns << 8) | in[i];
    }
    for (int i = 0; i < 4; i++) {
        ts.logical = (ts.logical << 8) | in[8 + i];
    }
    return ts;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so formatting needs neither the C library's time zone
 * state nor timegm(). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int void_hlc_format(struct void_hlc_ts ts, char *buf, size_t cap)
{
    uint64_t secs = ts.wall_ns / 1000000000ull;
    uint64_t frac = ts.wall_ns % 1000000000ull;
    int64_t y;
    unsigned mo, d;
    civil_from_days((int64_t)(secs / 86400), &y, &mo, &d);
    uint64_t sod = secs % 86400;
    int n = snprintf(buf,
                     cap,
                     "%04lld-%02u-%02uT%02u:%02u:%02u.%09lluZ/%lu",
                     (long long)y,
                     mo,
                     d,
                     (unsigned)(sod / 3600),
                     (unsigned)(sod / 60 % 60),
                     (unsigned)(sod % 60),
                     (unsigned long long)frac,
                     (unsigned long)ts.logical);
    if (n < 0 || (size_t)n >= cap) {
        return VOID_ERANGE;
    }
    return n;
}

/* Reads exactly width decimal digits. */
static int read_digits(const char **s, int width, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9') {
            return VOID_EPARSE;
        }
        v = v * 10 + (uint64_t)(c - '0');
    }
    *s += width;
    *out = v;
    return 0;
}

/* Reads 1..max_digits decimal digits into *out without overflow. */
static int read_number(const char **s, int max_digits, uint64_t *out, int *ndigits)
{
    uint64_t v = 0;
    int n = 0;
    while (n < max_digits && (*s)[n] >= '0' && (*s)[n] <= '9') {
        uint64_t digit = (uint64_t)((*s)[n] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return VOID_EPARSE;
        }
        v = v * 10 + digit;
        n++;
    }
    if (n == 0) {
        return VOID_EPARSE;
    }
    *s += n;
    *out = v;
    if (ndigits != NULL) {
        *ndigits = n;
    }
    return 0;
}

static int parse_logical(const char *s, struct void_hlc_ts *out)
{
    if (*s == '\0') {
        out->logical = 0;
        return 0;
    }
    uint64_t logical;
    if (*s++ != '/' || read_number(&s, 10, &logical, NULL) != 0 || *s != '\0' ||
        logical > UINT32_MAX) {
        return VOID_EPARSE;
    }
    out->logical = (uint32_t)logical;
    return 0;
}

static unsigned days_in_month(uint64_t y, uint64_t m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    VOID_ASSERT(m >= 1 && m <= 12);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap ? 1u : 0u);
}

static int parse_iso(const char *s, struct void_hlc_ts *out)
{
    uint64_t y, mo, d, h, mi, sec, frac = 0;
    if (read_digits(&s, 4, &y) || *s++ != '-' || read_digits(&s, 2, &mo) || *s++ != '-' ||
        read_digits(&s, 2, &d) || *s++ != 'T' || read_digits(&s, 2, &h) || *s++ != ':' ||
        read_digits(&s, 2, &mi) || *s++ != ':' || read_digits(&s, 2, &sec)) {
        return VOID_EPARSE;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
        y < 1970) {
        return VOID_EPARSE;
    }
    if (*s == '.') {
        s++;
        int n = 0;
        if (read_number(&s, 9, &frac, &n) != 0) {
            return VOID_EPARSE;
        }
        for (; n < 9; n++) {
            frac *= 10;
        }
    }
    if (*s++ != 'Z') {
        return VOID_EPARSE;
    }
    int64_t days = days_from_civil((int64_t)y, (unsigned)mo, (unsigned)d);
    uint64_t secs = (uint64_t)days * 86400 + h * 3600 + mi * 60 + sec;
    /* The last representable second (in 2554) is only partly representable. */
    if (secs > UINT64_MAX / 1000000000ull || frac > UINT64_MAX - secs * 1000000000ull) {
        return VOID_EPARSE;
    }
    out->wall_ns = secs * 1000000000ull + frac;
    return parse_logical(s, out);
}

int void_hlc_parse(const char *s, struct void_hlc_ts *out)
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(out != NULL);
    struct void_hlc_ts ts = {0, 0};
    int rc;
    if (strlen(s) > 4 && s[4] == '-') {
        rc = parse_iso(s, &ts);
    } else {
        rc = read_number(&s, 20, &ts.wall_ns, NULL);
        if (rc == 0) {
            rc = parse_logical(s, &ts);
        }
    }
    if (rc != 0) {
        return VOID_EPARSE;
    }
    *out = ts;
    return 0;
}

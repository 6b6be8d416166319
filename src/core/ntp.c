/*
 * NTPv4 client-side packet handling (RFC 5905): wire encoding, the reply
 * sanity checks a client must apply before trusting a server (sections 8 and
 * 7.4 for kiss-o'-death), and the offset/delay arithmetic of one exchange.
 * Pure: local times and the random transmit timestamp are arguments, so the
 * simulator, the fuzzer and the libuv client share exactly this code.
 */
#include "void/ntp.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

#define NS_PER_S 1000000000ull

_Static_assert(VOID_NTP_PACKET_SIZE == 48, "NTP header is 48 bytes");

uint64_t void_ntp_ts_from_unix_ns(uint64_t unix_ns)
{
    uint64_t secs = (unix_ns / NS_PER_S + VOID_NTP_UNIX_OFFSET_S) & 0xffffffffull;
    uint64_t frac = ((unix_ns % NS_PER_S) << 32) / NS_PER_S;
    VOID_ASSERT(frac <= 0xffffffffull);
    return (secs << 32) | frac;
}

/* Signed 32.32 difference to signed ns, rounding the fraction to nearest so
 * that ns -> timestamp -> ns is exact. */
static int64_t diff_to_ns(int64_t d)
{
    int64_t secs = d >> 32; /* arithmetic shift: floor */
    uint64_t frac = (uint64_t)d & 0xffffffffull;
    uint64_t frac_ns = (frac * NS_PER_S + 0x80000000ull) >> 32;
    VOID_ASSERT(frac_ns <= NS_PER_S);
    return secs * (int64_t)NS_PER_S + (int64_t)frac_ns;
}

/* Time of ts minus pivot_ns in signed ns, in the era nearest the pivot.
 * Wrapping subtraction read as signed picks that era; the pivot's own
 * sub-tick remainder (lost when it became a timestamp) is added back. */
static int64_t rel_ns(uint64_t ts, uint64_t pivot_ns)
{
    uint64_t pivot_ts = void_ntp_ts_from_unix_ns(pivot_ns);
    int64_t lost = (int64_t)(pivot_ns % NS_PER_S) - diff_to_ns((int64_t)(pivot_ts & 0xffffffffull));
    VOID_ASSERT(lost >= -1 && lost <= 1);
    return diff_to_ns((int64_t)(ts - pivot_ts)) - lost;
}

uint64_t void_ntp_ts_to_unix_ns(uint64_t ts, uint64_t pivot_ns)
{
    int64_t d_ns = rel_ns(ts, pivot_ns);
    if (d_ns < 0) {
        uint64_t back = (uint64_t)(-(d_ns + 1)) + 1;
        return back > pivot_ns ? 0 : pivot_ns - back;
    }
    return pivot_ns + (uint64_t)d_ns;
}

void void_ntp_encode(const struct void_ntp_packet *p, uint8_t out[VOID_NTP_PACKET_SIZE])
{
    VOID_ASSERT(p->leap <= 3);
    VOID_ASSERT(p->version <= 7 && p->mode <= 7);
    out[0] = (uint8_t)(p->leap << 6 | p->version << 3 | p->mode);
    out[1] = p->stratum;
    out[2] = (uint8_t)p->poll;
    out[3] = (uint8_t)p->precision;
    void_bytes_put_be32(out + 4, p->root_delay);
    void_bytes_put_be32(out + 8, p->root_dispersion);
    void_bytes_put_be32(out + 12, p->ref_id);
    void_bytes_put_be64(out + 16, p->ref_ts);
    void_bytes_put_be64(out + 24, p->origin_ts);
    void_bytes_put_be64(out + 32, p->receive_ts);
    void_bytes_put_be64(out + 40, p->transmit_ts);
}

int void_ntp_decode(const uint8_t *buf, size_t len, struct void_ntp_packet *out)
{
    VOID_ASSERT(out != NULL);
    if (buf == NULL || len < VOID_NTP_PACKET_SIZE) {
        return VOID_ENTP_TRUNCATED;
    }
    out->leap = (uint8_t)(buf[0] >> 6);
    out->version = (uint8_t)((buf[0] >> 3) & 7);
    out->mode = (uint8_t)(buf[0] & 7);
    out->stratum = buf[1];
    out->poll = (int8_t)buf[2];
    out->precision = (int8_t)buf[3];
    out->root_delay = void_bytes_get_be32(buf + 4);
    out->root_dispersion = void_bytes_get_be32(buf + 8);
    out->ref_id = void_bytes_get_be32(buf + 12);
    out->ref_ts = void_bytes_get_be64(buf + 16);
    out->origin_ts = void_bytes_get_be64(buf + 24);
    out->receive_ts = void_bytes_get_be64(buf + 32);
    out->transmit_ts = void_bytes_get_be64(buf + 40);
    VOID_ASSERT(out->leap <= 3);
    return 0;
}

void void_ntp_request(struct void_ntp_packet *p, uint64_t random_xmt, int8_t poll_log2)
{
    VOID_ASSERT(p != NULL);
    memset(p, 0, sizeof(*p));
    /* A client that is not yet synchronised says so (leap 3, stratum 0 is
     * "unspecified" in a request), as chrony does before its first sync. */
    p->leap = VOID_NTP_LEAP_ALARM;
    p->version = VOID_NTP_VERSION;
    p->mode = VOID_NTP_MODE_CLIENT;
    p->poll = poll_log2;
    p->precision = -20;
    p->transmit_ts = random_xmt;
    VOID_ASSERT(p->mode == VOID_NTP_MODE_CLIENT);
}

int64_t void_ntp_short_to_ns(uint32_t v)
{
    return (int64_t)(((uint64_t)v * NS_PER_S) >> 16);
}

static uint32_t kiss(const char code[4])
{
    return (uint32_t)(uint8_t)code[0] << 24 | (uint32_t)(uint8_t)code[1] << 16 |
           (uint32_t)(uint8_t)code[2] << 8 | (uint32_t)(uint8_t)code[3];
}

static int check_kod(uint32_t ref_id)
{
    if (ref_id == kiss("RATE")) {
        return VOID_ENTP_KOD_RATE;
    }
    if (ref_id == kiss("DENY")) {
        return VOID_ENTP_KOD_DENY;
    }
    if (ref_id == kiss("RSTR")) {
        return VOID_ENTP_KOD_RSTR;
    }
    return VOID_ENTP_KOD;
}

int void_ntp_check_reply(const struct void_ntp_packet *reply, uint64_t sent_xmt)
{
    VOID_ASSERT(reply != NULL);
    if (reply->mode != VOID_NTP_MODE_SERVER) {
        return VOID_ENTP_MODE;
    }
    if (reply->version < 3 || reply->version > 4) {
        return VOID_ENTP_VERSION;
    }
    if (sent_xmt == 0 || reply->origin_ts != sent_xmt) {
        return VOID_ENTP_ORIGIN;
    }
    if (reply->stratum == VOID_NTP_STRATUM_KOD) {
        return check_kod(reply->ref_id);
    }
    if (reply->stratum >= VOID_NTP_STRATUM_UNSYNC) {
        return VOID_ENTP_UNSYNC;
    }
    if (reply->leap == VOID_NTP_LEAP_ALARM) {
        return VOID_ENTP_LEAP_ALARM;
    }
    if (reply->receive_ts == 0 || reply->transmit_ts == 0) {
        return VOID_ENTP_BAD_TIMESTAMP;
    }
    int64_t hold_ns = diff_to_ns((int64_t)(reply->transmit_ts - reply->receive_ts));
    if (hold_ns < 0 || hold_ns > VOID_NTP_SERVER_HOLD_MAX_NS) {
        return VOID_ENTP_BAD_TIMESTAMP;
    }
    int64_t root_ns =
        void_ntp_short_to_ns(reply->root_delay) / 2 + void_ntp_short_to_ns(reply->root_dispersion);
    if (root_ns >= VOID_NTP_ROOT_DIST_MAX_NS) {
        return VOID_ENTP_ROOT_DISTANCE;
    }
    return 0;
}

int void_ntp_sample(const struct void_ntp_packet *reply,
                    uint64_t t1_ns,
                    uint64_t t4_ns,
                    struct void_ntp_sample *out)
{
    VOID_ASSERT(reply != NULL);
    VOID_ASSERT(out != NULL);
    if (t4_ns < t1_ns) {
        return VOID_ENTP_BAD_TIMESTAMP;
    }
    /* t2 and t3 relative to t1, in the era nearest t1; all arithmetic is on
     * differences of at most 68 years, so nothing overflows for any input. */
    int64_t t2 = rel_ns(reply->receive_ts, t1_ns);
    int64_t t3 = rel_ns(reply->transmit_ts, t1_ns);
    if (t4_ns - t1_ns > (uint64_t)VOID_NTP_DELAY_MAX_NS) {
        return VOID_ENTP_BAD_DELAY;
    }
    int64_t t4 = (int64_t)(t4_ns - t1_ns);
    int64_t delay = t4 - (t3 - t2);
    if (delay < -1000000 || delay > VOID_NTP_DELAY_MAX_NS) {
        return VOID_ENTP_BAD_DELAY;
    }
    /* offset = ((t2 - t1) + (t3 - t4)) / 2 with t1 = 0; halve each term
     * first so that two +-68-year values cannot overflow. */
    out->offset_ns = t2 / 2 + (t3 - t4) / 2;
    out->delay_ns = delay < 0 ? 0 : delay;
    out->root_delay_ns = void_ntp_short_to_ns(reply->root_delay);
    out->root_disp_ns = void_ntp_short_to_ns(reply->root_dispersion);
    out->stratum = reply->stratum;
    out->leap = reply->leap;
    out->precision = reply->precision;
    VOID_ASSERT(out->delay_ns >= 0);
    return 0;
}

int void_ntp_process_reply(const uint8_t *buf,
                           size_t len,
                           uint64_t sent_xmt,
                           uint64_t t1_ns,
                           uint64_t t4_ns,
                           struct void_ntp_packet *reply,
                           struct void_ntp_sample *out)
{
    int rc = void_ntp_decode(buf, len, reply);
    if (rc == 0) {
        rc = void_ntp_check_reply(reply, sent_xmt);
    }
    if (rc == 0) {
        rc = void_ntp_sample(reply, t1_ns, t4_ns, out);
    }
    return rc;
}

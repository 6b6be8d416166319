/*
 * NTPv4 packets (RFC 5905), client side: encode a request, decode and
 * validate a reply, and turn the four timestamps of one exchange into an
 * offset and a round-trip delay.
 *
 * Pure code: local times and randomness are arguments. Timestamps on the
 * wire are 64-bit NTP timestamps (32.32 fixed point seconds since
 * 1900-01-01, wrapping every 136 years: "eras"); locally we use nanoseconds
 * since the Unix epoch. Conversions back to nanoseconds take a pivot (a
 * local time known to be within 68 years of the timestamp) and pick the era
 * closest to it, so 2036 rolls over cleanly.
 *
 * Anti-spoofing follows chrony: the request carries a random transmit
 * timestamp rather than the local time, the real send time stays local, and
 * a reply counts only if its origin timestamp echoes those random bits.
 */
#ifndef VOID_NTP_H
#define VOID_NTP_H

#include <stddef.h>
#include <stdint.h>

#define VOID_NTP_PACKET_SIZE        48
#define VOID_NTP_UNIX_OFFSET_S      2208988800ull /* seconds from 1900 to 1970 */
#define VOID_NTP_VERSION            4
#define VOID_NTP_MODE_CLIENT        3
#define VOID_NTP_MODE_SERVER        4
#define VOID_NTP_LEAP_ALARM         3
#define VOID_NTP_STRATUM_KOD        0
#define VOID_NTP_STRATUM_UNSYNC     16
#define VOID_NTP_ROOT_DIST_MAX_NS   16000000000ll /* RFC 5905 MAXDIST is 16 s */
#define VOID_NTP_DELAY_MAX_NS       10000000000ll /* a 10 s round trip is absurd */
#define VOID_NTP_SERVER_HOLD_MAX_NS 1000000000ll  /* server held a request > 1 s */

/* One NTP header, fields in host order. Timestamps are raw 32.32 values;
 * root_delay and root_dispersion raw 16.16 seconds. */
struct void_ntp_packet {
    uint8_t leap;    /* 0..3 */
    uint8_t version; /* 0..7 */
    uint8_t mode;    /* 0..7 */
    uint8_t stratum;
    int8_t poll;      /* log2 seconds */
    int8_t precision; /* log2 seconds */
    uint32_t root_delay;
    uint32_t root_dispersion;
    uint32_t ref_id; /* for stratum 0, the four-letter kiss code, big-endian */
    uint64_t ref_ts;
    uint64_t origin_ts;
    uint64_t receive_ts;
    uint64_t transmit_ts;
};

/* What one valid exchange measured. offset_ns is server time minus local
 * time (positive: the local clock is behind). */
struct void_ntp_sample {
    int64_t offset_ns;
    int64_t delay_ns; /* round trip minus server hold time, >= 0 */
    int64_t root_delay_ns;
    int64_t root_disp_ns;
    uint8_t stratum;
    uint8_t leap;
    int8_t precision;
};

/* NTP timestamp of a Unix time in ns (seconds wrap modulo 2^32, i.e. the
 * era is dropped). Cannot fail. */
uint64_t void_ntp_ts_from_unix_ns(uint64_t unix_ns);

/* Unix ns of an NTP timestamp, taking the era that puts it closest to
 * pivot_ns (valid when the true time is within 68 years of the pivot).
 * Results before 1970 clamp to 0. Cannot fail. */
uint64_t void_ntp_ts_to_unix_ns(uint64_t ts, uint64_t pivot_ns);

/* Writes p (borrowed) as 48 wire bytes into out. Cannot fail. */
void void_ntp_encode(const struct void_ntp_packet *p, uint8_t out[VOID_NTP_PACKET_SIZE]);

/* Parses the 48-byte header at buf (len bytes; extension fields and MACs
 * beyond 48 bytes are ignored). Only the structure is checked here; use
 * void_ntp_check_reply for the protocol rules. Returns 0 or
 * VOID_ENTP_TRUNCATED. buf is borrowed for the call. */
int void_ntp_decode(const uint8_t *buf, size_t len, struct void_ntp_packet *out);

/* Fills *p with a client-mode NTPv4 request whose transmit timestamp is the
 * caller's random 64 bits random_xmt (remember them to check the reply).
 * poll_log2 is advertised to the server. Cannot fail. */
void void_ntp_request(struct void_ntp_packet *p, uint64_t random_xmt, int8_t poll_log2);

/* Validates a reply to a request that carried sent_xmt, in this order, and
 * returns the first failure: VOID_ENTP_MODE (not server mode),
 * VOID_ENTP_VERSION (not 3 or 4), VOID_ENTP_ORIGIN (origin != sent_xmt, or
 * sent_xmt is 0: checked before the kiss code so that a spoofed KoD is
 * ignored), VOID_ENTP_KOD_RATE / _KOD_DENY / _KOD_RSTR / _KOD (stratum 0),
 * VOID_ENTP_UNSYNC (stratum >= 16), VOID_ENTP_LEAP_ALARM (leap 3),
 * VOID_ENTP_BAD_TIMESTAMP (receive or transmit 0, transmit before receive,
 * or a server hold time over a second), VOID_ENTP_ROOT_DISTANCE (root delay
 * / 2 + root dispersion >= 16 s). Returns 0 if the reply may be used. */
int void_ntp_check_reply(const struct void_ntp_packet *reply, uint64_t sent_xmt);

/* Computes offset and delay of a checked reply (RFC 5905 section 8):
 * t1_ns is the local send time, t4_ns the local receive time (both Unix ns
 * on the same local clock, t4 >= t1), t2/t3 come from the reply. A delay
 * slightly below zero (timestamp precision) is clamped to 0. Returns 0,
 * VOID_ENTP_BAD_DELAY (delay below -1 ms or above VOID_NTP_DELAY_MAX_NS), or
 * VOID_ENTP_BAD_TIMESTAMP (t4 < t1). */
int void_ntp_sample(const struct void_ntp_packet *reply,
                    uint64_t t1_ns,
                    uint64_t t4_ns,
                    struct void_ntp_sample *out);

/* Decodes, checks and measures in one call: the client's path for each
 * received datagram. buf is borrowed for the call; *reply and *out are
 * written (reply also on a check failure, e.g. to read a KoD). Returns 0 or
 * any error of the three calls above. */
int void_ntp_process_reply(const uint8_t *buf,
                           size_t len,
                           uint64_t sent_xmt,
                           uint64_t t1_ns,
                           uint64_t t4_ns,
                           struct void_ntp_packet *reply,
                           struct void_ntp_sample *out);

/* Nanoseconds of a 16.16 fixed-point seconds field. Cannot fail. */
int64_t void_ntp_short_to_ns(uint32_t v);

#endif

/*
 * Tests of the NTP packet code (src/core/ntp.c): timestamp conversion and
 * eras, wire round trips, every reply check, and the offset/delay
 * arithmetic of RFC 5905.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/error.h"
#include "void/ntp.h"

#include <string.h>

#define S  1000000000ull
#define MS 1000000ull

static const uint64_t NOW = 1795000000ull * S + 123456789ull; /* 2026-11-18 */

/* A well-formed reply to a request with transmit xmt: the server's clock is
 * server_off_ns ahead, the request took fwd_ns, the server held it hold_ns. */
static struct void_ntp_packet
reply_for(uint64_t xmt, uint64_t t1, int64_t server_off_ns, uint64_t fwd_ns, uint64_t hold_ns)
{
    struct void_ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.version = 4;
    p.mode = VOID_NTP_MODE_SERVER;
    p.stratum = 2;
    p.origin_ts = xmt;
    uint64_t t2 = (uint64_t)((int64_t)(t1 + fwd_ns) + server_off_ns);
    p.receive_ts = void_ntp_ts_from_unix_ns(t2);
    p.transmit_ts = void_ntp_ts_from_unix_ns(t2 + hold_ns);
    return p;
}

/* Setup: Unix times across 1970, today, the 2036 era rollover and 2100.
 * Action: convert to NTP timestamps and back with a pivot a year away.
 * Expected: the exact nanoseconds come back (rounding is to nearest and a
 * timestamp tick is ~0.23 ns), including across the era boundary. */
static void test_ntp_timestamp_round_trip_across_eras(void **state)
{
    (void)state;
    const uint64_t era_end = (1ull << 32) - VOID_NTP_UNIX_OFFSET_S; /* 2036-02-07 */
    const uint64_t times[] = {1 * S,
                              NOW,
                              era_end * S - 1,
                              era_end * S,
                              era_end * S + 999999999,
                              4102444800ull * S + 5}; /* 2100-01-01 */
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        uint64_t ts = void_ntp_ts_from_unix_ns(times[i]);
        uint64_t pivot = times[i] + 365ull * 86400 * S;
        assert_int_equal(void_ntp_ts_to_unix_ns(ts, pivot), times[i]);
        if (times[i] > 100 * S) {
            assert_int_equal(void_ntp_ts_to_unix_ns(ts, times[i] - 100 * S), times[i]);
        }
    }
    /* the first second of era 1 is a small number on the wire */
    assert_int_equal(void_ntp_ts_from_unix_ns(era_end * S) >> 32, 0);
}

/* Setup: a packet with every field set. Action: encode, decode. Expected:
 * identical fields; the first byte packs LI/VN/mode as RFC 5905 figure 8. */
static void test_ntp_encode_decode_round_trip(void **state)
{
    (void)state;
    struct void_ntp_packet p = {1,
                                4,
                                4,
                                3,
                                6,
                                -23,
                                0x00012345,
                                0x00006789,
                                0x7f000001,
                                0x1111111122222222ull,
                                0x3333333344444444ull,
                                0x5555555566666666ull,
                                0x7777777788888888ull};
    uint8_t buf[VOID_NTP_PACKET_SIZE];
    void_ntp_encode(&p, buf);
    assert_int_equal(buf[0], (1 << 6) | (4 << 3) | 4);
    struct void_ntp_packet q;
    assert_int_equal(void_ntp_decode(buf, sizeof(buf), &q), 0);
    assert_int_equal(q.leap, p.leap);
    assert_int_equal(q.version, p.version);
    assert_int_equal(q.mode, p.mode);
    assert_int_equal(q.stratum, p.stratum);
    assert_int_equal(q.poll, p.poll);
    assert_int_equal(q.precision, p.precision);
    assert_int_equal(q.root_delay, p.root_delay);
    assert_int_equal(q.root_dispersion, p.root_dispersion);
    assert_int_equal(q.ref_id, p.ref_id);
    assert_int_equal(q.ref_ts, p.ref_ts);
    assert_int_equal(q.origin_ts, p.origin_ts);
    assert_int_equal(q.receive_ts, p.receive_ts);
    assert_int_equal(q.transmit_ts, p.transmit_ts);
}

/* Setup: buffers of 0, 47 bytes and NULL. Action: decode. Expected:
 * VOID_ENTP_TRUNCATED each time; 48 bytes followed by an extension decode. */
static void test_ntp_decode_rejects_truncated(void **state)
{
    (void)state;
    uint8_t buf[64] = {0x24};
    struct void_ntp_packet q;
    assert_int_equal(void_ntp_decode(buf, 0, &q), VOID_ENTP_TRUNCATED);
    assert_int_equal(void_ntp_decode(buf, 47, &q), VOID_ENTP_TRUNCATED);
    assert_int_equal(void_ntp_decode(NULL, 48, &q), VOID_ENTP_TRUNCATED);
    assert_int_equal(void_ntp_decode(buf, 64, &q), 0);
}

/* Setup: a request with random transmit bits. Expected: client mode,
 * version 4, the random bits as transmit timestamp, nothing else that
 * reveals local time (origin, receive and reference are zero). */
static void test_ntp_request_carries_random_transmit_only(void **state)
{
    (void)state;
    struct void_ntp_packet p;
    void_ntp_request(&p, 0xdeadbeefcafef00dull, 4);
    assert_int_equal(p.mode, VOID_NTP_MODE_CLIENT);
    assert_int_equal(p.version, 4);
    assert_int_equal(p.transmit_ts, 0xdeadbeefcafef00dull);
    assert_int_equal(p.origin_ts | p.receive_ts | p.ref_ts, 0);
}

/* Setup: a valid reply, then one field broken at a time. Action: check
 * each. Expected: the specific error for each fault, 0 for the valid one. */
static void test_ntp_check_reply_rejects_each_fault(void **state)
{
    (void)state;
    const uint64_t xmt = 0x0123456789abcdefull;
    struct void_ntp_packet ok = reply_for(xmt, NOW, 0, MS, 10000), p;
    assert_int_equal(void_ntp_check_reply(&ok, xmt), 0);
    p = ok, p.mode = VOID_NTP_MODE_CLIENT;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_MODE);
    p = ok, p.version = 2;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_VERSION);
    p = ok, p.origin_ts = xmt + 1;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_ORIGIN);
    p = ok, p.origin_ts = 0;
    assert_int_equal(void_ntp_check_reply(&p, 0), VOID_ENTP_ORIGIN);
    p = ok, p.stratum = 0, p.ref_id = 0x52415445; /* RATE */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_KOD_RATE);
    p.ref_id = 0x44454e59; /* DENY */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_KOD_DENY);
    p.ref_id = 0x52535452; /* RSTR */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_KOD_RSTR);
    p.ref_id = 0x494e4954; /* INIT */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_KOD);
    p.origin_ts = 42; /* a spoofed KoD does not count as a KoD */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_ORIGIN);
    p = ok, p.stratum = 16;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_UNSYNC);
    p = ok, p.leap = VOID_NTP_LEAP_ALARM;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_LEAP_ALARM);
    p = ok, p.transmit_ts = 0;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_BAD_TIMESTAMP);
    p = ok, p.receive_ts = 0;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_BAD_TIMESTAMP);
    p = ok, p.transmit_ts = ok.receive_ts - (1ull << 32); /* sent before received */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_BAD_TIMESTAMP);
    p = ok, p.transmit_ts = ok.receive_ts + (5ull << 32); /* held 5 s */
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_BAD_TIMESTAMP);
    p = ok, p.root_dispersion = 17u << 16;
    assert_int_equal(void_ntp_check_reply(&p, xmt), VOID_ENTP_ROOT_DISTANCE);
}

/* Setup: a server 250 ms ahead, 1 ms each way, 30 us hold. Action: compute
 * the sample. Expected: offset 250 ms and delay 2 ms (to the nanosecond,
 * give or take timestamp rounding). An asymmetric path (3 ms out, 1 ms
 * back) shifts the offset by half the asymmetry, as RFC 5905 predicts. */
static void test_ntp_sample_computes_offset_and_delay(void **state)
{
    (void)state;
    const uint64_t xmt = 77;
    struct void_ntp_packet p = reply_for(xmt, NOW, 250 * (int64_t)MS, MS, 30000);
    struct void_ntp_sample s;
    assert_int_equal(void_ntp_sample(&p, NOW, NOW + 2 * MS + 30000, &s), 0);
    assert_in_range(s.offset_ns, 250 * MS - 1, 250 * MS + 1);
    assert_in_range(s.delay_ns, 2 * MS - 1, 2 * MS + 1);
    assert_int_equal(s.stratum, 2);
    p = reply_for(xmt, NOW, -(int64_t)(3 * S), 3 * MS, 0);
    assert_int_equal(void_ntp_sample(&p, NOW, NOW + 4 * MS, &s), 0);
    assert_in_range(
        s.offset_ns, -(int64_t)(3 * S) + (int64_t)MS - 1, -(int64_t)(3 * S) + (int64_t)MS + 1);
    assert_in_range(s.delay_ns, 4 * MS - 1, 4 * MS + 1);
}

/* Setup: replies implying a negative round trip (server hold longer than
 * the whole exchange), a t4 before t1, and a 20 s round trip. Expected:
 * VOID_ENTP_BAD_DELAY, VOID_ENTP_BAD_TIMESTAMP, VOID_ENTP_BAD_DELAY. */
static void test_ntp_sample_rejects_absurd_delay(void **state)
{
    (void)state;
    struct void_ntp_packet p = reply_for(1, NOW, 0, MS, 500 * MS);
    struct void_ntp_sample s;
    assert_int_equal(void_ntp_sample(&p, NOW, NOW + 2 * MS, &s), VOID_ENTP_BAD_DELAY);
    assert_int_equal(void_ntp_sample(&p, NOW, NOW - 1, &s), VOID_ENTP_BAD_TIMESTAMP);
    p = reply_for(1, NOW, 0, MS, 0);
    assert_int_equal(void_ntp_sample(&p, NOW, NOW + 20 * S, &s), VOID_ENTP_BAD_DELAY);
}

/* Setup: a valid reply encoded to bytes. Action: process it whole, and
 * truncated. Expected: 0 with the right offset; VOID_ENTP_TRUNCATED. */
static void test_ntp_process_reply_end_to_end(void **state)
{
    (void)state;
    struct void_ntp_packet p = reply_for(99, NOW, -(int64_t)(7 * MS), 100000, 0), q;
    uint8_t buf[VOID_NTP_PACKET_SIZE];
    void_ntp_encode(&p, buf);
    struct void_ntp_sample s;
    assert_int_equal(void_ntp_process_reply(buf, sizeof(buf), 99, NOW, NOW + 200000, &q, &s), 0);
    assert_in_range(s.offset_ns, -(int64_t)(7 * MS) - 1, -(int64_t)(7 * MS) + 1);
    assert_int_equal(void_ntp_process_reply(buf, 20, 99, NOW, NOW + 200000, &q, &s),
                     VOID_ENTP_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntp_timestamp_round_trip_across_eras),
        cmocka_unit_test(test_ntp_encode_decode_round_trip),
        cmocka_unit_test(test_ntp_decode_rejects_truncated),
        cmocka_unit_test(test_ntp_request_carries_random_transmit_only),
        cmocka_unit_test(test_ntp_check_reply_rejects_each_fault),
        cmocka_unit_test(test_ntp_sample_computes_offset_and_delay),
        cmocka_unit_test(test_ntp_sample_rejects_absurd_delay),
        cmocka_unit_test(test_ntp_process_reply_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

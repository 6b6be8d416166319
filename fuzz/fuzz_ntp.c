/*
 * libFuzzer target for the NTP reply path (src/core/ntp.c): any bytes must
 * be decoded, checked and measured without crashing or tripping a
 * sanitizer, and a decoded header must re-encode to the same 48 bytes.
 * The first 8 input bytes double as the expected origin so that the fuzzer
 * can reach the checks behind the origin match.
 */
#include "void/assert.h"
#include "void/ntp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint64_t t1 = 1795000000ull * 1000000000ull;
    struct void_ntp_packet p;
    struct void_ntp_sample s;
    if (void_ntp_decode(data, size, &p) != 0) {
        VOID_ASSERT(size < VOID_NTP_PACKET_SIZE);
        return 0;
    }
    uint8_t again[VOID_NTP_PACKET_SIZE];
    void_ntp_encode(&p, again);
    VOID_ASSERT(memcmp(again, data, VOID_NTP_PACKET_SIZE) == 0);
    uint64_t t4 = t1 + (size > 48 ? (uint64_t)data[48] * 1000000ull : 1000000ull);
    int rc = void_ntp_process_reply(data, size, p.origin_ts, t1, t4, &p, &s);
    if (rc == 0) {
        VOID_ASSERT(s.delay_ns >= 0);
        VOID_ASSERT(s.delay_ns <= VOID_NTP_DELAY_MAX_NS);
    }
    (void)void_ntp_ts_to_unix_ns(p.transmit_ts, t1);
    return 0;
}

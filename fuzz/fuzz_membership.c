/*
 * libFuzzer target for the membership decoders (include/void/membership.h).
 * The first byte picks the input: 0 a configuration, 1 a suspicion, 2 a
 * configuration followed by 28 bytes of suspicion fed to a collector and a
 * one-entry certificate check. Whatever the input, nothing may crash, assert
 * or read out of bounds; an accepted configuration must re-encode to the
 * same bytes (the decoder accepts nothing the encoder could not produce) and
 * pass the invariant check that encoding asserts.
 */
#include "void/assert.h"
#include "void/membership.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct void_membership_config cfg;
static struct void_suspicion_collector collector;
static struct void_suspicion_cert cert;
static uint8_t out[VOID_MEMBERSHIP_ENCODED_MAX];

static void check_config(const uint8_t *buf, size_t len)
{
    if (void_membership_config_decode(&cfg, buf, len) != 0) {
        return;
    }
    VOID_ASSERT(void_membership_config_check(&cfg) == 0);
    int n = void_membership_config_encode(&cfg, out, sizeof out);
    VOID_ASSERT(n >= 0 && (size_t)n == len);
    VOID_ASSERT(memcmp(out, buf, len) == 0);
}

static void check_suspicion(const uint8_t *buf, size_t len)
{
    struct void_suspicion s;
    if (void_suspicion_decode(&s, buf, len) != 0) {
        return;
    }
    uint8_t again[VOID_SUSPICION_ENCODED_SIZE];
    void_suspicion_encode(&s, again);
    VOID_ASSERT(memcmp(again, buf, sizeof again) == 0);
}

static void check_collector(const uint8_t *buf, size_t len)
{
    if (len < VOID_SUSPICION_ENCODED_SIZE) {
        return;
    }
    size_t clen = len - VOID_SUSPICION_ENCODED_SIZE;
    struct void_suspicion s;
    if (void_membership_config_decode(&cfg, buf, clen) != 0 ||
        void_suspicion_decode(&s, buf + clen, VOID_SUSPICION_ENCODED_SIZE) != 0) {
        return;
    }
    void_suspicion_collector_reset(&collector, &cfg, 0);
    int rc = void_suspicion_collector_add(&collector, &s, s.hlc.wall_ns, &cert);
    if (rc >= 0) {
        VOID_ASSERT(cert.count >= 1);
        (void)void_suspicion_cert_check(&cfg, &cert, collector.window_ns);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    /* Copy so that ASan sees the exact bounds of the input. */
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    memcpy(buf, data + 1, len);
    switch (data[0] % 3) {
    case 0:
        check_config(buf, len);
        break;
    case 1:
        check_suspicion(buf, len);
        break;
    default:
        check_collector(buf, len);
        break;
    }
    free(buf);
    return 0;
}

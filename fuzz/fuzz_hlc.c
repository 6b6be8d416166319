/*
 * libFuzzer target for the HLC's human-facing parser (void_hlc_parse reads
 * what operators type, e.g. the time of a time-travel read) and the merge
 * rule. The input is a string: whatever parses must format and parse back to
 * the same timestamp. The first 24 bytes, read as (physical time, remote
 * wall, remote logical), also drive one update on a clock, which must either
 * reject a remote too far ahead or return a stamp after both the remote and
 * the clock's previous stamp.
 */
#include "void/error.h"
#include "void/hlc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t read_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        return;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    struct void_hlc_ts ts = {7, 7};
    int rc = void_hlc_parse(s, &ts);
    if (rc == 0) {
        char buf[VOID_HLC_FORMAT_MAX];
        struct void_hlc_ts back;
        if (void_hlc_format(ts, buf, sizeof(buf)) <= 0 || void_hlc_parse(buf, &back) != 0 ||
            void_hlc_compare(back, ts) != 0) {
            abort();
        }
    } else if (rc != VOID_EPARSE || ts.wall_ns != 7 || ts.logical != 7) {
        abort();
    }
    free(s);
}

static void fuzz_update(const uint8_t *data, size_t size)
{
    if (size < 24) {
        return;
    }
    struct void_hlc_config cfg = {.logical_max = (uint32_t)(data[23] % 4)};
    struct void_hlc h;
    void_hlc_init(&h, &cfg);
    uint64_t phys = read_u64(data) >> 2; /* keep 1 ns of headroom for overflow */
    struct void_hlc_ts prev = void_hlc_now_at(&h, phys);
    struct void_hlc_ts remote = {read_u64(data + 8) >> 2, (uint32_t)read_u64(data + 16)};
    struct void_hlc_ts out;
    int rc = void_hlc_update_at(&h, phys, remote, &out);
    if (rc == VOID_EHLC_AHEAD) {
        if (remote.wall_ns <= phys + h.max_offset_ns || h.count_rejected_ahead != 1) {
            abort();
        }
    } else if (rc != 0 || void_hlc_compare(out, remote) <= 0 || void_hlc_compare(out, prev) <= 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse(data, size);
    fuzz_update(data, size);
    return 0;
}

/*
 * libFuzzer target for the causal core (include/void/causal.h). The input is
 * cut into 72-byte event records. Each record must decode without crashing,
 * and an accepted one must re-encode to the same bytes (the decoder accepts
 * nothing the encoder could not write). Decoded events, with node ids folded
 * into a 4-node cluster, go through the verifier of a small index (so that
 * the horizon, the orphan buffer and every alert path are reached); then
 * walks, a cut and both exports run over whatever was accepted. Nothing may
 * crash or trip an assertion, whatever a Byzantine peer sends.
 */
#include "void/assert.h"
#include "void/causal.h"
#include "void/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODES    4
#define CAPACITY 32

static void sink(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    VOID_ASSERT(strlen(line) == len);
}

static void query(struct void_causal *c)
{
    struct void_causal_id out[CAPACITY];
    struct void_causal_walk w;
    uint64_t frontier[VOID_CAUSAL_NODES_MAX];
    bool past;
    for (uint32_t n = 0; n < NODES; n++) {
        struct void_causal_id id = {n, c->last[n]};
        if (id.seq == 0 || id.seq < c->base[n]) {
            continue;
        }
        VOID_ASSERT(void_causal_ancestors(c, id, 1000, out, CAPACITY, &w) == 0);
        VOID_ASSERT(w.count >= 1 && w.count <= CAPACITY);
        VOID_ASSERT(void_causal_descendants(c, id, 1000, out, CAPACITY, &w) == 0);
        VOID_ASSERT(void_causal_cut(c, c->last_hlc[n], frontier, &past) == 0);
        VOID_ASSERT(frontier[n] == c->last[n]);
    }
    static uint32_t scratch[CAPACITY * NODES];
    VOID_ASSERT(void_causal_export_shiviz(c, scratch, CAPACITY * NODES, sink, NULL) >= 0);
    VOID_ASSERT(void_causal_export_dot(c, sink, NULL) >= 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct void_causal c;
    struct void_causal_config cfg = {
        .nodes = NODES, .capacity = CAPACITY, .orphans_max = 4, .orphan_wait_max = 6};
    VOID_ASSERT(void_causal_init(&c, &cfg) == 0);
    for (size_t off = 0; off < size; off += VOID_CAUSAL_RECORD_SIZE) {
        size_t len = size - off < VOID_CAUSAL_RECORD_SIZE ? size - off : VOID_CAUSAL_RECORD_SIZE;
        struct void_causal_event ev;
        if (void_causal_decode(data + off, len, &ev) != 0) {
            continue;
        }
        uint8_t again[VOID_CAUSAL_RECORD_SIZE];
        void_causal_encode(&ev, again);
        VOID_ASSERT(memcmp(again, data + off, VOID_CAUSAL_RECORD_SIZE) == 0);
        ev.id.node %= NODES;
        ev.id.seq = ev.id.seq % 64 + 1; /* small seqs, so events meet */
        if (ev.kind == VOID_CAUSAL_RECEIVE) {
            ev.from.node %= NODES;
            ev.from.seq = ev.from.seq % 64 + 1;
        }
        int rc = void_causal_submit(&c, &ev);
        VOID_ASSERT(rc >= 0 || rc == VOID_EBAD_FIELD);
    }
    void_causal_flush(&c);
    VOID_ASSERT(c.orphan_count == 0);
    query(&c);
    void_causal_fini(&c);
    return 0;
}

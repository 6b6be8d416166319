/*
 * libFuzzer target for the PBFT replica core: everything a Byzantine peer can
 * send. Each input is a sequence of records (u16 length, frame bytes) fed to
 * a fresh replica (n = 4, self = 1, K = 4, window 8) with signature checks
 * off, so that mutated bodies reach every handler: pre-prepare, votes,
 * checkpoints, view changes, new views, state transfer. A record whose length
 * field has its top bit set fires a timer after its frame. The replica must
 * never assert, crash or overflow; peer input may only be rejected and
 * counted. Seeds in fuzz/corpus/fuzz_pbft are well-formed exchanges.
 *
 * Setting up a replica costs more than most inputs (its buffers are large),
 * so one replica serves 32 inputs in a row before it is set up afresh: a
 * crash may depend on the inputs just before it (rerun the crashing input
 * alone first; if it passes, rerun it after its predecessors).
 */
#include "void/codec.h"
#include "void/error.h"
#include "void/pbft.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct void_sign_keypair key;
static struct void_keyring ring;
static struct void_pbft_effect *effects;
static uint8_t *arena;
static struct void_pbft *replica;

static void fuzz_init(void)
{
    static int done;
    if (done) {
        return;
    }
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, 0x33, sizeof(seed));
    if (void_sign_global_init() != 0 || void_sign_keypair_from_seed(&key, seed) != 0) {
        abort();
    }
    /* A key per identity: the configuration refuses two members with one
     * key. We are replica 1 (key); signatures are off, so the others' keys
     * only need to differ. */
    void_keyring_init(&ring);
    for (uint32_t id = 0; id < 4; id++) {
        struct void_sign_keypair other;
        seed[0] = (uint8_t)(0x40 + id);
        if (void_sign_keypair_from_seed(&other, seed) != 0) {
            abort();
        }
        void_keyring_add(&ring, id, id == 1 ? key.public_key : other.public_key);
    }
    void_keyring_add(&ring, 100, key.public_key);
    effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*effects));
    arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    replica = calloc(1, sizeof(*replica));
    if (effects == NULL || arena == NULL || replica == NULL) {
        abort();
    }
    done = 1;
}

static uint64_t now = 1700000000000000000ull;

static void replica_setup(struct void_pbft_out *out)
{
    struct void_pbft_config cfg = {.n = 4,
                                   .self = 1,
                                   .checkpoint_interval = 4,
                                   .window = 8,
                                   .verify_signatures = 0,
                                   .keyring = &ring,
                                   .keypair = &key,
                                   };
    if (void_pbft_init(replica, &cfg) != 0 || void_pbft_start(replica, now, out) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t inputs;
    fuzz_init();
    struct void_pbft_out out;
    void_pbft_out_init(&out, effects, VOID_PBFT_OUT_EFFECTS_DEF, arena, VOID_PBFT_OUT_ARENA_DEF);
    if (inputs++ % 32 == 0) {
        if (inputs > 1) {
            void_pbft_fini(replica);
        }
        replica_setup(&out);
    }
    size_t off = 0;
    for (int guard = 0; guard < 64 && off + 2 <= size; guard++) {
        uint16_t field = (uint16_t)((data[off] << 8) | data[off + 1]);
        size_t len = field & 0x7fff;
        off += 2;
        if (len > size - off) {
            len = size - off;
        }
        void_pbft_out_reset(&out);
        now += 1000000;
        if (void_pbft_step_receive(replica, now, data + off, len, &out) != 0) {
            abort(); /* one frame never fills the default output space */
        }
        if (field & 0x8000) {
            void_pbft_out_reset(&out);
            now += 1000000000ull;
            void_pbft_step_timer(replica, now, (enum void_pbft_timer)(1 + len % 3), &out);
        }
        off += len;
    }
    return 0;
}

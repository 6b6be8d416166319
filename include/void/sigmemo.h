/*
 * A memo of signature checks (see struct void_sign_memo in
 * include/void/sign.h for why it answers exactly what Ed25519 would), for a
 * process that checks the same signatures again and again: the simulator,
 * where every broadcast frame is verified by each receiver and every client
 * request by each replica, and a view change re-verifies whole
 * certificates; Ed25519 verification was about 90 % of a run's CPU time.
 * (voidload used one too while its clients checked reply signatures; they
 * take replies on their tags now.)
 *
 * The memo keeps the exact bytes of each check with its outcome, so a frame
 * is verified once; signatures the process itself made are recorded as they
 * are made and never need the curve arithmetic at all. A check is answered
 * only when all its bytes equal a stored one: any frame that differs in one
 * bit from one that was signed or verified misses and goes to libsodium.
 * voidd never installs one.
 */
#ifndef VOID_SIGMEMO_H
#define VOID_SIGMEMO_H

#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

struct void_sigmemo_slot;

struct void_sigmemo {
    struct void_sigmemo_slot *slots; /* owned; open addressing */
    size_t cap;                      /* slots, a power of two */
    size_t count;                    /* slots in use */
    uint8_t *arena;                  /* owned; the bytes of the stored checks */
    size_t arena_cap;                /* bytes */
    size_t arena_used;               /* bytes, from the start */
    uint64_t hits;                   /* lookups answered from the memo */
    uint64_t misses;                 /* lookups that went to libsodium */
    uint64_t records;                /* outcomes offered (signatures made + real checks) */
    uint64_t clears;                 /* times the memo was full and started over */
    struct void_sign_memo ops;       /* what void_sign_memo_install is given */
};

/* Sets up an empty memo of 2^cap_log2 slots (cap_log2 in 4..24) and 256
 * arena bytes per slot; it forgets everything when half the slots or the
 * whole arena are used (a check of over a quarter of the arena is never
 * stored). Returns 0, VOID_EINVAL (cap_log2 out of range)
 * or VOID_ENOMEM. fini is safe after a failed init. */
int void_sigmemo_init(struct void_sigmemo *memo, unsigned cap_log2);

/* Frees the slots. Must not be installed any more. Cannot fail. */
void void_sigmemo_fini(struct void_sigmemo *memo);

/* Installs memo process-wide (void_sign_memo_install(&memo->ops)); memo must
 * stay alive until void_sigmemo_uninstall. Cannot fail. */
void void_sigmemo_install(struct void_sigmemo *memo);

/* Removes any installed memo (void_sign_memo_install(NULL)). Cannot fail. */
void void_sigmemo_uninstall(void);

#endif

/*
 * Authentication of fault-injection requests (docs/chaos.md). A node's
 * POST /fault changes its links (delay, loss, a block list, isolation), so
 * it is taken only when the node's config turns it on ([fault] control = 1)
 * and only when signed by the admin key the config names ([clients]
 * admin_key), with a timestamp and a nonce so that a captured request cannot
 * be replayed: not later (the timestamp must be within
 * VOID_FAULT_AUTH_WINDOW_MS of the node's clock), not in the window (the
 * node remembers the nonces it took), and not at another node (the target id
 * is signed).
 *
 * The signed bytes are a canonical text built from the parsed values, never
 * from the query string as sent, so what is checked is what is applied:
 *   "void-fault/1 node=N ts_ms=T nonce=HEX32 delay_ms=D loss_pct=L isolate=I block=a,b"
 * followed by " skew_ms=S" when the clock skew is not 0 and " byz=B" when a
 * Byzantine strategy is asked (so a request without them signs as before),
 * signed by Ed25519 in domain FAULT.
 *
 * Pure: the caller passes the time; voidd (src/io/node_fault.c) and
 * `voidctl fault` share it, so the two cannot drift.
 */
#ifndef VOID_FAULT_AUTH_H
#define VOID_FAULT_AUTH_H

#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_FAULT_AUTH_WINDOW_MS  30000u /* |ts - node clock| allowed */
#define VOID_FAULT_AUTH_NONCE_SIZE 16
#define VOID_FAULT_AUTH_SEEN_MAX   256 /* nonces a node remembers */
#define VOID_FAULT_BLOCK_MAX       64  /* ids in a block list (VOID_TRANSPORT_PEERS_MAX) */
#define VOID_FAULT_AUTH_MSG_MAX    (200 + 11 * VOID_FAULT_BLOCK_MAX)
#define VOID_FAULT_SKEW_MS_MAX     600000 /* |skew_ms|: ten minutes */

/* One request: the knobs it sets on node `node` and its freshness. */
struct void_fault_request {
    uint32_t node;
    uint32_t delay_ms;
    uint32_t loss_pct;
    uint32_t isolate;
    uint32_t count_blocked;
    uint32_t blocked[VOID_FAULT_BLOCK_MAX];
    int32_t skew_ms; /* added to the node's clock (its timekeeper's correction) */
    uint32_t byz;    /* enum void_transport_byz: a Byzantine strategy, 0 none */
    uint64_t ts_ms;  /* the signer's wall clock, ms since the Unix epoch */
    uint8_t nonce[VOID_FAULT_AUTH_NONCE_SIZE];
};

/* Writes the canonical text of r into out[0..cap) (NUL-terminated). Returns
 * its length, or VOID_EOVERSIZED when cap is too small (cap of
 * VOID_FAULT_AUTH_MSG_MAX always fits). */
int void_fault_request_text(const struct void_fault_request *r, char *out, size_t cap);

/* Signs r with kp (borrowed for the call) into sig. Returns 0 or the errors
 * of void_sign. */
int void_fault_request_sign(const struct void_fault_request *r,
                            const struct void_sign_keypair *kp,
                            uint8_t sig[VOID_SIGN_SIZE]);

/* Checks sig over r by admin_key. Returns 0 or VOID_EBAD_SIG. */
int void_fault_request_verify(const struct void_fault_request *r,
                              const uint8_t admin_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                              const uint8_t sig[VOID_SIGN_SIZE]);

/* The nonces a node took, to refuse a replay. A request is taken when its
 * ts_ms is within the window of now_ms, above `floor_ms` (the newest
 * timestamp among nonces forgotten to make room) and its nonce is not
 * remembered; then its nonce is remembered, the oldest forgotten when full.
 * A replay therefore finds its nonce remembered, or its timestamp at or
 * below the floor, or outside the window. Zero-initialised is empty. */
struct void_fault_replay {
    uint64_t floor_ms;
    uint32_t next;
    uint32_t count;
    struct {
        uint64_t ts_ms;
        uint8_t nonce[VOID_FAULT_AUTH_NONCE_SIZE];
    } seen[VOID_FAULT_AUTH_SEEN_MAX];
};

/* Admits (ts_ms, nonce) at now_ms and remembers it. Returns 0,
 * VOID_ERANGE (outside the window, or at or below the floor) or
 * VOID_EEXIST (the nonce was taken before: a replay). */
int void_fault_replay_admit(struct void_fault_replay *rp,
                            uint64_t ts_ms,
                            const uint8_t nonce[VOID_FAULT_AUTH_NONCE_SIZE],
                            uint64_t now_ms);

#endif

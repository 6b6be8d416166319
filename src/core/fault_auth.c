/*
 * Signed fault-injection requests and their replay filter
 * (include/void/fault_auth.h). Pure: the time arrives as an argument.
 */
#include "void/fault_auth.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdio.h>
#include <string.h>

int void_fault_request_text(const struct void_fault_request *r, char *out, size_t cap)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(r->count_blocked <= VOID_FAULT_BLOCK_MAX);
    char nonce[2 * VOID_FAULT_AUTH_NONCE_SIZE + 1];
    for (size_t i = 0; i < VOID_FAULT_AUTH_NONCE_SIZE; i++) {
        (void)snprintf(nonce + 2 * i, 3, "%02x", r->nonce[i]);
    }
    int n = snprintf(out,
                     cap,
                     "void-fault/1 node=%u ts_ms=%llu nonce=%s delay_ms=%u loss_pct=%u "
                     "isolate=%u block=",
                     (unsigned)r->node,
                     (unsigned long long)r->ts_ms,
                     nonce,
                     (unsigned)r->delay_ms,
                     (unsigned)r->loss_pct,
                     (unsigned)r->isolate);
    if (n < 0 || (size_t)n >= cap) {
        return VOID_EOVERSIZED;
    }
    size_t at = (size_t)n;
    for (uint32_t i = 0; i < r->count_blocked; i++) {
        n = snprintf(out + at, cap - at, "%s%u", i > 0 ? "," : "", (unsigned)r->blocked[i]);
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
        at += (size_t)n;
    }
    /* Appended only when set: a request without them signs as it always did. */
    if (r->skew_ms != 0) {
        n = snprintf(out + at, cap - at, " skew_ms=%ld", (long)r->skew_ms);
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
        at += (size_t)n;
    }
    if (r->byz != 0) {
        n = snprintf(out + at, cap - at, " byz=%u", (unsigned)r->byz);
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
        at += (size_t)n;
    }
    return (int)at;
}

int void_fault_request_sign(const struct void_fault_request *r,
                            const struct void_sign_keypair *kp,
                            uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(r != NULL && kp != NULL);
    VOID_ASSERT(sig != NULL);
    char text[VOID_FAULT_AUTH_MSG_MAX];
    int n = void_fault_request_text(r, text, sizeof(text));
    if (n < 0) {
        return n;
    }
    return void_sign(kp, VOID_SIGN_DOMAIN_FAULT, (const uint8_t *)text, (size_t)n, sig);
}

int void_fault_request_verify(const struct void_fault_request *r,
                              const uint8_t admin_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                              const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(r != NULL && admin_key != NULL);
    VOID_ASSERT(sig != NULL);
    char text[VOID_FAULT_AUTH_MSG_MAX];
    int n = void_fault_request_text(r, text, sizeof(text));
    if (n < 0) {
        return VOID_EBAD_SIG;
    }
    int rc =
        void_sign_verify(admin_key, VOID_SIGN_DOMAIN_FAULT, (const uint8_t *)text, (size_t)n, sig);
    return rc == 0 ? 0 : VOID_EBAD_SIG;
}

int void_fault_replay_admit(struct void_fault_replay *rp,
                            uint64_t ts_ms,
                            const uint8_t nonce[VOID_FAULT_AUTH_NONCE_SIZE],
                            uint64_t now_ms)
{
    VOID_ASSERT(rp != NULL && nonce != NULL);
    VOID_ASSERT(rp->count <= VOID_FAULT_AUTH_SEEN_MAX && rp->next < VOID_FAULT_AUTH_SEEN_MAX);
    uint64_t skew = ts_ms > now_ms ? ts_ms - now_ms : now_ms - ts_ms;
    if (skew > VOID_FAULT_AUTH_WINDOW_MS || ts_ms <= rp->floor_ms) {
        return VOID_ERANGE;
    }
    for (uint32_t i = 0; i < rp->count; i++) {
        if (memcmp(rp->seen[i].nonce, nonce, VOID_FAULT_AUTH_NONCE_SIZE) == 0) {
            return VOID_EEXIST;
        }
    }
    if (rp->count == VOID_FAULT_AUTH_SEEN_MAX) {
        /* Forgetting a nonce raises the floor past its timestamp, so the
         * request it stood for stays refused. */
        uint64_t old = rp->seen[rp->next].ts_ms;
        rp->floor_ms = old > rp->floor_ms ? old : rp->floor_ms;
    } else {
        rp->count++;
    }
    rp->seen[rp->next].ts_ms = ts_ms;
    memcpy(rp->seen[rp->next].nonce, nonce, VOID_FAULT_AUTH_NONCE_SIZE);
    rp->next = (rp->next + 1) % VOID_FAULT_AUTH_SEEN_MAX;
    return 0;
}

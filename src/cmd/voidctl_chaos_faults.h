/*
 * The chaos engine's faults beyond the network and the process (docs/chaos.md):
 * clock skew, disk full, file corruption, memory pressure, CPU burn and
 * Byzantine messages. voidctl_chaos.c plans the experiments and runs the
 * checkers; it hands each of these faults here through the small table
 * below, with callbacks for what it owns (the nodes' pids, restarting a
 * node, a signed /fault request). One fault runs at a time, so the state a
 * fault keeps between its start and its heal lives in this file.
 */
#ifndef VOID_CMD_VOIDCTL_CHAOS_FAULTS_H
#define VOID_CMD_VOIDCTL_CHAOS_FAULTS_H

#include "void/config.h"
#include "void/fault_auth.h"
#include "void/prng.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CHAOS_FX_MAP(X)                                                                            \
    X(SKEW, "skew")       /* the node's clock shifted through /fault skew_ms */                    \
    X(DISK, "disk")       /* its data directory on a small tmpfs, filled up */                     \
    X(CORRUPT, "corrupt") /* a byte flipped in its record log while it is stopped */               \
    X(MEMORY, "memory")   /* a memory cgroup a little above what it uses */                        \
    X(CPU, "cpu")         /* pinned to one CPU beside stress-ng burning it */                      \
    X(BYZ, "byzantine")   /* a simulator strategy switched on through /fault byz */                \
    X(CAS, "corrupt-cas") /* a byte of a stored file's block flipped in its block store */

enum chaos_fx {
#define VOID__X(name, text) CHAOS_FX_##name,
    CHAOS_FX_MAP(VOID__X)
#undef VOID__X
        CHAOS_FX_COUNT
};

extern const char *const chaos_fx_names[CHAOS_FX_COUNT];

/* What the faults may use of the engine; ctx is handed back to each call. */
struct chaos_fx_env {
    const char *dir; /* the cluster directory (absolute) */
    uint32_t n;
    double fault_s;
    FILE *info;                        /* progress lines */
    const struct void_config *cluster; /* the replicas' HTTP addresses */
    void *ctx;
    pid_t (*node_pid)(void *ctx, uint32_t node);   /* 0: not running */
    pid_t (*start_node)(void *ctx, uint32_t node); /* 0: could not */
    int (*set_fault)(void *ctx, uint32_t node, const struct void_fault_request *r);
};

/* Draws the magnitude of fault fx (a table index or a count) from prng. */
uint32_t chaos_fx_amount(enum chaos_fx fx, struct void_prng *prng);

/* "node 2: clock 2000 ms ahead for 3.0 s (beyond the HLC's 500 ms)". */
void chaos_fx_describe(
    enum chaos_fx fx, uint32_t amount, const char *who, double fault_s, char *out, size_t cap);

/* Starts fault fx on node. Returns 0, or -1 after a message saying why
 * (no permission on this machine, a refused /fault, ...). */
int chaos_fx_inject(const struct chaos_fx_env *env,
                    enum chaos_fx fx,
                    uint32_t node,
                    uint32_t amount);

/* Ends it and undoes what it changed (also after a failed inject). Returns 0
 * or -1 after a message. */
int chaos_fx_heal(const struct chaos_fx_env *env, enum chaos_fx fx, uint32_t node, uint32_t amount);

#endif

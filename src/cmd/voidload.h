/*
 * Shared declarations of the voidload modes (src/cmd/voidload*.c).
 */
#ifndef VOID_CMD_VOIDLOAD_H
#define VOID_CMD_VOIDLOAD_H

#include <stdint.h>
#include <uv.h>

#define VOIDLOAD_CLIENTS_MAX  128
#define VOIDLOAD_LIN_KEYS_MAX 64

/* Runs the linearizability workload of voidload_lin.c on loop against the
 * cluster directory dir (client files client-100.ini...) and checks the
 * history. Gets are read-only requests (docs/pbft.md) unless ordered_reads.
 * Returns the exit status: 0 linearizable, 1 otherwise. */
int voidload_lin(uv_loop_t *loop,
                 const char *dir,
                 uint32_t clients,
                 double secs,
                 uint32_t keys,
                 int ordered_reads);

#endif

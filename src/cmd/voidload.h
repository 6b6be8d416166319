/*
 * Shared declarations of the voidload modes (src/cmd/voidload*.c).
 */
#ifndef VOID_CMD_VOIDLOAD_H
#define VOID_CMD_VOIDLOAD_H

#include <stdint.h>
#include <uv.h>

#define VOIDLOAD_CLIENTS_MAX  128
#define VOIDLOAD_LIN_KEYS_MAX 64
/* once: distinct clients in a run, and at once (each has its connections). */
#define VOIDLOAD_ONCE_CLIENTS_MAX 1000000
#define VOIDLOAD_ONCE_WAVE_MAX    1000

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

/* Runs the at-most-once check of voidload_once.c on loop against the
 * cluster directory dir (the replicas from DIR/client-100.ini): clients
 * distinct certified clients (ids first_id.., certificates signed with the
 * secret key in the file admin_key), wave at a time, each putting a key of
 * its own once and retransmitting the same request after the answer, which
 * must be the first answer again. retry_ns: the clients' first retry;
 * progress_ns: a line on stderr at most this often (0: none). Returns the
 * exit status: 0 every client's put executed once, 1 otherwise. */
int voidload_once(uv_loop_t *loop,
                  const char *dir,
                  const char *admin_key,
                  uint32_t clients,
                  uint32_t wave,
                  uint32_t first_id,
                  uint64_t retry_ns,
                  uint64_t progress_ns);

#endif

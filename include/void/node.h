/*
 * One Void node: the libuv driver that runs the pure PBFT replica core
 * against the real world (DESIGN.md section 1).
 *
 * It feeds the core received frames (from the transport), timer expiries
 * (libuv timers armed by the core's TIMER_SET effects) and physical time
 * (CLOCK_REALTIME, or the timekeeper's disciplined clock once wired), and
 * performs the core's effects in order: SEND through the transport, PERSIST
 * into the LMDB record store with a synchronous commit *before* any later
 * effect (so a reply never leaves before what it depends on is on disk),
 * TIMER_SET/CANCEL on libuv timers, EVENT into the log at debug level.
 *
 * On start the node reads back every persisted record and hands them to the
 * core's recover function; a node with an empty data directory starts fresh
 * and catches up from its peers (state transfer). It serves /status,
 * /metrics and the test control /fault over HTTP, and stops cleanly on
 * SIGTERM or SIGINT.
 */
#ifndef VOID_NODE_H
#define VOID_NODE_H

#include "void/config.h"

#include <stddef.h>

struct void_node;

/* The owner a node records in its block store (data_dir/cas): the names that
 * keep those blocks alive are committed in the replicated state, which the
 * store cannot see, so `voidctl cas gc` refuses a store with this owner. */
#define VOID_NODE_CAS_OWNER "voidd"

/* The lock file in a data directory (holds the pid of the process that has
 * it flock'ed). */
#define VOID_NODE_LOCK_NAME "LOCK"

/* Takes an exclusive flock(2) on dir/LOCK (creating dir, mode 0700, and the
 * file), writes this process's pid into it and hands its descriptor to
 * *fd_out: closing it releases the lock. Call before anything else touches
 * the directory; a process that writes into a node's data directory (a
 * store tool) should take it too. On failure errbuf says why, naming the
 * holder's pid when another process has the lock. Errors: VOID_EBUSY (held
 * by another process), VOID_EPERM, VOID_EIO, VOID_EINVAL (path too long).
 * *fd_out is -1 on failure. */
int void_node_lock_data_dir(const char *dir, int *fd_out, char *errbuf, size_t errcap);

/* Sets up a node from config (borrowed until void_node_free; the node
 * appends a [replica] entry to it for each member that joins and that the
 * file does not list, under its lock: docs/membership.md, "Joining a
 * running cluster"): opens the
 * store, recovers, binds the listener and the HTTP server, starts dialling.
 * It holds the data directory's lock (void_node_lock_data_dir) until
 * void_node_free. On failure errbuf says why (directory in use by another
 * node, port in use, store unreadable, ids not 0..n-1...). Errors: VOID_EINVAL, VOID_EBUSY,
 * VOID_EIO, VOID_ENOMEM, VOID_ECORRUPT. *out is set on success only. */
int void_node_new(struct void_node **out,
                  struct void_config *config,
                  char *errbuf,
                  size_t errcap);

/* Runs the event loop until SIGTERM/SIGINT or a fatal error (a failed disk
 * write: continuing could break a promise). Returns 0 after a clean stop or a
 * negative code. */
int void_node_run(struct void_node *node);

/* Whether the fatal error void_node_run returned was a write the state
 * store or the record log could not make for lack of space: voidd then
 * frees the node, waits for space and starts again in place
 * (docs/operations.md, "Disk full"). */
int void_node_stopped_disk_full(const struct void_node *node);

/* Frees everything. Safe with NULL. Cannot fail. */
void void_node_free(struct void_node *node);

#endif

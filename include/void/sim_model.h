/*
 * The simulator's model of the world: a virtual-time event queue, a network of
 * links with delay, loss, duplication, reordering and partitions, per-node
 * physical clocks with offset, drift and jumps, and per-node disks that lose
 * unsynced records on a crash.
 *
 * Nothing here performs real I/O or reads a real clock. All randomness comes
 * from a void_prng passed in by the caller, so one seed reproduces a run.
 * These pieces are independent of any protocol: src/sim/sim.c wires them to the
 * PBFT replicas and clients.
 */
#ifndef VOID_SIM_MODEL_H
#define VOID_SIM_MODEL_H

#include "void/prng.h"

#include <stddef.h>
#include <stdint.h>

/* ---- event queue ------------------------------------------------------ */

/* One scheduled event. The queue orders by at_ns and breaks ties by the order
 * of insertion (seq), so the schedule never depends on heap layout. kind,
 * node, arg and data are the caller's; data is owned by the caller (the queue
 * never frees it). */
struct void_simq_item {
    uint64_t at_ns;
    uint64_t seq;
    uint32_t kind;
    uint32_t node;
    uint64_t arg;
    void *data;
};

struct void_simq {
    struct void_simq_item *heap;
    size_t count;
    size_t cap;
    uint64_t next_seq;
};

/* Initialises an empty queue. Cannot fail (storage grows on push). */
void void_simq_init(struct void_simq *q);

/* Frees the queue's storage; the caller frees the items' data first (see
 * void_simq_pop). Safe on a zeroed struct. */
void void_simq_fini(struct void_simq *q);

/* Schedules item (copied; item->seq is assigned). Returns 0 or VOID_ENOMEM. */
int void_simq_push(struct void_simq *q, const struct void_simq_item *item);

/* Removes the earliest event into *out. Returns 0, or VOID_ENOTFOUND when the
 * queue is empty. */
int void_simq_pop(struct void_simq *q, struct void_simq_item *out);

/* Time of the earliest event, or UINT64_MAX when empty. Cannot fail. */
uint64_t void_simq_peek_time(const struct void_simq *q);

/* ---- network ------------------------------------------------------------ */

#define VOID_SIMNET_NODES_MAX 64

/* Behaviour of one directed link. Delays are in virtual nanoseconds. */
struct void_simnet_link {
    uint64_t delay_ns_min;
    uint64_t delay_ns_max;   /* uniform in [min, max] */
    uint32_t loss_ppm;       /* probability a frame is dropped, parts per million */
    uint32_t dup_ppm;        /* probability a frame is delivered twice */
    uint32_t reorder_ppm;    /* probability a frame gets an extra delay */
    uint64_t reorder_ns_max; /* extra delay, uniform in [0, max] */
};

struct void_simnet {
    uint32_t count_nodes;
    struct void_simnet_link links[VOID_SIMNET_NODES_MAX][VOID_SIMNET_NODES_MAX];
    uint8_t cut[VOID_SIMNET_NODES_MAX][VOID_SIMNET_NODES_MAX]; /* 1 = partitioned */
    /* counters */
    uint64_t count_sent;
    uint64_t count_lost;
    uint64_t count_cut;
    uint64_t count_dup;
    uint64_t count_reordered;
};

/* Sets up count_nodes endpoints, every link set to *link (copied), no cuts.
 * Returns 0 or VOID_EINVAL (count_nodes 0 or > VOID_SIMNET_NODES_MAX). */
int void_simnet_init(struct void_simnet *net,
                     uint32_t count_nodes,
                     const struct void_simnet_link *link);

/* Decides the fate of one frame from -> to sent at now_ns: writes 0, 1 or 2
 * delivery times into at_ns[] and returns how many. Draws from prng only for
 * the link's random choices, in a fixed order. Cannot fail. */
int void_simnet_route(struct void_simnet *net,
                      struct void_prng *prng,
                      uint32_t from,
                      uint32_t to,
                      uint64_t now_ns,
                      uint64_t at_ns[2]);

/* Cuts (cut = 1) or heals (cut = 0) both directions between a and b. */
void void_simnet_set_cut(struct void_simnet *net, uint32_t a, uint32_t b, int cut);

/* Isolates node from every other node (both directions). */
void void_simnet_isolate(struct void_simnet *net, uint32_t node);

/* Heals every cut. */
void void_simnet_heal_all(struct void_simnet *net);

/* ---- clocks ------------------------------------------------------------- */

/* A node's physical clock: phys = epoch + vt + offset + vt * drift_ppb / 1e9,
 * where offset changes by jumps. Never reads a real clock. */
struct void_simclock {
    uint64_t epoch_ns; /* physical time at virtual time 0 */
    int64_t offset_ns; /* current offset, changed by jumps */
    int64_t drift_ppb; /* frequency error in parts per billion */
};

/* Physical time of clock c at virtual time vt_ns. Saturates at 0 rather than
 * wrapping for large negative offsets. Cannot fail. */
uint64_t void_simclock_read(const struct void_simclock *c, uint64_t vt_ns);

/* ---- disk --------------------------------------------------------------- */

/* An append-only record log per node. Records up to `synced` survive a crash;
 * later ones are lost. The simulator maps the replica's persist effects onto
 * it and replays the surviving records on restart. */
struct void_simdisk_record {
    uint8_t *data;
    size_t len;
};

struct void_simdisk {
    struct void_simdisk_record *records;
    size_t count;
    size_t cap;
    size_t synced;       /* records [0, synced) are durable */
    uint64_t count_lost; /* records dropped by crashes */
};

/* Empty disk. Cannot fail. */
void void_simdisk_init(struct void_simdisk *d);

/* Frees every record. Safe on a zeroed struct. */
void void_simdisk_fini(struct void_simdisk *d);

/* Appends a copy of data[0..len). Returns 0 or VOID_ENOMEM. */
int void_simdisk_append(struct void_simdisk *d, const uint8_t *data, size_t len);

/* Makes every record appended so far durable. Cannot fail. */
void void_simdisk_sync(struct void_simdisk *d);

/* A crash: drops the unsynced records and returns how many were lost. */
size_t void_simdisk_crash(struct void_simdisk *d);

#endif

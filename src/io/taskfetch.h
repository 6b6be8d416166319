/*
 * Materialising a task's inputs on the node that runs it (docs/scheduler.md,
 * "Execution"): the blocks of an input the node's store lacks are fetched
 * from the input's holders, nearest first by the cluster file's locations
 * (same host, rack, datacenter, across), then from any other replica (which
 * relays the fetch to its peers). Every block is named by its hash and
 * recomputed on arrival, so a holder is trusted for nothing. Fetched blocks
 * go through the node's block writer thread (the loop thread never writes
 * the store); a file or directory object is written only once all its
 * children are stored, so an object present in the store always has its
 * whole tree, which is what "has the root" checks. Internal to voidd.
 */
#ifndef VOID_IO_TASKFETCH_H
#define VOID_IO_TASKFETCH_H

#include "void/cas.h"
#include "void/caswriter.h"
#include "void/codec.h"
#include "void/config.h"
#include "void/kvclient.h"
#include "void/task.h"

#include <stdint.h>

/* Distance classes of docs/scheduler.md: same host, rack, datacenter, across. */
enum { VOID__TASKFETCH_CLASSES = 4 };

#define VOID__TASKFETCH_WINDOW 32   /* fetches in flight */
#define VOID__TASKFETCH_RETRY  2000 /* ms without an answer: ask the next replica */

struct void__taskfetch_want {
    struct void_hash hash;
    uint64_t job;       /* the task id it is for */
    uint64_t *moved;    /* the job's bytes by distance class (borrowed) */
    uint8_t state;      /* 0 to ask, 1 asked, 2 arrived (object held), 3 written */
    uint8_t kind;       /* known on arrival */
    uint8_t *object;    /* a file or directory object, until its children are stored */
    size_t object_len;
    uint32_t tries;     /* replicas asked so far (the next one is target(tries)) */
    uint32_t asked;     /* the replica asked last */
    uint64_t asked_ms;
    uint32_t holder_count; /* the input's holders, nearest first */
    uint32_t holders[VOID_TASK_HOLDERS_MAX];
};

struct void__taskfetch {
    const struct void_config *node; /* borrowed: self id, the replicas' locations */
    struct void_cas *cas;           /* borrowed: read here, written by writer */
    struct void_caswriter *writer;  /* borrowed */
    struct void_kvclient *kv;       /* borrowed: the fetches go out as this client */
    struct void__taskfetch_want *want;
    size_t count, cap;
    uint32_t in_flight;
    uint64_t now_ms; /* the last tick's loop time */
    /* Totals since start, for the metrics. */
    uint64_t bytes[VOID__TASKFETCH_CLASSES];
    uint64_t blocks[VOID__TASKFETCH_CLASSES];
    uint64_t failed; /* blocks no replica had */
};

void void__taskfetch_init(struct void__taskfetch *f,
                          const struct void_config *node,
                          struct void_cas *cas,
                          struct void_caswriter *writer,
                          struct void_kvclient *kv);
void void__taskfetch_fini(struct void__taskfetch *f);

/* The distance class (0 host .. 3 across) between replicas a and b by the
 * node's cluster file; 3 when either is not in it. */
int void__taskfetch_class(const struct void_config *node, uint32_t a, uint32_t b);

/* Makes input `in` of task `job` present in the store: 0 when it already
 * is, 1 when its fetch has begun (moved[class] counts its bytes as they
 * arrive), VOID_ENOMEM. */
int void__taskfetch_add(struct void__taskfetch *f,
                        uint64_t job,
                        const struct void_task_input *in,
                        uint64_t moved[VOID__TASKFETCH_CLASSES]);

/* Where the fetches of job stand: 0 done (every block written), 1 under
 * way, VOID_ECAS_MISSING (a block no replica has; the job's fetches are
 * dropped). */
int void__taskfetch_status(struct void__taskfetch *f, uint64_t job);

/* Forgets the fetches of job (it ended or no longer runs here). */
void void__taskfetch_drop(struct void__taskfetch *f, uint64_t job);

/* A verified frame for the node's task client: a block or a MISSING. */
void void__taskfetch_frame(struct void__taskfetch *f, const struct void_frame *frame);

/* Sends what is due; with full, also retries, writes objects whose children
 * are stored and forgets written blocks (the timer's tick; a frame's
 * arrival calls it with full = 0). now_ms is the loop's time. */
void void__taskfetch_tick(struct void__taskfetch *f, uint64_t now_ms, int full);

#endif

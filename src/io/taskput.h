/*
 * Copies of a task's output on other members (docs/scheduler.md,
 * "Execution"): before the member that ran a task reports it, it uploads
 * the output's blocks from its own store to f other members, nearest first,
 * the way `voidctl put --file --on` uploads to chosen holders (a CAS_BLOCK
 * frame per block under the task client's identity; a member answers STORED
 * once the block is durable, or at once when it had it). With the member
 * itself that is f + 1 copies, so the output of a done task survives the
 * loss of any f members, its runner included. Internal to voidd.
 *
 * An upload lives apart from its job: the report waits for it at most a
 * bound (a slow or dead target must not push the task past its deadline),
 * after which the upload goes on until every target has every block or its
 * own time limit passes.
 */
#ifndef VOID_IO_TASKPUT_H
#define VOID_IO_TASKPUT_H

#include "void/cas.h"
#include "void/codec.h"
#include "void/kvclient.h"

#include <stdint.h>

#define VOID__TASKPUT_WINDOW   64     /* block sends unanswered at once */
#define VOID__TASKPUT_RESEND   1000   /* ms without STORED: the block goes out again */
#define VOID__TASKPUT_LIFETIME 120000 /* ms an upload may take in all */

struct void__taskput_block {
    struct void_hash hash;
    uint64_t job;     /* the task id */
    uint64_t targets; /* bit per member id the block goes to */
    uint64_t acks;    /* bit per member id that answered STORED */
    uint64_t sent_ms; /* 0: not sent yet */
    uint64_t begun_ms;
};

struct void__taskput {
    struct void_cas *cas;     /* borrowed: the blocks are read from it */
    struct void_kvclient *kv; /* borrowed: the uploads go out as this client */
    struct void__taskput_block *blocks;
    size_t count, cap;
    uint32_t in_flight;
    uint64_t now_ms;
    /* Totals since start, for the log and the tests. */
    uint64_t copies;    /* (block, target) pairs answered STORED */
    uint64_t abandoned; /* blocks given up after VOID__TASKPUT_LIFETIME */
};

void void__taskput_init(struct void__taskput *p, struct void_cas *cas, struct void_kvclient *kv);
void void__taskput_fini(struct void__taskput *p);

/* Starts uploading every block reachable from root in the store to the
 * members in targets (bit per id, ids < 64; 0: nothing to do), for task
 * job. Returns the number of distinct blocks queued (0 when targets is 0),
 * VOID_ENOMEM, or the errors of void_casnet_walk (a root the store lacks). */
int void__taskput_add(struct void__taskput *p, uint64_t job, const struct void_hash *root,
                      uint64_t targets, uint64_t now_ms);

/* Where the upload of job stands: the number of its blocks some target has
 * not acknowledged yet (0: every target holds the whole output, or job has
 * no upload). */
size_t void__taskput_pending(const struct void__taskput *p, uint64_t job);

/* How many of targets hold every block of job's output that is still
 * tracked (blocks that every target acknowledged are forgotten, so after
 * the whole upload this is the number of targets). */
uint32_t void__taskput_copies(const struct void__taskput *p, uint64_t job, uint64_t targets);

/* A frame from a member to the task client: STORED acknowledgements are
 * taken, anything else ignored. Returns the number of blocks that this
 * frame made held by every target. */
int void__taskput_frame(struct void__taskput *p, const struct void_frame *f);

/* Sends what the window allows, resends unanswered blocks, forgets blocks
 * every target holds and uploads past their lifetime. */
void void__taskput_tick(struct void__taskput *p, uint64_t now_ms);

#endif

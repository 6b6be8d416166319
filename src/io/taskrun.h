/*
 * Task execution on the node a task was placed on (docs/scheduler.md,
 * "Execution"): the driver side of include/void/task.h. Internal to voidd.
 */
#ifndef VOID_IO_TASKRUN_H
#define VOID_IO_TASKRUN_H

#include "void/cas.h"
#include "void/config.h"
#include "void/kvclient.h"
#include "void/pbft.h"
#include "void/task.h"

#include <sys/types.h>
#include <uv.h>

#define VOID__TASKRUN_JOBS  64 /* tasks running on this node at once */
#define VOID__TASKRUN_QUEUE 64 /* reports and expiries waiting to be sent */

struct void__taskrun_job {
    int used;
    uint64_t id;
    uint32_t attempt;
    pid_t pid;         /* 0: not started or reaped */
    uint64_t start_ms; /* loop time it started */
    uint32_t timeout_s;
    int timed_out;
    int reporting;                       /* the report is queued or in flight */
    char dir[VOID_CONFIG_PATH_MAX + 48]; /* DATA_DIR/tasks/<id>-<attempt> */
};

struct void__taskrun_msg {
    uint8_t op[512];
    size_t len;
    uint64_t id; /* the task: a report's job is dropped when it is answered */
    int report;
};

struct void__taskrun {
    uv_loop_t *loop;
    const struct void_config *node; /* borrowed: id, key, data_dir */
    struct void_cas *cas;           /* borrowed: the node's block store */
    struct void_pbft *replica;      /* borrowed: the executed state */
    struct void_config client;      /* the identity reports travel under */
    struct void_kvclient kv;
    int kv_ready, kv_busy;
    uv_timer_t tick;
    int tick_ready;
    int netns; /* 1: a child can get a network namespace of its own */
    struct void__taskrun_job jobs[VOID__TASKRUN_JOBS];
    struct void__taskrun_msg queue[VOID__TASKRUN_QUEUE];
    uint32_t queue_head, queue_count;
    uint64_t expire_sent_ms[VOID__TASKRUN_JOBS]; /* by id % JOBS: rate of EXPIREs */
    uint64_t started, reported;
};

/* Starts executing the tasks placed on this node if client_path (a client
 * file: [client] id and key, the replicas) is set; NULL: this node runs no
 * tasks. Returns 0 or an error after writing why to errbuf. */
int void__taskrun_start(struct void__taskrun *t,
                        uv_loop_t *loop,
                        const struct void_config *node,
                        struct void_cas *cas,
                        struct void_pbft *replica,
                        const char *client_path,
                        char *errbuf,
                        size_t errcap);

/* Kills the children and closes the handles (the loop finishes closing). */
void void__taskrun_stop(struct void__taskrun *t);

#endif

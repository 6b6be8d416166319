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
#include "metrics.h"
#include "taskfetch.h"
#include "taskput.h"

#include <pthread.h>

#include <sys/types.h>
#include <uv.h>

#define VOID__TASKRUN_JOBS  64 /* tasks running on this node at once */
#define VOID__TASKRUN_QUEUE 64 /* reports and expiries waiting to be sent */
#define VOID__TASKRUN_COPY_WAIT 5000 /* ms a report waits for its output's copies */

struct void__taskrun_job {
    int used;
    uint64_t id;
    uint32_t attempt;
    pid_t pid;         /* 0: not started or reaped */
    uint64_t start_ms; /* loop time it started */
    uint32_t timeout_s;
    int timed_out;
    int reporting;                       /* the report is queued or in flight */
    int fetching;                        /* waiting for its inputs' missing blocks */
    /* Ended, its output stored here and being copied to other members
     * (taskput.h); the report waits for the copies at most
     * VOID__TASKRUN_COPY_WAIT ms from upload_ms. */
    int uploading;
    uint64_t upload_ms;
    uint64_t targets; /* bit per member id the output is copied to */
    struct void_task_report report; /* signed when it is sent */
    char reason[200];               /* report.reason points here */
    uint64_t moved[VOID__TASKFETCH_CLASSES]; /* input bytes fetched, by distance class */
    uint64_t local;                      /* input bytes found in the node's store */
    uint64_t mem;                        /* its memory limit (bytes; 0 none) */
    char dir[VOID_CONFIG_PATH_MAX + 48]; /* DATA_DIR/tasks/<id>-<attempt> */
    char cgroup[VOID_CONFIG_PATH_MAX + 64]; /* its memory cgroup, or "" */
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
    struct void_caswriter *writer;  /* borrowed: stores fetched blocks */
    struct void_config client;      /* the identity reports travel under */
    struct void_kvclient kv;
    int kv_ready, kv_busy;
    uv_timer_t tick;
    int tick_ready;
    int netns; /* 1: a child can get a network namespace of its own */
    /* The memory cgroup tasks' cgroups are made in ("": none, RLIMIT_AS
     * instead), and its version (1 or 2). */
    char cgroup_base[VOID_CONFIG_PATH_MAX];
    int cgroup_version;
    struct void__taskfetch fetch;
    int fetch_ready;
    struct void__taskput put;
    int put_ready;
    /* Members of the node's table (a joined one) added to kv's peers:
     * the client file does not list them (add_joined). */
    uint32_t count_added;
    struct void__taskrun_job jobs[VOID__TASKRUN_JOBS];
    struct void__taskrun_msg queue[VOID__TASKRUN_QUEUE];
    uint32_t queue_head, queue_count;
    uint64_t expire_sent_ms[VOID__TASKRUN_JOBS]; /* by id % JOBS: rate of EXPIREs */
    /* The last attempts whose reports were answered (a ring). */
    struct void__taskrun_ended {
        uint64_t id;
        uint32_t attempt;
    } ended[VOID__TASKRUN_JOBS];
    uint32_t ended_next;
    uint64_t started, reported;
    /* For the metrics: attempts ended here by outcome (enum
     * void_task_outcome), input bytes found locally. */
    uint64_t outcomes[VOID_TASK_LOST + 1];
    uint64_t local_bytes;
    /* Placement rounds this replica ran (every replica runs them alike):
     * timed on the loop's clock around the core's observer calls. */
    uint64_t place_begin_ns;
    uint64_t placements, placed;
    uint64_t placed_bytes[4]; /* by distance class to the nearest holder */
    uint64_t cost_anneal, cost_greedy; /* whole batches */
    struct void__metrics_histogram place_time;
    /* The metrics' copy, read by the HTTP thread under lock. */
    pthread_mutex_t lock;
    int lock_ready;
    struct void__taskrun_snapshot {
        uint64_t tasks[VOID_TASK_CANCELLED + 1]; /* by enum void_task_state */
        uint64_t outcomes[VOID_TASK_LOST + 1];
        uint64_t local_bytes, fetched[VOID__TASKFETCH_CLASSES], fetch_failed;
        uint64_t placements, placed, placed_bytes[4], cost_anneal, cost_greedy;
        struct void__metrics_histogram place_time;
        int runs_tasks;
    } snap;
};

/* Starts the task metrics, and executing the tasks placed on this node if
 * client_path (a client file: [client] id and key, the replicas) is set;
 * NULL: this node runs no tasks. Returns 0 or an error after writing why to errbuf. */
int void__taskrun_start(struct void__taskrun *t,
                        uv_loop_t *loop,
                        const struct void_config *node,
                        struct void_cas *cas,
                        struct void_pbft *replica,
                        struct void_caswriter *writer,
                        const char *client_path,
                        char *errbuf,
                        size_t errcap);

/* The core's placement observer (struct void_sm_task_setup.observe); ctx
 * is the struct void__taskrun. Loop thread. */
void void__taskrun_observe(void *ctx, const struct void_sm_task_placement *p);

/* The task families of GET /metrics, from the last snapshot (any thread). */
void void__taskrun_metrics(struct void__taskrun *t, struct void__metrics_writer *w);

/* Kills the children and closes the handles (the loop finishes closing). */
void void__taskrun_stop(struct void__taskrun *t);

#endif

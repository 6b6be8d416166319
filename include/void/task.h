/*
 * Tasks as operations of the replicated state machine (issue 22, DESIGN.md
 * section 7, docs/scheduler.md "Tasks through PBFT").
 *
 * A task names its inputs by the names files were stored under
 * (`voidctl put --file PATH NAME`), an executable and its arguments, and its
 * limits (CPU units, memory bytes, a wall-clock timeout). It travels as an
 * ordinary client request of kind VOID_SM_OP_TASK, ordered by PBFT; every
 * replica executes it alike:
 *
 *   HOLD    (from the client that uploaded a file) records the file's root,
 *           its size and the members that acknowledged every block of it,
 *           under "\0void/hold/NAME"; refused unless "file:NAME" holds that
 *           root. This is where data lives, for placement.
 *   SUBMIT  resolves the inputs through their hold records, checks the
 *           limits against a member's capacity, stores the task under
 *           "\0void/task/<16 hex digits of its id>" and places every waiting
 *           task (this one included) in one batch with the placement core
 *           (include/void/sched.h: annealing seeded by the sequence number).
 *   REPORT  (signed by the member the task runs on) ends the current attempt:
 *           taken once; a report for another attempt, or for a task that is
 *           no longer running, is refused.
 *   CANCEL  (by the client that submitted the task) ends a waiting or running
 *           task.
 *   EXPIRE  (from anyone) puts a running task whose deadline (start + timeout
 *           + VOID_TASK_GRACE_NS, by the batch stamps) has passed back to
 *           waiting, away from the node that lost it, or fails it after
 *           VOID_TASK_ATTEMPTS_MAX attempts.
 *
 * Refusals answer VOID_SM_REFUSED with "VOID_E...: reason" as the value.
 * Everything is kept in reserved keys, so checkpoints and state transfer
 * carry it. Encoders and decoders here are for clients, the state machine
 * and the executing node alike; pure, no allocation.
 */
#ifndef VOID_TASK_H
#define VOID_TASK_H

#include "void/hash.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

/* The operation kind (first byte of the op, as enum void_sm_op_kind): far
 * above the others so that kinds added to sm.h meanwhile cannot collide. */
#define VOID_SM_OP_TASK 16

#define VOID_TASK_INPUTS_MAX   16
#define VOID_TASK_NAME_MAX     255  /* bytes of an input name (the file's name) */
#define VOID_TASK_ARGS_MAX     64   /* arguments after the executable */
#define VOID_TASK_ARG_MAX      1024 /* bytes of the executable path or one argument */
#define VOID_TASK_REASON_MAX   255  /* bytes of a report's reason */
#define VOID_TASK_HOLDERS_MAX  64   /* members recorded as holding one file */
#define VOID_TASK_ACTIVE_MAX   4096 /* waiting + running tasks at once */
#define VOID_TASK_TIMEOUT_MAX  86400u
#define VOID_TASK_ATTEMPTS_MAX 3u
#define VOID_TASK_GRACE_NS     (10ull * 1000000000ull) /* beyond the timeout before EXPIRE */
#define VOID_TASK_NO_NODE      UINT32_MAX
/* Defaults of a member's capacity (struct void_sm task_cpu, task_mem). */
#define VOID_TASK_CPU_DEF 4u
#define VOID_TASK_MEM_DEF (8ull << 30)

#define VOID_TASK_KEY_PREFIX      "\0void/task/"
#define VOID_TASK_KEY_PREFIX_LEN  11
#define VOID_TASK_KEY_LEN         (VOID_TASK_KEY_PREFIX_LEN + 16)
#define VOID_TASK_HOLD_PREFIX     "\0void/hold/"
#define VOID_TASK_HOLD_PREFIX_LEN 11
#define VOID_TASK_TABLE_KEY       "\0void/tasks" /* next id and the active tasks */
#define VOID_TASK_TABLE_KEY_LEN   11
#define VOID_TASK_ENDED_KEY       "\0void/task-ended" /* tasks done, failed, cancelled */
#define VOID_TASK_ENDED_KEY_LEN   16

enum void_task_op_kind {
    VOID_TASK_SUBMIT = 1,
    VOID_TASK_REPORT = 2,
    VOID_TASK_CANCEL = 3,
    VOID_TASK_HOLD = 4,
    VOID_TASK_EXPIRE = 5,
};

enum void_task_state {
    VOID_TASK_WAITING = 1, /* no member has room yet */
    VOID_TASK_RUNNING = 2, /* placed on node, attempt running */
    VOID_TASK_DONE = 3,    /* reported: exited with status 0 */
    VOID_TASK_FAILED = 4,  /* reported otherwise, or lost too often */
    VOID_TASK_CANCELLED = 5,
};

/* How an attempt ended (a report's outcome). */
enum void_task_outcome {
    VOID_TASK_EXITED = 1,    /* exit status in code */
    VOID_TASK_SIGNALLED = 2, /* killed by signal code */
    VOID_TASK_TIMEOUT = 3,   /* ran past its wall-clock timeout */
    VOID_TASK_MEMORY = 4,    /* hit its memory limit */
    VOID_TASK_CPU = 5,       /* hit its CPU-time limit */
    VOID_TASK_ERROR = 6,     /* could not start: executable or input missing */
    VOID_TASK_LOST = 7,      /* set by EXPIRE after the last attempt */
};

/* A length-delimited byte string pointing into someone else's buffer. */
struct void_task_str {
    const uint8_t *p;
    uint16_t len;
};

struct void_task_submit {
    uint32_t cpu;       /* CPU units, >= 1 */
    uint64_t mem;       /* bytes (RLIMIT_AS) */
    uint32_t timeout_s; /* wall clock, 1..VOID_TASK_TIMEOUT_MAX */
    uint32_t input_count;
    struct void_task_str inputs[VOID_TASK_INPUTS_MAX];
    struct void_task_str exe;
    uint32_t arg_count;
    struct void_task_str args[VOID_TASK_ARGS_MAX];
};

/* REPORT: the signature (domain MEMBER, by the reporting member's key)
 * covers every byte of the encoding before it; the op's first byte,
 * VOID_SM_OP_TASK, keeps it apart from member ops under the same domain. */
struct void_task_report {
    uint64_t id;
    uint32_t attempt;
    uint32_t node; /* the reporting member */
    uint8_t outcome;
    int32_t code; /* exit status or signal */
    struct void_task_str reason;
    uint8_t out_root[VOID_HASH_SIZE]; /* CAS root of stdout, stderr and outputs */
    uint64_t out_bytes;
    uint8_t sig[VOID_SIGN_SIZE];
};

struct void_task_hold {
    struct void_task_str name;
    uint8_t root[VOID_HASH_SIZE];
    uint64_t bytes;
    uint32_t holder_count;
    uint32_t holders[VOID_TASK_HOLDERS_MAX]; /* member ids */
};

/* A decoded task op (one of the parts, by op). */
struct void_task_op {
    uint8_t op; /* enum void_task_op_kind */
    struct void_task_submit submit;
    struct void_task_report report;
    struct void_task_hold hold;
    uint64_t id; /* cancel, expire */
};

struct void_task_input {
    struct void_task_str name;
    uint8_t root[VOID_HASH_SIZE];
    uint64_t bytes;
    uint32_t holder_count;
    uint32_t holders[VOID_TASK_HOLDERS_MAX];
};

/* The record under "\0void/task/<id>". */
struct void_task {
    uint64_t id;
    uint8_t state;      /* enum void_task_state */
    uint64_t client;    /* the submitter's client-table key */
    uint64_t submitted; /* sequence number of the SUBMIT */
    uint32_t cpu;
    uint64_t mem;
    uint32_t timeout_s;
    uint32_t attempt;     /* attempts started; the current one while running */
    uint32_t node;        /* member running it, or the last one; VOID_TASK_NO_NODE */
    uint32_t avoid;       /* member that lost it last (placement avoids it), or NO_NODE */
    uint64_t placed;      /* sequence number of the placement */
    uint64_t started_ns;  /* batch stamp (wall) of the placement */
    uint64_t finished_ns; /* batch stamp (wall) of the end */
    uint64_t cost;        /* placement cost of this task: MiB x distance */
    uint64_t bytes_in;    /* input bytes */
    uint64_t bytes_moved; /* input bytes not on the chosen node */
    uint8_t outcome;      /* enum void_task_outcome, 0 until it ended */
    int32_t code;
    uint8_t out_root[VOID_HASH_SIZE];
    uint64_t out_bytes;
    struct void_task_str reason;
    uint32_t input_count;
    struct void_task_input inputs[VOID_TASK_INPUTS_MAX];
    struct void_task_str exe;
    uint32_t arg_count;
    struct void_task_str args[VOID_TASK_ARGS_MAX];
};

/* Largest encodings. */
#define VOID_TASK_OP_MAX                                                                           \
    (64 + VOID_TASK_INPUTS_MAX * (2 + VOID_TASK_NAME_MAX) +                                        \
     (VOID_TASK_ARGS_MAX + 1) * (2 + VOID_TASK_ARG_MAX))
#define VOID_TASK_RECORD_MAX                                                                       \
    (256 + VOID_TASK_REASON_MAX +                                                                  \
     VOID_TASK_INPUTS_MAX * (2 + VOID_TASK_NAME_MAX + 45 + 4 * VOID_TASK_HOLDERS_MAX) +            \
     (VOID_TASK_ARGS_MAX + 1) * (2 + VOID_TASK_ARG_MAX))

/* Writes "\0void/task/<16 lowercase hex digits>" to key (VOID_TASK_KEY_LEN
 * bytes). Cannot fail. */
void void_task_key(uint64_t id, uint8_t key[VOID_TASK_KEY_LEN]);

/* Encodes op into buf[0..cap): returns the length, VOID_EINVAL (a field out
 * of its limit: empty or long name, too many inputs or arguments, bad
 * cpu/timeout, unknown op) or VOID_EFULL. */
int void_task_op_encode(const struct void_task_op *op, uint8_t *buf, size_t cap);

/* Decodes exactly len bytes (pointers into buf). Returns 0, VOID_ETRUNCATED,
 * VOID_EBAD_TYPE (not a task op) or VOID_EBAD_LENGTH / VOID_EBAD_FIELD
 * (a field over its limit). Limits on values (cpu >= 1, ...) are the state
 * machine's to refuse, with a reason. */
int void_task_op_decode(const uint8_t *buf, size_t len, struct void_task_op *op);

/* The bytes a report's signature covers: its encoding without the
 * signature. Writes them to buf[0..cap) and returns the length, or
 * VOID_EINVAL / VOID_EFULL. Then void_task_report_sign fills r->sig. */
int void_task_report_message(const struct void_task_report *r, uint8_t *buf, size_t cap);
int void_task_report_sign(struct void_task_report *r, const struct void_sign_keypair *kp);

/* Task records. encode returns the length or VOID_EFULL; decode returns 0
 * or VOID_ECORRUPT. */
int void_task_encode(const struct void_task *t, uint8_t *buf, size_t cap);
int void_task_decode(const uint8_t *buf, size_t len, struct void_task *t);

/* Names, for the CLI and the logs: "waiting", "exited", ... ("?" if unknown). */
const char *void_task_state_name(uint8_t state);
const char *void_task_outcome_name(uint8_t outcome);

struct void_sm;
struct void_sm_result;
struct void_sched_location;

/* What placement needs beyond the replicated state, the same on every
 * replica (part of the cluster's configuration, like the checkpoint
 * interval). */
/* What one placement round did, for the driver's metrics: handed to the
 * setup's observer before solving (begin = 1, the rest 0: the driver starts
 * its clock) and after (begin = 0). The core reads no clock; the observer
 * cannot change the state or an answer. */
struct void_sm_task_placement {
    int begin;
    uint32_t batch;        /* waiting tasks in the batch */
    uint32_t placed;       /* of them placed in this round */
    int whole;             /* 1: annealing placed the batch as a whole; 0: one at a time */
    uint64_t cost;         /* whole: annealing's cost of the batch */
    uint64_t greedy_cost;  /* whole: greedy's (annealing starts there and ends <= it) */
    uint64_t bytes[4];     /* input bytes of the placed tasks by distance class to their
                              nearest holder: host, rack, datacenter, across */
};

struct void_sm_task_setup {
    uint32_t cpu; /* CPU units of every member; 0: VOID_TASK_CPU_DEF */
    uint64_t mem; /* memory bytes of every member; 0: VOID_TASK_MEM_DEF */
    /* Locations by member id (id < location_count), for members whose
     * configuration entry names none (the daemon's genesis configuration
     * carries no locations: voidd fills these from its [replica] sections).
     * Borrowed; may be NULL. */
    const struct void_sched_location *locations;
    uint32_t location_count;
    /* Client ids that may SUBMIT (others: VOID_EPERM); count 0: every
     * client. Borrowed; a replicated rule, alike on every replica. */
    const uint32_t *submitters;
    uint32_t submitter_count;
    /* Called around every placement round (may be NULL). */
    void (*observe)(void *ctx, const struct void_sm_task_placement *p);
    void *observe_ctx;
};

/* Sets the task setup (borrowed until void_sm_fini; NULL: the defaults).
 * Cannot fail. */
void void_sm_task_setup(struct void_sm *sm, const struct void_sm_task_setup *setup);

/* Executes a task op (op[0] == VOID_SM_OP_TASK) for client (the client
 * table key) in the current batch; the answer's value goes to
 * value[0..cap) (cap >= 512). Used by void_sm_execute. */
void void__sm_task_apply(struct void_sm *sm,
                         uint64_t client,
                         const uint8_t *op,
                         size_t op_len,
                         uint8_t *value,
                         size_t cap,
                         struct void_sm_result *res);

#endif

/*
 * Task execution (include/void/task.h, docs/scheduler.md "Execution"). A
 * timer on the node's loop reads the executed state between steps: tasks
 * placed on this node at an attempt it has not started are started; local
 * ones the state no longer runs here (cancelled, rescheduled) are killed;
 * running tasks of other nodes that are past their deadline get an EXPIRE,
 * so a node that died has its tasks placed again.
 *
 * A task runs as a child in its own directory, DATA_DIR/tasks/<id>-<attempt>:
 * work/ is its working directory, with each input materialised from the
 * local block store under its name and an empty out/ for its outputs;
 * stdout and stderr go to result/. Limits: RLIMIT_AS (its memory),
 * RLIMIT_CPU (its timeout + 1 s: SIGXCPU), a wall-clock timeout enforced
 * here (SIGKILL to its process group), no network (a network namespace of
 * its own, in a user namespace when the node is not root; if the kernel
 * refuses both, the node logs that its tasks have the network), no
 * descriptor of the node's. When it ends, result/ (stdout, stderr, out/) is
 * stored in the block store and the REPORT, signed with the node's key,
 * goes through PBFT under the client identity of client_path (a replica's
 * id cannot be a client's: include/void/pbft_client.h).
 */
#define _GNU_SOURCE
#include "taskrun.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/log.h"
#include "void/sm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS 100

/* ---- reading the executed state ------------------------------------------ */

static struct void_sm *sm_of(struct void__taskrun *t)
{
    /* Read between steps on the loop thread, when no batch is open. */
    return &t->replica->sm;
}

/* Reads task id's record into buf (cap) and decodes it. Returns 0 or an error. */
static int
read_task(struct void__taskrun *t, uint64_t id, struct void_task *out, uint8_t *buf, size_t cap)
{
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(id, key);
    struct void_sm_result res;
    void_sm_read(sm_of(t), key, sizeof(key), NULL, &res);
    if (res.status != VOID_SM_OK || res.value_len > cap) {
        return VOID_ENOTFOUND;
    }
    memcpy(buf, res.value, res.value_len);
    return void_task_decode(buf, res.value_len, out);
}

/* ---- sending ------------------------------------------------------------- */

static void send_next(struct void__taskrun *t);

static struct void__taskrun_job *job_find(struct void__taskrun *t, uint64_t id)
{
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        if (t->jobs[i].used && t->jobs[i].id == id) {
            return &t->jobs[i];
        }
    }
    return NULL;
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700); /* a task may have left a directory without write permission */
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char sub[VOID_CONFIG_PATH_MAX + 600];
            int n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            if (n > 0 && (size_t)n < sizeof(sub)) {
                remove_tree(sub);
            }
        }
        if (d != NULL) {
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cgroup_remove(struct void__taskrun_job *j)
{
    if (j->cgroup[0] != '\0' && rmdir(j->cgroup) != 0 && errno != ENOENT) {
        void_log(VOID_LOG_WARN, "task %llu: cannot remove its cgroup %s: %s",
                 (unsigned long long)j->id, j->cgroup, strerror(errno));
    }
    j->cgroup[0] = '\0';
}

static void job_drop(struct void__taskrun *t, struct void__taskrun_job *j)
{
    if (j->pid > 0) {
        kill(-j->pid, SIGKILL);
        (void)waitpid(j->pid, NULL, 0);
    }
    if (t->fetch_ready && j->fetching) {
        void__taskfetch_drop(&t->fetch, j->id);
    }
    cgroup_remove(j);
    remove_tree(j->dir);
    memset(j, 0, sizeof(*j));
}

static void on_sent(void *ctx, const uint8_t *result, size_t len)
{
    struct void__taskrun *t = ctx;
    VOID_ASSERT(t->kv_busy && t->queue_count > 0);
    struct void__taskrun_msg *m = &t->queue[t->queue_head];
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) == 0 && m->report) {
        if (res.status == VOID_SM_OK) {
            t->reported++;
            void_log(VOID_LOG_INFO, "task %llu: reported", (unsigned long long)m->id);
        } else {
            void_log(VOID_LOG_WARN,
                     "task %llu: report refused: %.*s",
                     (unsigned long long)m->id,
                     (int)res.value_len,
                     (const char *)res.value);
        }
        struct void__taskrun_job *j = job_find(t, m->id);
        if (j != NULL && j->reporting) {
            /* This replica may execute the report after the quorum that
             * answered it: until then its state still shows the attempt
             * running here, which must not start it again. */
            t->ended[t->ended_next % VOID__TASKRUN_JOBS] =
                (struct void__taskrun_ended){j->id, j->attempt};
            t->ended_next++;
            job_drop(t, j);
        }
    }
    t->queue_head = (t->queue_head + 1) % VOID__TASKRUN_QUEUE;
    t->queue_count--;
    t->kv_busy = 0;
    send_next(t);
}

static void send_next(struct void__taskrun *t)
{
    if (t->kv_busy || t->queue_count == 0) {
        return;
    }
    struct void__taskrun_msg *m = &t->queue[t->queue_head];
    if (void_kvclient_submit(&t->kv, m->op, m->len, on_sent, t) == 0) {
        t->kv_busy = 1;
    }
}

static int enqueue(struct void__taskrun *t, const struct void_task_op *op, uint64_t id, int report)
{
    if (t->queue_count == VOID__TASKRUN_QUEUE) {
        return VOID_EFULL;
    }
    struct void__taskrun_msg *m = &t->queue[(t->queue_head + t->queue_count) % VOID__TASKRUN_QUEUE];
    int n = void_task_op_encode(op, m->op, sizeof(m->op));
    if (n < 0) {
        return n;
    }
    m->len = (size_t)n;
    m->id = id;
    m->report = report;
    t->queue_count++;
    send_next(t);
    return 0;
}

/* Signs and queues the report of job j, whose output is stored (and its
 * copies made or waited for long enough). */
static void send_report(struct void__taskrun *t, struct void__taskrun_job *j)
{
    VOID_ASSERT(j->used && !j->reporting);
    struct void_task_op op = {.op = VOID_TASK_REPORT, .report = j->report};
    op.report.reason.p = (const uint8_t *)j->reason;
    if (void_task_report_sign(&op.report, &t->node->keypair) != 0 ||
        enqueue(t, &op, j->id, 1) != 0) {
        void_log(VOID_LOG_WARN, "task %llu: cannot queue its report", (unsigned long long)j->id);
        return; /* tried again at the next tick: the job stays */
    }
    j->uploading = 0;
    j->reporting = 1;
    uint8_t outcome = j->report.outcome;
    t->outcomes[outcome <= VOID_TASK_LOST ? outcome : 0]++;
    uint32_t copies = t->put_ready ? void__taskput_copies(&t->put, j->id, j->targets) : 0;
    void_log(VOID_LOG_INFO,
             "task %llu attempt %u: %s (%s), output %llu bytes on %u member%s",
             (unsigned long long)j->id,
             j->attempt,
             void_task_outcome_name(outcome),
             j->reason,
             (unsigned long long)j->report.out_bytes,
             copies + 1,
             copies == 0 ? "" : "s");
}

/* The members that keep copies of this node's task outputs: f of them (f of
 * the voters in the replica's epoch), nearest first, then by id; only
 * members the task client can reach (its file lists them, or add_joined
 * added them) and ids < 64. */
static uint64_t output_targets(struct void__taskrun *t)
{
    const struct void_membership_config *mc = void_pbft_member_config(t->replica);
    uint32_t voters = 0;
    for (uint32_t i = 0; i < mc->count; i++) {
        voters += mc->members[i].role == VOID_MEMBER_VOTER;
    }
    uint32_t want = void_membership_f(voters), self = t->node->self_id;
    uint64_t chosen = 0;
    for (int cls = 0; cls < VOID__TASKFETCH_CLASSES && want > 0; cls++) {
        for (uint32_t i = 0; i < mc->count && want > 0; i++) {
            uint32_t id = mc->members[i].id;
            /* The client file's replicas, and the node table's members
             * add_joined gave the task client. */
            const struct void_config_replica *r = void_config_replica_get(t->node, id);
            int reachable = void_config_replica_get(&t->client, id) != NULL ||
                            (r != NULL && r->address.port != 0);
            if (id == self || id >= 64 || !reachable ||
                void__taskfetch_class(t->node, self, id) != cls) {
                continue;
            }
            chosen |= 1ull << id;
            want--;
        }
    }
    VOID_ASSERT((chosen & (self < 64 ? 1ull << self : 0)) == 0);
    return chosen;
}

/* Stores result/, starts copying it to other members and keeps the report
 * of job j for send_report (the tick sends it once the copies are made, or
 * after VOID__TASKRUN_COPY_WAIT). */
static void report(struct void__taskrun *t,
                   struct void__taskrun_job *j,
                   uint8_t outcome,
                   int32_t code,
                   const char *reason)
{
    struct void_task_report *r = &j->report;
    memset(r, 0, sizeof(*r));
    r->id = j->id;
    r->attempt = j->attempt;
    r->node = t->node->self_id;
    r->outcome = outcome;
    r->code = code;
    (void)snprintf(j->reason, sizeof(j->reason), "%s", reason);
    size_t rl = strlen(j->reason);
    r->reason = (struct void_task_str){
        (const uint8_t *)j->reason,
        (uint16_t)(rl > VOID_TASK_REASON_MAX ? VOID_TASK_REASON_MAX : rl)};
    char result[sizeof(j->dir) + 16];
    (void)snprintf(result, sizeof(result), "%s/result", j->dir);
    struct void_cas_put_result put;
    int rc = void_cas_put_path(t->cas, result, NULL, NULL, NULL, &put);
    j->targets = 0;
    if (rc == 0) {
        memcpy(r->out_root, put.root.b, VOID_HASH_SIZE);
        r->out_bytes = put.logical_bytes;
        j->targets = output_targets(t);
        int n = void__taskput_add(&t->put, j->id, &put.root, j->targets, uv_now(t->loop));
        if (n < 0) {
            void_log(VOID_LOG_WARN,
                     "task %llu: cannot copy its output to other members: %s",
                     (unsigned long long)j->id,
                     void_strerror(n));
            j->targets = 0;
        }
    } else {
        void_log(VOID_LOG_WARN,
                 "task %llu: cannot store its output: %s",
                 (unsigned long long)j->id,
                 void_strerror(rc));
    }
    j->uploading = 1;
    j->upload_ms = uv_now(t->loop);
    if (void__taskput_pending(&t->put, j->id) == 0) {
        send_report(t, j);
    }
}

/* Jobs whose output copies are made (or waited for long enough) report. */
static void reports_due(struct void__taskrun *t)
{
    uint64_t now = uv_now(t->loop);
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        struct void__taskrun_job *j = &t->jobs[i];
        if (!j->used || !j->uploading) {
            continue;
        }
        size_t pending = void__taskput_pending(&t->put, j->id);
        if (pending > 0 && now - j->upload_ms < VOID__TASKRUN_COPY_WAIT) {
            continue;
        }
        if (pending > 0) {
            void_log(VOID_LOG_WARN,
                     "task %llu: %zu block%s of its output not yet on every chosen member after "
                     "%u ms; reporting now (the copying goes on)",
                     (unsigned long long)j->id,
                     pending,
                     pending == 1 ? "" : "s",
                     VOID__TASKRUN_COPY_WAIT);
        }
        send_report(t, j);
    }
}

/* ---- starting a task ----------------------------------------------------- */

/* Is exe runnable: a path with a '/' (relative to work), or a name on PATH? */
static int exe_found(const char *work, const char *exe)
{
    char path[VOID_CONFIG_PATH_MAX + 2 * VOID_TASK_ARG_MAX];
    if (strchr(exe, '/') != NULL) {
        int n = exe[0] == '/' ? snprintf(path, sizeof(path), "%s", exe)
                              : snprintf(path, sizeof(path), "%s/%s", work, exe);
        return n > 0 && (size_t)n < sizeof(path) && access(path, X_OK) == 0;
    }
    const char *p = getenv("PATH");
    p = p != NULL ? p : "/usr/bin:/bin";
    while (*p != '\0') {
        const char *colon = strchr(p, ':');
        size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
        int n = snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, exe);
        if (n > 0 && (size_t)n < sizeof(path) && access(path, X_OK) == 0) {
            return 1;
        }
        p += len + (colon != NULL);
    }
    return 0;
}

/* In the child, before exec: only async-signal-safe calls (the node has
 * threads). Returns only on failure. */
static void child_run(const struct void__taskrun *t,
                      const struct void_task *task,
                      const char *work,
                      const char *out,
                      const char *err,
                      char **argv,
                      const char *uid_map,
                      const char *gid_map,
                      const char *cgroup_procs)
{
    setpgid(0, 0);
    if (cgroup_procs != NULL) {
        /* Join the task's memory cgroup: our pid in decimal, no stdio. */
        char digits[24];
        size_t n = sizeof(digits);
        for (unsigned long v = (unsigned long)getpid(); n == sizeof(digits) || v != 0; v /= 10) {
            digits[--n] = (char)('0' + v % 10);
        }
        int fd = open(cgroup_procs, O_WRONLY);
        if (fd < 0 || write(fd, digits + n, sizeof(digits) - n) < 0) {
            static const char msg[] = "void task: cannot join its memory cgroup\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            _exit(126);
        }
        close(fd);
    }
    if (t->netns && unshare(CLONE_NEWNET) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
            int fd = open("/proc/self/setgroups", O_WRONLY);
            if (fd >= 0) {
                (void)!write(fd, "deny", 4);
                close(fd);
            }
            fd = open("/proc/self/uid_map", O_WRONLY);
            if (fd >= 0) {
                (void)!write(fd, uid_map, strlen(uid_map));
                close(fd);
            }
            fd = open("/proc/self/gid_map", O_WRONLY);
            if (fd >= 0) {
                (void)!write(fd, gid_map, strlen(gid_map));
                close(fd);
            }
        }
    }
    if (task->mem > 0 && cgroup_procs == NULL) {
        struct rlimit as = {task->mem, task->mem};
        setrlimit(RLIMIT_AS, &as);
    }
    struct rlimit cpu = {(rlim_t)task->timeout_s + 1, (rlim_t)task->timeout_s + 2};
    setrlimit(RLIMIT_CPU, &cpu);
    int in = open("/dev/null", O_RDONLY);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0 || chdir(work) != 0) {
        _exit(126);
    }
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    {
        for (int fd = 3; fd < 4096; fd++) {
            close(fd);
        }
    }
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    static const char msg[] = "void task: exec failed\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(127);
}

/* A copy of a task string as a C string (NULs in it cut it short). */
static char *cstr(struct void_task_str s)
{
    char *c = malloc((size_t)s.len + 1);
    if (c != NULL) {
        memcpy(c, s.p, s.len);
        c[s.len] = '\0';
    }
    return c;
}

/* Makes job j's memory cgroup with the task's limit; "" when the node has
 * none (RLIMIT_AS then) or it cannot be made. */
static void cgroup_make(struct void__taskrun *t, struct void__taskrun_job *j)
{
    j->cgroup[0] = '\0';
    if (t->cgroup_base[0] == '\0' || j->mem == 0) {
        return;
    }
    char dir[sizeof(j->cgroup)], file[sizeof(j->cgroup) + 32], num[32];
    (void)snprintf(dir, sizeof(dir), "%s/void-task-%u-%llu-%u", t->cgroup_base,
                   (unsigned)t->node->self_id, (unsigned long long)j->id, j->attempt);
    (void)rmdir(dir); /* a leftover of a crash */
    if (mkdir(dir, 0755) != 0) {
        void_log(VOID_LOG_WARN, "task %llu: cannot make its cgroup %s: %s; RLIMIT_AS instead",
                 (unsigned long long)j->id, dir, strerror(errno));
        return;
    }
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)j->mem);
    int ok = 1;
    const char *limits[] = {t->cgroup_version == 2 ? "memory.max" : "memory.limit_in_bytes",
                            t->cgroup_version == 2 ? "memory.swap.max" : NULL};
    for (int i = 0; i < 2 && ok; i++) {
        if (limits[i] == NULL) {
            continue;
        }
        (void)snprintf(file, sizeof(file), "%s/%s", dir, limits[i]);
        int fd = open(file, O_WRONLY);
        const char *v = i == 0 ? num : "0";
        size_t vl = i == 0 ? (size_t)n : 1;
        ok = fd >= 0 && write(fd, v, vl) == (ssize_t)vl;
        ok |= i == 1; /* no swap accounting: the memory limit alone */
        if (fd >= 0) {
            close(fd);
        }
    }
    if (!ok) {
        (void)rmdir(dir);
        void_log(VOID_LOG_WARN, "task %llu: cannot set the memory limit of %s; RLIMIT_AS instead",
                 (unsigned long long)j->id, dir);
        return;
    }
    memcpy(j->cgroup, dir, sizeof(dir));
}

/* The OOM kills counted in job j's cgroup (0 when it has none). */
static uint64_t cgroup_oom_kills(const struct void__taskrun *t, const struct void__taskrun_job *j)
{
    if (j->cgroup[0] == '\0') {
        return 0;
    }
    char file[sizeof(j->cgroup) + 32], buf[1024];
    (void)snprintf(file, sizeof(file), "%s/%s", j->cgroup,
                   t->cgroup_version == 2 ? "memory.events" : "memory.oom_control");
    int fd = open(file, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    const char *k = strstr(buf, "oom_kill ");
    return k != NULL ? strtoull(k + 9, NULL, 10) : 0;
}

/* Materialises the inputs (now all in the store) and starts the child. */
static void launch(struct void__taskrun *t, struct void__taskrun_job *j, const struct void_task *task)
{
    char work[sizeof(j->dir) + 16], outdir[sizeof(j->dir) + 16];
    char so[sizeof(j->dir) + 16], se[sizeof(j->dir) + 16];
    (void)snprintf(work, sizeof(work), "%s/work", j->dir);
    (void)snprintf(outdir, sizeof(outdir), "%s/work/out", j->dir);
    (void)snprintf(so, sizeof(so), "%s/result/stdout", j->dir);
    (void)snprintf(se, sizeof(se), "%s/result/stderr", j->dir);
    for (uint32_t i = 0; i < task->input_count; i++) {
        char dest[sizeof(work) + VOID_TASK_NAME_MAX + 2];
        (void)snprintf(dest,
                       sizeof(dest),
                       "%s/%.*s",
                       work,
                       (int)task->inputs[i].name.len,
                       (const char *)task->inputs[i].name.p);
        struct void_hash root;
        memcpy(root.b, task->inputs[i].root, VOID_HASH_SIZE);
        int rc = void_cas_get_path(t->cas, &root, dest, NULL, NULL);
        if (rc != 0) {
            char why[600];
            (void)snprintf(why,
                           sizeof(why),
                           "input '%.*s' is not in this node's block store: %s",
                           (int)task->inputs[i].name.len,
                           (const char *)task->inputs[i].name.p,
                           void_strerror(rc));
            report(t, j, VOID_TASK_ERROR, 0, why);
            return;
        }
    }
    (void)mkdir(outdir, 0777);
    (void)chmod(outdir, 0777); /* also writable in a user namespace */
    char *argv[VOID_TASK_ARGS_MAX + 2] = {0};
    argv[0] = cstr(task->exe);
    int ok = argv[0] != NULL;
    for (uint32_t i = 0; i < task->arg_count && ok; i++) {
        argv[i + 1] = cstr(task->args[i]);
        ok = argv[i + 1] != NULL;
    }
    if (ok && !exe_found(work, argv[0])) {
        char why[400];
        (void)snprintf(why, sizeof(why), "executable '%.200s' not found", argv[0]);
        report(t, j, VOID_TASK_ERROR, 127, why);
        ok = -1;
    }
    char uid_map[64], gid_map[64], procs[sizeof(j->cgroup) + 32];
    (void)snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)getuid(), (unsigned)getuid());
    (void)snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned)getgid(), (unsigned)getgid());
    if (ok == 1) {
        cgroup_make(t, j);
    }
    (void)snprintf(procs, sizeof(procs), "%s/cgroup.procs", j->cgroup);
    pid_t pid = ok == 1 ? fork() : -1;
    if (pid == 0) {
        child_run(t, task, work, so, se, argv, uid_map, gid_map,
                  j->cgroup[0] != '\0' ? procs : NULL);
        _exit(127);
    }
    for (uint32_t i = 0; i <= task->arg_count; i++) {
        free(argv[i]);
    }
    if (ok == 0 || (ok == 1 && pid < 0)) {
        report(t, j, VOID_TASK_ERROR, 0, "cannot start the child");
        return;
    }
    if (pid > 0) {
        setpgid(pid, pid); /* also here: the kill may come before the child ran */
        j->pid = pid;
        j->start_ms = uv_now(t->loop);
        void_log(VOID_LOG_INFO,
                 "task %llu attempt %u: started, pid %d, memory limit %llu bytes (%s)",
                 (unsigned long long)task->id,
                 task->attempt,
                 (int)pid,
                 (unsigned long long)task->mem,
                 j->cgroup[0] != '\0' ? "cgroup" : "RLIMIT_AS");
    }
}

/* Job j waits for its inputs' blocks: starts it once they are all here. */
static void resume(struct void__taskrun *t, struct void__taskrun_job *j, const struct void_task *task)
{
    int rc = void__taskfetch_status(&t->fetch, j->id);
    if (rc == 1) {
        return;
    }
    j->fetching = 0;
    if (rc != 0) {
        report(t, j, VOID_TASK_ERROR, 0,
               "an input's block is on no replica (its holders and every other were asked)");
        return;
    }
    void_log(VOID_LOG_INFO,
             "task %llu attempt %u: inputs fetched: %llu bytes from the same host, %llu from "
             "the rack, %llu from the datacenter, %llu across; %llu bytes were here",
             (unsigned long long)j->id, j->attempt, (unsigned long long)j->moved[0],
             (unsigned long long)j->moved[1], (unsigned long long)j->moved[2],
             (unsigned long long)j->moved[3], (unsigned long long)j->local);
    launch(t, j, task);
}

static void start(struct void__taskrun *t, const struct void_task *task)
{
    struct void__taskrun_job *j = NULL;
    for (int i = 0; i < VOID__TASKRUN_JOBS && j == NULL; i++) {
        j = t->jobs[i].used ? NULL : &t->jobs[i];
    }
    if (j == NULL) {
        return; /* all slots busy: the next tick tries again */
    }
    memset(j, 0, sizeof(*j));
    j->used = 1;
    j->id = task->id;
    j->attempt = task->attempt;
    j->timeout_s = task->timeout_s;
    j->mem = task->mem;
    char base[sizeof(j->dir)], work[sizeof(j->dir) + 16], result[sizeof(j->dir) + 16];
    (void)snprintf(base, sizeof(base), "%s/tasks", t->node->data_dir);
    (void)mkdir(base, 0700);
    (void)snprintf(j->dir,
                   sizeof(j->dir),
                   "%s/tasks/%llu-%u",
                   t->node->data_dir,
                   (unsigned long long)task->id,
                   task->attempt);
    remove_tree(j->dir); /* a leftover of a crash */
    (void)snprintf(work, sizeof(work), "%s/work", j->dir);
    (void)snprintf(result, sizeof(result), "%s/result", j->dir);
    t->started++;
    if (mkdir(j->dir, 0700) != 0 || mkdir(work, 0755) != 0 || mkdir(result, 0755) != 0) {
        report(t, j, VOID_TASK_ERROR, 0, "cannot make the task's directory");
        return;
    }
    /* Inputs whose blocks are not all here are fetched first, nearest
     * holder first (taskfetch.c); the child starts when they are. */
    for (uint32_t i = 0; i < task->input_count; i++) {
        int rc = void__taskfetch_add(&t->fetch, j->id, &task->inputs[i], j->moved);
        if (rc < 0) {
            void__taskfetch_drop(&t->fetch, j->id);
            report(t, j, VOID_TASK_ERROR, 0, "cannot fetch the inputs: out of memory");
            return;
        }
        j->fetching |= rc == 1;
        j->local += rc == 0 ? task->inputs[i].bytes : 0;
    }
    t->local_bytes += j->local;
    if (j->fetching) {
        void_log(VOID_LOG_INFO,
                 "task %llu attempt %u: fetching the blocks of its inputs this node lacks",
                 (unsigned long long)task->id,
                 task->attempt);
        return;
    }
    launch(t, j, task);
}

/* ---- metrics --------------------------------------------------------------- */

/* Placement rounds: 10 us (one task on a few members) to 10 s. */
static const struct void__metrics_buckets place_buckets = {
    .count = 13,
    .digits = 9,
    .upper = {10000ull, 50000ull, 100000ull, 250000ull, 500000ull, 1000000ull, 2500000ull,
              5000000ull, 10000000ull, 50000000ull, 100000000ull, 1000000000ull, 10000000000ull}};

void void__taskrun_observe(void *ctx, const struct void_sm_task_placement *p)
{
    struct void__taskrun *t = ctx;
    VOID_ASSERT(t != NULL && p != NULL);
    if (!t->lock_ready) {
        return; /* a placement replayed before the metrics started */
    }
    uint64_t now = uv_hrtime();
    if (p->begin) {
        t->place_begin_ns = now;
        return;
    }
    t->placements++;
    t->placed += p->placed;
    for (int k = 0; k < 4; k++) {
        t->placed_bytes[k] += p->bytes[k];
    }
    if (p->whole) {
        t->cost_anneal += p->cost;
        t->cost_greedy += p->greedy_cost;
    }
    void__metrics_histogram_observe(&t->place_time, now - t->place_begin_ns);
}

/* Copies the counters, and the replicated counts of tasks by state, for
 * the HTTP thread. */
static void snapshot(struct void__taskrun *t)
{
    struct void__taskrun_snapshot s;
    memset(&s, 0, sizeof(s));
    struct void_sm_result res;
    void_sm_read(
        sm_of(t), (const uint8_t *)VOID_TASK_TABLE_KEY, VOID_TASK_TABLE_KEY_LEN, NULL, &res);
    if (res.status == VOID_SM_OK && res.value_len >= 13) {
        for (size_t at = 13; at + 25 <= res.value_len; at += 25) {
            uint8_t st = res.value[at + 8];
            s.tasks[st <= VOID_TASK_CANCELLED ? st : 0]++;
        }
    }
    void_sm_read(
        sm_of(t), (const uint8_t *)VOID_TASK_ENDED_KEY, VOID_TASK_ENDED_KEY_LEN, NULL, &res);
    if (res.status == VOID_SM_OK && res.value_len == 24) {
        for (int k = 0; k < 3; k++) {
            uint64_t v = 0;
            for (int b = 0; b < 8; b++) {
                v = v << 8 | res.value[8 * k + b];
            }
            s.tasks[VOID_TASK_DONE + k] = v;
        }
    }
    memcpy(s.outcomes, t->outcomes, sizeof(s.outcomes));
    s.local_bytes = t->local_bytes;
    memcpy(s.fetched, t->fetch.bytes, sizeof(s.fetched));
    s.fetch_failed = t->fetch.failed;
    s.placements = t->placements;
    s.placed = t->placed;
    memcpy(s.placed_bytes, t->placed_bytes, sizeof(s.placed_bytes));
    s.cost_anneal = t->cost_anneal;
    s.cost_greedy = t->cost_greedy;
    s.place_time = t->place_time;
    s.runs_tasks = t->kv_ready;
    pthread_mutex_lock(&t->lock);
    t->snap = s;
    pthread_mutex_unlock(&t->lock);
}

void void__taskrun_metrics(struct void__taskrun *t, struct void__metrics_writer *w)
{
    VOID_ASSERT(t != NULL && w != NULL);
    if (!t->lock_ready) {
        return;
    }
    static _Thread_local struct void__taskrun_snapshot s;
    pthread_mutex_lock(&t->lock);
    s = t->snap;
    pthread_mutex_unlock(&t->lock);
    static const char *const states[] = {"waiting", "running", "done", "failed", "cancelled"};
    void__metrics_family(w, "void_tasks", VOID_METRICS_GAUGE,
                         "Tasks by state, from the replicated state (alike on every replica).");
    for (int k = 0; k < 5; k++) {
        void__metrics_u64(w, "state", states[k], s.tasks[VOID_TASK_WAITING + k]);
    }
    void__metrics_family(w, "void_task_attempts_total", VOID_METRICS_COUNTER,
                         "Task attempts this node ran to an end, by outcome.");
    for (uint8_t k = VOID_TASK_EXITED; k <= VOID_TASK_ERROR; k++) {
        void__metrics_u64(w, "outcome", void_task_outcome_name(k), s.outcomes[k]);
    }
    static const char *const classes[] = {"host", "rack", "datacenter", "across"};
    void__metrics_family(w, "void_task_input_bytes_total", VOID_METRICS_COUNTER,
                         "Input bytes of the tasks this node ran: found in its own store "
                         "(local), or fetched, by distance class to the replica that sent them.");
    void__metrics_u64(w, "distance", "local", s.local_bytes);
    for (int k = 0; k < 4; k++) {
        void__metrics_u64(w, "distance", classes[k], s.fetched[k]);
    }
    void__metrics_family(w, "void_task_placed_input_bytes_total", VOID_METRICS_COUNTER,
                         "Input bytes of the tasks placed, by distance class from the chosen "
                         "member to the nearest holder (the placement's view; every replica alike).");
    for (int k = 0; k < 4; k++) {
        void__metrics_u64(w, "distance", classes[k], s.placed_bytes[k]);
    }
    void__metrics_family(w, "void_task_placements_total", VOID_METRICS_COUNTER,
                         "Placement rounds of the waiting batch this replica ran.");
    void__metrics_u64(w, NULL, NULL, s.placements);
    void__metrics_family(w, "void_tasks_placed_total", VOID_METRICS_COUNTER,
                         "Tasks placed (an attempt started) by those rounds.");
    void__metrics_u64(w, NULL, NULL, s.placed);
    void__metrics_family(w, "void_task_placement_cost_total", VOID_METRICS_COUNTER,
                         "Cost (MiB x distance + load penalty) of the batches placed whole: "
                         "annealing's, and greedy's it started from; 1 - annealing/greedy is "
                         "the gap annealing closed. The gap to the optimum is measured by "
                         "bench_sched, not here.");
    void__metrics_u64(w, "solver", "annealing", s.cost_anneal);
    void__metrics_u64(w, "solver", "greedy", s.cost_greedy);
    void__metrics_family(w, "void_task_placement_seconds", VOID_METRICS_HISTOGRAM,
                         "Time of one placement round inside the state machine's execution.");
    void__metrics_histogram(w, NULL, NULL, &s.place_time);
}

/* ---- the tick ------------------------------------------------------------ */

/* Without a memory cgroup the limit is RLIMIT_AS, and a task that passes
 * it sees failed allocations, not a kill: its stderr saying so (the C
 * library's, Python's, C++'s and shells' words for it) classifies the
 * failure as `memory`. */
static int stderr_says_no_memory(const struct void__taskrun_job *j)
{
    static const char *const words[] = {"Cannot allocate memory", "MemoryError", "bad_alloc",
                                        "out of memory", "Out of memory", "memory exhausted"};
    char path[sizeof(j->dir) + 16], buf[65536];
    (void)snprintf(path, sizeof(path), "%s/result/stderr", j->dir);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (n > 0 && memmem(buf, (size_t)n, words[i], strlen(words[i])) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void reap(struct void__taskrun *t)
{
    uint64_t now = uv_now(t->loop);
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        struct void__taskrun_job *j = &t->jobs[i];
        if (!j->used || j->pid <= 0) {
            continue;
        }
        if (!j->timed_out && now - j->start_ms > (uint64_t)j->timeout_s * 1000) {
            j->timed_out = 1;
            kill(-j->pid, SIGKILL);
        }
        int status = 0;
        if (waitpid(j->pid, &status, WNOHANG) != j->pid) {
            continue;
        }
        j->pid = 0;
        /* The task's outputs go with its logs. */
        char out[sizeof(j->dir) + 16], res[sizeof(j->dir) + 16];
        (void)snprintf(out, sizeof(out), "%s/work/out", j->dir);
        (void)snprintf(res, sizeof(res), "%s/result/out", j->dir);
        (void)rename(out, res);
        char why[200];
        uint64_t ooms = cgroup_oom_kills(t, j);
        int failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
        if (j->timed_out) {
            (void)snprintf(why, sizeof(why), "killed after its time limit of %u s", j->timeout_s);
            report(t, j, VOID_TASK_TIMEOUT, SIGKILL, why);
        } else if (ooms > 0) {
            (void)snprintf(why, sizeof(why),
                           "killed at its memory limit of %llu bytes (memory cgroup, %llu OOM "
                           "kill%s)",
                           (unsigned long long)j->mem, (unsigned long long)ooms,
                           ooms == 1 ? "" : "s");
            report(t, j, VOID_TASK_MEMORY, WIFSIGNALED(status) ? WTERMSIG(status) : 0, why);
        } else if (failed && j->cgroup[0] == '\0' && j->mem > 0 && stderr_says_no_memory(j)) {
            (void)snprintf(why, sizeof(why),
                           "failed to allocate under its address-space limit of %llu bytes "
                           "(RLIMIT_AS: this node has no memory cgroup)",
                           (unsigned long long)j->mem);
            report(t, j, VOID_TASK_MEMORY,
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), why);
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
            (void)snprintf(why, sizeof(why), "CPU time limit (SIGXCPU)");
            report(t, j, VOID_TASK_CPU, SIGXCPU, why);
        } else if (WIFSIGNALED(status)) {
            (void)snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
            report(t, j, VOID_TASK_SIGNALLED, WTERMSIG(status), why);
        } else {
            (void)snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
            report(t, j, VOID_TASK_EXITED, WEXITSTATUS(status), why);
        }
    }
}

/* Did attempt `attempt` of task id end here (its report answered)? */
static int ended_here(const struct void__taskrun *t, uint64_t id, uint32_t attempt)
{
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        if (t->ended[i].id == id && t->ended[i].attempt == attempt) {
            return 1;
        }
    }
    return 0;
}

/* Gives the task client every member of the node's table that its client
 * file does not list (a member that joined: follow_epoch adds it to the
 * table, with its key and address from its JOIN), so that a fetch from a
 * holder that joined is sent, not lost (taskfetch picks its holders and
 * the replicas to relay through from that table). The table only grows. */
static void add_joined(struct void__taskrun *t)
{
    VOID_ASSERT(t->kv_ready);
    const struct void_config *node = t->node;
    if (node->count_replicas == t->count_added) {
        return;
    }
    VOID_ASSERT(node->count_replicas > t->count_added);
    for (uint32_t i = t->count_added; i < node->count_replicas; i++) {
        const struct void_config_replica *r = &node->replicas[i];
        if (r->id == node->self_id || void_config_replica_get(&t->client, r->id) != NULL ||
            r->address.port == 0) {
            continue; /* itself, listed, or no address to dial */
        }
        int rc = void_kvclient_add_replica(
            &t->kv, r->id, r->public_key, r->address.host, r->address.port);
        void_log(rc == 0 ? VOID_LOG_INFO : VOID_LOG_WARN,
                 "tasks: fetches may ask member %u at %s (not in the client file): %s",
                 (unsigned)r->id,
                 r->address.text,
                 rc == 0 ? "added" : void_strerror(rc));
    }
    t->count_added = node->count_replicas;
}

static void on_tick(uv_timer_t *timer)
{
    struct void__taskrun *t = timer->data;
    if (void_sm_failed(sm_of(t)) == 0) {
        snapshot(t);
    }
    if (!t->kv_ready) {
        return; /* this node runs no tasks */
    }
    reap(t);
    add_joined(t);
    void__taskfetch_tick(&t->fetch, uv_now(t->loop), 1);
    void__taskput_tick(&t->put, uv_now(t->loop));
    reports_due(t);
    if (void_sm_failed(sm_of(t)) != 0) {
        return;
    }
    struct void_sm_result res;
    void_sm_read(
        sm_of(t), (const uint8_t *)VOID_TASK_TABLE_KEY, VOID_TASK_TABLE_KEY_LEN, NULL, &res);
    static uint8_t table[13 + 25 * VOID_TASK_ACTIVE_MAX];
    size_t len = res.status == VOID_SM_OK && res.value_len <= sizeof(table) ? res.value_len : 0;
    if (len > 0) {
        memcpy(table, res.value, len);
    }
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    struct void_task task;
    uint64_t now_ns = void_kvclient_now_ns();
    uint32_t count = len >= 13 ? (uint32_t)((len - 13) / 25) : 0;
    /* Local jobs the state no longer runs here: killed, no report. */
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        struct void__taskrun_job *j = &t->jobs[i];
        if (!j->used || j->reporting) {
            continue;
        }
        int keep = read_task(t, j->id, &task, buf, sizeof(buf)) == 0 &&
                   task.state == VOID_TASK_RUNNING && task.node == t->node->self_id &&
                   task.attempt == j->attempt;
        if (!keep) {
            void_log(VOID_LOG_INFO,
                     "task %llu attempt %u: no longer runs here (%s); stopped",
                     (unsigned long long)j->id,
                     j->attempt,
                     void_task_state_name(task.state));
            job_drop(t, j);
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = table + 13 + 25 * (size_t)i;
        uint64_t id = (uint64_t)e[0] << 56 | (uint64_t)e[1] << 48 | (uint64_t)e[2] << 40 |
                      (uint64_t)e[3] << 32 | (uint64_t)e[4] << 24 | (uint64_t)e[5] << 16 |
                      (uint64_t)e[6] << 8 | e[7];
        uint32_t node = (uint32_t)e[9] << 24 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 8 | e[12];
        if (e[8] != VOID_TASK_RUNNING || read_task(t, id, &task, buf, sizeof(buf)) != 0) {
            continue;
        }
        if (node == t->node->self_id) {
            struct void__taskrun_job *j = job_find(t, id);
            if (j == NULL && !ended_here(t, id, task.attempt)) {
                start(t, &task);
            } else if (j != NULL && j->fetching) {
                resume(t, j, &task);
            }
            continue;
        }
        uint64_t deadline =
            task.started_ns + (uint64_t)task.timeout_s * 1000000000ull + VOID_TASK_GRACE_NS;
        uint64_t *sent = &t->expire_sent_ms[id % VOID__TASKRUN_JOBS];
        if (now_ns > deadline + 1000000000ull && uv_now(t->loop) > *sent + 5000) {
            struct void_task_op op = {.op = VOID_TASK_EXPIRE, .id = id};
            if (enqueue(t, &op, id, 0) == 0) {
                *sent = uv_now(t->loop);
                void_log(VOID_LOG_INFO,
                         "task %llu: member %u missed its deadline; asking to place it again",
                         (unsigned long long)id,
                         node);
            }
        }
    }
}

/* Can a child get a network namespace (as root, or in a user namespace)? */
static int probe_netns(void)
{
    char uid_map[64];
    (void)snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)getuid(), (unsigned)getuid());
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
            _exit(0);
        }
        _exit(1);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* Can this node make memory cgroups for its tasks? Sets cgroup_base to the
 * node's own memory cgroup (v1: /sys/fs/cgroup/memory/<path>; v2: the
 * unified hierarchy with the memory controller delegated) when a child
 * cgroup can be made there. */
static void probe_cgroup(struct void__taskrun *t)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[VOID_CONFIG_PATH_MAX], v1[VOID_CONFIG_PATH_MAX] = "", v2[VOID_CONFIG_PATH_MAX] = "";
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *ctl = strchr(line, ':');
        char *path = ctl != NULL ? strchr(ctl + 1, ':') : NULL;
        if (path == NULL) {
            continue;
        }
        *path++ = '\0';
        ctl++;
        if (ctl[0] == '\0') {
            (void)snprintf(v2, sizeof(v2), "%s", path);
        }
        for (char *c = strtok(ctl, ","); c != NULL; c = strtok(NULL, ",")) {
            if (strcmp(c, "memory") == 0) {
                (void)snprintf(v1, sizeof(v1), "%s", path);
            }
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    char base[VOID_CONFIG_PATH_MAX], probe[VOID_CONFIG_PATH_MAX + 64];
    struct stat st;
    int version = 0;
    int n = snprintf(base, sizeof(base), "/sys/fs/cgroup/memory%s", strcmp(v1, "/") == 0 ? "" : v1);
    if (v1[0] != '\0' && n > 0 && (size_t)n < sizeof(base) &&
        stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0) {
        version = 1;
    } else if (v2[0] != '\0' && stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) {
        n = snprintf(base, sizeof(base), "/sys/fs/cgroup%s", strcmp(v2, "/") == 0 ? "" : v2);
        char file[VOID_CONFIG_PATH_MAX + 32], ctl[256] = "";
        (void)snprintf(file, sizeof(file), "%s/cgroup.subtree_control", base);
        int fd = open(file, O_RDONLY);
        ssize_t r = fd >= 0 ? read(fd, ctl, sizeof(ctl) - 1) : -1;
        if (fd >= 0) {
            close(fd);
        }
        ctl[r > 0 ? r : 0] = '\0';
        version = n > 0 && (size_t)n < sizeof(base) && strstr(ctl, "memory") != NULL ? 2 : 0;
    }
    (void)snprintf(probe, sizeof(probe), "%s/void-probe-%d", base, (int)getpid());
    if (version != 0 && mkdir(probe, 0755) == 0) {
        (void)rmdir(probe);
        memcpy(t->cgroup_base, base, sizeof(base));
        t->cgroup_version = version;
    }
}

/* Frames for the task client other than replies: fetched blocks. */
static void on_client_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *f)
{
    struct void__taskrun *t = ctx;
    (void)buf;
    (void)len;
    void__taskfetch_frame(&t->fetch, f);
    void__taskfetch_tick(&t->fetch, uv_now(t->loop), 0); /* the next fetches go out at once */
    if (void__taskput_frame(&t->put, f) > 0) {
        void__taskput_tick(&t->put, uv_now(t->loop)); /* the next blocks go out at once */
        reports_due(t);
    }
}

int void__taskrun_start(struct void__taskrun *t,
                        uv_loop_t *loop,
                        const struct void_config *node,
                        struct void_cas *cas,
                        struct void_pbft *replica,
                        struct void_caswriter *writer,
                        const char *client_path,
                        char *errbuf,
                        size_t errcap)
{
    VOID_ASSERT(t != NULL && loop != NULL && node != NULL && cas != NULL && replica != NULL);
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->node = node;
    t->cas = cas;
    t->replica = replica;
    t->writer = writer;
    pthread_mutex_init(&t->lock, NULL);
    t->lock_ready = 1;
    void__metrics_histogram_init(&t->place_time, &place_buckets);
    void__metrics_histogram_init(&t->snap.place_time, &place_buckets);
    uv_timer_init(loop, &t->tick);
    t->tick.data = t;
    t->tick_ready = 1;
    uv_timer_start(&t->tick, on_tick, TICK_MS, TICK_MS);
    if (client_path == NULL || client_path[0] == '\0') {
        return 0; /* the metrics only */
    }
    char err[VOID_CONFIG_ERR_MAX] = "";
    int rc = void_config_load(&t->client, client_path, err, sizeof(err));
    if (rc == 0 && t->client.role != VOID_CONFIG_ROLE_CLIENT) {
        rc = VOID_EINVAL;
        (void)snprintf(err, sizeof(err), "it has no [client] section");
    }
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "tasks: bad client file %s: %s", client_path, err);
        return rc;
    }
    struct void_kvclient_config kc = {.loop = loop,
                                      .cluster = &t->client,
                                      .id = t->client.self_id,
                                      .keypair = &t->client.keypair,
                                      .cert =
                                          t->client.has_client_cert ? t->client.client_cert : NULL,
                                      .reply_all = 0,
                                      .on_other = on_client_frame,
                                      .other_ctx = t};
    rc = void_kvclient_init(&t->kv, &kc, errbuf, errcap);
    if (rc != 0) {
        void_kvclient_fini(&t->kv);
        return rc;
    }
    t->kv_ready = 1;
    void__taskfetch_init(&t->fetch, node, cas, writer, &t->kv);
    t->fetch_ready = 1;
    void__taskput_init(&t->put, cas, &t->kv);
    t->put_ready = 1;
    probe_cgroup(t);
    t->netns = probe_netns();
    if (!t->netns) {
        void_log(VOID_LOG_WARN,
                 "tasks: the kernel refuses a network namespace (unshare CLONE_NEWNET, also in a "
                 "user namespace): tasks on this node run WITH the network");
    }
    void_log(VOID_LOG_INFO,
             "tasks: this node runs tasks placed on it (reports as client %u; network "
             "namespace %s; memory limit by %s%s)",
             t->client.self_id,
             t->netns ? "yes" : "no",
             t->cgroup_version != 0 ? "cgroup " : "RLIMIT_AS (no memory cgroup can be made)",
             t->cgroup_base);
    return 0;
}

void void__taskrun_stop(struct void__taskrun *t)
{
    VOID_ASSERT(t != NULL);
    for (int i = 0; i < VOID__TASKRUN_JOBS; i++) {
        if (t->jobs[i].used && t->jobs[i].pid > 0) {
            kill(-t->jobs[i].pid, SIGKILL);
            (void)waitpid(t->jobs[i].pid, NULL, 0);
            t->jobs[i].pid = 0;
        }
        if (t->jobs[i].used) {
            cgroup_remove(&t->jobs[i]);
        }
    }
    if (t->tick_ready) {
        uv_timer_stop(&t->tick);
        uv_close((uv_handle_t *)&t->tick, NULL);
        t->tick_ready = 0;
    }
    if (t->fetch_ready) {
        void__taskfetch_fini(&t->fetch);
        t->fetch_ready = 0;
    }
    if (t->put_ready) {
        void__taskput_fini(&t->put);
        t->put_ready = 0;
    }
    if (t->kv_ready) {
        void_kvclient_fini(&t->kv);
        t->kv_ready = 0;
        void_config_fini(&t->client);
    }
    if (t->lock_ready) {
        pthread_mutex_destroy(&t->lock);
        t->lock_ready = 0;
    }
}

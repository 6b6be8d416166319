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

static void job_drop(struct void__taskrun_job *j)
{
    if (j->pid > 0) {
        kill(-j->pid, SIGKILL);
        (void)waitpid(j->pid, NULL, 0);
    }
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
            job_drop(j);
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

/* Stores result/ and queues the report of job j. */
static void report(struct void__taskrun *t,
                   struct void__taskrun_job *j,
                   uint8_t outcome,
                   int32_t code,
                   const char *reason)
{
    struct void_task_op op = {.op = VOID_TASK_REPORT};
    struct void_task_report *r = &op.report;
    r->id = j->id;
    r->attempt = j->attempt;
    r->node = t->node->self_id;
    r->outcome = outcome;
    r->code = code;
    size_t rl = strlen(reason);
    r->reason = (struct void_task_str){
        (const uint8_t *)reason, (uint16_t)(rl > VOID_TASK_REASON_MAX ? VOID_TASK_REASON_MAX : rl)};
    char result[sizeof(j->dir) + 16];
    (void)snprintf(result, sizeof(result), "%s/result", j->dir);
    struct void_cas_put_result put;
    int rc = void_cas_put_path(t->cas, result, NULL, NULL, NULL, &put);
    if (rc == 0) {
        memcpy(r->out_root, put.root.b, VOID_HASH_SIZE);
        r->out_bytes = put.logical_bytes;
    } else {
        void_log(VOID_LOG_WARN,
                 "task %llu: cannot store its output: %s",
                 (unsigned long long)j->id,
                 void_strerror(rc));
    }
    if (void_task_report_sign(r, &t->node->keypair) != 0 || enqueue(t, &op, j->id, 1) != 0) {
        void_log(VOID_LOG_WARN, "task %llu: cannot queue its report", (unsigned long long)j->id);
        return; /* tried again at the next tick: the job stays */
    }
    j->reporting = 1;
    void_log(VOID_LOG_INFO,
             "task %llu attempt %u: %s (%s), output %llu bytes",
             (unsigned long long)j->id,
             j->attempt,
             void_task_outcome_name(outcome),
             reason,
             (unsigned long long)r->out_bytes);
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
                      const char *gid_map)
{
    setpgid(0, 0);
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
    if (task->mem > 0) {
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
    char base[sizeof(j->dir)], work[sizeof(j->dir) + 16], outdir[sizeof(j->dir) + 16];
    char result[sizeof(j->dir) + 16], so[sizeof(j->dir) + 16], se[sizeof(j->dir) + 16];
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
    (void)snprintf(outdir, sizeof(outdir), "%s/work/out", j->dir);
    (void)snprintf(result, sizeof(result), "%s/result", j->dir);
    (void)snprintf(so, sizeof(so), "%s/result/stdout", j->dir);
    (void)snprintf(se, sizeof(se), "%s/result/stderr", j->dir);
    t->started++;
    if (mkdir(j->dir, 0700) != 0 || mkdir(work, 0755) != 0 || mkdir(result, 0755) != 0) {
        report(t, j, VOID_TASK_ERROR, 0, "cannot make the task's directory");
        return;
    }
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
    char uid_map[64], gid_map[64];
    (void)snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned)getuid(), (unsigned)getuid());
    (void)snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned)getgid(), (unsigned)getgid());
    pid_t pid = ok == 1 ? fork() : -1;
    if (pid == 0) {
        child_run(t, task, work, so, se, argv, uid_map, gid_map);
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
                 "task %llu attempt %u: started, pid %d",
                 (unsigned long long)task->id,
                 task->attempt,
                 (int)pid);
    }
}

/* ---- the tick ------------------------------------------------------------ */

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
        char why[128];
        if (j->timed_out) {
            (void)snprintf(why, sizeof(why), "killed after its time limit of %u s", j->timeout_s);
            report(t, j, VOID_TASK_TIMEOUT, SIGKILL, why);
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

static void on_tick(uv_timer_t *timer)
{
    struct void__taskrun *t = timer->data;
    reap(t);
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
            job_drop(j);
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
            if (job_find(t, id) == NULL) {
                start(t, &task);
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

int void__taskrun_start(struct void__taskrun *t,
                        uv_loop_t *loop,
                        const struct void_config *node,
                        struct void_cas *cas,
                        struct void_pbft *replica,
                        const char *client_path,
                        char *errbuf,
                        size_t errcap)
{
    VOID_ASSERT(t != NULL && loop != NULL && node != NULL && cas != NULL && replica != NULL);
    memset(t, 0, sizeof(*t));
    if (client_path == NULL || client_path[0] == '\0') {
        return 0;
    }
    t->loop = loop;
    t->node = node;
    t->cas = cas;
    t->replica = replica;
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
                                      .reply_all = 0};
    rc = void_kvclient_init(&t->kv, &kc, errbuf, errcap);
    if (rc != 0) {
        void_kvclient_fini(&t->kv);
        return rc;
    }
    t->kv_ready = 1;
    t->netns = probe_netns();
    if (!t->netns) {
        void_log(VOID_LOG_WARN,
                 "tasks: the kernel refuses a network namespace (unshare CLONE_NEWNET, also in a "
                 "user namespace): tasks on this node run WITH the network");
    }
    uv_timer_init(loop, &t->tick);
    t->tick.data = t;
    t->tick_ready = 1;
    uv_timer_start(&t->tick, on_tick, TICK_MS, TICK_MS);
    void_log(VOID_LOG_INFO,
             "tasks: this node runs tasks placed on it (reports as client %u; network "
             "namespace %s)",
             t->client.self_id,
             t->netns ? "yes" : "no");
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
    }
    if (t->tick_ready) {
        uv_timer_stop(&t->tick);
        uv_close((uv_handle_t *)&t->tick, NULL);
        t->tick_ready = 0;
    }
    if (t->kv_ready) {
        void_kvclient_fini(&t->kv);
        t->kv_ready = 0;
        void_config_fini(&t->client);
    }
}

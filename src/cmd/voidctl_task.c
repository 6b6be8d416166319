/*
 * voidctl task submit|status|list|logs|cancel: tasks through PBFT
 * (include/void/task.h, docs/scheduler.md). submit and cancel are ordered
 * operations; status and list read the task records (reserved keys of the
 * replicated state) with read-only GETs; logs fetches the task's output,
 * the file "task-<id>" its report bound, and prints its stdout (or stderr).
 */
#include "cmd/voidctl.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sm.h"
#include "void/task.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct task_opts {
    struct voidctl_opts o;
    const char *inputs[VOID_TASK_INPUTS_MAX];
    uint32_t input_count;
    uint32_t cpu;
    uint64_t mem;
    uint32_t time_limit;
    uint32_t limit;
    int err; /* logs: stderr instead of stdout */
};

/* ---- one client for several operations ------------------------------------ */

struct run {
    uv_loop_t loop;
    struct void_kvclient kv;
    uv_timer_t deadline;
    int ready, done, timed_out;
    uint8_t result[VOID_SM_RESULT_MAX];
    size_t len;
};

static struct run R; /* a megabyte of result: not on the stack */

static void on_done(void *ctx, const uint8_t *result, size_t len)
{
    struct run *r = ctx;
    r->len = len < sizeof(r->result) ? len : sizeof(r->result);
    memcpy(r->result, result, r->len);
    r->done = 1;
}

static void on_deadline(uv_timer_t *timer)
{
    struct run *r = timer->data;
    r->timed_out = 1;
}

static int run_open(const struct void_config *cl, const struct voidctl_opts *o)
{
    if (cl->role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl task: the cluster file has no [client] section (id and key)\n");
        return VOIDCTL_EXIT_FAILED;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&R.loop);
    struct void_kvclient_config kc = {.loop = &R.loop,
                                      .cluster = cl,
                                      .id = cl->self_id,
                                      .keypair = &cl->keypair,
                                      .cert = cl->has_client_cert ? cl->client_cert : NULL,
                                      .session = o->session,
                                      .reply_all = 1};
    char err[512] = "";
    int rc = void_kvclient_init(&R.kv, &kc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "voidctl task: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        void_kvclient_fini(&R.kv);
        uv_run(&R.loop, UV_RUN_DEFAULT);
        uv_loop_close(&R.loop);
        return VOIDCTL_EXIT_FAILED;
    }
    uv_timer_init(&R.loop, &R.deadline);
    R.deadline.data = &R;
    R.ready = 1;
    return 0;
}

static void run_close(void)
{
    if (!R.ready) {
        return;
    }
    void_kvclient_fini(&R.kv);
    uv_close((uv_handle_t *)&R.deadline, NULL);
    uv_run(&R.loop, UV_RUN_DEFAULT);
    uv_loop_close(&R.loop);
    R.ready = 0;
}

/* Runs op; decodes the answer into *res. Returns 0 or an exit status. */
static int run_op(const struct voidctl_opts *o,
                  const uint8_t *op,
                  size_t len,
                  int read_only,
                  struct void_sm_result *res)
{
    R.done = 0;
    R.timed_out = 0;
    uv_timer_start(&R.deadline, on_deadline, (uint64_t)(o->timeout_s * 1000.0), 0);
    int rc = read_only ? void_kvclient_submit_read(&R.kv, op, len, on_done, &R)
                       : void_kvclient_submit(&R.kv, op, len, on_done, &R);
    if (rc != 0) {
        fprintf(stderr, "voidctl task: cannot submit: %s\n", void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    while (!R.done && !R.timed_out) {
        uv_run(&R.loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&R.deadline);
    if (!R.done) {
        fprintf(stderr,
                "voidctl task: timed out after %.1fs: too few replicas gave matching replies "
                "(%u of them reachable)\n",
                o->timeout_s,
                (unsigned)void_kvclient_connected(&R.kv));
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    if (void_sm_result_decode(R.result, R.len, res) != 0) {
        fprintf(stderr, "voidctl task: undecodable answer\n");
        return VOIDCTL_EXIT_FAILED;
    }
    return 0;
}

/* Reports a refusal (its reason) and returns the exit status. */
static int refused(const char *what, const struct void_sm_result *res)
{
    if (res->status == VOID_SM_REFUSED) {
        fprintf(stderr,
                "voidctl task %s: refused: %.*s\n",
                what,
                (int)res->value_len,
                (const char *)res->value);
    } else {
        fprintf(stderr, "voidctl task %s: the cluster answered status %u\n", what, res->status);
    }
    return VOIDCTL_EXIT_REFUSED;
}

/* Reads task id; returns 0, VOIDCTL_EXIT_FAILED (no such task) or another
 * exit status. t points into R.result. */
static int get_task(const struct voidctl_opts *o, uint64_t id, struct void_task *t)
{
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(id, key);
    struct void_sm_op get = {.kind = VOID_SM_OP_GET, .key = key, .key_len = sizeof(key)};
    uint8_t op[64];
    int n = void_sm_op_encode(&get, op, sizeof(op));
    struct void_sm_result res;
    int rc = run_op(o, op, (size_t)n, 1, &res);
    if (rc != 0) {
        return rc;
    }
    if (res.status == VOID_SM_NOT_FOUND) {
        return VOIDCTL_EXIT_FAILED;
    }
    if (res.status != VOID_SM_OK || void_task_decode(res.value, res.value_len, t) != 0) {
        fprintf(
            stderr, "voidctl task: task %llu's record does not decode\n", (unsigned long long)id);
        return VOIDCTL_EXIT_FAILED;
    }
    return 0;
}

/* ---- printing ------------------------------------------------------------ */

static void root_hex(const struct void_task *t, char hex[VOID_HASH_HEX_SIZE])
{
    struct void_hash h;
    memcpy(h.b, t->out_root, VOID_HASH_SIZE);
    static const uint8_t zero[VOID_HASH_SIZE] = {0};
    if (memcmp(h.b, zero, VOID_HASH_SIZE) == 0) {
        hex[0] = '\0';
        return;
    }
    void_hash_to_hex(&h, hex);
}

static json_t *task_json(const struct void_task *t)
{
    char hex[VOID_HASH_HEX_SIZE];
    root_hex(t, hex);
    json_t *inputs = json_array();
    for (uint32_t i = 0; i < t->input_count; i++) {
        json_array_append_new(
            inputs, json_stringn((const char *)t->inputs[i].name.p, t->inputs[i].name.len));
    }
    json_t *argv = json_array();
    json_array_append_new(argv, json_stringn((const char *)t->exe.p, t->exe.len));
    for (uint32_t i = 0; i < t->arg_count; i++) {
        json_array_append_new(argv, json_stringn((const char *)t->args[i].p, t->args[i].len));
    }
    json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                          "id",
                          (json_int_t)t->id,
                          "state",
                          void_task_state_name(t->state),
                          "attempt",
                          (json_int_t)t->attempt,
                          "cpu",
                          (json_int_t)t->cpu,
                          "mem",
                          (json_int_t)t->mem,
                          "time_limit_s",
                          (json_int_t)t->timeout_s,
                          "bytes_in",
                          (json_int_t)t->bytes_in,
                          "bytes_moved",
                          (json_int_t)t->bytes_moved,
                          "cost",
                          (json_int_t)t->cost,
                          "inputs",
                          inputs,
                          "argv",
                          argv);
    json_object_set_new(
        j, "node", t->node == VOID_TASK_NO_NODE ? json_null() : json_integer(t->node));
    if (t->outcome != 0) {
        json_object_set_new(j, "outcome", json_string(void_task_outcome_name(t->outcome)));
        json_object_set_new(j, "code", json_integer(t->code));
        json_object_set_new(j, "reason", json_stringn((const char *)t->reason.p, t->reason.len));
        json_object_set_new(j, "output_bytes", json_integer((json_int_t)t->out_bytes));
    }
    if (hex[0] != '\0') {
        json_object_set_new(j, "output_root", json_string(hex));
        char name[32];
        snprintf(name, sizeof(name), "task-%llu", (unsigned long long)t->id);
        json_object_set_new(j, "output_file", json_string(name));
    }
    return j;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s != NULL ? s : "{}");
    free(s);
    json_decref(j);
}

static void print_task(const struct void_task *t)
{
    char hex[VOID_HASH_HEX_SIZE];
    root_hex(t, hex);
    printf("task %llu: %s", (unsigned long long)t->id, void_task_state_name(t->state));
    if (t->node != VOID_TASK_NO_NODE) {
        printf(" on member %u (attempt %u)", t->node, t->attempt);
    }
    printf("\n  command: %.*s", (int)t->exe.len, (const char *)t->exe.p);
    for (uint32_t i = 0; i < t->arg_count; i++) {
        printf(" %.*s", (int)t->args[i].len, (const char *)t->args[i].p);
    }
    printf("\n  limits: %u cpu, %llu bytes of memory, %u s\n",
           t->cpu,
           (unsigned long long)t->mem,
           t->timeout_s);
    for (uint32_t i = 0; i < t->input_count; i++) {
        printf("  input %.*s: %llu bytes\n",
               (int)t->inputs[i].name.len,
               (const char *)t->inputs[i].name.p,
               (unsigned long long)t->inputs[i].bytes);
    }
    printf("  placement: %llu input bytes, %llu moved, cost %llu\n",
           (unsigned long long)t->bytes_in,
           (unsigned long long)t->bytes_moved,
           (unsigned long long)t->cost);
    if (t->outcome != 0) {
        printf("  result: %s %d (%.*s)\n",
               void_task_outcome_name(t->outcome),
               t->code,
               (int)t->reason.len,
               (const char *)t->reason.p);
    }
    if (hex[0] != '\0') {
        printf("  output: %s, %llu bytes (voidctl get --file task-%llu DIR)\n",
               hex,
               (unsigned long long)t->out_bytes,
               (unsigned long long)t->id);
    }
}

/* ---- commands ------------------------------------------------------------ */

static int parse_id(const char *text, uint64_t *id)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || text[0] == '-' || v == 0) {
        fprintf(stderr, "voidctl task: '%s' is not a task id (1, 2, ...)\n", text);
        return -1;
    }
    *id = v;
    return 0;
}

static int cmd_submit(struct task_opts *to, char **pos, int npos)
{
    if (npos < 1) {
        fprintf(stderr, "voidctl task submit: no command (write it after --)\n");
        return VOIDCTL_EXIT_USAGE;
    }
    if (npos - 1 > VOID_TASK_ARGS_MAX) {
        fprintf(stderr, "voidctl task submit: at most %d arguments\n", VOID_TASK_ARGS_MAX);
        return VOIDCTL_EXIT_USAGE;
    }
    struct void_task_op op = {.op = VOID_TASK_SUBMIT};
    op.submit.cpu = to->cpu;
    op.submit.mem = to->mem;
    op.submit.timeout_s = to->time_limit;
    op.submit.input_count = to->input_count;
    for (uint32_t i = 0; i < to->input_count; i++) {
        size_t n = strlen(to->inputs[i]);
        if (n == 0 || n > VOID_TASK_NAME_MAX) {
            fprintf(
                stderr, "voidctl task submit: an input name is 1..%d bytes\n", VOID_TASK_NAME_MAX);
            return VOIDCTL_EXIT_USAGE;
        }
        op.submit.inputs[i] = (struct void_task_str){(const uint8_t *)to->inputs[i], (uint16_t)n};
    }
    for (int i = 0; i < npos; i++) {
        size_t n = strlen(pos[i]);
        if ((i == 0 && n == 0) || n > VOID_TASK_ARG_MAX) {
            fprintf(stderr,
                    "voidctl task submit: the command and each argument are at most "
                    "%d bytes (the command not empty)\n",
                    VOID_TASK_ARG_MAX);
            return VOIDCTL_EXIT_USAGE;
        }
        struct void_task_str s = {(const uint8_t *)pos[i], (uint16_t)n};
        if (i == 0) {
            op.submit.exe = s;
        } else {
            op.submit.args[op.submit.arg_count++] = s;
        }
    }
    static uint8_t buf[VOID_TASK_OP_MAX];
    int n = void_task_op_encode(&op, buf, sizeof(buf));
    if (n < 0) {
        fprintf(stderr, "voidctl task submit: %s\n", void_strerror(n));
        return VOIDCTL_EXIT_USAGE;
    }
    struct void_sm_result res;
    int rc = run_op(&to->o, buf, (size_t)n, 0, &res);
    if (rc != 0) {
        return rc;
    }
    if (res.status != VOID_SM_OK || res.value_len != 17) {
        return refused("submit", &res);
    }
    uint64_t id = 0;
    for (int i = 0; i < 8; i++) {
        id = id << 8 | res.value[i];
    }
    uint32_t node = (uint32_t)res.value[9] << 24 | (uint32_t)res.value[10] << 16 |
                    (uint32_t)res.value[11] << 8 | res.value[12];
    if (to->o.json) {
        json_t *j = json_pack("{s:s, s:I, s:s}",
                              "status",
                              "ok",
                              "id",
                              (json_int_t)id,
                              "state",
                              void_task_state_name(res.value[8]));
        json_object_set_new(
            j, "node", node == VOID_TASK_NO_NODE ? json_null() : json_integer(node));
        print_json(j);
    } else if (node != VOID_TASK_NO_NODE) {
        printf("task %llu: %s on member %u\n",
               (unsigned long long)id,
               void_task_state_name(res.value[8]),
               node);
    } else {
        printf("task %llu: %s (no member has room yet)\n",
               (unsigned long long)id,
               void_task_state_name(res.value[8]));
    }
    return VOIDCTL_EXIT_OK;
}

static int cmd_status(struct task_opts *to, uint64_t id)
{
    struct void_task t;
    int rc = get_task(&to->o, id, &t);
    if (rc == VOIDCTL_EXIT_FAILED) {
        fprintf(stderr, "voidctl task status: no task %llu\n", (unsigned long long)id);
    }
    if (rc != 0) {
        return rc;
    }
    if (to->o.json) {
        print_json(task_json(&t));
    } else {
        print_task(&t);
    }
    return VOIDCTL_EXIT_OK;
}

static int cmd_list(struct task_opts *to)
{
    struct void_sm_op get = {.kind = VOID_SM_OP_GET,
                             .key = (const uint8_t *)VOID_TASK_TABLE_KEY,
                             .key_len = VOID_TASK_TABLE_KEY_LEN};
    uint8_t op[64];
    int n = void_sm_op_encode(&get, op, sizeof(op));
    struct void_sm_result res;
    int rc = run_op(&to->o, op, (size_t)n, 1, &res);
    if (rc != 0) {
        return rc;
    }
    uint64_t next = 1;
    if (res.status == VOID_SM_OK && res.value_len >= 9) {
        next = 0; /* the table: u8 version | u64 next id | ... (src/core/task_sm.c) */
        for (int i = 1; i < 9; i++) {
            next = next << 8 | res.value[i];
        }
    }
    uint64_t first = next > to->limit ? next - to->limit : 1;
    json_t *arr = json_array();
    if (!to->o.json) {
        printf("%-6s %-10s %-6s %-7s %-10s %s\n",
               "ID",
               "STATE",
               "MEMBER",
               "ATTEMPT",
               "RESULT",
               "COMMAND");
    }
    for (uint64_t id = first; id < next; id++) {
        struct void_task t;
        rc = get_task(&to->o, id, &t);
        if (rc != 0) {
            json_decref(arr);
            return rc == VOIDCTL_EXIT_FAILED ? VOIDCTL_EXIT_FAILED : rc;
        }
        if (to->o.json) {
            json_array_append_new(arr, task_json(&t));
            continue;
        }
        char member[16] = "-", result[32] = "-";
        if (t.node != VOID_TASK_NO_NODE) {
            snprintf(member, sizeof(member), "%u", t.node);
        }
        if (t.outcome != 0) {
            snprintf(result, sizeof(result), "%s %d", void_task_outcome_name(t.outcome), t.code);
        }
        printf("%-6llu %-10s %-6s %-7u %-10s %.*s\n",
               (unsigned long long)t.id,
               void_task_state_name(t.state),
               member,
               t.attempt,
               result,
               (int)t.exe.len,
               (const char *)t.exe.p);
    }
    if (to->o.json) {
        print_json(json_pack("{s:o}", "tasks", arr));
    } else {
        json_decref(arr);
    }
    return VOIDCTL_EXIT_OK;
}

static int cmd_cancel(struct task_opts *to, uint64_t id)
{
    struct void_task_op op = {.op = VOID_TASK_CANCEL, .id = id};
    uint8_t buf[64];
    int n = void_task_op_encode(&op, buf, sizeof(buf));
    struct void_sm_result res;
    int rc = run_op(&to->o, buf, (size_t)n, 0, &res);
    if (rc != 0) {
        return rc;
    }
    if (res.status != VOID_SM_OK) {
        return refused("cancel", &res);
    }
    if (to->o.json) {
        print_json(json_pack(
            "{s:s, s:I, s:s}", "status", "ok", "id", (json_int_t)id, "state", "cancelled"));
    } else {
        printf("task %llu: cancelled\n", (unsigned long long)id);
    }
    return VOIDCTL_EXIT_OK;
}

static int cmd_logs(struct task_opts *to, uint64_t id)
{
    struct void_task t;
    int rc = get_task(&to->o, id, &t);
    if (rc == VOIDCTL_EXIT_FAILED) {
        fprintf(stderr, "voidctl task logs: no task %llu\n", (unsigned long long)id);
    }
    if (rc != 0) {
        return rc;
    }
    char hex[VOID_HASH_HEX_SIZE];
    root_hex(&t, hex);
    if (hex[0] == '\0') {
        fprintf(stderr,
                "voidctl task logs: task %llu is %s and has no output yet\n",
                (unsigned long long)id,
                void_task_state_name(t.state));
        return VOIDCTL_EXIT_FAILED;
    }
    run_close(); /* voidctl_files opens its own client */
    char tmp[] = "/tmp/voidctl-task-XXXXXX";
    if (mkdtemp(tmp) == NULL) {
        perror("voidctl task logs: mkdtemp");
        return VOIDCTL_EXIT_FAILED;
    }
    char name[32], dest[64];
    snprintf(name, sizeof(name), "task-%llu", (unsigned long long)id);
    snprintf(dest, sizeof(dest), "%s/out", tmp);
    char *pos[2] = {name, dest};
    struct voidctl_opts fo = to->o;
    fo.quiet = 1;
    fo.json = 0;
    fflush(stdout);
    int saved = dup(1);
    int null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0) {
        dup2(null, 1);
    }
    rc = voidctl_files(&fo, "get", pos, 2);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    if (null >= 0) {
        close(null);
    }
    if (rc == 0) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dest, to->err ? "stderr" : "stdout");
        FILE *f = fopen(path, "rb");
        char chunk[65536];
        size_t got;
        while (f != NULL && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            fwrite(chunk, 1, got, stdout);
        }
        if (f != NULL) {
            fclose(f);
        } else {
            fprintf(stderr,
                    "voidctl task logs: the output of task %llu has no %s\n",
                    (unsigned long long)id,
                    to->err ? "stderr" : "stdout");
            rc = VOIDCTL_EXIT_FAILED;
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0) {
        fprintf(stderr, "voidctl task logs: could not remove %s\n", tmp);
    }
    return rc;
}

/* ---- parsing ------------------------------------------------------------- */

static int usage(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fprintf(
        out,
        "usage: voidctl task submit [--input NAME]... [--cpu C] [--mem BYTES] [--time-limit S]\n"
        "                           -- COMMAND [ARGS...]\n"
        "       voidctl task status ID | list [--limit N] | logs ID [--stderr] | cancel ID\n"
        "\n"
        "Tasks run on the member the replicated state machine places them on, near\n"
        "their inputs (docs/scheduler.md). submit names inputs by the names files were\n"
        "stored under (voidctl put --file PATH NAME); each appears under its name in the\n"
        "task's working directory, and what the task writes to out/ is kept with its\n"
        "stdout and stderr as the file task-ID (voidctl get --file task-ID DIR).\n"
        "\n"
        "options:\n"
        "  --input NAME       an input file, up to %d times\n"
        "  --cpu C            CPU units (default 1)\n"
        "  --mem BYTES        memory limit (a memory cgroup, else RLIMIT_AS), with K/M/G\n"
        "                     suffixes (default 1G)\n"
        "  --time-limit S     wall-clock limit in seconds, 1..%u (default 60)\n"
        "  --limit N          list: the last N tasks (default 100)\n"
        "  --stderr           logs: print the task's stderr instead of its stdout\n"
        "  --cluster FILE     the cluster's client file (default: $VOID_CLUSTER)\n"
        "  --timeout S        give up after S seconds without an answer (default 5)\n"
        "  --json             one JSON object on stdout\n"
        "\n",
        VOID_TASK_INPUTS_MAX,
        VOID_TASK_TIMEOUT_MAX);
    voidctl_print_exit_codes(out);
    fprintf(out,
            "\nexamples:\n"
            "  voidctl put --file words.txt words\n"
            "  voidctl task submit --input words --time-limit 30 -- /usr/bin/wc -l words\n"
            "  voidctl task status 1 --json\n"
            "  voidctl task logs 1\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

static int parse_u64(const char *opt, const char *text, uint64_t max, int suffix, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mul = 1;
    if (suffix && end != text && *end != '\0' && end[1] == '\0') {
        mul = *end == 'K' || *end == 'k'   ? 1ull << 10
              : *end == 'M' || *end == 'm' ? 1ull << 20
              : *end == 'G' || *end == 'g' ? 1ull << 30
                                           : 0;
        end += mul != 0;
    }
    if (end == text || *end != '\0' || text[0] == '-' || mul == 0 || v == 0 || v > max / mul) {
        fprintf(stderr,
                "voidctl task: %s wants a number 1..%llu%s, not '%s'\n",
                opt,
                (unsigned long long)max,
                suffix ? " (K, M, G suffixes)" : "",
                text);
        return -1;
    }
    *out = v * mul;
    return 0;
}

/* Moves the subcommand (the first word that is neither an option nor an
 * option's value: global options may come before it) to argv[1]. Returns
 * 0, or -1 when there is none. */
static int find_sub(int argc, char **argv)
{
    static const char *const with_value[] = {"--cluster",
                                             "--config",
                                             "--timeout",
                                             "--session",
                                             "--input",
                                             "--cpu",
                                             "--mem",
                                             "--time-limit",
                                             "--limit"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            return -1;
        }
        if (a[0] != '-') {
            char *sub = argv[i];
            memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof(*argv));
            argv[1] = sub;
            return 0;
        }
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            i += strcmp(a, with_value[k]) == 0;
        }
    }
    return -1;
}

int voidctl_task(int argc, char **argv)
{
    int help = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    }
    if (find_sub(argc, argv) != 0) {
        if (!help) {
            fprintf(stderr, "voidctl task: which one: submit, status, list, logs or cancel?\n");
        }
        return usage(help);
    }
    const char *sub = argv[1];
    static const char *const subs[] = {"submit", "status", "list", "logs", "cancel"};
    int known = 0;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        known |= strcmp(sub, subs[i]) == 0;
    }
    if (!known) {
        fprintf(stderr,
                "voidctl task: unknown subcommand '%s' (submit, status, list, logs, "
                "cancel; see voidctl task --help)\n",
                sub);
        return VOIDCTL_EXIT_USAGE;
    }
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"session", required_argument, NULL, 'S'},
                                             {"input", required_argument, NULL, 'i'},
                                             {"cpu", required_argument, NULL, 'C'},
                                             {"mem", required_argument, NULL, 'M'},
                                             {"time-limit", required_argument, NULL, 'T'},
                                             {"limit", required_argument, NULL, 'L'},
                                             {"stderr", no_argument, NULL, 'E'},
                                             {NULL, 0, NULL, 0}};
    struct task_opts to;
    memset(&to, 0, sizeof(to));
    to.o.timeout_s = 5.0;
    to.cpu = 1;
    to.mem = 1ull << 30;
    to.time_limit = 60;
    to.limit = 100;
    int is_submit = strcmp(sub, "submit") == 0;
    optind = 0;
    opterr = 0;
    int c;
    uint64_t v = 0;
    /* submit stops at the command ("+"), so its own options stay its own. */
    while ((c = getopt_long(argc - 1, argv + 1, is_submit ? "+:hq" : ":hq", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'c':
            to.o.cluster = optarg;
            break;
        case 't': {
            char *end = NULL;
            double s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(s > 0) || s > 86400) {
                fprintf(
                    stderr, "voidctl task: --timeout wants seconds above 0, not '%s'\n", optarg);
                return VOIDCTL_EXIT_USAGE;
            }
            to.o.timeout_s = s;
            break;
        }
        case 'j':
            to.o.json = 1;
            break;
        case 'q':
            to.o.quiet = 1;
            break;
        case 'h':
            return usage(1);
        case 'S':
            if (parse_u64("--session", optarg, UINT32_MAX, 0, &v) != 0) {
                return VOIDCTL_EXIT_USAGE;
            }
            to.o.session = (uint32_t)v;
            break;
        case 'i':
            if (!is_submit || to.input_count == VOID_TASK_INPUTS_MAX) {
                fprintf(stderr,
                        "voidctl task: --input is for submit, at most %d times\n",
                        VOID_TASK_INPUTS_MAX);
                return VOIDCTL_EXIT_USAGE;
            }
            to.inputs[to.input_count++] = optarg;
            break;
        case 'C':
            if (parse_u64("--cpu", optarg, 1u << 20, 0, &v) != 0) {
                return VOIDCTL_EXIT_USAGE;
            }
            to.cpu = (uint32_t)v;
            break;
        case 'M':
            if (parse_u64("--mem", optarg, UINT64_MAX, 1, &to.mem) != 0) {
                return VOIDCTL_EXIT_USAGE;
            }
            break;
        case 'T':
            if (parse_u64("--time-limit", optarg, VOID_TASK_TIMEOUT_MAX, 0, &v) != 0) {
                return VOIDCTL_EXIT_USAGE;
            }
            to.time_limit = (uint32_t)v;
            break;
        case 'L':
            if (parse_u64("--limit", optarg, 100000, 0, &v) != 0) {
                return VOIDCTL_EXIT_USAGE;
            }
            to.limit = (uint32_t)v;
            break;
        case 'E':
            to.err = 1;
            break;
        default: {
            const char *word = optind > 0 ? argv[optind] : "?";
            fprintf(stderr,
                    "voidctl task %s: %s '%s' (see voidctl task --help)\n",
                    sub,
                    c == ':' ? "option needs a value:" : "unknown option",
                    word);
            return VOIDCTL_EXIT_USAGE;
        }
        }
    }
    char **pos = argv + 1 + optind;
    int npos = argc - 1 - optind;
    uint64_t id = 0;
    if (!is_submit && strcmp(sub, "list") != 0) {
        if (npos != 1) {
            fprintf(stderr, "voidctl task %s: wants one task id\n", sub);
            return VOIDCTL_EXIT_USAGE;
        }
        if (parse_id(pos[0], &id) != 0) {
            return VOIDCTL_EXIT_USAGE;
        }
    } else if (!is_submit && npos != 0) {
        fprintf(stderr, "voidctl task list: takes no arguments\n");
        return VOIDCTL_EXIT_USAGE;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&to.o, &cl);
    if (rc != 0) {
        return rc;
    }
    rc = run_open(&cl, &to.o);
    if (rc == 0) {
        if (is_submit) {
            rc = cmd_submit(&to, pos, npos);
        } else if (strcmp(sub, "status") == 0) {
            rc = cmd_status(&to, id);
        } else if (strcmp(sub, "list") == 0) {
            rc = cmd_list(&to);
        } else if (strcmp(sub, "cancel") == 0) {
            rc = cmd_cancel(&to, id);
        } else {
            rc = cmd_logs(&to, id);
        }
    }
    run_close();
    void_config_fini(&cl);
    return rc;
}

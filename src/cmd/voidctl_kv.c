/*
 * voidctl put/get/del/cas: key/value operations through PBFT. Each command
 * loads the cluster file (--cluster FILE or $VOID_CLUSTER: the replicas and
 * this client's id and key), submits one operation with the PBFT client core
 * and waits for f + 1 matching replies, or gives up after --timeout seconds
 * with an error that says how many replicas it could reach.
 */
#include "cmd/voidctl.h"
#include "void/assert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sm.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv_run {
    struct void_kvclient client;
    uv_timer_t deadline;
    int finished;
    int timed_out;
    uint8_t result[VOID_SM_RESULT_MAX];
    size_t result_len;
};

static void on_done(void *ctx, const uint8_t *result, size_t len)
{
    struct kv_run *run = ctx;
    if (len > sizeof(run->result)) {
        len = sizeof(run->result);
    }
    memcpy(run->result, result, len);
    run->result_len = len;
    run->finished = 1;
    uv_timer_stop(&run->deadline);
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

static void on_deadline(uv_timer_t *timer)
{
    struct kv_run *run = timer->data;
    run->timed_out = 1;
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

/* Runs one operation; fills run->result. Returns an exit status. */
static int run_op(struct voidctl_opts *o,
                  const struct void_config *cl,
                  const uint8_t *op,
                  size_t len,
                  struct kv_run *run)
{
    if (cl->role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl: the cluster file has no [client] section (id and key)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct void_kvclient_config kc = {
        .loop = &loop, .cluster = cl, .id = cl->self_id, .keypair = &cl->keypair, .reply_all = 1};
    char err[512] = "";
    int rc = void_kvclient_init(&run->client, &kc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "voidctl: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        void_kvclient_fini(&run->client);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 1;
    }
    uv_timer_init(&loop, &run->deadline);
    run->deadline.data = run;
    uv_timer_start(&run->deadline, on_deadline, (uint64_t)(o->timeout_s * 1000.0), 0);
    rc = void_kvclient_submit(&run->client, op, len, on_done, run);
    VOID_ASSERT(rc == 0);
    uint32_t reachable = 0;
    while (!run->finished && !run->timed_out) {
        uv_run(&loop, UV_RUN_ONCE);
        uint32_t up = void_kvclient_connected(&run->client);
        reachable = up > reachable ? up : reachable;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (run->timed_out) {
        uint32_t f = (cl->count_replicas - 1) / 3;
        fprintf(stderr,
                "voidctl: timed out after %.1fs: fewer than %u replicas (f+1) gave "
                "matching "
                "replies; %u of %u replicas were reachable\n",
                o->timeout_s,
                (unsigned)(f + 1),
                (unsigned)reachable,
                (unsigned)cl->count_replicas);
        return 1;
    }
    return 0;
}

static const char *status_name(uint8_t status)
{
    static const char *const names[] = {
        "ok", "not_found", "cas_failed", "full", "too_old", "bad_op", "stale"};
    return status < VOID_ARRAY_LEN(names) ? names[status] : "unknown";
}

/* What a refusal means to the person who typed the command. */
static const char *status_meaning(uint8_t status)
{
    switch ((enum void_sm_status)status) {
    case VOID_SM_NOT_FOUND:
        return "no live value for this key";
    case VOID_SM_FULL:
        return "the replicated state has no free key or version slot (a replica holds "
               "1024 keys and 4096 versions by default; docs/pbft.md, Limits): delete keys "
               "that are no longer needed";
    case VOID_SM_TOO_OLD:
        return "that time is before the history the replicas keep (the oldest versions "
               "were pruned to free slots)";
    case VOID_SM_BAD_OP:
        return "the replicas could not decode the operation";
    case VOID_SM_STALE:
        return "a newer request of this client was executed already; this one was not";
    case VOID_SM_OK:
    case VOID_SM_CAS_FAILED:
        break;
    }
    return "refused";
}

/* Prints the result of op; returns the exit status (0 ok, 1 not found or cas
 * failed or refused). */
static int
print_result(const struct voidctl_opts *o, const struct void_sm_op *op, const struct kv_run *run)
{
    struct void_sm_result res;
    if (void_sm_result_decode(run->result, run->result_len, &res) != 0) {
        fprintf(stderr, "voidctl: undecodable result\n");
        return 1;
    }
    char version[VOID_HLC_FORMAT_MAX] = "";
    if (res.version.wall_ns != 0 || res.version.logical != 0) {
        (void)void_hlc_format(res.version, version, sizeof(version));
    }
    int has_value = res.status == VOID_SM_OK &&
                    (op->kind == VOID_SM_OP_GET || op->kind == VOID_SM_OP_GET_AS_OF);
    has_value |= res.status == VOID_SM_CAS_FAILED;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s%}",
                              "status",
                              status_name(res.status),
                              "key",
                              (const char *)op->key,
                              (size_t)op->key_len);
        if (version[0] != '\0') {
            json_object_set_new(j, "version", json_string(version));
        }
        if (has_value) {
            json_object_set_new(j, "value", json_stringn((const char *)res.value, res.value_len));
        }
        char *text = json_dumps(j, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(j);
    } else if (res.status == VOID_SM_OK && has_value) {
        printf("%.*s\n", (int)res.value_len, (const char *)res.value);
    } else if (res.status == VOID_SM_OK) {
        printf("ok %s\n", version);
    } else if (res.status == VOID_SM_CAS_FAILED) {
        fprintf(stderr,
                "cas failed: current value is '%.*s'\n",
                (int)res.value_len,
                (const char *)res.value);
    } else {
        fprintf(stderr, "%s: %s\n", status_name(res.status), status_meaning(res.status));
    }
    return res.status == VOID_SM_OK ? 0 : 1;
}

static int usage_kv(const char *cmd, int ok)
{
    fprintf(ok ? stdout : stderr,
            "usage: voidctl put KEY VALUE\n"
            "       voidctl get KEY [--as-of HLC]\n"
            "       voidctl del KEY\n"
            "       voidctl put --file PATH NAME   (a file or directory tree, through the CAS)\n"
            "       voidctl get --file NAME DEST\n"
            "       voidctl cas KEY EXPECTED NEW   (EXPECTED '-' with --absent: "
            "the key must not exist)\n"
            "options: --cluster FILE (or $VOID_CLUSTER), --timeout SECONDS "
            "(default 5), --json\n"
            "HLC: 2026-11-25T14:13:40.123456789Z/7 as printed by put, or "
            "WALLNS[/LOGICAL]\n");
    (void)cmd;
    return ok ? 0 : 2;
}

int voidctl_kv(int argc, char **argv)
{
    struct voidctl_opts o;
    char *pos[4];
    int npos = voidctl_parse_opts(argc, argv, &o, pos, 4);
    if (npos < 0 || o.help) {
        return usage_kv(argv[0], o.help && npos >= 0);
    }
    const char *cmd = argv[0];
    if (o.file && (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0)) {
        return voidctl_files(&o, cmd, pos, npos);
    }
    struct void_sm_op op = {0};
    int want = 0;
    if (strcmp(cmd, "put") == 0) {
        op.kind = VOID_SM_OP_PUT, want = 2;
    } else if (strcmp(cmd, "get") == 0) {
        op.kind = o.as_of != NULL ? VOID_SM_OP_GET_AS_OF : VOID_SM_OP_GET, want = 1;
    } else if (strcmp(cmd, "del") == 0) {
        op.kind = VOID_SM_OP_DELETE, want = 1;
    } else {
        op.kind = VOID_SM_OP_CAS, want = 3;
    }
    if (npos != want) {
        return usage_kv(cmd, 0);
    }
    op.key = (const uint8_t *)pos[0];
    op.key_len = (uint16_t)strlen(pos[0]);
    if (op.kind == VOID_SM_OP_PUT) {
        op.value = (const uint8_t *)pos[1], op.value_len = (uint16_t)strlen(pos[1]);
    }
    if (op.kind == VOID_SM_OP_CAS) {
        op.expect_present = !o.absent;
        op.expected = (const uint8_t *)pos[1],
        op.expected_len = o.absent ? 0 : (uint16_t)strlen(pos[1]);
        op.value = (const uint8_t *)pos[2], op.value_len = (uint16_t)strlen(pos[2]);
    }
    if (op.kind == VOID_SM_OP_GET_AS_OF && void_hlc_parse(o.as_of, &op.as_of) != 0) {
        fprintf(stderr, "voidctl: --as-of '%s' is not an HLC timestamp\n", o.as_of);
        return 2;
    }
    uint8_t buf[VOID_SM_OP_MAX];
    int len = void_sm_op_encode(&op, buf, sizeof(buf));
    if (len < 0) {
        fprintf(stderr,
                "voidctl: key or value too long (key <= %d bytes, value <= %d bytes)\n",
                VOID_SM_KEY_MAX,
                VOID_SM_VALUE_MAX);
        return 2;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&o, &cl);
    static struct kv_run run;
    if (rc == 0) {
        rc = run_op(&o, &cl, buf, (size_t)len, &run);
    }
    if (rc == 0) {
        rc = print_result(&o, &op, &run);
    }
    void_config_fini(&cl);
    return rc;
}

/*
 * voidctl put/get/del/cas: key/value operations through PBFT. Each command
 * loads the cluster file (--cluster FILE or $VOID_CLUSTER: the replicas and
 * this client's id and key), submits one operation with the PBFT client core
 * and waits for f + 1 matching replies, or gives up after --timeout seconds
 * with an error that says how many replicas it could reach.
 *
 * Keys and values are checked against the state machine's limits
 * (include/void/sm.h: a key of 4 KiB, a value of 1 MiB) before anything is
 * sent, so an over-long argument is refused by name and limit, never cut.
 * --key-hex takes the key as hex, so a binary key (NUL bytes and all) can
 * be named on the command line.
 * `put KEY -` takes the value from stdin, bytes as they are, so binary values
 * round-trip; --json shows a key or value that is not UTF-8 base64-encoded
 * in a "key_b64" / "value_b64" field instead of "key" / "value" (docs/
 * operations.md), as etcd's JSON gateway base64-encodes its bytes.
 */
#include "cmd/voidctl.h"
#include "void/assert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sm.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv_run {
    struct void_kvclient client;
    uv_timer_t deadline;
    int finished;
    int timed_out;
    uint8_t result[VOID_SM_RESULT_MAX]; /* static storage (voidctl_kv): a megabyte */
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
                  int read_only,
                  struct kv_run *run)
{
    if (cl->role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl: the cluster file has no [client] section (id and key)\n");
        return VOIDCTL_EXIT_FAILED;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct void_kvclient_config kc = {
        .loop = &loop, .cluster = cl, .id = cl->self_id, .keypair = &cl->keypair, .reply_all = 1};
    kc.session = o->session;
    char err[512] = "";
    int rc = void_kvclient_init(&run->client, &kc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "voidctl: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        void_kvclient_fini(&run->client);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return VOIDCTL_EXIT_FAILED;
    }
    uv_timer_init(&loop, &run->deadline);
    run->deadline.data = run;
    uv_timer_start(&run->deadline, on_deadline, (uint64_t)(o->timeout_s * 1000.0), 0);
    rc = read_only ? void_kvclient_submit_read(&run->client, op, len, on_done, run)
                   : void_kvclient_submit(&run->client, op, len, on_done, run);
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
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    return VOIDCTL_EXIT_OK;
}

static const char *status_name(uint8_t status)
{
    static const char *const names[] = {
        "ok", "not_found", "cas_failed", "full", "too_old", "bad_op", "stale", "future", "expired",
        "refused"};
    return status < VOID_ARRAY_LEN(names) ? names[status] : "unknown";
}

/* What a refusal means to the person who typed the command. */
static const char *status_meaning(uint8_t status)
{
    switch ((enum void_sm_status)status) {
    case VOID_SM_NOT_FOUND:
        return "no live value for this key";
    case VOID_SM_FULL:
        return "the replicated state reached its quota ([state] quota_mb, 8 GiB by default; "
               "docs/operations.md): delete keys that are no longer needed (the space comes "
               "back once the retention has compacted past the deletes)";
    case VOID_SM_TOO_OLD:
        return "that time is before the history the replicas keep ([state] retention_s, "
               "1 h by default)";
    case VOID_SM_FUTURE:
        return "that time is after the read itself was ordered (the replicas' latest "
               "commit): the value as of then is not known yet; ask for an earlier time";
    case VOID_SM_BAD_OP:
        return "the replicas could not decode the operation";
    case VOID_SM_STALE:
        return "superseded: another process with this client identity and session sent a "
               "newer request, and this one was not executed (each process gets a session "
               "of its own unless --session gives two the same)";
    case VOID_SM_EXPIRED:
        return "this client's certificate has expired (its expiry is before the time of the "
               "replicas' batch): have the admin issue a new one (voidctl cert issue)";
    case VOID_SM_REFUSED:
        return "the configuration change was refused (the reason is the value)";
    case VOID_SM_OK:
    case VOID_SM_CAS_FAILED:
        break;
    }
    return "refused";
}

/* The exit status of a result: found/done, not found, or refused. */
static int status_exit(uint8_t status)
{
    switch ((enum void_sm_status)status) {
    case VOID_SM_OK:
        return VOIDCTL_EXIT_OK;
    case VOID_SM_NOT_FOUND:
        return VOIDCTL_EXIT_FAILED;
    case VOID_SM_CAS_FAILED:
    case VOID_SM_FULL:
    case VOID_SM_TOO_OLD:
    case VOID_SM_FUTURE:
    case VOID_SM_BAD_OP:
    case VOID_SM_STALE:
    case VOID_SM_EXPIRED:
    case VOID_SM_REFUSED:
        break;
    }
    return VOIDCTL_EXIT_REFUSED;
}

void voidctl_json_set_bytes(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
    json_t *s = json_stringn((const char *)p, n);
    if (s != NULL) {
        json_object_set_new(obj, name, s);
        return;
    }
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    char field[32];
    VOID_ASSERT(b64 != NULL && strlen(name) + 5 < sizeof(field));
    sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(field, sizeof(field), "%s_b64", name);
    json_object_set_new(obj, field, json_string(b64));
    free(b64);
}

/* Prints the result of op; returns the exit status (status_exit). */
static int
print_result(const struct voidctl_opts *o, const struct void_sm_op *op, const struct kv_run *run)
{
    struct void_sm_result res;
    if (void_sm_result_decode(run->result, run->result_len, &res) != 0) {
        fprintf(stderr, "voidctl: undecodable result\n");
        return VOIDCTL_EXIT_FAILED;
    }
    char version[VOID_HLC_FORMAT_MAX] = "";
    /* A read-only NOT_FOUND's version names the stretch of history it
     * held in (include/void/sm.h), nothing a user asked for. */
    if ((res.version.wall_ns != 0 || res.version.logical != 0) && res.status != VOID_SM_NOT_FOUND) {
        (void)void_hlc_format(res.version, version, sizeof(version));
    }
    int has_value = res.status == VOID_SM_OK &&
                    (op->kind == VOID_SM_OP_GET || op->kind == VOID_SM_OP_GET_AS_OF);
    has_value |= res.status == VOID_SM_CAS_FAILED;
    if (o->json) {
        json_t *j = json_object();
        VOID_ASSERT(j != NULL);
        json_object_set_new(j, "status", json_string(status_name(res.status)));
        voidctl_json_set_bytes(j, "key", op->key, op->key_len);
        if (version[0] != '\0') {
            json_object_set_new(j, "version", json_string(version));
        }
        if (has_value) {
            voidctl_json_set_bytes(j, "value", res.value, res.value_len);
        }
        char *text = json_dumps(j, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(j);
    } else if (res.status == VOID_SM_OK && has_value) {
        /* The bytes as they are (a NUL included), then a newline. */
        fwrite(res.value, 1, res.value_len, stdout);
        putchar('\n');
    } else if (res.status == VOID_SM_OK) {
        printf("ok %s\n", version);
    } else if (res.status == VOID_SM_CAS_FAILED) {
        fputs("cas failed: current value is '", stderr);
        fwrite(res.value, 1, res.value_len, stderr);
        fputs("'\n", stderr);
    } else {
        fprintf(stderr, "%s: %s\n", status_name(res.status), status_meaning(res.status));
    }
    return status_exit(res.status);
}

static void print_limits(FILE *out)
{
    fprintf(out,
            "limits: a key is 1 to %d bytes (4 KiB), a value (and cas EXPECTED) 0 to %d bytes\n"
            "(1 MiB); a longer one is refused (exit %d), never cut.\n",
            VOID_SM_KEY_MAX,
            VOID_SM_VALUE_MAX,
            VOIDCTL_EXIT_USAGE);
}

static int usage_kv(const char *cmd, int ok)
{
    FILE *out = ok ? stdout : stderr;
    if (strcmp(cmd, "put") == 0) {
        fprintf(out,
                "usage: voidctl put KEY VALUE [options]\n"
                "       voidctl put KEY - [options] < FILE\n"
                "       voidctl put --file PATH NAME [options]\n"
                "\n"
                "Writes KEY = VALUE through PBFT and prints `ok <HLC of the version>`. With\n"
                "- as the value, the value is all of stdin, byte for byte (binary is fine;\n"
                "a value that is the single character - goes through stdin too). With\n"
                "--file, stores the file or directory tree PATH through the content store\n"
                "and commits NAME -> its root hash (DESIGN.md section 6).\n");
    } else if (strcmp(cmd, "get") == 0) {
        fprintf(out,
                "usage: voidctl get KEY [--as-of HLC] [options]\n"
                "       voidctl get --file NAME DEST|- [options]\n"
                "\n"
                "Prints the value of KEY (its bytes, then a newline), now or as of an\n"
                "earlier HLC time (one printed by\n"
                "put, 2026-11-25T14:13:40.123456789Z/7, or WALLNS[/LOGICAL]). A time after\n"
                "the replicas' latest commit is refused (`future`, exit %d). With --file,\n"
                "writes the file or tree NAME to the path DEST, or a file to stdout for -.\n"
                "\n"
                "A current read is a read-only request (PBFT's read-only optimisation):\n"
                "every replica answers it from the state it executed, unordered, and the\n"
                "value is taken when a quorum (2f+1 of 3f+1) of answers match; otherwise\n"
                "(answers differ, a replica is behind or changing view) the read is\n"
                "ordered like a write. Linearizable either way; --ordered always orders.\n",
                VOIDCTL_EXIT_REFUSED);
    } else if (strcmp(cmd, "del") == 0) {
        fprintf(out,
                "usage: voidctl del KEY [options]\n\n"
                "Deletes KEY through PBFT (earlier versions stay readable with --as-of).\n");
    } else {
        fprintf(out,
                "usage: voidctl cas KEY EXPECTED NEW [options]\n"
                "       voidctl cas KEY - NEW --absent [options]\n"
                "\n"
                "Compare-and-set: sets KEY to NEW if its value is EXPECTED (with --absent:\n"
                "if KEY has no value); otherwise exit %d and print the current value.\n"
                "The local content store is `voidctl store` (voidctl store --help).\n",
                VOIDCTL_EXIT_REFUSED);
    }
    fprintf(out,
            "\n"
            "options:\n"
            "  --cluster FILE   the cluster's client file (default: $VOID_CLUSTER)\n"
            "  --timeout S      give up after S seconds without an answer (default 5)\n"
            "  --json           print the result as one JSON object; a key or value\n"
            "                   that is not UTF-8 is in key_b64 / value_b64 (base64)\n"
            "  --key-hex        KEY is the key's bytes in hex (a binary key)\n");
    if (strcmp(cmd, "get") == 0) {
        fprintf(out,
                "  --as-of HLC      the value as of that time (always ordered)\n"
                "  --ordered        order the read through PBFT instead of a read-only\n"
                "                   request (one round trip more, and a disk sync)\n");
    }
    if (strcmp(cmd, "cas") == 0) {
        fprintf(out, "  --absent         the key must not exist (EXPECTED is ignored)\n");
    }
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "get") == 0) {
        fprintf(out,
                "  --file           a file or directory tree through the content store;\n"
                "                   --timeout then means S seconds without progress\n"
                "  --quiet          no progress display on a terminal\n");
    }
    if (strcmp(cmd, "put") == 0) {
        fprintf(out,
                "  --on ID,ID...    (--file) store the blocks on these replicas only and\n"
                "                   wait for each of them (at least f+1: one is honest);\n"
                "                   tasks reading the file are placed near them\n"
                "  --copies K       (--file) K replicas (>= f+1) chosen by location as\n"
                "                   HDFS does: the first by the file's hash, the second\n"
                "                   in another rack, the third in the second's rack\n"
                "                   (default: every replica)\n");
    }
    fprintf(out, "`--` ends the options, for a key or value that starts with '-'.\n\n");
    print_limits(out);
    fprintf(out, "\n");
    voidctl_print_exit_codes(out);
    fprintf(out, "\nexample:\n");
    if (strcmp(cmd, "put") == 0) {
        fprintf(out,
                "  voidctl put motd hello --cluster /tmp/void-cluster/client.ini\n"
                "  voidctl put logo - < logo.png\n"
                "  voidctl put --file ./photos album\n"
                "  voidctl put --file ./logs.tar logs --on 0,1\n");
    } else if (strcmp(cmd, "get") == 0) {
        fprintf(out,
                "  voidctl get motd --as-of 2026-11-25T14:13:40.123456789Z/0\n"
                "  voidctl get --file album ./restored\n");
    } else if (strcmp(cmd, "del") == 0) {
        fprintf(out, "  voidctl del motd\n");
    } else {
        fprintf(out, "  voidctl cas motd hello bye\n  voidctl cas lock - me --absent\n");
    }
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

/* Checks that arg (one of the command's arguments, named what) has
 * min..max bytes, naming the limit when it does not. The length is checked
 * as a size_t, before it is narrowed to the 16-bit length of the wire. */
static int check_len(const char *cmd, const char *what, const char *arg, size_t min, size_t max)
{
    size_t len = strlen(arg);
    if (len < min) {
        fprintf(stderr, "voidctl %s: the %s must not be empty\n", cmd, what);
        return -1;
    }
    if (len > max) {
        fprintf(stderr,
                "voidctl %s: the %s is %zu bytes, over the limit of %zu bytes\n",
                cmd,
                what,
                len,
                max);
        return -1;
    }
    return 0;
}

/* Reads all of stdin into a new buffer (*out, *len), refusing more than max
 * bytes by name and limit; reads at most max + 1 bytes, so an endless stdin
 * is refused, not buffered. Returns 0 or an exit status. */
static int read_stdin_value(size_t max, uint8_t **out, size_t *len)
{
    uint8_t *buf = malloc(max + 1);
    VOID_ASSERT(buf != NULL && out != NULL);
    size_t n = 0;
    while (n <= max) {
        size_t got = fread(buf + n, 1, max + 1 - n, stdin);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "voidctl put: cannot read the value from stdin: %s\n", strerror(errno));
        free(buf);
        return VOIDCTL_EXIT_FAILED;
    }
    if (n > max) {
        fprintf(stderr,
                "voidctl put: the value on stdin is over the limit of %zu bytes\n",
                max);
        free(buf);
        return VOIDCTL_EXIT_USAGE;
    }
    *out = buf;
    *len = n;
    return VOIDCTL_EXIT_OK;
}

/* The value read from stdin for `put KEY -` and the key decoded from
 * --key-hex; they live until exit. */
static uint8_t *stdin_value;
static uint8_t hex_key[VOID_SM_KEY_MAX];

/* Decodes the --key-hex argument into hex_key, naming the limit when it is
 * too long. Returns the key length, or -1 after saying why. */
static long key_from_hex(const char *cmd, const char *arg)
{
    size_t digits = strlen(arg);
    if (digits == 0 || digits % 2 != 0) {
        fprintf(stderr,
                "voidctl %s: --key-hex wants an even, nonzero number of hex digits, got %zu\n",
                cmd,
                digits);
        return -1;
    }
    if (digits / 2 > VOID_SM_KEY_MAX) {
        fprintf(stderr,
                "voidctl %s: the key is %zu bytes, over the limit of %d bytes\n",
                cmd,
                digits / 2,
                VOID_SM_KEY_MAX);
        return -1;
    }
    size_t n = 0;
    if (sodium_hex2bin(hex_key, sizeof(hex_key), arg, digits, NULL, &n, NULL) != 0 ||
        n != digits / 2) {
        fprintf(stderr, "voidctl %s: --key-hex: '%.16s...' is not hex\n", cmd, arg);
        return -1;
    }
    return (long)n;
}

/* Fills op from the positional arguments of cmd; 0, or an exit status. */
static int build_op(const char *cmd, const struct voidctl_opts *o, char **pos, int npos,
                    struct void_sm_op *op)
{
    int want = 0;
    if (strcmp(cmd, "put") == 0) {
        op->kind = VOID_SM_OP_PUT, want = 2;
    } else if (strcmp(cmd, "get") == 0) {
        op->kind = o->as_of != NULL ? VOID_SM_OP_GET_AS_OF : VOID_SM_OP_GET, want = 1;
    } else if (strcmp(cmd, "del") == 0) {
        op->kind = VOID_SM_OP_DELETE, want = 1;
    } else {
        op->kind = VOID_SM_OP_CAS, want = 3;
    }
    if (npos != want) {
        fprintf(stderr,
                "voidctl %s: wants %d argument%s, got %d (see voidctl %s --help)\n",
                cmd,
                want,
                want == 1 ? "" : "s",
                npos,
                cmd);
        return VOIDCTL_EXIT_USAGE;
    }
    int from_stdin = op->kind == VOID_SM_OP_PUT && strcmp(pos[1], "-") == 0;
    long hex_len = o->key_hex ? key_from_hex(cmd, pos[0]) : 0;
    if (hex_len < 0 || (!o->key_hex && check_len(cmd, "key", pos[0], 1, VOID_SM_KEY_MAX) != 0) ||
        (want >= 2 && !from_stdin &&
         check_len(cmd, want == 2 ? "value" : "expected value", pos[1], 0, VOID_SM_VALUE_MAX) !=
             0) ||
        (want == 3 && check_len(cmd, "new value", pos[2], 0, VOID_SM_VALUE_MAX) != 0)) {
        return VOIDCTL_EXIT_USAGE;
    }
    /* Each length now fits its field: a key's 16 bits, a value's 32. */
    _Static_assert(VOID_SM_KEY_MAX <= UINT16_MAX, "a key's length is 16-bit on the wire");
    op->key = o->key_hex ? hex_key : (const uint8_t *)pos[0];
    op->key_len = (uint16_t)(o->key_hex ? (size_t)hex_len : strlen(pos[0]));
    if (op->kind == VOID_SM_OP_PUT && from_stdin) {
        size_t n = 0;
        int rc = read_stdin_value(VOID_SM_VALUE_MAX, &stdin_value, &n);
        if (rc != 0) {
            return rc;
        }
        op->value = stdin_value, op->value_len = (uint32_t)n;
    } else if (op->kind == VOID_SM_OP_PUT) {
        op->value = (const uint8_t *)pos[1], op->value_len = (uint32_t)strlen(pos[1]);
    }
    if (op->kind == VOID_SM_OP_CAS) {
        op->expect_present = !o->absent;
        op->expected = (const uint8_t *)pos[1];
        op->expected_len = o->absent ? 0 : (uint32_t)strlen(pos[1]);
        op->value = (const uint8_t *)pos[2], op->value_len = (uint32_t)strlen(pos[2]);
    }
    if (op->kind == VOID_SM_OP_GET_AS_OF && void_hlc_parse(o->as_of, &op->as_of) != 0) {
        fprintf(stderr,
                "voidctl get: --as-of '%s' is not an HLC timestamp (want e.g. "
                "2026-11-25T14:13:40.123456789Z/7 or WALLNS[/LOGICAL])\n",
                o->as_of);
        return VOIDCTL_EXIT_USAGE;
    }
    return VOIDCTL_EXIT_OK;
}

/* Options that only some commands take. */
static int check_opts(const char *cmd, const struct voidctl_opts *o)
{
    const char *bad = NULL;
    if (o->as_of != NULL && strcmp(cmd, "get") != 0) {
        bad = "--as-of";
    } else if (o->absent && strcmp(cmd, "cas") != 0) {
        bad = "--absent";
    } else if (o->file && strcmp(cmd, "put") != 0 && strcmp(cmd, "get") != 0) {
        bad = "--file";
    } else if (o->file && o->as_of != NULL) {
        bad = "--as-of with --file";
    } else if (o->file && o->key_hex) {
        bad = "--key-hex with --file";
    } else if (o->ordered && strcmp(cmd, "get") != 0) {
        bad = "--ordered";
    } else if (o->ordered && o->file) {
        bad = "--ordered with --file";
    } else if ((o->on != NULL || o->copies != 0) && !(o->file && strcmp(cmd, "put") == 0)) {
        bad = o->on != NULL ? "--on (put --file only)" : "--copies (put --file only)";
    } else if (o->on != NULL && o->copies != 0) {
        bad = "--on with --copies";
    }
    if (bad != NULL) {
        fprintf(stderr, "voidctl %s: %s does not apply here (see voidctl %s --help)\n", cmd, bad,
                cmd);
        return -1;
    }
    return 0;
}

int voidctl_kv(int argc, char **argv)
{
    struct voidctl_opts o;
    char *pos[4];
    const char *cmd = argv[0];
    int npos = voidctl_parse_opts(argc, argv, &o, pos, 4);
    if (npos < 0) {
        return VOIDCTL_EXIT_USAGE; /* the parser said why */
    }
    if (o.help) {
        return usage_kv(cmd, 1);
    }
    if (check_opts(cmd, &o) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (o.file) {
        return voidctl_files(&o, cmd, pos, npos);
    }
    struct void_sm_op op = {0};
    int rc = build_op(cmd, &o, pos, npos, &op);
    if (rc != 0) {
        return rc;
    }
    static uint8_t buf[VOID_SM_OP_MAX]; /* two megabytes: not on the stack */
    int len = void_sm_op_encode(&op, buf, sizeof(buf));
    VOID_ASSERT(len > 0); /* build_op checked every length */
    static struct void_config cl;
    rc = voidctl_load_cluster(&o, &cl);
    static struct kv_run run;
    if (rc == 0) {
        /* A current get is read-only unless --ordered; as-of reads are
         * ordered (their answer depends on the batch that runs them). */
        int read_only = op.kind == VOID_SM_OP_GET && !o.ordered;
        rc = run_op(&o, &cl, buf, (size_t)len, read_only, &run);
    }
    if (rc == 0) {
        rc = print_result(&o, &op, &run);
    }
    void_config_fini(&cl);
    free(stdin_value);
    stdin_value = NULL;
    return rc;
}

/*
 * voidctl member add|promote|remove|leave: configuration changes through
 * PBFT (docs/membership.md, "Changes through PBFT", "Joining a running
 * cluster"). A change is the state machine's member op: the change, the
 * member id and the epoch of the latest configuration, signed by the admin
 * key (add, promote, remove) or by the leaving member's own key (leave); an
 * add carries the new member's key, address and location, a promote the
 * learner's own signed progress (GET /member/progress on the learner). The
 * command reads the configuration record
 * first (to sign for its epoch), then submits the signed op as an ordered
 * request and waits for f + 1 matching answers: the new epoch and the
 * sequence number above which it is in effect, or a refusal whose reason
 * the state machine gives (exit VOIDCTL_EXIT_REFUSED). Too few replicas
 * within --timeout is VOIDCTL_EXIT_UNREACHABLE, as for every voidctl
 * command.
 */
#include "cmd/voidctl.h"
#include "cmd/voidctl_http.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/membership.h"
#include "void/sign.h"
#include "void/sm.h"

#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct member_run {
    struct void_kvclient client;
    uv_timer_t deadline;
    int phase; /* 0: reading the record, 1: the change submitted, 2: done */
    int timed_out;
    int failed; /* the record did not decode */
    uint8_t change;
    uint32_t id;
    uint64_t epoch; /* of the latest configuration, signed for */
    const struct void_sign_keypair *signer;
    struct void_member join;   /* add: the new member (role learner) */
    const char *learner_http;  /* promote: where the learner answers GET /member/progress */
    double timeout_s;
    uint64_t executed;         /* promote: the learner's signed progress */
    uint8_t learner_sig[64];
    int learner_unreachable;   /* promote: the learner did not answer */
    char learner_err[256];
    struct void_membership_config *latest; /* the record's latest configuration */
    uint8_t result[512];
    size_t result_len;
};

static void finish(struct member_run *run)
{
    uv_timer_stop(&run->deadline);
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

static void on_change_done(void *ctx, const uint8_t *result, size_t len)
{
    struct member_run *run = ctx;
    run->result_len = len < sizeof(run->result) ? len : sizeof(run->result);
    memcpy(run->result, result, run->result_len);
    run->phase = 2;
    finish(run);
}

/* The latest configuration's epoch from a GET of the record: 1 when there
 * is none (the cluster file's configuration; *latest then has no members).
 * latest (caller-owned) receives the record's latest configuration.
 * Returns 0 or VOID_ECORRUPT. */
static int record_epoch(const uint8_t *result,
                        size_t len,
                        uint64_t *epoch,
                        struct void_membership_config *latest)
{
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0) {
        return VOID_ECORRUPT;
    }
    memset(latest, 0, sizeof(*latest));
    if (res.status == VOID_SM_NOT_FOUND) {
        *epoch = 1;
        return 0;
    }
    if (res.status != VOID_SM_OK) {
        return VOID_ECORRUPT;
    }
    struct void_membership_config *cfg = malloc(2 * sizeof(*cfg));
    if (cfg == NULL) {
        return VOID_ENOMEM;
    }
    uint64_t act = 0, prev_act = 0;
    int rc =
        void_sm_member_record_decode(res.value, res.value_len, &cfg[0], &act, &cfg[1], &prev_act);
    *epoch = cfg[0].epoch;
    if (rc == 0) {
        *latest = cfg[0];
    }
    free(cfg);
    return rc;
}

/* ---- promote: the learner's signed progress ------------------------------ */

/* Asks the learner at run->learner_http for its progress (GET
 * /member/progress) and checks that it speaks for run->id and that its
 * signature verifies under the key the configuration holds for that id
 * (else the cluster would refuse it with VOID_EBAD_SIG: say so here).
 * Returns 0, or -1 with run->learner_err set (run->learner_unreachable when
 * it did not answer). */
static int fetch_progress(struct member_run *run, const struct void_member *learner)
{
    if (run->learner_http == NULL) {
        (void)snprintf(run->learner_err,
                       sizeof(run->learner_err),
                       "the cluster file has no [replica.%u]: give the learner's HTTP address "
                       "with --http HOST:PORT",
                       (unsigned)run->id);
        return -1;
    }
    char url[VOID_CONFIG_ADDR_MAX + 32];
    (void)snprintf(url, sizeof(url), "http://%s/member/progress", run->learner_http);
    static char text[4096];
    struct voidctl_body b;
    voidctl_body_init(&b, text, sizeof(text));
    CURLcode cc;
    long code = voidctl_http_get(url, 0, (long)(run->timeout_s * 1000.0), &b, &cc);
    if (cc == CURLE_FAILED_INIT) {
        (void)snprintf(run->learner_err, sizeof(run->learner_err), "libcurl failed to start");
        return -1;
    }
    if (cc != CURLE_OK || code != 200) {
        run->learner_unreachable = 1;
        (void)snprintf(run->learner_err,
                       sizeof(run->learner_err),
                       "the learner did not answer at %s: %s",
                       url,
                       cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
        return -1;
    }
    json_error_t jerr;
    json_t *j = json_loads(b.text, 0, &jerr);
    json_int_t id = -1, executed = -1;
    const char *sig = NULL;
    if (j == NULL ||
        json_unpack(j, "{s:I, s:I, s:s}", "id", &id, "executed", &executed, "signature", &sig) !=
            0 ||
        executed < 0 || sig == NULL || strlen(sig) != 128 ||
        sodium_hex2bin(run->learner_sig, 64, sig, 128, NULL, NULL, NULL) != 0) {
        (void)snprintf(
            run->learner_err, sizeof(run->learner_err), "%s did not give a progress record", url);
        json_decref(j);
        return -1;
    }
    json_decref(j);
    if (id != (json_int_t)run->id) {
        (void)snprintf(run->learner_err,
                       sizeof(run->learner_err),
                       "%s is member %lld, not %u: give the learner's --http",
                       run->learner_http,
                       (long long)id,
                       (unsigned)run->id);
        return -1;
    }
    run->executed = (uint64_t)executed;
    uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE];
    void_sm_member_progress_message(run->id, run->executed, msg);
    if (void_sign_verify(learner->public_key,
                         VOID_SIGN_DOMAIN_PROGRESS,
                         msg,
                         sizeof(msg),
                         run->learner_sig) != 0) {
        (void)snprintf(run->learner_err,
                       sizeof(run->learner_err),
                       "the node at %s does not hold member %u's key",
                       run->learner_http,
                       (unsigned)run->id);
        return -1;
    }
    return 0;
}

/* Encodes and signs the op of run's change into op[0..cap); returns its
 * length, or -1 (promote: no progress from the learner; run->learner_err
 * says why). */
static int build_op(struct member_run *run, uint8_t *op, size_t cap)
{
    int n = 0;
    int rc = 0;
    if (run->change == VOID_MEMBERSHIP_JOIN) {
        struct void_sm_member_join j = {.epoch = run->epoch, .member = run->join};
        n = void_sm_member_join_encode(&j, op, cap);
        VOID_ASSERT(n > VOID_SIGN_SIZE); /* the strings were checked at parse */
        rc = void_sign(run->signer, VOID_SIGN_DOMAIN_MEMBER, op, (size_t)n - 64, op + n - 64);
    } else if (run->change == VOID_MEMBERSHIP_PROMOTE) {
        /* A learner named by the configuration is asked for its signed
         * progress; an id that is no learner there goes without any, and
         * the cluster says why it refuses (unknown, removed, a voter). */
        int k = void_membership_find(run->latest, run->id);
        if (k >= 0 && run->latest->members[k].role == VOID_MEMBER_LEARNER &&
            fetch_progress(run, &run->latest->members[k]) != 0) {
            return -1;
        }
        struct void_sm_member_promote p = {
            .id = run->id, .epoch = run->epoch, .executed = run->executed};
        memcpy(p.learner_sig, run->learner_sig, sizeof(p.learner_sig));
        n = void_sm_member_promote_encode(&p, op, cap);
        VOID_ASSERT(n == VOID_SM_MEMBER_PROMOTE_SIZE);
        rc = void_sign(run->signer,
                       VOID_SIGN_DOMAIN_MEMBER,
                       op,
                       VOID_SM_MEMBER_PROMOTE_SIGNED,
                       op + VOID_SM_MEMBER_PROMOTE_SIGNED);
    } else {
        struct void_sm_member_op m = {.change = run->change, .id = run->id, .epoch = run->epoch};
        uint8_t msg[VOID_SM_MEMBER_SIGNED];
        void_sm_member_op_message(&m, msg);
        rc = void_sign(run->signer, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig);
        n = void_sm_member_op_encode(&m, op, cap);
        VOID_ASSERT(n == VOID_SM_MEMBER_OP_SIZE);
    }
    VOID_ASSERT(rc == 0);
    return n;
}

static void on_record_done(void *ctx, const uint8_t *result, size_t len)
{
    struct member_run *run = ctx;
    if (record_epoch(result, len, &run->epoch, run->latest) != 0) {
        run->failed = 1;
        run->phase = 2;
        finish(run);
        return;
    }
    static uint8_t op[VOID_SM_MEMBER_JOIN_MAX];
    int n = build_op(run, op, sizeof(op));
    if (n < 0) {
        run->phase = 2;
        finish(run);
        return;
    }
    run->phase = 1;
    int rc = void_kvclient_submit(&run->client, op, (size_t)n, on_change_done, run);
    VOID_ASSERT(rc == 0);
}

static void on_deadline(uv_timer_t *timer)
{
    struct member_run *run = timer->data;
    run->timed_out = 1;
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

/* Runs the read and the change on a loop of its own. Returns 0, or an exit
 * status after printing why. */
static int run_change(const struct void_config *cl, double timeout_s, struct member_run *run)
{
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct void_kvclient_config kc = {
        .loop = &loop, .cluster = cl, .id = cl->self_id, .keypair = &cl->keypair, .reply_all = 1};
    char err[512] = "";
    int rc = void_kvclient_init(&run->client, &kc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "voidctl member: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        void_kvclient_fini(&run->client);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return VOIDCTL_EXIT_FAILED;
    }
    uv_timer_init(&loop, &run->deadline);
    run->deadline.data = run;
    uv_timer_start(&run->deadline, on_deadline, (uint64_t)(timeout_s * 1000.0), 0);
    struct void_sm_op get = {.kind = VOID_SM_OP_GET,
                             .key = (const uint8_t *)VOID_SM_MEMBER_KEY,
                             .key_len = VOID_SM_MEMBER_KEY_LEN};
    uint8_t op[64];
    int n = void_sm_op_encode(&get, op, sizeof(op));
    VOID_ASSERT(n > 0);
    rc = void_kvclient_submit_read(&run->client, op, (size_t)n, on_record_done, run);
    VOID_ASSERT(rc == 0);
    uint32_t reachable = 0;
    while (run->phase < 2 && !run->timed_out) {
        uv_run(&loop, UV_RUN_ONCE);
        uint32_t up = void_kvclient_connected(&run->client);
        reachable = up > reachable ? up : reachable;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (run->timed_out) {
        fprintf(stderr,
                "voidctl member: timed out after %.1fs %s: too few replicas gave matching "
                "answers; %u of %u replicas were reachable\n",
                timeout_s,
                run->phase == 0 ? "reading the configuration" : "waiting for the change",
                (unsigned)reachable,
                (unsigned)cl->count_replicas);
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    if (run->failed) {
        fprintf(stderr,
                "voidctl member: the configuration record the replicas hold does not decode\n");
        return VOIDCTL_EXIT_FAILED;
    }
    if (run->learner_err[0] != '\0') {
        fprintf(stderr, "voidctl member promote %u: %s\n", (unsigned)run->id, run->learner_err);
        return run->learner_unreachable ? VOIDCTL_EXIT_UNREACHABLE : VOIDCTL_EXIT_FAILED;
    }
    return 0;
}

/* Prints the outcome of the change; returns the exit status. */
static int report(const char *verb, int json, const struct member_run *run)
{
    struct void_sm_result res;
    if (void_sm_result_decode(run->result, run->result_len, &res) != 0) {
        fprintf(stderr, "voidctl member %s: the replicas' answer does not decode\n", verb);
        return VOIDCTL_EXIT_FAILED;
    }
    if (res.status == VOID_SM_OK && res.value_len == 16) {
        uint64_t epoch = void_bytes_get_be64(res.value);
        uint64_t act = void_bytes_get_be64(res.value + 8);
        if (json) {
            printf("{\"command\":\"%s\",\"id\":%u,\"status\":\"ok\",\"signed_epoch\":%" PRIu64
                   ",\"epoch\":%" PRIu64 ",\"in_effect_above_seq\":%" PRIu64 "}\n",
                   verb,
                   (unsigned)run->id,
                   run->epoch,
                   epoch,
                   act);
        } else {
            const char *done = strcmp(verb, "leave") == 0    ? "left"
                               : strcmp(verb, "add") == 0     ? "added as a learner"
                               : strcmp(verb, "promote") == 0 ? "promoted to voter"
                                                              : "removed";
            printf("member %u %s: epoch %" PRIu64 ", in effect above sequence number %" PRIu64
                   " (the next checkpoint)\n",
                   (unsigned)run->id,
                   done,
                   epoch,
                   act);
        }
        return VOIDCTL_EXIT_OK;
    }
    char reason[300];
    if (res.status == VOID_SM_REFUSED) {
        size_t k = res.value_len < sizeof(reason) - 1 ? res.value_len : sizeof(reason) - 1;
        memcpy(reason, res.value, k);
        reason[k] = '\0';
    } else {
        snprintf(reason,
                 sizeof(reason),
                 "status %u (the replicas could not apply the op)",
                 (unsigned)res.status);
    }
    if (json) {
        json_t *j = json_pack("{s:s, s:I, s:s, s:I, s:s}",
                              "command",
                              verb,
                              "id",
                              (json_int_t)run->id,
                              "status",
                              "refused",
                              "signed_epoch",
                              (json_int_t)run->epoch,
                              "reason",
                              reason);
        char *text = json_dumps(j, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(j);
    }
    fprintf(stderr,
            "voidctl member %s %u: refused by the cluster: %s\n",
            verb,
            (unsigned)run->id,
            reason);
    return VOIDCTL_EXIT_REFUSED;
}

static int usage(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fprintf(out,
            "usage: voidctl member add --id N --key PUB --addr HOST:PORT --admin-key FILE [options]\n"
            "       voidctl member promote --id N --admin-key FILE [--http HOST:PORT] [options]\n"
            "       voidctl member remove ID --admin-key FILE [options]\n"
            "       voidctl member leave --key FILE [options]\n\n"
            "Changes the membership through PBFT (docs/membership.md). add admits a new\n"
            "member N as a learner (it receives the log, never votes): its public key PUB\n"
            "(a .public file from voidctl keygen, or 64 hex digits), its replica address and\n"
            "location; start its voidd (a node file with [membership] genesis, see\n"
            "docs/membership.md) and it catches up by state transfer. promote makes learner\n"
            "N a voter: it asks the learner for its progress, signed by the learner's key\n"
            "(GET /member/progress at --http, default its http in the cluster file), and\n"
            "the cluster refuses unless the learner is within one checkpoint\n"
            "(VOID_EMEMBER_BEHIND: wait and try again). remove takes member ID out; leave\n"
            "takes out the member whose secret key is FILE (of its own accord). add,\n"
            "promote and remove are signed by the admin's secret key (the one whose public\n"
            "half the replicas name as [clients] admin_key). Every change is in effect at\n"
            "every replica above the next checkpoint. The cluster refuses, naming the\n"
            "reason: an id, key or address in use (VOID_EMEMBER_EXISTS, _DUP_KEY,\n"
            "_DUP_ADDR), an id without a replica slot (VOID_ERANGE: [membership] slots), an\n"
            "unknown or already-removed id, promoting a voter (VOID_EMEMBER_ROLE), leaving\n"
            "fewer than [membership] voters_min voters, a bad signature, and a change while\n"
            "the previous one is still taking effect (VOID_EMEMBER_PENDING: try again\n"
            "after a few batches).\n\n"
            "options:\n"
            "  --id N            add, promote: the member id (below [membership] slots)\n"
            "  --key PUB|FILE    add: the new member's public key (file or hex);\n"
            "                    leave: the leaving replica's secret key file\n"
            "  --addr HOST:PORT  add: the new member's replica address\n"
            "  --dc NAME, --rack NAME, --host NAME\n"
            "                    add: the new member's location (optional)\n"
            "  --http HOST:PORT  promote: the learner's HTTP address\n"
            "  --admin-key FILE  add, promote, remove: the admin's secret key file\n"
            "  --cluster FILE    the cluster's client file (default: $VOID_CLUSTER)\n"
            "  --timeout S       wait at most S seconds for the replicas (default 5)\n"
            "  --json            print the outcome as one JSON object\n"
            "  -h, --help        this text\n\n");
    voidctl_print_exit_codes(out);
    fprintf(out,
            "\nexample:\n"
            "  voidctl member add --id 4 --key keys/node4.public --addr 127.0.0.1:7104 \\\n"
            "      --dc dc1 --rack r0 --host h4 --admin-key keys/admin.secret --cluster client.ini\n"
            "  voidctl member promote --id 4 --admin-key keys/admin.secret --cluster client.ini\n"
            "  voidctl member remove 4 --admin-key keys/admin.secret --cluster client.ini\n"
            "  voidctl member leave --key keys/node3.secret --cluster client.ini\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

struct member_args {
    struct voidctl_opts o;
    const char *admin_key, *key, *id, *addr, *dc, *rack, *host, *http;
    char *pos[3];
    int npos;
};

static int parse(int argc, char **argv, struct member_args *a)
{
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"admin-key", required_argument, NULL, 'a'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"id", required_argument, NULL, 'i'},
                                             {"addr", required_argument, NULL, 'A'},
                                             {"dc", required_argument, NULL, 'D'},
                                             {"rack", required_argument, NULL, 'R'},
                                             {"host", required_argument, NULL, 'H'},
                                             {"http", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    a->o.timeout_s = 5.0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->o.cluster = optarg;
            break;
        case 't':
            if (void_cli_seconds("voidctl member", "timeout", optarg, 86400.0, &a->o.timeout_s) !=
                0) {
                return -1;
            }
            break;
        case 'j':
            a->o.json = 1;
            break;
        case 'a':
            a->admin_key = optarg;
            break;
        case 'k':
            a->key = optarg;
            break;
        case 'i':
            a->id = optarg;
            break;
        case 'A':
            a->addr = optarg;
            break;
        case 'D':
            a->dc = optarg;
            break;
        case 'R':
            a->rack = optarg;
            break;
        case 'H':
            a->host = optarg;
            break;
        case 'P':
            a->http = optarg;
            break;
        case 'h':
            a->o.help = 1;
            break;
        default:
            (void)void_cli_bad_option("voidctl member", c, argv);
            return -1;
        }
    }
    for (; optind < argc; optind++) {
        if (a->npos == (int)VOID_ARRAY_LEN(a->pos)) {
            fprintf(stderr, "voidctl member: too many arguments\n");
            return -1;
        }
        a->pos[a->npos++] = argv[optind];
    }
    return 0;
}

/* The id of the replica whose public key kp's is, or -1. */
static int replica_of_key(const struct void_config *cl, const struct void_sign_keypair *kp)
{
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        if (memcmp(cl->replicas[i].public_key, kp->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0) {
            return (int)cl->replicas[i].id;
        }
    }
    return -1;
}

/* A member id in text: 0..UINT32_MAX-1. Returns 0, or -1 after saying why. */
static int parse_id(const char *verb, const char *text, uint32_t *id)
{
    char *end = NULL;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v >= UINT32_MAX) {
        fprintf(stderr,
                "voidctl member %s: the id must be a member id, 0..%u (got '%s')\n",
                verb,
                (unsigned)(UINT32_MAX - 1),
                text);
        return -1;
    }
    *id = (uint32_t)v;
    return 0;
}

/* The new member of an add, from --key, --addr and the location options.
 * Returns 0, or a usage exit status after saying why. */
static int parse_join(const struct member_args *a, struct void_member *m)
{
    memset(m, 0, sizeof(*m));
    m->role = VOID_MEMBER_LEARNER;
    char err[256] = "";
    if (strlen(a->key) != 64 || void_sign_public_key_from_hex(a->key, m->public_key) != 0) {
        if (void_sign_keyfile_read_public(a->key, m->public_key, err, sizeof(err)) != 0) {
            fprintf(stderr,
                    "voidctl member add: --key: neither 64 hex digits nor a public key file: %s\n",
                    err[0] != '\0' ? err : a->key);
            return VOIDCTL_EXIT_USAGE;
        }
    }
    char host[VOID_CONFIG_ADDR_MAX];
    uint16_t port = 0;
    if (void_hostport_parse(a->addr, 0, host, sizeof(host), &port) != 0 ||
        strlen(a->addr) > VOID_MEMBERSHIP_ADDR_MAX) {
        fprintf(stderr,
                "voidctl member add: --addr '%s' is not HOST:PORT (at most %d bytes)\n",
                a->addr,
                VOID_MEMBERSHIP_ADDR_MAX);
        return VOIDCTL_EXIT_USAGE;
    }
    const char *loc[3] = {a->dc, a->rack, a->host};
    char *dst[3] = {m->datacenter, m->rack, m->host};
    for (int i = 0; i < 3; i++) {
        if (loc[i] != NULL && strlen(loc[i]) > VOID_MEMBERSHIP_LOC_MAX) {
            fprintf(stderr,
                    "voidctl member add: a location name is at most %d bytes ('%s')\n",
                    VOID_MEMBERSHIP_LOC_MAX,
                    loc[i]);
            return VOIDCTL_EXIT_USAGE;
        }
        (void)snprintf(dst[i], VOID_MEMBERSHIP_LOC_MAX + 1, "%s", loc[i] != NULL ? loc[i] : "");
    }
    (void)snprintf(m->address, sizeof(m->address), "%s", a->addr);
    return 0;
}

/* Checks the options against the verb; fills run's change and id. Returns 0
 * or a usage exit status after saying why. */
static int check_args(const char *verb, const struct member_args *a, struct member_run *run)
{
    int add = strcmp(verb, "add") == 0, promote = strcmp(verb, "promote") == 0;
    int remove = strcmp(verb, "remove") == 0, leave = strcmp(verb, "leave") == 0;
    const char *want = add       ? "--id N, --key PUB, --addr HOST:PORT and --admin-key FILE"
                       : promote ? "--id N and --admin-key FILE"
                       : remove  ? "ID (or --id N) and --admin-key FILE"
                                 : "--key FILE (the leaving replica's secret key)";
    int ok = leave ? a->npos == 1 && a->admin_key == NULL && a->key != NULL && a->id == NULL
                   : a->admin_key != NULL;
    ok = ok && (!add || (a->npos == 1 && a->id != NULL && a->key != NULL && a->addr != NULL));
    ok = ok && (!promote || (a->npos == 1 && a->id != NULL && a->key == NULL));
    ok = ok && (!remove || (a->key == NULL && (a->npos == 2) != (a->id != NULL) && a->npos <= 2));
    ok = ok && (add || (a->addr == NULL && a->dc == NULL && a->rack == NULL && a->host == NULL));
    ok = ok && (promote || a->http == NULL);
    if (!ok) {
        fprintf(stderr, "voidctl member %s: wants %s (see --help)\n", verb, want);
        void_cli_hint("voidctl member");
        return VOIDCTL_EXIT_USAGE;
    }
    run->change = add       ? VOID_MEMBERSHIP_JOIN
                  : promote ? VOID_MEMBERSHIP_PROMOTE
                  : remove  ? VOID_MEMBERSHIP_REMOVE
                            : VOID_MEMBERSHIP_LEAVE;
    const char *id = remove && a->npos == 2 ? a->pos[1] : a->id;
    if (id != NULL && parse_id(verb, id, &run->id) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (add) {
        int rc = parse_join(a, &run->join);
        run->join.id = run->id;
        return rc;
    }
    return 0;
}

/* The genesis configuration holds placeholders ("replica-<id>") for the
 * founding replicas' addresses (src/core/pbft_epoch.c), so the cluster can
 * refuse a JOIN naming a joined member's address but not a founding one's:
 * the cluster file has those, and an add naming one is refused here, under
 * the state machine's code (a joined member's address, the configuration
 * holds: the cluster refuses it). Returns 0 or VOIDCTL_EXIT_REFUSED. */
static int check_join_addr(const struct void_config *cl, const struct member_run *run, int json)
{
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        const struct void_config_replica *r = &cl->replicas[i];
        if (r->id >= cl->genesis_n || strcmp(r->address.text, run->join.address) != 0) {
            continue;
        }
        if (json) {
            printf("{\"command\":\"add\",\"id\":%u,\"status\":\"refused\",\"reason\":\"%s: %s "
                   "(replica %u in the cluster file)\"}\n",
                   (unsigned)run->id,
                   void_err_name(VOID_EMEMBER_DUP_ADDR),
                   void_strerror(VOID_EMEMBER_DUP_ADDR),
                   (unsigned)r->id);
        }
        fprintf(stderr,
                "voidctl member add %u: refused: %s: %s (replica %u in the cluster file has "
                "%s)\n",
                (unsigned)run->id,
                void_err_name(VOID_EMEMBER_DUP_ADDR),
                void_strerror(VOID_EMEMBER_DUP_ADDR),
                (unsigned)r->id,
                r->address.text);
        return VOIDCTL_EXIT_REFUSED;
    }
    return 0;
}

int voidctl_member(int argc, char **argv)
{
    static struct member_args a;
    if (parse(argc, argv, &a) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (a.o.help) {
        return usage(1);
    }
    const char *verb = a.npos > 0 ? a.pos[0] : "";
    if (strcmp(verb, "add") != 0 && strcmp(verb, "promote") != 0 && strcmp(verb, "remove") != 0 &&
        strcmp(verb, "leave") != 0) {
        fprintf(stderr,
                a.npos == 0
                    ? "voidctl member: which change? add, promote, remove ID or leave\n"
                    : "voidctl member: unknown change '%s' (add, promote, remove ID or leave)\n",
                verb);
        void_cli_hint("voidctl member");
        return VOIDCTL_EXIT_USAGE;
    }
    int leave = strcmp(verb, "leave") == 0;
    static struct member_run run;
    memset(&run, 0, sizeof(run));
    int rc = check_args(verb, &a, &run);
    if (rc != 0) {
        return rc;
    }
    const char *keyfile = leave ? a.key : a.admin_key;
    static struct void_config cl;
    rc = voidctl_load_cluster(&a.o, &cl);
    if (rc != 0) {
        return rc;
    }
    static struct void_sign_keypair kp;
    char err[256] = "";
    if (void_sign_keyfile_read_secret(keyfile, &kp, err, sizeof(err)) != 0) {
        fprintf(stderr,
                "voidctl member %s: %s key: %s\n",
                verb,
                leave ? "member" : "admin",
                err[0] != '\0' ? err : "unreadable");
        void_config_fini(&cl);
        return VOIDCTL_EXIT_FAILED;
    }
    if (leave) {
        int id = replica_of_key(&cl, &kp);
        if (id < 0) {
            fprintf(stderr,
                    "voidctl member leave: %s is not the key of any replica in the cluster file\n",
                    keyfile);
            void_sign_keypair_wipe(&kp);
            void_config_fini(&cl);
            return VOIDCTL_EXIT_USAGE;
        }
        run.id = (uint32_t)id;
    }
    if (run.change == VOID_MEMBERSHIP_JOIN && (rc = check_join_addr(&cl, &run, a.o.json)) != 0) {
        void_sign_keypair_wipe(&kp);
        void_config_fini(&cl);
        return rc;
    }
    run.signer = &kp;
    run.timeout_s = a.o.timeout_s;
    /* promote: the learner's HTTP address, else its http in the cluster file. */
    const struct void_config_replica *lr = void_config_replica_get(&cl, run.id);
    run.learner_http = a.http != NULL ? a.http : lr != NULL ? lr->http.text : NULL;
    run.latest = malloc(sizeof(*run.latest));
    if (run.latest == NULL) {
        rc = VOIDCTL_EXIT_FAILED;
    } else if (cl.role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl: the cluster file has no [client] section (id and key)\n");
        rc = VOIDCTL_EXIT_FAILED;
    } else {
        rc = run_change(&cl, a.o.timeout_s, &run);
    }
    if (rc == 0) {
        rc = report(verb, a.o.json, &run);
    }
    free(run.latest);
    void_sign_keypair_wipe(&kp);
    void_config_fini(&cl);
    return rc;
}

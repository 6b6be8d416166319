/*
 * voidctl member remove|leave: configuration changes through PBFT
 * (docs/membership.md, "Changes through PBFT"). A change is the state
 * machine's member op: the change, the member id and the epoch of the
 * latest configuration, signed by the admin key (remove) or by the leaving
 * member's own key (leave). The command reads the configuration record
 * first (to sign for its epoch), then submits the signed op as an ordered
 * request and waits for f + 1 matching answers: the new epoch and the
 * sequence number above which it is in effect, or a refusal whose reason
 * the state machine gives (exit VOIDCTL_EXIT_REFUSED). Too few replicas
 * within --timeout is VOIDCTL_EXIT_UNREACHABLE, as for every voidctl
 * command.
 */
#include "cmd/voidctl.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/membership.h"
#include "void/sign.h"
#include "void/sm.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
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
 * is none (the cluster file's configuration). Returns 0 or VOID_ECORRUPT. */
static int record_epoch(const uint8_t *result, size_t len, uint64_t *epoch)
{
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0) {
        return VOID_ECORRUPT;
    }
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
    free(cfg);
    return rc;
}

static void on_record_done(void *ctx, const uint8_t *result, size_t len)
{
    struct member_run *run = ctx;
    if (record_epoch(result, len, &run->epoch) != 0) {
        run->failed = 1;
        run->phase = 2;
        finish(run);
        return;
    }
    struct void_sm_member_op m = {.change = run->change, .id = run->id, .epoch = run->epoch};
    uint8_t msg[VOID_SM_MEMBER_SIGNED];
    void_sm_member_op_message(&m, msg);
    int rc = void_sign(run->signer, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig);
    VOID_ASSERT(rc == 0);
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    int n = void_sm_member_op_encode(&m, op, sizeof(op));
    VOID_ASSERT(n == VOID_SM_MEMBER_OP_SIZE);
    run->phase = 1;
    rc = void_kvclient_submit(&run->client, op, (size_t)n, on_change_done, run);
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
            printf("member %u %s: epoch %" PRIu64 ", in effect above sequence number %" PRIu64
                   " (the next checkpoint)\n",
                   (unsigned)run->id,
                   strcmp(verb, "leave") == 0 ? "left" : "removed",
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
            "usage: voidctl member remove ID --admin-key FILE [options]\n"
            "       voidctl member leave --key FILE [options]\n\n"
            "Changes the membership through PBFT (docs/membership.md). remove takes member\n"
            "ID out, signed by the admin's secret key (the one whose public half the\n"
            "replicas name as [clients] admin_key); leave takes out the member whose\n"
            "secret key is FILE (a replica's own key: it leaves of its own accord). The\n"
            "change is in effect at every replica above the next checkpoint; a removed\n"
            "voidd stops there, and refuses to start again. The cluster refuses an unknown\n"
            "or already-removed id, a change that would leave fewer than [membership]\n"
            "voters_min voters, a bad signature, and a change while the previous one is\n"
            "still taking effect (VOID_EMEMBER_PENDING: try again after a few batches).\n\n"
            "options:\n"
            "  --admin-key FILE  remove: the admin's secret key file (voidctl keygen)\n"
            "  --key FILE        leave: the leaving replica's secret key file\n"
            "  --cluster FILE    the cluster's client file (default: $VOID_CLUSTER)\n"
            "  --timeout S       wait at most S seconds for the replicas (default 5)\n"
            "  --json            print the outcome as one JSON object\n\n");
    voidctl_print_exit_codes(out);
    fprintf(out,
            "\nexamples:\n"
            "  voidctl member remove 4 --admin-key keys/admin.secret --cluster client.ini\n"
            "  voidctl member leave --key keys/node3.secret --cluster client.ini\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

struct member_args {
    struct voidctl_opts o;
    const char *admin_key, *key;
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
    int remove = strcmp(verb, "remove") == 0, leave = strcmp(verb, "leave") == 0;
    if (!remove && !leave) {
        fprintf(stderr,
                a.npos == 0 ? "voidctl member: which change? remove ID or leave\n"
                            : "voidctl member: unknown change '%s' (remove ID or leave)\n",
                verb);
        void_cli_hint("voidctl member");
        return VOIDCTL_EXIT_USAGE;
    }
    static struct member_run run;
    memset(&run, 0, sizeof(run));
    const char *keyfile = remove ? a.admin_key : a.key;
    if ((remove && (a.npos != 2 || a.key != NULL)) ||
        (leave && (a.npos != 1 || a.admin_key != NULL)) || keyfile == NULL) {
        fprintf(
            stderr,
            remove ? "voidctl member remove: wants ID and --admin-key FILE\n"
                   : "voidctl member leave: wants --key FILE (the leaving replica's secret key)\n");
        void_cli_hint("voidctl member");
        return VOIDCTL_EXIT_USAGE;
    }
    if (remove) {
        char *end = NULL;
        const char *text = a.pos[1];
        unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
        if (end == NULL || *end != '\0' || v >= UINT32_MAX) {
            fprintf(stderr,
                    "voidctl member remove: ID must be a member id, 0..%u (got '%s')\n",
                    (unsigned)(UINT32_MAX - 1),
                    text);
            return VOIDCTL_EXIT_USAGE;
        }
        run.id = (uint32_t)v;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&a.o, &cl);
    if (rc != 0) {
        return rc;
    }
    static struct void_sign_keypair kp;
    char err[256] = "";
    if (void_sign_keyfile_read_secret(keyfile, &kp, err, sizeof(err)) != 0) {
        fprintf(stderr,
                "voidctl member %s: %s key: %s\n",
                verb,
                remove ? "admin" : "member",
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
    run.change = remove ? VOID_MEMBERSHIP_REMOVE : VOID_MEMBERSHIP_LEAVE;
    run.signer = &kp;
    if (cl.role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl: the cluster file has no [client] section (id and key)\n");
        rc = VOIDCTL_EXIT_FAILED;
    } else {
        rc = run_change(&cl, a.o.timeout_s, &run);
    }
    if (rc == 0) {
        rc = report(verb, a.o.json, &run);
    }
    void_sign_keypair_wipe(&kp);
    void_config_fini(&cl);
    return rc;
}

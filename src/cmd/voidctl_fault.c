/*
 * voidctl fault: sets a node's transport faults at run time (delay, loss, a
 * block list, isolation) through its POST /fault, signed by the admin key
 * (include/void/fault_auth.h, docs/chaos.md). The chaos engine
 * (voidctl_chaos.c) sends its network faults through voidctl_fault_send
 * here, so tests and the engine share one client.
 */
#include "cmd/voidctl.h"
#include "cmd/voidctl_http.h"
#include "void/config.h"
#include "void/error.h"
#include "void/fault_auth.h"
#include "void/sign.h"
#include "void/transport.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(out + 2 * i, 3, "%02x", in[i]);
    }
}

/* The query string of r, signature included. */
static int
query(const struct void_fault_request *r, const uint8_t sig[VOID_SIGN_SIZE], char *out, size_t cap)
{
    char nonce[2 * VOID_FAULT_AUTH_NONCE_SIZE + 1], sighex[2 * VOID_SIGN_SIZE + 1];
    hex(r->nonce, sizeof(r->nonce), nonce);
    hex(sig, VOID_SIGN_SIZE, sighex);
    int n = snprintf(out,
                     cap,
                     "delay_ms=%u&loss_pct=%u&isolate=%u&ts_ms=%llu&nonce=%s&sig=%s&block=",
                     (unsigned)r->delay_ms,
                     (unsigned)r->loss_pct,
                     (unsigned)r->isolate,
                     (unsigned long long)r->ts_ms,
                     nonce,
                     sighex);
    if (n < 0 || (size_t)n >= cap) {
        return VOID_EOVERSIZED;
    }
    size_t at = (size_t)n;
    for (uint32_t i = 0; i < r->count_blocked; i++) {
        n = snprintf(out + at, cap - at, "%s%u", i > 0 ? "," : "", (unsigned)r->blocked[i]);
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
        at += (size_t)n;
    }
    if (r->skew_ms != 0) {
        n = snprintf(out + at, cap - at, "&skew_ms=%ld", (long)r->skew_ms);
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
        at += (size_t)n;
    }
    if (r->byz != 0) {
        const char *name = void_transport_byz_name(r->byz);
        n = snprintf(out + at, cap - at, "&byz=%s", name != NULL ? name : "?");
        if (n < 0 || (size_t)n >= cap - at) {
            return VOID_EOVERSIZED;
        }
    }
    return 0;
}

#define FAULT_URL_MAX (VOID_FAULT_AUTH_MSG_MAX + 1024)

/* The signed URL of knobs for replica rep, with a fresh timestamp and
 * nonce. Returns 0 or the errors of signing. */
static int signed_url(const struct void_config_replica *rep,
                      const struct void_sign_keypair *admin,
                      const struct void_fault_request *knobs,
                      char url[FAULT_URL_MAX])
{
    uint32_t node = rep->id;
    struct void_fault_request r = *knobs;
    r.node = node;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r.ts_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    randombytes_buf(r.nonce, sizeof(r.nonce));
    uint8_t sig[VOID_SIGN_SIZE];
    int rc = void_fault_request_sign(&r, admin, sig);
    static const char path[] = "/fault?";
    char q[sizeof(path) - 1 + VOID_FAULT_AUTH_MSG_MAX + 512];
    memcpy(q, path, sizeof(path) - 1);
    if (rc != 0 ||
        (rc = query(&r, sig, q + sizeof(path) - 1, sizeof(q) - (sizeof(path) - 1))) != 0) {
        return rc;
    }
    voidctl_http_url(&rep->http, q, url, FAULT_URL_MAX);
    return 0;
}

static const struct void_config_replica *replica_of(const struct void_config *c, uint32_t node)
{
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id == node) {
            return &c->replicas[i];
        }
    }
    return NULL;
}

int voidctl_fault_send(const struct void_config *c,
                       uint32_t node,
                       const struct void_sign_keypair *admin,
                       const struct void_fault_request *knobs,
                       double timeout_s,
                       char *answer,
                       size_t cap,
                       long *status)
{
    const struct void_config_replica *rep = replica_of(c, node);
    *status = 0;
    answer[0] = '\0';
    if (rep == NULL) {
        return VOID_ENOTFOUND;
    }
    char url[FAULT_URL_MAX];
    int rc = signed_url(rep, admin, knobs, url);
    if (rc != 0) {
        return rc;
    }
    struct voidctl_body b;
    voidctl_body_init(&b, answer, cap);
    CURLcode cc;
    *status = voidctl_http_get(url, 1, (long)(timeout_s * 1000), &b, &cc);
    if (cc == CURLE_FAILED_INIT) {
        return VOID_ENOMEM;
    }
    if (cc != CURLE_OK) {
        (void)snprintf(answer, cap, "%s", curl_easy_strerror(cc));
    }
    return cc == CURLE_OK ? 0 : VOID_ETIMEOUT;
}

static int usage_fault(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fprintf(out,
            "usage: voidctl fault NODE|all --admin-key FILE [--delay-ms N] [--loss-pct P]\n"
            "                     [--block IDS] [--isolate] [--skew-ms S] [--byzantine B]\n"
            "                     | --clear   [options]\n\n"
            "Sets the transport faults of replica NODE (or of every replica) at run time:\n"
            "every frame it sends is delayed N ms and P%% of them dropped, all traffic to and\n"
            "from the replicas in IDS (comma-separated) is dropped, --isolate drops\n"
            "everything. Each call replaces the node's previous faults; --clear heals it.\n"
            "The node must enable fault control ([fault] control = 1, with [clients]\n"
            "admin_key; scripts/cluster start --fault-control does both), and the request\n"
            "is a POST signed by the admin key with a timestamp and a nonce, so a captured\n"
            "one cannot be replayed (docs/chaos.md).\n\n"
            "options:\n"
            "  --admin-key FILE  the admin's secret key file (voidctl keygen; mode 0600)\n"
            "  --delay-ms N      0..60000 (the node refuses more)\n"
            "  --loss-pct P      0..100\n"
            "  --block IDS       replica ids, e.g. 2,3\n"
            "  --isolate         drop every frame to and from every peer\n"
            "  --skew-ms S       shift the node's clock by S ms, -600000..600000 (its\n"
            "                    messages are refused beyond the HLC's 500 ms max offset)\n"
            "  --byzantine B     silent, garbage, future or equivocate: the node lies\n"
            "                    (test builds with [fault] byzantine = 1 only)\n"
            "  --clear           no fault (the heal)\n"
            "  --cluster FILE    the cluster file (default: $VOID_CLUSTER)\n"
            "  --timeout S       seconds to wait for each node (default 5)\n"
            "  --json            print each node's answer as JSON, one line each\n"
            "  --dry-run         print the signed request (POST URL) instead of sending it;\n"
            "                    it is good once, within 30 s\n\n");
    voidctl_print_exit_codes(out);
    fprintf(out,
            "  (fault: 3 also when a node refused the request: 403 unsigned, stale, replayed\n"
            "  or fault control off; 400 a knob out of range)\n\n"
            "example:\n"
            "  scripts/cluster start --dir /tmp/c1 --fault-control\n"
            "  voidctl fault 2 --delay-ms 20 --loss-pct 10 --cluster /tmp/c1/client.ini \\\n"
            "      --admin-key /tmp/c1/keys/admin.secret\n"
            "  voidctl fault all --clear --cluster /tmp/c1/client.ini --admin-key "
            "/tmp/c1/keys/admin.secret\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

struct fault_opts {
    const char *cluster;
    const char *admin_key;
    double timeout_s;
    int json;
    int clear;
    int dry_run; /* --dry-run: print the signed request, send nothing */
    int set;     /* a knob was given */
    struct void_fault_request r;
};

static int parse_u32(const char *opt, const char *text, uint32_t *out)
{
    return void_cli_u32("voidctl fault", opt, text, 0, UINT32_MAX, out) == 0 ? 0 : -1;
}

static int parse_block(const char *text, struct void_fault_request *r)
{
    r->count_blocked = 0;
    for (const char *p = text; *p != '\0';) {
        const char *comma = strchr(p, ',');
        char one[16];
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof(one) || r->count_blocked == VOID_FAULT_BLOCK_MAX) {
            fprintf(stderr,
                    "voidctl fault: --block wants replica ids separated by commas, not '%s'\n",
                    text);
            return -1;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        if (parse_u32("block", one, &r->blocked[r->count_blocked]) != 0) {
            return -1;
        }
        r->count_blocked++;
        p = comma != NULL ? comma + 1 : "";
    }
    return 0;
}

/* Parses the options; returns the number of positionals or -1. */
static int parse_opts(int argc, char **argv, struct fault_opts *o, char **pos, int cap, int *help)
{
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"admin-key", required_argument, NULL, 'k'},
                                             {"delay-ms", required_argument, NULL, 'd'},
                                             {"loss-pct", required_argument, NULL, 'l'},
                                             {"block", required_argument, NULL, 'b'},
                                             {"isolate", no_argument, NULL, 'i'},
                                             {"skew-ms", required_argument, NULL, 'S'},
                                             {"byzantine", required_argument, NULL, 'B'},
                                             {"clear", no_argument, NULL, 'C'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c, npos = 0;
    while ((c = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 1:
            if (npos == cap) {
                fprintf(
                    stderr, "voidctl fault: one node at a time (or all), not also '%s'\n", optarg);
                return -1;
            }
            pos[npos++] = optarg;
            break;
        case 'c':
            o->cluster = optarg;
            break;
        case 't':
            bad = void_cli_seconds("voidctl fault", "timeout", optarg, 86400, &o->timeout_s) != 0;
            break;
        case 'k':
            o->admin_key = optarg;
            break;
        case 'd':
            bad = parse_u32("delay-ms", optarg, &o->r.delay_ms) != 0;
            o->set = 1;
            break;
        case 'l':
            bad = parse_u32("loss-pct", optarg, &o->r.loss_pct) != 0;
            o->set = 1;
            break;
        case 'b':
            bad = parse_block(optarg, &o->r) != 0;
            o->set = 1;
            break;
        case 'i':
            o->r.isolate = 1;
            o->set = 1;
            break;
        case 'S': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            bad = end == optarg || *end != '\0' || v < -VOID_FAULT_SKEW_MS_MAX ||
                  v > VOID_FAULT_SKEW_MS_MAX;
            if (bad) {
                fprintf(
                    stderr, "voidctl fault: --skew-ms wants -600000..600000, not '%s'\n", optarg);
            }
            o->r.skew_ms = (int32_t)v;
            o->set = 1;
            break;
        }
        case 'B': {
            int b = void_transport_byz_parse(optarg);
            bad = b <= 0;
            if (bad) {
                fprintf(stderr,
                        "voidctl fault: --byzantine wants silent, garbage, future or equivocate, "
                        "not '%s'\n",
                        optarg);
            }
            o->r.byz = b > 0 ? (uint32_t)b : 0;
            o->set = 1;
            break;
        }
        case 'C':
            o->clear = 1;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'h':
            *help = 1;
            break;
        default:
            void_cli_bad_option("voidctl fault", c, argv);
            return -1;
        }
        if (bad) {
            return -1;
        }
    }
    return npos;
}

/* Checks the command line; returns 0 or prints why and returns -1. */
static int check_opts(const struct fault_opts *o, int npos)
{
    const char *why = npos != 1              ? "wants one NODE (a replica id) or all"
                      : o->admin_key == NULL ? "wants --admin-key FILE (the admin's secret key)"
                      : o->clear && o->set   ? "--clear heals: it takes no other fault option"
                      : !o->clear && !o->set ? "no fault given (say --clear to heal)"
                                             : NULL;
    if (why != NULL) {
        fprintf(stderr, "voidctl fault: %s\n", why);
        return -1;
    }
    return 0;
}

/* Sends to one node and reports; returns its exit status. */
static int one_node(const struct void_config *c,
                    uint32_t id,
                    const struct void_sign_keypair *admin,
                    const struct fault_opts *o)
{
    char answer[4096];
    long status = 0;
    if (o->dry_run) {
        char url[FAULT_URL_MAX];
        if (signed_url(replica_of(c, id), admin, &o->r, url) != 0) {
            return VOIDCTL_EXIT_FAILED;
        }
        printf("POST %s\n", url);
        return VOIDCTL_EXIT_OK;
    }
    int rc = voidctl_fault_send(c, id, admin, &o->r, o->timeout_s, answer, sizeof(answer), &status);
    if (rc != 0) {
        fprintf(stderr,
                "voidctl fault: node %u: %s\n",
                (unsigned)id,
                answer[0] ? answer : void_strerror(rc));
        return rc == VOID_ETIMEOUT ? VOIDCTL_EXIT_UNREACHABLE : VOIDCTL_EXIT_FAILED;
    }
    size_t n = strlen(answer);
    while (n > 0 && answer[n - 1] == '\n') {
        answer[--n] = '\0';
    }
    if (status != 200) {
        fprintf(stderr,
                "voidctl fault: node %u refused (HTTP %ld): %s\n",
                (unsigned)id,
                status,
                answer);
        return VOIDCTL_EXIT_REFUSED;
    }
    if (o->json) {
        printf("{\"node\":%u,\"answer\":%s}\n", (unsigned)id, answer);
    } else {
        printf("node %u: delay_ms=%u loss_pct=%u blocked=%u isolate=%u skew_ms=%ld byz=%s\n",
               (unsigned)id,
               (unsigned)o->r.delay_ms,
               (unsigned)o->r.loss_pct,
               (unsigned)o->r.count_blocked,
               (unsigned)o->r.isolate,
               (long)o->r.skew_ms,
               void_transport_byz_name(o->r.byz));
    }
    return VOIDCTL_EXIT_OK;
}

int voidctl_fault(int argc, char **argv)
{
    struct fault_opts o;
    memset(&o, 0, sizeof(o));
    o.timeout_s = 5.0;
    char *pos[1] = {NULL};
    int help = 0;
    int npos = parse_opts(argc, argv, &o, pos, 1, &help);
    if (help) {
        return usage_fault(1);
    }
    if (npos < 0 || check_opts(&o, npos) != 0) {
        void_cli_hint("voidctl fault");
        return VOIDCTL_EXIT_USAGE;
    }
    uint32_t id = 0;
    int all = strcmp(pos[0], "all") == 0;
    if (!all && void_cli_u32("voidctl fault", "NODE", pos[0], 0, UINT32_MAX, &id) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    struct voidctl_opts base = {.cluster = o.cluster, .timeout_s = o.timeout_s};
    struct void_config c;
    int rc = voidctl_load_cluster(&base, &c);
    if (rc != 0) {
        return rc;
    }
    struct void_sign_keypair admin;
    char err[VOID_CONFIG_ERR_MAX];
    if (void_sign_keyfile_read_secret(o.admin_key, &admin, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidctl fault: --admin-key %s: %s\n", o.admin_key, err);
        void_config_fini(&c);
        return VOIDCTL_EXIT_FAILED;
    }
    int worst = VOIDCTL_EXIT_OK;
    int found = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (uint32_t i = 0; i < c.count_replicas; i++) {
        if (all || c.replicas[i].id == id) {
            found = 1;
            int r = one_node(&c, c.replicas[i].id, &admin, &o);
            worst = r > worst ? r : worst;
        }
    }
    curl_global_cleanup();
    if (!found) {
        fprintf(stderr, "voidctl fault: no replica %u in the cluster file\n", (unsigned)id);
        worst = VOIDCTL_EXIT_USAGE;
    }
    void_sign_keypair_wipe(&admin);
    void_config_fini(&c);
    return worst;
}

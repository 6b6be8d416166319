/*
 * voidctl: the command-line client. This file finds the command, forwards
 * the global options written before it, and holds the option parser the
 * cluster commands share; each command group lives in
 * src/cmd/voidctl_<group>.c and registers itself in the table below with a
 * one-line summary for `voidctl --help`.
 *
 * Options follow GNU getopt_long conventions as etcdctl's do: a global
 * option such as --cluster may be written before the command
 * (`voidctl --cluster F put k v`) or anywhere after it, `--opt=value` and
 * `--opt value` are the same, and `--` ends the options (for a value that
 * starts with '-').
 */
#include "cmd/voidctl.h"

#include "void/config.h"
#include "void/sign.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest --timeout: a day, so that seconds * 1e9 fits a uint64_t. */
#define TIMEOUT_S_MAX 86400.0

static int cmd_version(int argc, char **argv);

static const struct voidctl_command commands[] = {
    {"version", "print the version (also --version)", cmd_version},
    {"keygen", "keygen DIR NAME: make a key pair for a node or a client", voidctl_keygen},
    {"cert", "cert issue ...: sign a client certificate with the admin key", voidctl_cert},
    {"put", "put KEY VALUE | put --file PATH NAME: write through PBFT", voidctl_kv},
    {"get", "get KEY [--as-of HLC] | get --file NAME DEST|-: read", voidctl_kv},
    {"del", "del KEY: delete a key", voidctl_kv},
    {"cas", "cas KEY EXPECTED NEW [--absent]: compare-and-set a key", voidctl_cas_or_kv},
    {"status", "status of every replica (view, primary, sequence numbers)", voidctl_status},
    {"members", "the members of the cluster and whether they are connected", voidctl_status},
    {"member", "member add|promote|remove|leave: change the membership", voidctl_member},
    {"store",
     "store put|get|ls|stat|pin|unpin|pins|gc|fsck --store DIR: local content store",
     voidctl_store},
    {"time", "time sources|watch --server H:P: query NTP servers (timekeeper)", voidctl_time},
    {"trace",
     "trace ancestors|descendants|cut|explain|export: the causal event DAG",
     voidctl_trace},
    {"topology", "the datacenter/rack/host tree of the cluster file", voidctl_topology},
    {"fault", "fault NODE|all --admin-key F ...: set a node's network faults", voidctl_fault},
    {"chaos", "chaos run --cluster DIR --faults LIST ...: faults under load, checked", voidctl_chaos},
    {"task", "task submit|status|list|logs|cancel: run a command near its inputs", voidctl_task},
};

void voidctl_print_exit_codes(FILE *out)
{
    fprintf(out,
            "exit status:\n"
            "  %d  ok\n"
            "  %d  not found, or the operation failed (I/O error, bad cluster file)\n"
            "  %d  usage error: bad command line, key or value over its limit\n"
            "  %d  refused by the cluster: cas mismatch, --as-of in the future or before\n"
            "     the kept history, state full, stale request, membership change refused\n"
            "  %d  unreachable: timed out waiting for the replicas (status: a replica\n"
            "     did not answer)\n",
            VOIDCTL_EXIT_OK,
            VOIDCTL_EXIT_FAILED,
            VOIDCTL_EXIT_USAGE,
            VOIDCTL_EXIT_REFUSED,
            VOIDCTL_EXIT_UNREACHABLE);
}

/* Reports a getopt_long failure: c is '?' (unknown option) or ':'
 * (missing value); the offending word is argv[optind - 1]. */
static void bad_option(const char *cmd, int c, char **argv)
{
    const char *word = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':') {
        fprintf(stderr, "voidctl %s: option '%s' needs a value\n", cmd, word);
    } else if (optopt != 0 && strncmp(word, "--", 2) != 0) {
        fprintf(stderr, "voidctl %s: unknown option '-%c'\n", cmd, optopt);
    } else {
        fprintf(stderr, "voidctl %s: unknown option '%s' (see voidctl %s --help)\n", cmd, word, cmd);
    }
}

static int parse_timeout(const char *cmd, const char *text, double *out)
{
    char *end = NULL;
    double t = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(t) || t <= 0 || t > TIMEOUT_S_MAX) {
        fprintf(stderr,
                "voidctl %s: --timeout wants a number of seconds above 0 and at most %.0f, "
                "not '%s'\n",
                cmd,
                TIMEOUT_S_MAX,
                text);
        return -1;
    }
    *out = t;
    return 0;
}

int voidctl_parse_opts(int argc, char **argv, struct voidctl_opts *o, char **pos, int cap)
{
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"as-of", required_argument, NULL, 'a'},
                                             {"absent", no_argument, NULL, 'A'},
                                             {"file", no_argument, NULL, 'f'},
                                             {"key-hex", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"session", required_argument, NULL, 'S'},
                                             {"ordered", no_argument, NULL, 'O'},
                                             {"on", required_argument, NULL, 'o'},
                                             {"copies", required_argument, NULL, 'C'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->timeout_s = 5.0;
    optind = 0; /* GNU: re-initialise, the dispatcher ran getopt_long already */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->cluster = optarg;
            break;
        case 't':
            if (parse_timeout(argv[0], optarg, &o->timeout_s) != 0) {
                return -1;
            }
            break;
        case 'j':
            o->json = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'a':
            o->as_of = optarg;
            break;
        case 'A':
            o->absent = 1;
            break;
        case 'f':
            o->file = 1;
            break;
        case 'k':
            o->key_hex = 1;
            break;
        case 'h':
            o->help = 1;
            break;
        case 'O':
            o->ordered = 1;
            break;
        case 'o':
            o->on = optarg;
            break;
        case 'C': {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || optarg[0] == '-' || v == 0 || v > 64) {
                fprintf(stderr, "voidctl %s: --copies wants a number 1..64, not '%s'\n", argv[0],
                        optarg);
                return -1;
            }
            o->copies = (uint32_t)v;
            break;
        }
        case 'S': {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || optarg[0] == '-' || v == 0 || v > UINT32_MAX) {
                fprintf(stderr,
                        "voidctl %s: --session wants a number 1..4294967295, not '%s'\n",
                        argv[0],
                        optarg);
                return -1;
            }
            o->session = (uint32_t)v;
            break;
        }
        default:
            bad_option(argv[0], c, argv);
            return -1;
        }
    }
    int npos = argc - optind;
    if (npos > cap) {
        fprintf(stderr,
                "voidctl %s: too many arguments ('%s' is one too many; see voidctl %s --help)\n",
                argv[0],
                argv[optind + cap],
                argv[0]);
        return -1;
    }
    for (int i = 0; i < npos; i++) {
        pos[i] = argv[optind + i];
    }
    return npos;
}

int voidctl_load_cluster(struct voidctl_opts *o, struct void_config *config)
{
    const char *path = o->cluster != NULL ? o->cluster : getenv("VOID_CLUSTER");
    if (path == NULL) {
        fprintf(stderr, "voidctl: no cluster file: pass --cluster FILE or set VOID_CLUSTER\n");
        return VOIDCTL_EXIT_USAGE;
    }
    char err[VOID_CONFIG_ERR_MAX] = "";
    int rc = void_sign_global_init();
    if (rc == 0) {
        rc = void_config_load(config, path, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "voidctl: bad cluster file: %s\n", err);
        return VOIDCTL_EXIT_FAILED;
    }
    return VOIDCTL_EXIT_OK;
}

int voidctl_cas_or_kv(int argc, char **argv)
{
    /* Only the content store has --store: its old spelling `voidctl cas
     * <verb> --store DIR` keeps working, and without --store `cas` is always
     * compare-and-set, so `voidctl cas put x y` sets the key named "put". */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--store") == 0 || strncmp(argv[i], "--store=", 8) == 0) {
            fprintf(stderr,
                    "voidctl: note: `voidctl cas <verb> --store DIR` is deprecated; "
                    "write `voidctl store <verb> --store DIR`\n");
            return voidctl_store(argc, argv);
        }
    }
    return voidctl_kv(argc, argv);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidctl [GLOBAL OPTIONS] <command> [args...] [options]\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out,
            "\n"
            "global options (before or after the command):\n"
            "  --cluster FILE   the cluster's client file (default: $VOID_CLUSTER)\n"
            "  --timeout S      give up after S seconds without an answer (default 5; for\n"
            "                   put/get --file: without progress)\n"
            "  --json           one JSON object per result on stdout\n"
            "  --quiet          no progress display\n"
            "  --session N      put/get/del/cas: this process's session under the client\n"
            "                   identity (default: a random one, so that processes sharing\n"
            "                   a client key never supersede each other's requests)\n"
            "  --help           this text, or a command's own with `voidctl <command> --help`\n"
            "  --version        print the version\n"
            "`--` ends the options, for a key or value that starts with '-'.\n"
            "\n");
    voidctl_print_exit_codes(out);
    fprintf(out,
            "\n"
            "example:\n"
            "  voidctl --cluster /tmp/void-cluster/client.ini put motd hello\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: voidctl version   (or voidctl --version)\n\n"
               "Prints the version of voidctl.\n\nexample:\n  voidctl version\n");
        return VOIDCTL_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "voidctl version: takes no arguments\n");
        return VOIDCTL_EXIT_USAGE;
    }
    printf("voidctl %s\n", VOIDCTL_VERSION);
    return VOIDCTL_EXIT_OK;
}

/* Finds the command word: getopt_long stops at the first non-option ("+"),
 * knowing every option of every command so that the value of one written
 * before the command (`--cluster F`) is not taken for the command. Sets
 * *help / *version for those flags. Returns the command's index in argv, 0
 * when there is none, or -1 after a usage error. */
static int find_command(int argc, char **argv, int *help, int *version)
{
    static const struct option all[] = {{"cluster", required_argument, NULL, 1},
                                        {"config", required_argument, NULL, 1},
                                        {"timeout", required_argument, NULL, 1},
                                        {"as-of", required_argument, NULL, 1},
                                        {"store", required_argument, NULL, 1},
                                        {"pin", required_argument, NULL, 1},
                                        {"zstd-level", required_argument, NULL, 1},
                                        {"chunk-avg", required_argument, NULL, 1},
                                        {"threads", required_argument, NULL, 1},
                                        {"server", required_argument, NULL, 1},
                                        {"samples", required_argument, NULL, 1},
                                        {"timeout-ms", required_argument, NULL, 1},
                                        {"interval-ms", required_argument, NULL, 1},
                                        {"duration-ms", required_argument, NULL, 1},
                                        {"report-ms", required_argument, NULL, 1},
                                        {"depth", required_argument, NULL, 1},
                                        {"limit", required_argument, NULL, 1},
                                        {"at", required_argument, NULL, 1},
                                        {"format", required_argument, NULL, 1},
                                        {"out", required_argument, NULL, 1},
                                        {"admin-key", required_argument, NULL, 1},
                                        {"faults", required_argument, NULL, 1},
                                        {"duration", required_argument, NULL, 1},
                                        {"interval", required_argument, NULL, 1},
                                        {"seed", required_argument, NULL, 1},
                                        {"report", required_argument, NULL, 1},
                                        {"json", no_argument, NULL, 0},
                                        {"quiet", no_argument, NULL, 0},
                                        {"absent", no_argument, NULL, 0},
                                        {"file", no_argument, NULL, 0},
                                        {"key-hex", no_argument, NULL, 0},
                                        {"force", no_argument, NULL, 0},
                                        {"dry-run", no_argument, NULL, 0},
                                        {"help", no_argument, NULL, 'h'},
                                        {"version", no_argument, NULL, 'V'},
                                        {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:hqV", all, NULL)) != -1) {
        if (c == 'h') {
            *help = 1;
        } else if (c == 'V') {
            *version = 1;
        } else if (c == '?' || c == ':') {
            bad_option("", c, argv);
            return -1;
        }
    }
    return optind < argc ? optind : 0;
}

int main(int argc, char **argv)
{
    int help = 0, version = 0;
    int at = find_command(argc, argv, &help, &version);
    if (at < 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (version) {
        printf("voidctl %s\n", VOIDCTL_VERSION);
        return VOIDCTL_EXIT_OK;
    }
    if (at == 0 || strcmp(argv[at], "help") == 0) {
        usage(help || at != 0 ? stdout : stderr);
        return help || at != 0 ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
    }
    const char *name = argv[at];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) != 0) {
            continue;
        }
        /* The command sees [name, options written before it, the rest]. */
        char **args = calloc((size_t)argc + 1, sizeof(*args));
        if (args == NULL) {
            fprintf(stderr, "voidctl: out of memory\n");
            return VOIDCTL_EXIT_FAILED;
        }
        int n = 0;
        args[n++] = argv[at];
        for (int k = 1; k < argc; k++) {
            if (k != at) {
                args[n++] = argv[k];
            }
        }
        int rc = commands[i].run(n, args);
        free(args);
        return rc;
    }
    fprintf(stderr, "voidctl: unknown command '%s' (try voidctl --help)\n", name);
    return VOIDCTL_EXIT_USAGE;
}

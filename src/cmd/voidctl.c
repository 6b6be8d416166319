/*
 * voidctl: the command-line client. This file only dispatches; each command
 * group lives in src/cmd/voidctl_<group>.c and registers itself in the table
 * below with a one-line summary for `voidctl --help`.
 */
#include "cmd/voidctl.h"

#include "void/config.h"
#include "void/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_version(int argc, char **argv);

static const struct voidctl_command commands[] = {
    {"version", "print the version", cmd_version},
    {"keygen", "make a key pair for a node or a client", voidctl_keygen},
    {"put", "put KEY VALUE: write a key through PBFT", voidctl_kv},
    {"get", "get KEY [--as-of HLC]: read a key (now or as of a past time)", voidctl_kv},
    {"del", "del KEY: delete a key", voidctl_kv},
    {"status", "status of every replica (view, primary, sequence numbers)", voidctl_status},
    {"members", "the members of the cluster and whether they are connected", voidctl_status},
    {"cas",
     "cas KEY EXPECTED NEW: compare and set; cas put|get|ls|stat|pin|gc|fsck: local content store",
     voidctl_cas_or_kv},
    {"time", "query NTP servers like chronyc sources (timekeeper)", voidctl_time},
};

int voidctl_parse_opts(int argc, char **argv, struct voidctl_opts *o, char **pos, int cap)
{
    memset(o, 0, sizeof(*o));
    o->timeout_s = 5.0;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--absent") == 0) {
            o->absent = 1;
        } else if (strcmp(a, "--file") == 0) {
            o->file = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
        } else if ((strcmp(a, "--cluster") == 0 || strcmp(a, "--config") == 0) && has_value) {
            o->cluster = argv[++i];
        } else if (strcmp(a, "--as-of") == 0 && has_value) {
            o->as_of = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && has_value) {
            char *end = NULL;
            o->timeout_s = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || o->timeout_s <= 0) {
                fprintf(stderr, "voidctl: --timeout wants a positive number of seconds\n");
                return -1;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "voidctl %s: unknown option or missing value: %s\n", argv[0], a);
            return -1;
        } else if (npos < cap) {
            pos[npos++] = argv[i];
        } else {
            fprintf(stderr, "voidctl %s: too many arguments\n", argv[0]);
            return -1;
        }
    }
    return npos;
}

int voidctl_load_cluster(struct voidctl_opts *o, struct void_config *config)
{
    const char *path = o->cluster != NULL ? o->cluster : getenv("VOID_CLUSTER");
    if (path == NULL) {
        fprintf(stderr, "voidctl: no cluster file: pass --cluster FILE or set VOID_CLUSTER\n");
        return 2;
    }
    char err[VOID_CONFIG_ERR_MAX] = "";
    int rc = void_sign_global_init();
    if (rc == 0) {
        rc = void_config_load(config, path, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "voidctl: bad cluster file: %s\n", err);
        return 1;
    }
    return 0;
}

int voidctl_cas_or_kv(int argc, char **argv)
{
    /* The store's options that take a value, and its verbs: the first word
     * that is not an option (or an option's value) decides. */
    static const char *const store_opts[] = {
        "--store", "--pin", "--zstd-level", "--chunk-avg", "--threads"};
    static const char *const store_verbs[] = {
        "put", "get", "ls", "stat", "pin", "unpin", "pins", "gc", "fsck"};
    for (int i = 1; i < argc; i++) {
        for (size_t k = 0; k < sizeof(store_opts) / sizeof(store_opts[0]); k++) {
            if (strcmp(argv[i], store_opts[k]) == 0) {
                return voidctl_cas(argc, argv);
            }
        }
        if (argv[i][0] == '-') {
            i += strcmp(argv[i], "--cluster") == 0 || strcmp(argv[i], "--timeout") == 0;
            continue;
        }
        for (size_t k = 0; k < sizeof(store_verbs) / sizeof(store_verbs[0]); k++) {
            if (strcmp(argv[i], store_verbs[k]) == 0) {
                return voidctl_cas(argc, argv);
            }
        }
        return voidctl_kv(argc, argv);
    }
    return voidctl_cas(argc, argv); /* bare `voidctl cas` or `cas --help`: the store's usage */
}

static void usage(FILE *out)
{
    fprintf(out, "usage: voidctl <command> [args...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\n`voidctl <command> --help` describes each command.\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("voidctl %s\n", VOIDCTL_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "voidctl: unknown command '%s' (try voidctl --help)\n", argv[1]);
    return 2;
}

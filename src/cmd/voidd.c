/*
 * voidd: one Void node. Reads the configuration, sets up the node (store,
 * recovery, transport, HTTP) and runs until SIGTERM or SIGINT. Exit status:
 * 0 after a clean stop, 1 when the node could not start or stopped on a fatal
 * error, 2 for a usage error. Errors go to stderr as one line that names the
 * file, key or address at fault.
 */
#include "cmd/cli.h"
#include "void/config.h"
#include "void/error.h"
#include "void/log.h"
#include "void/node.h"
#include "void/sign.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidd --config FILE [--check]\n"
            "\n"
            "Runs one Void node (a PBFT replica) as described by FILE; see\n"
            "docs/operations.md for the format. Stops cleanly on SIGTERM/SIGINT.\n"
            "\n"
            "options:\n"
            "  --config FILE  the node's configuration (INI; required, no default)\n"
            "  --check        validate FILE and its key files, then exit (default: run)\n"
            "  --help         this text\n"
            "  --version      print the version\n"
            "\n"
            "environment:\n"
            "  VOID_TASK_CLIENT=FILE  run the tasks placed on this node, reporting as the\n"
            "                 client of FILE (overrides [tasks] client_file; docs/scheduler.md)\n"
            "\n"
            "Exit status: 0 after a clean stop (or a valid --check), 1 the node could\n"
            "not start or stopped on a fatal error, 2 usage error.\n"
            "\n"
            "examples:\n"
            "  voidd --config /tmp/void-cluster/node0.ini --check\n"
            "  voidd --config /tmp/void-cluster/node0.ini\n");
}

int main(int argc, char **argv)
{
    enum { OPT_CONFIG = 256, OPT_CHECK, OPT_VERSION };
    static const struct option opts[] = {{"config", required_argument, NULL, OPT_CONFIG},
                                         {"check", no_argument, NULL, OPT_CHECK},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, OPT_VERSION},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int check = 0;
    opterr = 0; /* our messages, with the hint */
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_CONFIG:
            path = optarg;
            break;
        case OPT_CHECK:
            check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            void_cli_version("voidd");
            return 0;
        default: /* '?', ':' */
            return void_cli_bad_option("voidd", ch, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidd: unexpected argument '%s'\n", argv[optind]);
        void_cli_hint("voidd");
        return VOID_CLI_USAGE;
    }
    if (path == NULL) {
        fprintf(stderr, "voidd: --config FILE is required\n");
        void_cli_hint("voidd");
        return VOID_CLI_USAGE;
    }
    if (void_sign_global_init() != 0) {
        fprintf(stderr, "voidd: cannot initialise libsodium\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    static struct void_config config;
    char err[VOID_CONFIG_ERR_MAX] = "";
    int rc = void_config_load(&config, path, err, sizeof(err));
    if (rc == 0 && config.role != VOID_CONFIG_ROLE_NODE) {
        snprintf(
            err, sizeof(err), "%s: no [node] section: this is not a node's configuration", path);
        rc = VOID_EINVAL;
    }
    if (rc != 0) {
        fprintf(stderr, "voidd: bad configuration: %s\n", err);
        void_config_fini(&config);
        return 1;
    }
    if (check) {
        printf("voidd: %s is valid (node %u of %u replicas)\n",
               path,
               (unsigned)config.self_id,
               (unsigned)config.count_replicas);
        void_config_fini(&config);
        return 0;
    }
    struct void_node *node = NULL;
    rc = void_node_new(&node, &config, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr,
                "voidd: cannot start node %u: %s\n",
                (unsigned)config.self_id,
                err[0] != '\0' ? err : void_strerror(rc));
        void_config_fini(&config);
        return 1;
    }
    rc = void_node_run(node);
    void_node_free(node);
    void_config_fini(&config);
    return rc == 0 ? 0 : 1;
}

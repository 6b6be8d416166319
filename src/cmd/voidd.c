/*
 * voidd: one Void node. Reads the configuration, sets up the node (store,
 * recovery, transport, HTTP) and runs until SIGTERM or SIGINT. Exit status:
 * 0 after a clean stop, 1 when the node could not start or stopped on a fatal
 * error, 2 for a usage error. Errors go to stderr as one line that names the
 * file, key or address at fault.
 */
#include "void/config.h"
#include "void/error.h"
#include "void/log.h"
#include "void/node.h"
#include "void/sign.h"

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
            "  --config FILE  the node's configuration (INI)\n"
            "  --check        validate the configuration and key files, then exit\n"
            "  --help         this text\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else {
            fprintf(stderr, "voidd: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
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

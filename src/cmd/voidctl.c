/*
 * voidctl: the command-line client. This file only dispatches; each command
 * group lives in src/cmd/voidctl_<group>.c and registers itself in the table
 * below with a one-line summary for `voidctl --help`.
 */
#include "cmd/voidctl.h"

#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv);

static const struct voidctl_command commands[] = {
    {"version", "print the version", cmd_version},
    {"cas", "content-addressable store: put, get, ls, stat, pin, gc, fsck", voidctl_cas},
    {"time", "query NTP servers like chronyc sources (timekeeper)", voidctl_time},
};

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

/*
 * Shared declarations of the voidctl command groups. Each group is one
 * function run(argc, argv) where argv[0] is the group name; it returns the
 * process exit status (0 ok, 1 operation failed, 2 usage error).
 */
#ifndef VOID_CMD_VOIDCTL_H
#define VOID_CMD_VOIDCTL_H

#define VOIDCTL_VERSION "0.1.0"

struct voidctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Options shared by the commands that talk to a cluster. */
struct voidctl_opts {
    const char *cluster; /* --cluster FILE, else $VOID_CLUSTER */
    double timeout_s;    /* --timeout SECONDS, default 5 */
    int json;            /* --json */
    const char *as_of;   /* --as-of HLC (get) */
    int absent;          /* --absent (cas: the key must not exist) */
    int file;            /* --file (put/get: a file or directory tree) */
    int help;            /* --help */
};

/* Parses argv[1..argc) (argv[0] is the command) into *o and the positional
 * arguments into pos[0..cap). Returns the number of positionals, or -1 after
 * printing an error (unknown option, missing value, too many positionals). */
int voidctl_parse_opts(int argc, char **argv, struct voidctl_opts *o, char **pos, int cap);

struct void_config;

/* Loads the cluster file named by o into *config (also initialising
 * libsodium). Returns 0, or an exit status after printing why. */
int voidctl_load_cluster(struct voidctl_opts *o, struct void_config *config);

/* Command groups (src/cmd/voidctl_<group>.c). */
int voidctl_keygen(int argc, char **argv);
int voidctl_kv(int argc, char **argv);
int voidctl_status(int argc, char **argv);

/* put/get --file (src/cmd/voidctl_files.c), with parsed options and the
 * positional arguments. Returns the exit status. */
int voidctl_files(struct voidctl_opts *o, const char *cmd, char **pos, int npos);

/* `voidctl cas ...` is shared: the content-addressable store's verbs (put,
 * get, ls...) go to voidctl_cas, `cas KEY EXPECTED NEW` to voidctl_kv. */
int voidctl_cas_or_kv(int argc, char **argv);

/* `voidctl cas ...`: the local content-addressable store (src/cmd/voidctl_cas.c). */
int voidctl_cas(int argc, char **argv);

/* `voidctl time ...`: NTP sources query (src/cmd/voidctl_time.c). */
int voidctl_time(int argc, char **argv);

#endif

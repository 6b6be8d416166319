/*
 * Shared declarations of the voidctl command groups. Each group is one
 * function run(argc, argv) where argv[0] is the command name; it returns the
 * process exit status, one of the VOIDCTL_EXIT_* codes below.
 */
#ifndef VOID_CMD_VOIDCTL_H
#define VOID_CMD_VOIDCTL_H

#include <stdint.h>
#include <stdio.h>

#include "cmd/cli.h"

#define VOIDCTL_VERSION VOID_CLI_VERSION /* one version for every binary */

/* Exit statuses, distinct so that scripts can tell the outcomes apart
 * (documented in `voidctl --help` and docs/operations.md). */
#define VOIDCTL_EXIT_OK          0 /* done */
#define VOIDCTL_EXIT_FAILED      1 /* not found, or the operation failed (I/O, bad file) */
#define VOIDCTL_EXIT_USAGE       2 /* bad command line; nothing was sent */
#define VOIDCTL_EXIT_REFUSED     3 /* the cluster answered no: cas mismatch, future or */
                                   /* too-old --as-of, full, stale, undecodable op */
#define VOIDCTL_EXIT_UNREACHABLE 4 /* timeout: too few replicas answered (or none/some */
                                   /* of them for status) */

struct voidctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Options shared by the commands that talk to a cluster. */
struct voidctl_opts {
    const char *cluster; /* --cluster FILE (alias --config), else $VOID_CLUSTER */
    double timeout_s;    /* --timeout SECONDS, default 5 */
    int json;            /* --json */
    int quiet;           /* --quiet: no progress display */
    const char *as_of;   /* --as-of HLC (get) */
    int absent;          /* --absent (cas: the key must not exist) */
    int file;            /* --file (put/get: a file or directory tree) */
    int key_hex;         /* --key-hex: KEY is the key's bytes in hex (a binary key) */
    int help;            /* --help */
    uint32_t session;    /* --session N: this process's session under its client id; 0 random */
    int ordered;         /* --ordered (get): order the read through PBFT, not read-only */
    const char *on;      /* --on ID,ID... (put --file): the replicas that hold the file */
    uint32_t copies;     /* --copies K (put --file): K replicas chosen by location; 0 all */
};

/* Parses argv[1..argc) (argv[0] is the command) with getopt_long, GNU
 * permutation: options may come before, between or after the positional
 * arguments; `--` ends the options. Fills *o and pos[0..cap). Returns the
 * number of positionals, or -1 after printing an error (unknown option,
 * missing or bad value, too many positionals). */
int voidctl_parse_opts(int argc, char **argv, struct voidctl_opts *o, char **pos, int cap);

/* The text of `voidctl --help`'s exit-status section, for the commands'
 * own help. */
void voidctl_print_exit_codes(FILE *out);

struct void_config;
struct json_t; /* jansson's json_t */

/* Sets name to the bytes as a JSON string when they are UTF-8 (jansson
 * refuses anything else), else name_b64 to their base64 (standard alphabet,
 * with padding): what `get --json` and `trace state --json` print. */
void voidctl_json_set_bytes(struct json_t *obj, const char *name, const uint8_t *p, size_t n);

/* Loads the cluster file named by o into *config (also initialising
 * libsodium). Returns 0, or an exit status after printing why. */
int voidctl_load_cluster(struct voidctl_opts *o, struct void_config *config);

/* Command groups (src/cmd/voidctl_<group>.c). */
int voidctl_keygen(int argc, char **argv);
int voidctl_cert(int argc, char **argv);
int voidctl_kv(int argc, char **argv);
int voidctl_status(int argc, char **argv);
/* `voidctl member remove|leave` (src/cmd/voidctl_member.c). */
int voidctl_member(int argc, char **argv);

/* put/get --file (src/cmd/voidctl_files.c), with parsed options and the
 * positional arguments. Returns the exit status. */
int voidctl_files(struct voidctl_opts *o, const char *cmd, char **pos, int npos);

/* `voidctl cas KEY EXPECTED NEW` is compare-and-set (voidctl_kv); the old
 * spelling of the content store, `voidctl cas <verb> --store DIR`, still
 * reaches voidctl_store with a deprecation note. */
int voidctl_cas_or_kv(int argc, char **argv);

/* `voidctl store ...`: the local content-addressable store
 * (src/cmd/voidctl_cas.c). */
int voidctl_store(int argc, char **argv);

/* `voidctl time ...`: NTP sources query (src/cmd/voidctl_time.c). */
int voidctl_time(int argc, char **argv);

/* `voidctl trace ...`: the causal event DAG (src/cmd/voidctl_trace.c). */
int voidctl_trace(int argc, char **argv);
int voidctl_topology(int argc, char **argv);
int voidctl_task(int argc, char **argv); /* src/cmd/voidctl_task.c */

/* `voidctl fault NODE ...` (src/cmd/voidctl_fault.c) and `voidctl chaos run
 * ...` (src/cmd/voidctl_chaos.c). */
int voidctl_fault(int argc, char **argv);
int voidctl_chaos(int argc, char **argv);

struct void_fault_request;
struct void_sign_keypair;

/* Sends the knobs of *knobs (delay, loss, isolate, block list; borrowed) to
 * replica `node` of c as a POST /fault signed by admin, with a fresh
 * timestamp and nonce; waits at most timeout_s. Sets *status to the HTTP
 * status and answer[0..cap) to the body (or to why there was none).
 * Returns 0 (an answer came; see *status), VOID_ENOTFOUND (no such replica)
 * or VOID_ETIMEOUT (no answer). */
int voidctl_fault_send(const struct void_config *c,
                       uint32_t node,
                       const struct void_sign_keypair *admin,
                       const struct void_fault_request *knobs,
                       double timeout_s,
                       char *answer,
                       size_t cap,
                       long *status);

#endif

/*
 * voidd: one Void node. Reads the configuration, sets up the node (store,
 * recovery, transport, HTTP) and runs until SIGTERM or SIGINT. Exit status:
 * 0 after a clean stop, 1 when the node could not start or stopped on a fatal
 * error, 2 for a usage error. Errors go to stderr as one line that names the
 * file, key or address at fault.
 *
 * A disk full is not fatal: when the state store or the record log cannot
 * write for lack of space (or the node cannot start for it), voidd frees the
 * node (its ports close, its files too), polls the data directory's free
 * space every 500 ms, and when at least DISK_RESUME_BYTES are free executes
 * itself again (/proc/self/exe, the same arguments): the same pid starts
 * exactly as a restart would, from its record log, and catches up.
 */
#include "cmd/cli.h"
#include "void/assert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/log.h"
#include "void/node.h"
#include "void/sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define DISK_FULL_BYTES   (64u << 10) /* what node.c calls full */
#define DISK_RESUME_BYTES (1u << 20)  /* free space that ends the wait */
#define DISK_POLL_MS      500

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signum)
{
    stop_signal = signum;
}

/* Free bytes for an unprivileged writer in dir, or UINT64_MAX when statvfs
 * fails (the wait then ends, and the restart says what is wrong). */
static uint64_t free_bytes(const char *dir)
{
    struct statvfs fs;
    if (statvfs(dir, &fs) != 0) {
        return UINT64_MAX;
    }
    return (uint64_t)fs.f_bavail * fs.f_frsize;
}

/* Marks every descriptor above stderr close-on-exec, so that the restarted
 * process inherits none of them (the node opens its own with O_CLOEXEC;
 * this also covers a library's or an inherited one). Returns how many were
 * not marked already. */
static int cloexec_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return 0;
    }
    int marked = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd <= 2 || fd == dirfd(d)) {
            continue;
        }
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            char link[64], target[256] = "?";
            snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
            ssize_t n = readlink(link, target, sizeof(target) - 1);
            target[n > 0 ? n : 1] = '\0';
            void_log(VOID_LOG_INFO,
                     "disk full: descriptor %ld (%s) was open without close-on-exec",
                     fd,
                     target);
            (void)fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
            marked++;
        }
    }
    closedir(d);
    return marked;
}

/* The node is freed: waits until its data directory has room again, then
 * executes this program again with the same arguments. Returns (with the
 * exit status) only on SIGTERM/SIGINT during the wait or a failed exec. */
static int wait_for_space_and_restart(const char *dir, char **argv)
{
    VOID_ASSERT(dir != NULL);
    VOID_ASSERT(argv != NULL && argv[0] != NULL);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    void_log(VOID_LOG_WARN,
             "disk full: waiting for space in %s (%llu KiB free; checked every %d ms, resuming "
             "at %u KiB); pid %ld stays, its ports are closed meanwhile",
             dir,
             (unsigned long long)(free_bytes(dir) >> 10),
             DISK_POLL_MS,
             (unsigned)(DISK_RESUME_BYTES >> 10),
             (long)getpid());
    uint64_t room = free_bytes(dir);
    while (room < DISK_RESUME_BYTES && stop_signal == 0) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = DISK_POLL_MS * 1000000L};
        (void)nanosleep(&ts, NULL);
        room = free_bytes(dir);
    }
    if (stop_signal != 0) {
        void_log(VOID_LOG_WARN,
                 "disk full: signal %d while waiting for space: stopped",
                 (int)stop_signal);
        return 1;
    }
    int leaked = cloexec_all();
    void_log(VOID_LOG_WARN,
             "disk full: space returned in %s (%llu KiB free), resuming: pid %ld starts again "
             "from its record log%s",
             dir,
             (unsigned long long)(room == UINT64_MAX ? 0 : room >> 10),
             (long)getpid(),
             leaked != 0 ? " (descriptors without close-on-exec closed)" : "");
    fflush(stdout);
    fflush(stderr);
    execv("/proc/self/exe", argv);
    void_log(VOID_LOG_ERROR,
             "disk full: cannot execute /proc/self/exe again: %s; stopping",
             strerror(errno));
    return 1;
}

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
        /* A start that fails on a full disk waits for space too. */
        int full = rc == VOID_ENOSPC || free_bytes(config.data_dir) < DISK_FULL_BYTES;
        if (full) {
            (void)wait_for_space_and_restart(config.data_dir, argv);
        }
        void_config_fini(&config);
        return 1;
    }
    rc = void_node_run(node);
    int full = rc != 0 && void_node_stopped_disk_full(node);
    void_node_free(node);
    if (full) {
        rc = wait_for_space_and_restart(config.data_dir, argv);
    }
    void_config_fini(&config);
    return rc == 0 ? 0 : 1;
}

/*
 * The chaos engine's host-level and Byzantine faults (voidctl_chaos_faults.h,
 * docs/chaos.md). Each has a start (inject) and an end that undoes it (heal):
 *
 *  skew       /fault skew_ms: the node's clock (its timekeeper's correction)
 *             shifted, within or beyond the HLC's 500 ms max offset
 *  disk       the node stopped, its data directory moved onto a tmpfs
 *             mounted for it a little larger than what it holds, restarted,
 *             and the tmpfs filled; heal frees the space (the filler goes,
 *             the tmpfs grows by 256 MiB), checks that the node resumed in
 *             place, stops the node,
 *             moves its data back onto the real disk and starts it again
 *  corrupt    the node stopped, one byte of a frame inside its newest record
 *             log segment flipped; heal starts it, which must refuse the log
 *             by name; then the damaged directory is set aside and the node
 *             starts empty and catches up by state transfer
 *  memory     the node moved into a memory cgroup limited a few MiB above
 *             what it uses (v1 memory.limit_in_bytes, or v2 memory.max)
 *  cpu        every thread of the node pinned to one CPU, stress-ng (or, if
 *             it is not installed, spinning children) burning that CPU
 *  byzantine  /fault byz: the transport lies to the other replicas
 *  corrupt-cas  a file of the engine's put on every replica, the node
 *             stopped, one byte of one of the file's blocks flipped where
 *             its block store keeps it (LMDB or a pack); heal starts it and
 *             gets the file back: the node must name the damaged block and
 *             the file must come back intact, from another replica
 *
 * What needs root (mounting, cgroups) says so when it cannot be done.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "cmd/voidctl_chaos_faults.h"

#include "cmd/voidctl_http.h"
#include "void/assert.h"
#include "void/cdc.h"
#include "void/hash.h"
#include "void/transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FX_PATH 1200

const char *const chaos_fx_names[CHAOS_FX_COUNT] = {
#define VOID__X(name, text) text,
    CHAOS_FX_MAP(VOID__X)
#undef VOID__X
};

/* Clock skews in ms: within the HLC's max offset (500 ms) and beyond it,
 * both directions. */
static const int32_t skews[] = {200, -200, 2000, -2000};
static const uint32_t memory_slack_mib[] = {4, 6, 8};
static const uint32_t cpu_burners[] = {1, 2, 4};

/* What a fault keeps between inject and heal (one fault at a time). */
static struct {
    /* disk */
    int mounted;
    char data[FX_PATH], aside[FX_PATH + 32], filler[FX_PATH + 32];
    pid_t load, disk_pid; /* the voidd on the tmpfs */
    /* corrupt */
    char log_path[FX_PATH + 80];
    int flipped;
    /* memory */
    char cgroup[FX_PATH], cgroup_home[FX_PATH];
    int cgroup_v2;
    /* cpu */
    pid_t burner[8];
    uint32_t burners;
    cpu_set_t cpus_before;
    int pinned;
    /* corrupt-cas */
    uint8_t *cas_file;
    size_t cas_len;
    char cas_name[64], cas_path[FX_PATH + 64], cas_block[VOID_HASH_HEX_SIZE];
} fx;

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint32_t chaos_fx_amount(enum chaos_fx f, struct void_prng *prng)
{
    switch (f) {
    case CHAOS_FX_SKEW:
        return (uint32_t)void_prng_below(prng, 4);
    case CHAOS_FX_MEMORY:
    case CHAOS_FX_CPU:
        return (uint32_t)void_prng_below(prng, 3);
    case CHAOS_FX_CORRUPT:
    case CHAOS_FX_CAS:
        return (uint32_t)void_prng_below(prng, 1u << 16);
    case CHAOS_FX_BYZ:
        return 1 + (uint32_t)void_prng_below(prng, VOID_TRANSPORT_BYZ_COUNT - 1);
    case CHAOS_FX_DISK:
    case CHAOS_FX_COUNT:
        break;
    }
    return 0;
}

void chaos_fx_describe(
    enum chaos_fx f, uint32_t amount, const char *who, double fault_s, char *out, size_t cap)
{
    switch (f) {
    case CHAOS_FX_SKEW: {
        int32_t ms = skews[amount % 4];
        snprintf(out,
                 cap,
                 "%s: clock %ld ms %s for %.1f s (%s the HLC's 500 ms max offset)",
                 who,
                 (long)(ms < 0 ? -ms : ms),
                 ms < 0 ? "behind" : "ahead",
                 fault_s,
                 ms < 0 ? (ms < -500 ? "beyond" : "within") : (ms > 500 ? "beyond" : "within"));
        break;
    }
    case CHAOS_FX_DISK:
        snprintf(
            out, cap, "%s: data directory on a full tmpfs for %.1f s, then space", who, fault_s);
        break;
    case CHAOS_FX_CORRUPT:
        snprintf(out,
                 cap,
                 "%s: stopped, a byte of its record log flipped, restarted after %.1f s",
                 who,
                 fault_s);
        break;
    case CHAOS_FX_MEMORY:
        snprintf(out,
                 cap,
                 "%s: memory cgroup limited to its use + %u MiB for %.1f s",
                 who,
                 (unsigned)memory_slack_mib[amount % 3],
                 fault_s);
        break;
    case CHAOS_FX_CPU:
        snprintf(out,
                 cap,
                 "%s: pinned to one CPU beside %u burners for %.1f s",
                 who,
                 (unsigned)cpu_burners[amount % 3],
                 fault_s);
        break;
    case CHAOS_FX_BYZ:
        snprintf(out,
                 cap,
                 "%s: Byzantine (%s) for %.1f s",
                 who,
                 void_transport_byz_name(amount) != NULL ? void_transport_byz_name(amount) : "?",
                 fault_s);
        break;
    case CHAOS_FX_CAS:
        snprintf(out,
                 cap,
                 "%s: stopped, a byte of a stored file's block flipped, restarted after %.1f s",
                 who,
                 fault_s);
        break;
    case CHAOS_FX_COUNT:
        snprintf(out, cap, "?");
        break;
    }
}

/* ---- helpers ------------------------------------------------------------------ */

/* Runs argv (a program found on PATH); its exit status, or -1. */
static int run_cmd(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
        }
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static long long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f != NULL) {
        if (fscanf(f, "%lld", &v) != 1) {
            v = -1;
        }
        fclose(f);
    }
    return v;
}

/* Bytes of the files under path (allocated blocks, as a file system counts). */
static uint64_t tree_bytes(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        return (uint64_t)st.st_blocks * 512u;
    }
    uint64_t sum = 4096;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char sub[FX_PATH + 256];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            sum += tree_bytes(sub);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return sum;
}

/* Whether pid has exited (gone, or a zombie: its files, and so the data
 * directory's lock, are released). Its command line empties earlier, while
 * it may still hold the lock (a sanitizer build's leak check at exit). */
static int pid_gone(pid_t pid)
{
    char path[64], text[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 1;
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    const char *paren = strrchr(text, ')');
    return paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

/* Stops node as a crash does (SIGKILL: every acknowledged record is synced
 * already; a SIGTERM may also wait seconds for a sanitizer build's leak
 * check) and waits until it has exited. */
static int stop_node(const struct chaos_fx_env *env, uint32_t node)
{
    pid_t pid = env->node_pid(env->ctx, node);
    if (pid == 0) {
        /* Not running, or exiting (its command line already empty: a node
         * that stopped itself, e.g. on a full disk): wait for the latter,
         * which may still hold its files. */
        char path[FX_PATH + 64];
        snprintf(path, sizeof(path), "%s/run/node%u.pid", env->dir, (unsigned)node);
        long last = read_number(path) > 0 ? (long)read_number(path) : 0;
        for (int k = 0; last > 0 && k < 500 && !pid_gone((pid_t)last); k++) {
            sleep_ms(20);
        }
        return 0; /* a pid taken by another process since is not ours to wait for */
    }
    (void)kill(pid, SIGKILL);
    for (int k = 0; k < 500 && !pid_gone(pid); k++) {
        sleep_ms(20);
    }
    return pid_gone(pid) ? 0 : -1;
}

/* Starts node and waits (up to 5 s) until its pidfile names a running
 * voidd: the engine checks that every node is up right after a heal, and a
 * child that has not reached exec yet does not count. Its pid, or 0. */
static pid_t start_node_wait(const struct chaos_fx_env *env, uint32_t node)
{
    pid_t pid = env->start_node(env->ctx, node);
    for (int k = 0; pid != 0 && k < 250 && env->node_pid(env->ctx, node) == 0; k++) {
        if (pid_gone(pid)) {
            return 0;
        }
        sleep_ms(20);
    }
    return pid != 0 && env->node_pid(env->ctx, node) == pid ? pid : 0;
}

/* Size of DIR/logs/node<i>.log now (where its new lines will start). */
static off_t log_size(const struct chaos_fx_env *env, uint32_t node)
{
    char path[FX_PATH];
    snprintf(path, sizeof(path), "%s/logs/node%u.log", env->dir, (unsigned)node);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The first line of node's log after offset `from` that contains `what`,
 * into out; 1 when found. */
static int log_find(const struct chaos_fx_env *env,
                    uint32_t node,
                    off_t from,
                    const char *what,
                    char *out,
                    size_t cap)
{
    char path[FX_PATH], line[1024];
    snprintf(path, sizeof(path), "%s/logs/node%u.log", env->dir, (unsigned)node);
    FILE *f = fopen(path, "r");
    int found = 0;
    if (f == NULL || fseeko(f, from, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return 0;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, what) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, cap, "%s", line);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static int copy_tree(const char *from, const char *to)
{
    char src[FX_PATH + 64];
    snprintf(src, sizeof(src), "%s/.", from);
    const char *const argv[] = {"cp", "-a", src, to, NULL};
    return run_cmd(argv) == 0 ? 0 : -1;
}

static int remove_tree(const char *path)
{
    const char *const argv[] = {"rm", "-rf", path, NULL};
    return run_cmd(argv) == 0 ? 0 : -1;
}

/* ---- a node's /status and /metrics ------------------------------------------------ */

/* GETs path from node i into b; 0, or -1 when it does not answer 200. */
static int
http_get(const struct chaos_fx_env *env, uint32_t i, const char *path, struct voidctl_body *b)
{
    return voidctl_http_get_addr(&env->cluster->replicas[i].http, path, 2000L, b) == 200 ? 0 : -1;
}

/* last_executed in node i's /status, or -1. */
static long long last_executed(const struct chaos_fx_env *env, uint32_t i)
{
    static char text[VOIDCTL_HTTP_BODY_MAX];
    struct voidctl_body b;
    voidctl_body_init(&b, text, sizeof(text));
    if (http_get(env, i, "/status", &b) != 0) {
        return -1;
    }
    const char *at = strstr(b.text, "\"last_executed\":");
    return at != NULL ? strtoll(at + strlen("\"last_executed\":"), NULL, 10) : -1;
}

/* Waits up to limit_s until node's last_executed is within 2 of the
 * highest of the others; the seconds waited. */
static double wait_caught_up(const struct chaos_fx_env *env, uint32_t node, double limit_s)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double waited = 0;
    while (waited < limit_s) {
        long long mine = last_executed(env, node), best = -1;
        for (uint32_t i = 0; i < env->n; i++) {
            long long v = i != node ? last_executed(env, i) : -1;
            best = v > best ? v : best;
        }
        if (mine >= 0 && mine + 2 >= best) {
            break;
        }
        sleep_ms(100);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Seconds since t0 (CLOCK_MONOTONIC). */
static double since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- disk full ------------------------------------------------------------------ */

/* Starts `voidload void DIR --distinct --value 16384` for the fault's
 * length and the 15 s the disk fault may wait for the node to meet the full
 * disk (the heal stops it; voidload beside this voidctl, or in $VOID_BIN),
 * output in DIR/logs/<name>.out; its pid, or 0. */
static pid_t spawn_load(const struct chaos_fx_env *env, const char *name)
{
    char bin[FX_PATH], out[FX_PATH + 64], secs[32];
    const char *dir = getenv("VOID_BIN");
    if (dir != NULL) {
        snprintf(bin, sizeof(bin), "%s/voidload", dir);
    } else {
        ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 16);
        bin[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(bin, '/');
        snprintf(slash != NULL ? slash + 1 : bin, 16, "voidload");
    }
    snprintf(out, sizeof(out), "%s/logs/%s.out", env->dir, name);
    snprintf(secs, sizeof(secs), "%.3f", (env->fault_s > 0.5 ? env->fault_s : 0.5) + 15.0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin,
              bin,
              "void",
              env->dir,
              "--distinct",
              "--value",
              "16384",
              "--seconds",
              secs,
              (char *)NULL);
        _exit(127);
    }
    return pid > 0 ? pid : 0;
}

static int disk_inject(const struct chaos_fx_env *env, uint32_t node, off_t log_from)
{
    snprintf(fx.data, sizeof(fx.data), "%s/data/node%u", env->dir, (unsigned)node);
    snprintf(fx.aside, sizeof(fx.aside), "%s/data/node%u.chaos-disk", env->dir, (unsigned)node);
    snprintf(fx.filler, sizeof(fx.filler), "%s/chaos-filler", fx.data);
    if (geteuid() != 0) {
        fprintf(stderr,
                "voidctl chaos: disk: mounting a tmpfs needs root (this is uid %u); the disk "
                "fault cannot run on this machine\n",
                (unsigned)geteuid());
        return -1;
    }
    if (stop_node(env, node) != 0) {
        fprintf(stderr, "voidctl chaos: disk: node %u does not stop\n", (unsigned)node);
        return -1;
    }
    /* Room for what it holds and a little more: it runs, then meets the
     * filler. */
    uint64_t size = tree_bytes(fx.data) + (4u << 20);
    if (rename(fx.data, fx.aside) != 0 || mkdir(fx.data, 0700) != 0) {
        fprintf(stderr, "voidctl chaos: disk: cannot set %s aside: %s\n", fx.data, strerror(errno));
        return -1;
    }
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)size);
    if (mount("void-chaos", fx.data, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        fprintf(stderr,
                "voidctl chaos: disk: cannot mount a tmpfs on %s: %s (the disk fault needs "
                "CAP_SYS_ADMIN; it cannot run here)\n",
                fx.data,
                strerror(errno));
        (void)rmdir(fx.data);
        (void)rename(fx.aside, fx.data);
        return -1;
    }
    fx.mounted = 1;
    if (copy_tree(fx.aside, fx.data) != 0 || (fx.disk_pid = start_node_wait(env, node)) == 0) {
        fprintf(
            stderr, "voidctl chaos: disk: cannot move node %u onto the tmpfs\n", (unsigned)node);
        return -1;
    }
    /* The disk fills once the replica has caught up and executes again:
     * a replica still starting writes nothing that needs space. */
    double waited = wait_caught_up(env, node, 15.0);
    /* Fill what is left: the node's next write that needs a new block
     * (the state store's, at a checkpoint) finds none. */
    int fd = open(fx.filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static const char zeros[65536];
    uint64_t filled = 0;
    while (fd >= 0) {
        ssize_t w = write(fd, zeros, sizeof(zeros));
        if (w <= 0) {
            break;
        }
        filled += (uint64_t)w;
    }
    if (fd >= 0) {
        close(fd);
    }
    /* Writes that make the state grow, so that the replica needs new blocks
     * while the disk is full (the state store otherwise reuses its free
     * pages for a while): new keys of 16 KiB, by a voidload of its own. */
    fx.load = spawn_load(env, "chaos-disk-load");
    /* The fault is on once the node has met the full disk: up to 15 s of
     * new keys (on a loaded machine a sanitizer build may write too few in
     * the fault's seconds to need a new block). */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char line[1024];
    int met = 0;
    while (!(met = log_find(env, node, log_from, "disk full", line, sizeof(line))) &&
           since(&t0) < 15.0) {
        sleep_ms(100);
    }
    fprintf(env->info,
            "chaos: disk: node %u on a %llu KiB tmpfs at %s (restarted and caught up in "
            "%.1f s), filled (%llu KiB of filler), new 16 KiB keys written: %s %.1f s\n",
            (unsigned)node,
            (unsigned long long)(size >> 10),
            fx.data,
            waited,
            (unsigned long long)(filled >> 10),
            met ? "it met the full disk after" : "it did not meet the full disk in",
            since(&t0));
    fflush(env->info);
    return 0;
}

/* Space has returned on the tmpfs: a node that met the full disk must
 * resume by itself, in the same process (voidd waits for space, then
 * executes itself again), and execute again up to what the others had
 * executed when space returned. 0 when it did (or never met the full
 * disk), -1 (said why) when not. */
static int disk_resumed(const struct chaos_fx_env *env, uint32_t node, off_t log_from, int full)
{
    long long target = -1;
    for (uint32_t i = 0; i < env->n; i++) {
        long long v = i != node ? last_executed(env, i) : -1;
        target = v > target ? v : target;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char line[1024];
    int said = 0;
    long long mine = -1;
    /* 15 s: half a second for voidd to see the space, a start from the
     * record log on a loaded machine, the catch-up. */
    while (since(&t0) < 15.0 && (mine < target || (full && !said))) {
        said = said || log_find(env, node, log_from, "space returned", line, sizeof(line));
        mine = last_executed(env, node);
        if (pid_gone(fx.disk_pid)) {
            break; /* not node_pid: its command line reads empty while it executes itself */
        }
        sleep_ms(100);
    }
    pid_t now = env->node_pid(env->ctx, node);
    for (int k = 0; k < 20 && now != fx.disk_pid && !pid_gone(fx.disk_pid); k++) {
        sleep_ms(100);
        now = env->node_pid(env->ctx, node);
    }
    if (now != fx.disk_pid) {
        fprintf(stderr,
                "voidctl chaos: disk: node %u (pid %ld) did not stay up while its disk was full "
                "(%s)\n",
                (unsigned)node,
                (long)fx.disk_pid,
                now == 0 ? "it is not running" : "another pid runs it");
        return -1;
    }
    if ((full && !said) || mine < target) {
        fprintf(stderr,
                "voidctl chaos: disk: node %u did not resume within 15 s of space returning "
                "(%s; last_executed %lld, the others had %lld)\n",
                (unsigned)node,
                full && !said ? "no 'space returned' line" : "it logged space returned",
                mine,
                target);
        return -1;
    }
    fprintf(env->info,
            "chaos: disk: node %u resumed in place (pid %ld, the same process): %s executing "
            "again %.1f s after space returned (last_executed %lld, the others had %lld)\n",
            (unsigned)node,
            (long)fx.disk_pid,
            full ? "restarted itself from its record log," : "it never stopped,",
            since(&t0),
            mine,
            target);
    return 0;
}

static int disk_heal(const struct chaos_fx_env *env, uint32_t node, off_t log_from)
{
    if (!fx.mounted) {
        if (access(fx.aside, F_OK) == 0 && access(fx.data, F_OK) != 0) {
            (void)rename(fx.aside, fx.data);
        }
        return env->node_pid(env->ctx, node) != 0 || start_node_wait(env, node) > 0 ? 0 : -1;
    }
    if (fx.load > 0) {
        (void)kill(fx.load, SIGTERM);
        (void)waitpid(fx.load, NULL, 0);
        fx.load = 0;
    }
    char line[1024];
    int full = log_find(env, node, log_from, "disk full", line, sizeof(line));
    /* Space returns as an operator returns it: the filler goes and the
     * volume grows (to its use and 256 MiB), so that the replica's catch-up
     * -- the writes it missed while it waited -- does not meet a full disk
     * again (it did with only the filler's 4 MiB back: campaign 2026-12-07). */
    (void)unlink(fx.filler);
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%llu,mode=0700",
             (unsigned long long)(tree_bytes(fx.data) + (256u << 20)));
    if (mount(NULL, fx.data, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) != 0) {
        fprintf(stderr, "voidctl chaos: disk: cannot grow the tmpfs on %s: %s (only the filler's "
                "space returned)\n", fx.data, strerror(errno));
    }
    if (full) {
        fprintf(env->info, "chaos: disk: node %u said: %s\n", (unsigned)node, line);
    } else {
        fprintf(env->info,
                "chaos: disk: node %u logged no disk-full line while the tmpfs was full (it "
                "needed no new block)\n",
                (unsigned)node);
    }
    fflush(env->info);
    int resumed = disk_resumed(env, node, log_from, full);
    fflush(env->info);
    /* Back onto the real disk, what it wrote on the tmpfs kept: the
     * engine's housekeeping (the tmpfs must go), after the check. */
    char fresh[FX_PATH + 16];
    snprintf(fresh, sizeof(fresh), "%s.chaos-back", fx.data);
    if (stop_node(env, node) != 0 || mkdir(fresh, 0700) != 0 || copy_tree(fx.data, fresh) != 0) {
        fprintf(stderr, "voidctl chaos: disk: cannot copy node %u's data back\n", (unsigned)node);
        return -1;
    }
    if (umount2(fx.data, 0) != 0) {
        fprintf(stderr, "voidctl chaos: disk: umount %s: %s\n", fx.data, strerror(errno));
        return -1;
    }
    fx.mounted = 0;
    if (rmdir(fx.data) != 0 || rename(fresh, fx.data) != 0 || remove_tree(fx.aside) != 0) {
        fprintf(stderr, "voidctl chaos: disk: cannot put %s back: %s\n", fx.data, strerror(errno));
        return -1;
    }
    return start_node_wait(env, node) > 0 && resumed == 0 ? 0 : -1;
}

/* ---- file corruption ----------------------------------------------------------- */

/* The newest record log segment of node (wal-<16 hex>), into fx.log_path. */
static int newest_segment(const struct chaos_fx_env *env, uint32_t node)
{
    char dir[FX_PATH];
    snprintf(dir, sizeof(dir), "%s/data/node%u", env->dir, (unsigned)node);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    char best[64] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "wal-", 4) == 0 && strlen(e->d_name) == 20 &&
            strcmp(e->d_name, best) > 0) {
            memcpy(best, e->d_name, 21); /* the length was checked: 20 and its NUL */
        }
    }
    closedir(d);
    if (best[0] == '\0') {
        return -1;
    }
    snprintf(fx.log_path, sizeof(fx.log_path), "%s/%s", dir, best);
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the frames of the segment open on fd (size bytes): 32-byte header
 * (magic, crc, segment u64, seq u64, body length u32, type), then the body
 * (src/store/pstore.c). Their offsets and body lengths into frames/lens (up
 * to cap); the number of frames. */
static uint32_t walk_frames(int fd, off_t size, off_t frames[], uint32_t lens[], uint32_t cap)
{
    uint8_t h[32], first[32];
    off_t off = 0;
    uint32_t count = 0;
    while (count < cap && pread(fd, h, sizeof(h), off) == (ssize_t)sizeof(h)) {
        if (count == 0) {
            memcpy(first, h, sizeof(h));
        } else if (memcmp(h, first, 4) != 0 || memcmp(h + 8, first + 8, 8) != 0) {
            break; /* zeros or an older segment's frame: the end */
        }
        uint32_t len = be32(h + 24);
        if ((off_t)len > size - off - 32) {
            break;
        }
        frames[count] = off;
        lens[count++] = len;
        off += 32 + (off_t)len;
    }
    return count;
}

#define FX_FRAMES 4096

/* The frames in node's newest record log segment (naming it in
 * fx.log_path); 0 when it has none. */
static uint32_t newest_segment_frames(const struct chaos_fx_env *env, uint32_t node)
{
    static off_t frames[FX_FRAMES];
    static uint32_t lens[FX_FRAMES];
    struct stat st;
    if (newest_segment(env, node) != 0) {
        return 0;
    }
    int fd = open(fx.log_path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    uint32_t count = walk_frames(fd, st.st_size, frames, lens, FX_FRAMES);
    close(fd);
    return count;
}

/* Flips one byte in the body of a frame of fx.log_path that is followed by
 * another frame: damage no crash explains (a torn last frame would be
 * dropped instead). The frame is amount's pick among them. */
static int flip_frame_byte(uint32_t amount, char *what, size_t cap)
{
    static off_t frames[FX_FRAMES];
    static uint32_t lens[FX_FRAMES];
    int fd = open(fx.log_path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    uint32_t count = walk_frames(fd, st.st_size, frames, lens, FX_FRAMES);
    if (count < 2) {
        close(fd);
        return -1;
    }
    /* Not the last frame; not the BASE (frame 0) when there is a choice. */
    uint32_t pick = count >= 3 ? 1 + amount % (count - 2) : 0;
    off_t at = frames[pick] + 32 + (lens[pick] > 0 ? (off_t)(amount % lens[pick]) : 0);
    if (lens[pick] == 0) {
        at = frames[pick] + 16; /* the sequence number: the CRC covers it */
    }
    uint8_t b = 0;
    int ok = pread(fd, &b, 1, at) == 1;
    b ^= 0xff;
    ok = ok && pwrite(fd, &b, 1, at) == 1 && fsync(fd) == 0;
    close(fd);
    snprintf(
        what, cap, "byte %lld (frame %u of %u)", (long long)at, (unsigned)pick, (unsigned)count);
    return ok ? 0 : -1;
}

/* Every open of the record log compacts it into a new segment that holds
 * one frame, the BASE, until the replica persists its next records: a node
 * just (re)started by a heal (a kill, a full disk, a corruption) and still
 * catching up has no frame a crash cannot explain, so there is nothing to
 * flip. The node runs until its newest segment holds a second frame (it
 * executes again), up to 20 s; a segment rotated between that look and the
 * stop starts it again, twice at most. */
static int corrupt_inject(const struct chaos_fx_env *env, uint32_t node, uint32_t amount)
{
    fx.flipped = 0;
    char what[128];
    double waited = 0;
    uint32_t frames = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        for (int k = 0;
             k < 200 && env->node_pid(env->ctx, node) != 0 && newest_segment_frames(env, node) < 2;
             k++) {
            sleep_ms(100);
            waited += 0.1;
        }
        if (stop_node(env, node) != 0) {
            fprintf(stderr, "voidctl chaos: corrupt: node %u does not stop\n", (unsigned)node);
            return -1;
        }
        frames = newest_segment_frames(env, node);
        if (frames >= 2 || attempt == 2 || start_node_wait(env, node) == 0) {
            break;
        }
    }
    if (frames < 2 || flip_frame_byte(amount, what, sizeof(what)) != 0) {
        fprintf(stderr,
                "voidctl chaos: corrupt: no record log segment with two frames in %s/data/node%u "
                "(%u in the newest after %.1f s: the node persisted nothing since it started)\n",
                env->dir,
                (unsigned)node,
                (unsigned)frames,
                waited);
        return -1;
    }
    fx.flipped = 1;
    fprintf(env->info,
            "chaos: corrupt: node %u: flipped %s of %s%s\n",
            (unsigned)node,
            what,
            fx.log_path,
            waited >= 0.1 ? " (after waiting for its first record since its start)" : "");
    fflush(env->info);
    return 0;
}

static int corrupt_heal(const struct chaos_fx_env *env, uint32_t node, uint32_t index_hint)
{
    if (!fx.flipped) {
        /* The inject failed: nothing was flipped, the node is started as
         * it was (if it was stopped). */
        return env->node_pid(env->ctx, node) != 0 || start_node_wait(env, node) > 0 ? 0 : -1;
    }
    fx.flipped = 0;
    off_t from = log_size(env, node);
    pid_t pid = env->start_node(env->ctx, node);
    if (pid == 0) {
        return -1;
    }
    /* It must refuse the damaged log by name, at start (a sanitizer build
     * takes seconds to start on a loaded machine). */
    for (int k = 0; k < 1000 && !pid_gone(pid); k++) {
        sleep_ms(20);
    }
    char line[1024];
    if (!pid_gone(pid)) {
        fprintf(stderr,
                "voidctl chaos: corrupt: node %u STARTED on a record log with a flipped byte "
                "(%s): the damage was not detected\n",
                (unsigned)node,
                fx.log_path);
        return -1;
    }
    if (!log_find(env, node, from, "cannot start", line, sizeof(line))) {
        snprintf(line, sizeof(line), "(it exited without saying why: see its log)");
    }
    fprintf(env->info, "chaos: corrupt: node %u refused to start: %s\n", (unsigned)node, line);
    /* The repair: the damaged directory set aside for a post-mortem, the
     * replica started empty; it catches up by state transfer. */
    char data[FX_PATH], aside[FX_PATH + 32];
    snprintf(data, sizeof(data), "%s/data/node%u", env->dir, (unsigned)node);
    snprintf(aside,
             sizeof(aside),
             "%s.corrupt-%u-%lld",
             data,
             (unsigned)index_hint,
             (long long)time(NULL));
    if (rename(data, aside) != 0 || mkdir(data, 0700) != 0) {
        fprintf(stderr, "voidctl chaos: corrupt: cannot set %s aside: %s\n", data, strerror(errno));
        return -1;
    }
    fprintf(env->info,
            "chaos: corrupt: node %u restarted empty (damaged files in %s)\n",
            (unsigned)node,
            aside);
    fflush(env->info);
    return start_node_wait(env, node) > 0 ? 0 : -1;
}

/* ---- memory pressure --------------------------------------------------------------- */

/* The cgroup path of pid for controller `memory` (v1) or the v2 one, under
 * the mount point, into out. */
static int cgroup_of(pid_t pid, int v2, char *out, size_t cap)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL) {
            continue;
        }
        *c2 = '\0';
        int match = v2 ? strcmp(c1 + 1, "") == 0 : strstr(c1 + 1, "memory") != NULL;
        if (match) {
            snprintf(out, cap, "%s", c2 + 1);
            found = 1;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return found ? 0 : -1;
}

static int memory_inject(const struct chaos_fx_env *env, uint32_t node, uint32_t amount)
{
    pid_t pid = env->node_pid(env->ctx, node);
    if (pid == 0) {
        fprintf(stderr, "voidctl chaos: memory: node %u is not running\n", (unsigned)node);
        return -1;
    }
    /* v1 where the machine mounts its memory controller, v2 otherwise. */
    const char *root = "/sys/fs/cgroup/memory";
    fx.cgroup_v2 = access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0;
    if (fx.cgroup_v2) {
        root = "/sys/fs/cgroup";
        char ctl[1024] = "";
        FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "r");
        if (f == NULL || fgets(ctl, sizeof(ctl), f) == NULL || strstr(ctl, "memory") == NULL) {
            if (f != NULL) {
                fclose(f);
            }
            fprintf(stderr,
                    "voidctl chaos: memory: this machine has no memory cgroup controller (neither "
                    "v1 /sys/fs/cgroup/memory nor v2 with memory in cgroup.controllers); the "
                    "memory fault cannot run here\n");
            return -1;
        }
        fclose(f);
        (void)write_text("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
    }
    char home[FX_PATH / 2];
    if (cgroup_of(pid, fx.cgroup_v2, home, sizeof(home)) != 0) {
        snprintf(home, sizeof(home), "/");
    }
    snprintf(fx.cgroup_home, sizeof(fx.cgroup_home), "%s%s", root, home);
    snprintf(fx.cgroup,
             sizeof(fx.cgroup),
             "%s/void-chaos-%d-node%u",
             root,
             (int)getpid(),
             (unsigned)node);
    if (mkdir(fx.cgroup, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr,
                "voidctl chaos: memory: cannot create the cgroup %s: %s (the memory fault needs "
                "root and a writable cgroup file system; it cannot run here)\n",
                fx.cgroup,
                strerror(errno));
        fx.cgroup[0] = '\0';
        return -1;
    }
    char path[FX_PATH + 64], text[64];
    if (!fx.cgroup_v2) {
        /* Its pages come along where the kernel still can (v1 before 6.x);
         * elsewhere the limit counts what it allocates from now on. */
        snprintf(path, sizeof(path), "%s/memory.move_charge_at_immigrate", fx.cgroup);
        (void)write_text(path, "3");
    }
    snprintf(path, sizeof(path), "%s/cgroup.procs", fx.cgroup);
    snprintf(text, sizeof(text), "%d", (int)pid);
    if (write_text(path, text) != 0) {
        fprintf(stderr,
                "voidctl chaos: memory: cannot move node %u into %s: %s\n",
                (unsigned)node,
                fx.cgroup,
                strerror(errno));
        return -1;
    }
    snprintf(path,
             sizeof(path),
             "%s/%s",
             fx.cgroup,
             fx.cgroup_v2 ? "memory.current" : "memory.usage_in_bytes");
    long long used = read_number(path);
    long long limit = (used > 0 ? used : 0) + ((long long)memory_slack_mib[amount % 3] << 20);
    snprintf(path,
             sizeof(path),
             "%s/%s",
             fx.cgroup,
             fx.cgroup_v2 ? "memory.max" : "memory.limit_in_bytes");
    snprintf(text, sizeof(text), "%lld", limit);
    if (write_text(path, text) != 0) {
        fprintf(stderr, "voidctl chaos: memory: cannot set %s: %s\n", path, strerror(errno));
        return -1;
    }
    char status[64];
    snprintf(status, sizeof(status), "/proc/%d/statm", (int)pid);
    long long pages = 0, resident = 0;
    FILE *sf = fopen(status, "r");
    if (sf != NULL) {
        if (fscanf(sf, "%lld %lld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(sf);
    }
    fprintf(env->info,
            "chaos: memory: node %u (resident %.1f MiB) in %s, charged %.1f MiB there, limit "
            "%.1f MiB\n",
            (unsigned)node,
            (double)(resident * sysconf(_SC_PAGESIZE)) / 1048576.0,
            fx.cgroup,
            (double)used / 1048576.0,
            (double)limit / 1048576.0);
    fflush(env->info);
    return 0;
}

static int memory_heal(const struct chaos_fx_env *env, uint32_t node)
{
    if (fx.cgroup[0] == '\0') {
        return 0;
    }
    char path[FX_PATH + 64], text[32];
    snprintf(path,
             sizeof(path),
             "%s/%s",
             fx.cgroup,
             fx.cgroup_v2 ? "memory.peak" : "memory.max_usage_in_bytes");
    long long peak = read_number(path);
    snprintf(path, sizeof(path), "%s/memory.failcnt", fx.cgroup);
    long long fails = fx.cgroup_v2 ? -1 : read_number(path);
    /* Unlimited first, so that nothing is reclaimed on the way out. */
    snprintf(path,
             sizeof(path),
             "%s/%s",
             fx.cgroup,
             fx.cgroup_v2 ? "memory.max" : "memory.limit_in_bytes");
    (void)write_text(path, fx.cgroup_v2 ? "max" : "-1");
    pid_t pid = env->node_pid(env->ctx, node);
    if (pid != 0) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", fx.cgroup_home);
        snprintf(text, sizeof(text), "%d", (int)pid);
        if (write_text(path, text) != 0) {
            fprintf(stderr,
                    "voidctl chaos: memory: cannot move node %u back to %s: %s\n",
                    (unsigned)node,
                    fx.cgroup_home,
                    strerror(errno));
            return -1;
        }
    }
    for (int k = 0; k < 50 && rmdir(fx.cgroup) != 0 && errno == EBUSY; k++) {
        sleep_ms(20);
    }
    fprintf(env->info,
            "chaos: memory: node %u peaked at %.1f MiB, hit the limit %lld times%s\n",
            (unsigned)node,
            (double)peak / 1048576.0,
            fails,
            pid == 0 ? "; it was KILLED (out of memory): restarting it" : "");
    fflush(env->info);
    fx.cgroup[0] = '\0';
    return pid != 0 || start_node_wait(env, node) > 0 ? 0 : -1;
}

/* ---- CPU burn ---------------------------------------------------------------------- */

/* Sets the affinity of every thread of pid; 0 or -1. */
static int pin_threads(pid_t pid, const cpu_set_t *set)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid > 0 && sched_setaffinity((pid_t)tid, sizeof(*set), set) != 0 && errno != ESRCH) {
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static int have_stress_ng(void)
{
    const char *const argv[] = {"stress-ng", "--version", NULL};
    return run_cmd(argv) == 0;
}

static int cpu_inject(const struct chaos_fx_env *env, uint32_t node, uint32_t amount)
{
    pid_t pid = env->node_pid(env->ctx, node);
    if (pid == 0 || sched_getaffinity(pid, sizeof(fx.cpus_before), &fx.cpus_before) != 0) {
        fprintf(stderr, "voidctl chaos: cpu: node %u is not running\n", (unsigned)node);
        return -1;
    }
    /* One CPU the node may use now, chosen by its id. */
    size_t cpus[CPU_SETSIZE], count = 0;
    for (size_t c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &fx.cpus_before)) {
            cpus[count++] = c;
        }
    }
    size_t cpu_at = count > 0 ? cpus[node % count] : 0;
    int cpu = (int)cpu_at;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_at, &one);
    if (pin_threads(pid, &one) != 0) {
        fprintf(stderr,
                "voidctl chaos: cpu: cannot pin node %u to CPU %d: %s\n",
                (unsigned)node,
                cpu,
                strerror(errno));
        return -1;
    }
    fx.pinned = 1;
    fx.burners = cpu_burners[amount % 3];
    int stress = have_stress_ng();
    char workers[16], on[16], secs[32];
    snprintf(workers, sizeof(workers), "%u", (unsigned)fx.burners);
    snprintf(on, sizeof(on), "%d", cpu);
    snprintf(secs, sizeof(secs), "%ds", (int)env->fault_s + 30); /* a bound if we die */
    fx.burner[0] = fork();
    if (fx.burner[0] == 0) {
        (void)setpgid(0, 0);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (stress) {
            execlp("stress-ng",
                   "stress-ng",
                   "--cpu",
                   workers,
                   "--taskset",
                   on,
                   "--timeout",
                   secs,
                   "--quiet",
                   (char *)NULL);
            _exit(127);
        }
        /* No stress-ng here: spinning children, pinned alike. */
        (void)sched_setaffinity(0, sizeof(one), &one);
        for (uint32_t k = 1; k < fx.burners; k++) {
            if (fork() == 0) {
                break;
            }
        }
        time_t end = time(NULL) + (time_t)env->fault_s + 30;
        volatile uint64_t x = 0;
        while (time(NULL) < end) {
            for (int k = 0; k < 1000000; k++) {
                x = x * 6364136223846793005ull + 1;
            }
        }
        _exit(0);
    }
    if (fx.burner[0] < 0) {
        return -1;
    }
    (void)setpgid(fx.burner[0], fx.burner[0]);
    fprintf(env->info,
            "chaos: cpu: node %u pinned to CPU %d beside %u %s\n",
            (unsigned)node,
            cpu,
            (unsigned)fx.burners,
            stress ? "stress-ng --cpu workers" : "spinning processes (stress-ng is not installed)");
    fflush(env->info);
    return 0;
}

static int cpu_heal(const struct chaos_fx_env *env, uint32_t node)
{
    if (fx.burner[0] > 0) {
        (void)kill(-fx.burner[0], SIGKILL);
        (void)waitpid(fx.burner[0], NULL, 0);
        fx.burner[0] = 0;
    }
    pid_t pid = env->node_pid(env->ctx, node);
    if (fx.pinned && pid != 0 && pin_threads(pid, &fx.cpus_before) != 0) {
        fprintf(stderr,
                "voidctl chaos: cpu: cannot unpin node %u: %s\n",
                (unsigned)node,
                strerror(errno));
        return -1;
    }
    fx.pinned = 0;
    return pid != 0 ? 0 : -1;
}

/* ---- corruption in the block store ---------------------------------------------- */

#define CAS_FILE_BYTES (256u << 10) /* about 4 chunks at the store's default sizes */

/* Runs this voidctl with argv[1..] against the cluster (--cluster
 * DIR/client.ini appended); its exit status, or -1. */
static int run_self(const struct chaos_fx_env *env, const char *const args[], size_t count)
{
    char self[FX_PATH], client[FX_PATH + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return -1;
    }
    self[n] = '\0';
    snprintf(client, sizeof(client), "%s/client.ini", env->dir);
    const char *argv[16];
    VOID_ASSERT(count + 4 <= sizeof(argv) / sizeof(argv[0]));
    argv[0] = self;
    for (size_t i = 0; i < count; i++) {
        argv[1 + i] = args[i];
    }
    argv[1 + count] = "--cluster";
    argv[2 + count] = client;
    argv[3 + count] = NULL;
    return run_cmd(argv);
}

/* Fills fx.cas_file with bytes drawn from seed and picks a chunk whose
 * first fetch by a client goes to node (voidctl get --file asks replica
 * hash[0] mod n first): its offset and length into *at, *len. 0, or -1 when
 * no chunk of this content goes to node first. */
static int cas_content(uint32_t n, uint32_t node, uint64_t seed, size_t *at, size_t *len)
{
    struct void_prng prng;
    void_prng_seed(&prng, seed);
    for (size_t i = 0; i + 8 <= fx.cas_len; i += 8) {
        uint64_t v = void_prng_next(&prng);
        memcpy(fx.cas_file + i, &v, 8);
    }
    struct void_cdc_config cc;
    struct void_cdc cdc;
    void_cdc_config_default(&cc);
    if (void_cdc_init(&cdc, &cc) != 0) {
        return -1;
    }
    for (size_t off = 0; off < fx.cas_len;) {
        size_t k = void_cdc_cut(&cdc, fx.cas_file + off, fx.cas_len - off);
        struct void_hash h;
        void_hash_compute(fx.cas_file + off, k, &h);
        if (h.b[0] % n == node && k >= 256) {
            *at = off;
            *len = k;
            void_hash_to_hex(&h, fx.cas_block);
            return 0;
        }
        off += k;
    }
    return -1;
}

/* Flips the byte after the first copy of needle (64 bytes) in file path;
 * its offset, or -1 when the file does not hold the needle. */
static off_t flip_after(const char *path, const uint8_t *needle)
{
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 128) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    uint8_t *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    off_t at = -1;
    if (map != MAP_FAILED) {
        uint8_t *hit = memmem(map, (size_t)st.st_size, needle, 64);
        if (hit != NULL) {
            hit[32] ^= 0xff; /* inside the needle: the block's own bytes */
            at = (off_t)(hit - map) + 32;
            (void)msync(map, (size_t)st.st_size, MS_SYNC);
        }
        munmap(map, (size_t)st.st_size);
    }
    (void)fsync(fd);
    close(fd);
    return at;
}

static int cas_inject(const struct chaos_fx_env *env, uint32_t node, uint32_t amount)
{
    free(fx.cas_file);
    fx.cas_len = CAS_FILE_BYTES;
    fx.cas_file = malloc(fx.cas_len);
    fx.cas_path[0] = '\0';
    if (fx.cas_file == NULL) {
        return -1;
    }
    size_t at = 0, len = 0;
    uint64_t seed = amount;
    while (cas_content(env->n, node, seed, &at, &len) != 0) {
        seed += 1u << 16; /* another content, the same for the same amount */
    }
    snprintf(fx.cas_name,
             sizeof(fx.cas_name),
             "chaos-cas-%u-%llu",
             (unsigned)amount,
             (unsigned long long)seed);
    snprintf(fx.cas_path, sizeof(fx.cas_path), "%s/%s.bin", env->dir, fx.cas_name);
    FILE *f = fopen(fx.cas_path, "wb");
    int wrote = f != NULL && fwrite(fx.cas_file, 1, fx.cas_len, f) == fx.cas_len;
    if (f != NULL) {
        wrote = fclose(f) == 0 && wrote;
    }
    /* On every replica, each stored before put returns (--on all). */
    char on[64] = "";
    for (uint32_t i = 0; i < env->n; i++) {
        size_t used = strlen(on);
        snprintf(on + used, sizeof(on) - used, "%s%u", i ? "," : "", (unsigned)i);
    }
    const char *const put[] = {"put", "--file", fx.cas_path, fx.cas_name, "--on", on, "--quiet"};
    if (!wrote || run_self(env, put, sizeof(put) / sizeof(put[0])) != 0) {
        fprintf(
            stderr, "voidctl chaos: corrupt-cas: cannot put %s on every replica\n", fx.cas_path);
        return -1;
    }
    if (stop_node(env, node) != 0) {
        fprintf(stderr, "voidctl chaos: corrupt-cas: node %u does not stop\n", (unsigned)node);
        return -1;
    }
    /* The block's bytes from its middle: random content is stored raw (no
     * zstd), as an LMDB value or in a pack. */
    const uint8_t *needle = fx.cas_file + at + len / 2 - 32;
    char path[FX_PATH + 320]; /* the packs directory and a file name */
    snprintf(path, sizeof(path), "%s/data/node%u/cas/data.mdb", env->dir, (unsigned)node);
    off_t flipped = flip_after(path, needle);
    char packs[FX_PATH + 32];
    snprintf(packs, sizeof(packs), "%s/data/node%u/cas/packs", env->dir, (unsigned)node);
    DIR *d = flipped < 0 ? opendir(packs) : NULL;
    struct dirent *e;
    while (d != NULL && flipped < 0 && (e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".pack") != NULL) {
            snprintf(path, sizeof(path), "%s/%s", packs, e->d_name);
            flipped = flip_after(path, needle);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    if (flipped < 0) {
        fprintf(stderr,
                "voidctl chaos: corrupt-cas: node %u's block store does not hold block %s of %s "
                "as stored bytes\n",
                (unsigned)node,
                fx.cas_block,
                fx.cas_name);
        return -1;
    }
    fprintf(env->info,
            "chaos: corrupt-cas: node %u: flipped byte %lld of %s: block %s of file %s (the "
            "one a client asks node %u for first)\n",
            (unsigned)node,
            (long long)flipped,
            path,
            fx.cas_block,
            fx.cas_name,
            (unsigned)node);
    fflush(env->info);
    return 0;
}

/* Starts the node and gets the file: it must come back with its own bytes
 * (the damaged copy refused, the block fetched from another replica) and
 * the node must have named the damaged block. */
static int cas_heal(const struct chaos_fx_env *env, uint32_t node)
{
    off_t from = log_size(env, node);
    if (env->node_pid(env->ctx, node) == 0 && start_node_wait(env, node) == 0) {
        return -1;
    }
    if (fx.cas_path[0] == '\0') {
        return 0; /* the inject failed before putting the file */
    }
    char back[FX_PATH + 80];
    snprintf(back, sizeof(back), "%s.back", fx.cas_path);
    const char *const get[] = {"get", "--file", fx.cas_name, back, "--quiet"};
    int rc = -1, same = 0, named = 0;
    char line[1024];
    /* A get that found the node not yet listening took the block from the
     * next replica and never asked it: get again (each asks it first),
     * until it has named the block or three gets have not made it. */
    for (int round = 0; round < 3 && !named; round++) {
        rc = -1;
        for (int k = 0; k < 3 && rc != 0; k++) { /* the node may still be starting */
            (void)unlink(back);
            rc = run_self(env, get, sizeof(get) / sizeof(get[0]));
        }
        same = 0;
        FILE *f = rc == 0 ? fopen(back, "rb") : NULL;
        if (f != NULL) {
            uint8_t *got = malloc(fx.cas_len + 1);
            size_t n = got != NULL ? fread(got, 1, fx.cas_len + 1, f) : 0;
            same = n == fx.cas_len && memcmp(got, fx.cas_file, n) == 0;
            free(got);
            fclose(f);
        }
        if (rc != 0 || !same) {
            break; /* a failure of its own, reported below */
        }
        for (int k = 0;
             k < 30 && !(named = log_find(env, node, from, fx.cas_block, line, sizeof(line)));
             k++) {
            sleep_ms(100);
        }
    }
    fprintf(env->info,
            "chaos: corrupt-cas: get --file %s: %s; node %u %s%s\n",
            fx.cas_name,
            rc != 0 ? "FAILED"
            : same  ? "the file's own bytes"
                    : "WRONG BYTES",
            (unsigned)node,
            named ? "said: " : "named NOTHING about the damaged block ",
            named ? line : fx.cas_block);
    fflush(env->info);
    (void)unlink(back);
    (void)unlink(fx.cas_path);
    fx.cas_path[0] = '\0';
    if (rc != 0 || !same || !named) {
        fprintf(stderr,
                "voidctl chaos: corrupt-cas: %s\n",
                rc != 0 ? "the file could not be read back"
                : !same ? "the cluster served corrupted bytes"
                        : "the damaged block was not detected");
        return -1;
    }
    return 0;
}

/* ---- evidence: what the other replicas dropped ----------------------------------- */

/* The reasons of void_messages_dropped_total that show a lying or skewed
 * replica being refused. */
static const char *const drop_reasons[] = {"hlc_ahead",
                                           "conflicting",
                                           "bad_signature",
                                           "malformed",
                                           "bad_digest",
                                           "transport_bad_frame",
                                           "transport_wrong_sender"};
#define DROP_REASONS (sizeof(drop_reasons) / sizeof(drop_reasons[0]))

static uint64_t drops_before[2][DROP_REASONS]; /* [0] the others, [1] the node */

/* Sums the drops by each reason of every replica but `node` into out[0],
 * and node's own into out[1]. */
static void
count_drops(const struct chaos_fx_env *env, uint32_t node, uint64_t out[2][DROP_REASONS])
{
    memset(out, 0, 2 * DROP_REASONS * sizeof(out[0][0]));
    static char text[VOIDCTL_HTTP_BODY_MAX];
    struct voidctl_body b;
    voidctl_body_init(&b, text, sizeof(text));
    for (uint32_t i = 0; i < env->n && i < env->cluster->count_replicas; i++) {
        int rc = http_get(env, i, "/metrics", &b);
        for (size_t r = 0; rc == 0 && r < DROP_REASONS; r++) {
            char key[128];
            snprintf(
                key, sizeof(key), "void_messages_dropped_total{reason=\"%s\"} ", drop_reasons[r]);
            const char *at = strstr(b.text, key);
            out[i == node][r] += at != NULL ? strtoull(at + strlen(key), NULL, 10) : 0;
        }
    }
}

static void drops_text(const uint64_t *now, const uint64_t *before, char *text, size_t cap)
{
    size_t at = 0;
    text[0] = '\0';
    for (size_t r = 0; r < DROP_REASONS && at < cap; r++) {
        if (now[r] > before[r]) {
            int m = snprintf(text + at,
                             cap - at,
                             "%s%s +%llu",
                             at ? ", " : "",
                             drop_reasons[r],
                             (unsigned long long)(now[r] - before[r]));
            at += m > 0 ? (size_t)m : 0;
        }
    }
    if (at == 0) {
        snprintf(text, cap, "none");
    }
}

/* Prints what the replicas dropped (hlc_ahead, conflicting, bad_signature,
 * ...) between the fault's start and now. */
static void print_drops(const struct chaos_fx_env *env, const char *what, uint32_t node)
{
    uint64_t now[2][DROP_REASONS];
    count_drops(env, node, now);
    char others[512], self[512];
    drops_text(now[0], drops_before[0], others, sizeof(others));
    drops_text(now[1], drops_before[1], self, sizeof(self));
    fprintf(env->info,
            "chaos: %s: dropped during the fault: by the other replicas: %s; by node %u: %s\n",
            what,
            others,
            (unsigned)node,
            self);
    fflush(env->info);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static off_t disk_log_from;

int chaos_fx_inject(const struct chaos_fx_env *env, enum chaos_fx f, uint32_t node, uint32_t amount)
{
    struct void_fault_request r;
    memset(&r, 0, sizeof(r));
    switch (f) {
    case CHAOS_FX_SKEW:
        count_drops(env, node, drops_before);
        r.skew_ms = skews[amount % 4];
        return env->set_fault(env->ctx, node, &r);
    case CHAOS_FX_DISK:
        disk_log_from = log_size(env, node);
        return disk_inject(env, node, disk_log_from);
    case CHAOS_FX_CORRUPT:
        return corrupt_inject(env, node, amount);
    case CHAOS_FX_MEMORY:
        return memory_inject(env, node, amount);
    case CHAOS_FX_CPU:
        return cpu_inject(env, node, amount);
    case CHAOS_FX_CAS:
        return cas_inject(env, node, amount);
    case CHAOS_FX_BYZ:
        count_drops(env, node, drops_before);
        r.byz = amount;
        if (env->set_fault(env->ctx, node, &r) != 0) {
            fprintf(stderr,
                    "voidctl chaos: byzantine: node %u refused; it needs a build with "
                    "VOID_TEST_HOOKS (the sanitizer test build) and [fault] byzantine = 1 "
                    "(scripts/cluster start --fault-control --byzantine)\n",
                    (unsigned)node);
            return -1;
        }
        return 0;
    case CHAOS_FX_COUNT:
        break;
    }
    return -1;
}

int chaos_fx_heal(const struct chaos_fx_env *env, enum chaos_fx f, uint32_t node, uint32_t amount)
{
    (void)amount;
    struct void_fault_request clear;
    memset(&clear, 0, sizeof(clear));
    switch (f) {
    case CHAOS_FX_SKEW:
    case CHAOS_FX_BYZ: {
        int rc = env->set_fault(env->ctx, node, &clear);
        print_drops(env, f == CHAOS_FX_SKEW ? "skew" : "byzantine", node);
        return rc;
    }
    case CHAOS_FX_DISK:
        return disk_heal(env, node, disk_log_from);
    case CHAOS_FX_CORRUPT:
        return corrupt_heal(env, node, amount);
    case CHAOS_FX_MEMORY:
        return memory_heal(env, node);
    case CHAOS_FX_CPU:
        return cpu_heal(env, node);
    case CHAOS_FX_CAS:
        return cas_heal(env, node);
    case CHAOS_FX_COUNT:
        break;
    }
    return -1;
}

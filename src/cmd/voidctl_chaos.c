/*
 * voidctl chaos run|continuous: the live chaos engine (docs/chaos.md); figures and
 * the HTML report in voidctl_chaos_report.c.
 * Against a cluster that scripts/cluster started, it runs one experiment per
 * interval: a fault (kill, pause, delay, loss or partition) on a target the
 * seed picks, held for a while and healed, while a workload runs: a
 * `voidload lin` process per experiment, whose history is checked
 * linearizable, and a writer thread putting unique keys and recording when
 * each was acknowledged. After the last experiment it waits for the
 * replicas to agree (equal state digests at equal last_executed in /status)
 * and reads back every acknowledged write through a quorum. Each experiment
 * reports its fault, target, window, operations, the time the cluster took
 * to commit again and its verdicts; `survived` is all of them passing.
 *
 * The seed fixes the schedule (faults, targets, magnitudes), printed before
 * the run, so a failing run is re-run with the same faults; what the
 * cluster does under them (which replica is primary when "primary" is the
 * target, timings) is not the seed's to fix.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cmd/voidctl.h"
#include "cmd/voidctl_chaos_faults.h"
#include "cmd/voidctl_http.h"
#include "cmd/voidctl_chaos_report.h"
#include "void/assert.h"
#include "void/config.h"
#include "void/error.h"
#include "void/fault_auth.h"
#include "void/kvclient.h"
#include "void/membership.h"
#include "void/prng.h"
#include "void/sign.h"
#include "void/sm.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define CHAOS_EXP_MAX      10000 /* continuous mode stops there (28 h at 10 s) */
#define CHAOS_NODES_MAX    VOID_CONFIG_REPLICAS_MAX
#define CHAOS_PATH_MAX     1024
#define CHAOS_WRITE_GAP_MS 20                      /* pause between the writer's puts */
#define CHAOS_OP_SLOW_NS   (2000ull * 1000 * 1000) /* a write later than this "failed" */
#define CHAOS_RETRY_NS     (300ull * 1000 * 1000)  /* clients' first retransmission */
#define CHAOS_READERS      4                       /* parallel clients of the final read-back */
#define CHAOS_LIN_KEYS     4                       /* voidload lin --keys */
#define CHAOS_SETTLE_S     30.0                    /* default --settle-s */

/* ---- faults and the schedule ------------------------------------------- */

/* The host-level and Byzantine faults (skew .. byzantine) live in
 * voidctl_chaos_faults.c; they follow the five here in the same numbering. */
enum chaos_fault {
    FAULT_KILL = 0,
    FAULT_PAUSE,
    FAULT_DELAY,
    FAULT_LOSS,
    FAULT_PARTITION,
    FAULT_FX, /* FAULT_FX + enum chaos_fx */
    FAULT_COUNT = FAULT_FX + CHAOS_FX_COUNT
};

static const char *const fault_names[FAULT_COUNT] = {"kill",
                                                     "pause",
                                                     "delay",
                                                     "loss",
                                                     "partition",
#define VOID__X(name, text) text,
                                                     CHAOS_FX_MAP(VOID__X)
#undef VOID__X
};

#define TARGET_PRIMARY UINT32_MAX /* resolved from /status when the fault starts */

struct experiment {
    enum chaos_fault fault;
    uint32_t target;   /* a node id, or TARGET_PRIMARY; partition: the minority's first */
    uint32_t minority; /* partition: nodes target .. target + minority - 1 (mod n) */
    uint32_t amount;   /* delay: ms; loss: percent */
    /* Filled by the run. */
    uint32_t node;         /* the node hit (the primary resolved) */
    int was_primary;       /* the node hit was the primary when the fault began */
    double start_s, end_s; /* fault window, seconds since the run began */
    double window_start_s, window_end_s;
    uint64_t start_ns, end_ns, window_start_ns, window_end_ns; /* wall clock */
    uint64_t writes_ok, writes_failed;
    uint64_t lin_ops, lin_completed, lin_pending;
    int lin_ok; /* voidload lin said linearizable=yes and exited 0 */
    char lin_line[1200];
    uint64_t recovery_from_ns; /* fault end, or the kill of the primary */
    int recovery_needs_new;    /* 1: count only writes sent after recovery_from_ns */
    double recovery_s;         /* < 0: no commit within the bound */
    int nodes_up;              /* every node running at the window's end */
    int fault_failed;          /* the fault could not be injected or healed */
    int survived;
    /* The writer's throughput and latency while the fault was on and from
     * its end to the window's end (voidctl_chaos_report.h). */
    struct chaos_window during, after;
    /* A partition that leaves no side a quorum (--partition-shape halves):
     * writes sent after it was in place and acknowledged before its heal.
     * A correct cluster cannot commit then; any such write means quorums
     * that need not intersect (scripts/chaos-mutant). */
    uint64_t injected_ns, heal_ns;
    int quorumless;          /* this experiment's partition leaves no quorum */
    uint64_t acks_no_quorum; /* such writes */
    /* Causality alerts the nodes raised during this experiment (their
     * /trace/alerts counts read at its end against the previous reading). */
    uint64_t causal_alerts;
};

struct chaos_opts {
    const char *dir;
    const char *faults;
    const char *report;
    const char *html; /* --html FILE: the HTML report besides --report */
    double duration_s, interval_s, fault_s, bound_s, settle_s;
    uint64_t seed;
    int json;
    int dry_run;
    int continuous; /* experiments until interrupted or --duration, a live summary */
    int halves;     /* --partition-shape halves: n / 2 nodes cut off, not f */
    int bridge;     /* --partition-shape bridge: one node reaches only its bridge */
    uint32_t lin_clients;
};

struct chaos {
    struct chaos_opts o;
    char dir[CHAOS_PATH_MAX];
    char voidd[CHAOS_PATH_MAX + 16], voidload[CHAOS_PATH_MAX + 16];
    uint32_t n, clients;
    struct void_config cluster; /* DIR/client.ini */
    int have_admin;
    struct void_sign_keypair admin;
    uint32_t count_exp;
    struct experiment exp[CHAOS_EXP_MAX];
    uint64_t run_start_ns;
    FILE *info; /* schedule and table: stdout, or stderr under --json */
    /* Each node's /trace/alerts count at the last reading, and what it had
     * counted before a restart set it back to 0 (causal_read). */
    uint64_t causal_last[CHAOS_NODES_MAX], causal_base[CHAOS_NODES_MAX];
    uint64_t causal_baseline; /* their sum when the run began */
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double since_s(const struct chaos *ch, uint64_t t_ns)
{
    return t_ns >= ch->run_start_ns ? (double)(t_ns - ch->run_start_ns) / 1e9
                                    : -(double)(ch->run_start_ns - t_ns) / 1e9;
}

/* Set by SIGINT or SIGTERM: the run heals what it broke and stops. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Sleeps s seconds, less when interrupted. */
static void sleep_s(double s)
{
    if (s <= 0 || interrupted) {
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted) {
    }
}

/* Parses "kill,pause,..." into a list of faults; 0 or -1 after a message. */
static int parse_faults(const char *text, enum chaos_fault *list, uint32_t *count)
{
    *count = 0;
    char buf[256];
    if (strlen(text) >= sizeof(buf)) {
        fprintf(stderr, "voidctl chaos: --faults is too long\n");
        return -1;
    }
    strcpy(buf, text);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w != NULL;
         w = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int f = 0; f < FAULT_COUNT; f++) {
            found = strcmp(w, fault_names[f]) == 0 ? f : found;
        }
        if (found < 0) {
            fprintf(stderr,
                    "voidctl chaos: unknown fault '%s' (want kill, pause, delay, loss, partition, "
                    "skew, disk, corrupt, memory, cpu, byzantine)\n",
                    w);
            return -1;
        }
        for (uint32_t i = 0; i < *count; i++) {
            if (list[i] == (enum chaos_fault)found) {
                fprintf(stderr, "voidctl chaos: fault '%s' named twice in --faults\n", w);
                return -1;
            }
        }
        list[(*count)++] = (enum chaos_fault)found;
    }
    if (*count == 0) {
        fprintf(stderr, "voidctl chaos: --faults names no fault\n");
        return -1;
    }
    return 0;
}

/* The schedule: rounds through the fault list, each round in an order the
 * seed shuffles, so that every fault runs once in the first |faults|
 * experiments; targets and magnitudes drawn from the same generator. */
static void plan(struct chaos *ch, const enum chaos_fault *list, uint32_t count)
{
    struct void_prng prng;
    void_prng_seed(&prng, ch->o.seed);
    enum chaos_fault round[FAULT_COUNT];
    uint32_t minority = (ch->n - 1) / 3 > 0 ? (ch->n - 1) / 3 : 1;
    /* Halves: neither side holds a quorum, so a correct cluster stops
     * committing until the heal, and a build whose quorums do not
     * intersect commits on both sides (scripts/chaos-mutant). */
    minority = ch->o.halves ? ch->n / 2 : ch->o.bridge ? 1 : minority;
    for (uint32_t i = 0; i < ch->count_exp; i++) {
        if (i % count == 0) {
            memcpy(round, list, count * sizeof(*list));
            for (uint32_t k = count - 1; k > 0; k--) {
                uint32_t j = (uint32_t)void_prng_below(&prng, k + 1);
                enum chaos_fault t = round[k];
                round[k] = round[j];
                round[j] = t;
            }
        }
        struct experiment *e = &ch->exp[i];
        memset(e, 0, sizeof(*e));
        e->fault = round[i % count];
        /* One in two node faults hits the primary: the case that costs a
         * view change. */
        int primary = void_prng_below(&prng, 2) == 0;
        e->target = (uint32_t)void_prng_below(&prng, ch->n);
        if (primary && e->fault != FAULT_PARTITION) {
            e->target = TARGET_PRIMARY;
        }
        e->minority = e->fault == FAULT_PARTITION ? minority : 0;
        static const uint32_t delays[] = {50, 100, 200};
        static const uint32_t losses[] = {10, 25, 50};
        uint32_t pick = (uint32_t)void_prng_below(&prng, 3);
        e->amount = e->fault == FAULT_DELAY  ? delays[pick]
                    : e->fault == FAULT_LOSS ? losses[pick]
                    : e->fault >= FAULT_FX
                        ? chaos_fx_amount((enum chaos_fx)(e->fault - FAULT_FX), &prng)
                        : 0;
    }
}

/* Describes e's target and magnitude into out. */
static void describe(const struct chaos *ch, const struct experiment *e, char *out, size_t cap)
{
    char who[32];
    if (e->target == TARGET_PRIMARY) {
        snprintf(who, sizeof(who), "primary");
    } else {
        snprintf(who, sizeof(who), "node %u", (unsigned)e->target);
    }
    switch (e->fault) {
    case FAULT_KILL:
        snprintf(out, cap, "%s: SIGKILL, restart after %.1f s", who, ch->o.fault_s);
        break;
    case FAULT_PAUSE:
        snprintf(out, cap, "%s: SIGSTOP for %.1f s, then SIGCONT", who, ch->o.fault_s);
        break;
    case FAULT_DELAY:
        snprintf(out,
                 cap,
                 "%s: every frame sent %u ms late for %.1f s",
                 who,
                 (unsigned)e->amount,
                 ch->o.fault_s);
        break;
    case FAULT_LOSS:
        snprintf(out,
                 cap,
                 "%s: %u%% of frames sent dropped for %.1f s",
                 who,
                 (unsigned)e->amount,
                 ch->o.fault_s);
        break;
    case FAULT_PARTITION: {
        char ids[128] = "";
        size_t at = 0;
        for (uint32_t k = 0; k < e->minority && at < sizeof(ids); k++) {
            int m = snprintf(ids + at,
                             sizeof(ids) - at,
                             "%s%u",
                             k ? "," : "",
                             (unsigned)((e->target + k) % ch->n));
            at += m > 0 ? (size_t)m : 0;
        }
        if (ch->o.bridge) {
            snprintf(out,
                     cap,
                     "node %s reaches only node %u (the bridge) for %.1f s",
                     ids,
                     (unsigned)((e->target + ch->n - 1) % ch->n),
                     ch->o.fault_s);
        } else {
            snprintf(out,
                     cap,
                     "nodes {%s} cut from the %s for %.1f s",
                     ids,
                     ch->o.halves ? "other half" : "majority",
                     ch->o.fault_s);
        }
        break;
    }
    case FAULT_FX:
    case FAULT_COUNT:
    default:
        chaos_fx_describe(
            (enum chaos_fx)(e->fault - FAULT_FX), e->amount, who, ch->o.fault_s, out, cap);
        break;
    }
}

static void print_schedule(const struct chaos *ch)
{
    fprintf(ch->info,
            "chaos: seed %llu, %u experiments of %.1f s (fault %.1f s), cluster %s (%u nodes)\n"
            "schedule:\n",
            (unsigned long long)ch->o.seed,
            (unsigned)ch->count_exp,
            ch->o.interval_s,
            ch->o.fault_s,
            ch->dir,
            (unsigned)ch->n);
    /* Continuous mode plans up to CHAOS_EXP_MAX: show the start of it. */
    uint32_t shown = ch->o.continuous && ch->count_exp > 20 ? 20 : ch->count_exp;
    for (uint32_t i = 0; i < shown; i++) {
        char what[256];
        describe(ch, &ch->exp[i], what, sizeof(what));
        fprintf(
            ch->info, "  %3u  %-9s  %s\n", (unsigned)(i + 1), fault_names[ch->exp[i].fault], what);
    }
    if (shown < ch->count_exp) {
        fprintf(ch->info, "  ... and so on until stopped\n");
    }
    fflush(ch->info);
}

/* ---- the nodes' processes -------------------------------------------------- */

/* The pid of node i from DIR/run/node<i>.pid when it names a live voidd run
 * on DIR/node<i>.ini (as scripts/cluster's alive() checks); 0 otherwise. */
static pid_t node_pid(const struct chaos *ch, uint32_t i)
{
    char path[CHAOS_PATH_MAX + 64], want[CHAOS_PATH_MAX + 64], cmd[4096];
    snprintf(path, sizeof(path), "%s/run/node%u.pid", ch->dir, (unsigned)i);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0 || pid > INT_MAX) {
        pid = 0;
    }
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    int fd = pid > 0 ? open(path, O_RDONLY) : -1;
    if (fd < 0) {
        return 0;
    }
    ssize_t len = read(fd, cmd, sizeof(cmd) - 1);
    close(fd);
    if (len <= 0) {
        return 0; /* a zombie has an empty command line */
    }
    for (ssize_t k = 0; k < len; k++) {
        cmd[k] = cmd[k] == '\0' ? ' ' : cmd[k];
    }
    cmd[len] = '\0';
    snprintf(want, sizeof(want), " --config %s/node%u.ini ", ch->dir, (unsigned)i);
    return strstr(cmd, "voidd") != NULL && strstr(cmd, want) != NULL ? (pid_t)pid : 0;
}

/* Starts node i as scripts/cluster does (setsid voidd --config
 * DIR/node<i>.ini, output appended to DIR/logs/node<i>.log) and writes its
 * pidfile. A double fork leaves voidd to init, so a later SIGKILL leaves no
 * zombie here. Returns its pid, or 0 after a message. */
static pid_t start_node(const struct chaos *ch, uint32_t i)
{
    char cfg[CHAOS_PATH_MAX + 64], logp[CHAOS_PATH_MAX + 64], pidp[CHAOS_PATH_MAX + 64];
    snprintf(cfg, sizeof(cfg), "%s/node%u.ini", ch->dir, (unsigned)i);
    snprintf(logp, sizeof(logp), "%s/logs/node%u.log", ch->dir, (unsigned)i);
    snprintf(pidp, sizeof(pidp), "%s/run/node%u.pid", ch->dir, (unsigned)i);
    int pfd[2];
    if (pipe(pfd) != 0) {
        return 0;
    }
    pid_t child = fork();
    if (child == 0) {
        (void)setsid();
        pid_t g = fork();
        if (g == 0) {
            int out = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
            int in = open("/dev/null", O_RDONLY);
            if (out >= 0 && in >= 0) {
                dup2(in, 0);
                dup2(out, 1);
                dup2(out, 2);
            }
            /* Nothing else of the engine's (its pipes, these two) is the
             * node's: a voidd that executes itself again after a full disk
             * found them open. */
            long top = sysconf(_SC_OPEN_MAX);
            for (long fd = 3; fd < (top > 0 && top < 65536 ? top : 65536); fd++) {
                (void)close((int)fd);
            }
            execl(ch->voidd, ch->voidd, "--config", cfg, (char *)NULL);
            _exit(127);
        }
        ssize_t w = write(pfd[1], &g, sizeof(g));
        _exit(w == (ssize_t)sizeof(g) ? 0 : 1);
    }
    close(pfd[1]);
    pid_t g = 0;
    if (child < 0 || read(pfd[0], &g, sizeof(g)) != (ssize_t)sizeof(g)) {
        g = 0;
    }
    close(pfd[0]);
    if (child > 0) {
        (void)waitpid(child, NULL, 0);
    }
    FILE *f = g > 0 ? fopen(pidp, "w") : NULL;
    if (f == NULL) {
        fprintf(stderr, "voidctl chaos: cannot restart node %u\n", (unsigned)i);
        return 0;
    }
    fprintf(f, "%d\n", (int)g);
    fclose(f);
    return g;
}

/* ---- HTTP: /status ---------------------------------------------------------- */

struct node_status {
    int up;
    uint64_t view, last_executed;
    uint32_t primary;
    int view_changing;
    char digest[80];
};

static void
fetch_status(const struct chaos *ch, uint32_t i, double timeout_s, struct node_status *s)
{
    memset(s, 0, sizeof(*s));
    static char text[VOIDCTL_HTTP_BODY_MAX];
    struct voidctl_body b;
    voidctl_body_init(&b, text, sizeof(text));
    long code = voidctl_http_get_addr(
        &ch->cluster.replicas[i].http, "/status", (long)(timeout_s * 1000), &b);
    json_t *root = code == 200 ? json_loads(b.text, 0, NULL) : NULL;
    if (root == NULL) {
        return;
    }
    s->up = 1;
    s->view = (uint64_t)json_integer_value(json_object_get(root, "view"));
    s->last_executed = (uint64_t)json_integer_value(json_object_get(root, "last_executed"));
    s->primary = (uint32_t)json_integer_value(json_object_get(root, "primary"));
    s->view_changing = json_is_true(json_object_get(root, "view_changing"));
    const char *d = json_string_value(json_object_get(root, "state_digest"));
    snprintf(s->digest, sizeof(s->digest), "%s", d != NULL ? d : "");
    json_decref(root);
}

/* The primary most nodes that are not changing views agree on (the
 * highest view on a tie; node 0 if none answers). A node that was paused
 * or cut off may still name an old primary, or one of a view it is only
 * trying to reach. */
static uint32_t find_primary(const struct chaos *ch)
{
    struct node_status s[CHAOS_NODES_MAX];
    for (uint32_t i = 0; i < ch->n; i++) {
        fetch_status(ch, i, 1.0, &s[i]);
    }
    uint32_t best = 0, best_votes = 0;
    uint64_t best_view = 0;
    for (uint32_t i = 0; i < ch->n; i++) {
        if (!s[i].up || s[i].view_changing) {
            continue;
        }
        uint32_t votes = 0;
        for (uint32_t j = 0; j < ch->n; j++) {
            votes += s[j].up && !s[j].view_changing && s[j].view == s[i].view ? 1u : 0u;
        }
        if (votes > best_votes || (votes == best_votes && s[i].view > best_view)) {
            best = s[i].primary;
            best_votes = votes;
            best_view = s[i].view;
        }
    }
    return best < ch->n ? best : 0;
}

/* ---- network faults through /fault ------------------------------------------ */

/* Sets node i's transport faults; 0, or -1 after a message. */
static int set_fault(const struct chaos *ch, uint32_t i, const struct void_fault_request *knobs)
{
    char answer[2048];
    long status = 0;
    int rc = voidctl_fault_send(
        &ch->cluster, i, &ch->admin, knobs, 3.0, answer, sizeof(answer), &status);
    if (rc != 0 || status != 200) {
        fprintf(stderr,
                "voidctl chaos: node %u: /fault %s: %s\n",
                (unsigned)i,
                rc != 0 ? "unreachable" : "refused",
                answer);
        return -1;
    }
    return 0;
}

static int heal_all(const struct chaos *ch)
{
    struct void_fault_request clear;
    memset(&clear, 0, sizeof(clear));
    int rc = 0;
    for (uint32_t i = 0; i < ch->n; i++) {
        rc |= set_fault(ch, i, &clear);
    }
    return rc;
}

static int in_minority(const struct chaos *ch, const struct experiment *e, uint32_t i)
{
    return (i + ch->n - e->target) % ch->n < e->minority;
}

/* The partition: each minority node blocks the majority, each majority
 * node the minority (the fault layer's block list, both directions). */
static int partition(const struct chaos *ch, const struct experiment *e)
{
    /* Bridge: the cut node a keeps its link to b = a - 1 (mod n) only, so
     * the next primary after a is on the other side of the bridge. */
    uint32_t b = (e->target + ch->n - 1) % ch->n;
    for (uint32_t i = 0; i < ch->n; i++) {
        struct void_fault_request r;
        memset(&r, 0, sizeof(r));
        for (uint32_t j = 0; j < ch->n; j++) {
            int cut = in_minority(ch, e, i) != in_minority(ch, e, j);
            if (ch->o.bridge && (i == b || j == b)) {
                cut = 0;
            }
            if (j != i && cut) {
                r.blocked[r.count_blocked++] = j;
            }
        }
        if (set_fault(ch, i, &r) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- the writer: unique keys, acknowledgements recorded ---------------------- */

struct wop {
    uint64_t invoke_ns;
    uint64_t ack_ns; /* 0: never acknowledged */
    uint8_t status;  /* enum void_sm_status of the answer */
};

struct writer {
    const struct chaos *ch;
    pthread_t thread;
    uv_loop_t loop;
    uv_timer_t gap;
    struct void_kvclient kv;
    int kv_ready;
    atomic_int stop;
    _Atomic uint64_t last_ack_ns;
    _Atomic uint64_t acked; /* writes acknowledged OK, for the live summary */
    pthread_mutex_t lock;   /* ops, count: read by the main thread during the run */
    struct wop *ops;
    size_t count, cap;
    char prefix[64];
    int failed; /* could not start or submit */
};

static void writer_key(const struct writer *w, size_t n, char *key, size_t cap)
{
    snprintf(key, cap, "%s%zu", w->prefix, n);
}

static void writer_submit(struct writer *w);

static void writer_on_gap(uv_timer_t *t)
{
    writer_submit(t->data);
}

static void writer_done(void *ctx, const uint8_t *result, size_t len)
{
    struct writer *w = ctx;
    struct void_sm_result res;
    pthread_mutex_lock(&w->lock);
    struct wop *op = &w->ops[w->count - 1];
    op->ack_ns = wall_ns();
    op->status = void_sm_result_decode(result, len, &res) == 0 ? res.status : VOID_SM_BAD_OP;
    atomic_store(&w->last_ack_ns, op->ack_ns);
    if (op->status == VOID_SM_OK) {
        atomic_fetch_add(&w->acked, 1);
    }
    pthread_mutex_unlock(&w->lock);
    uv_timer_start(&w->gap, writer_on_gap, CHAOS_WRITE_GAP_MS, 0);
}

static void writer_submit(struct writer *w)
{
    if (atomic_load(&w->stop)) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4096;
        struct wop *ops = realloc(w->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            w->failed = 1;
            pthread_mutex_unlock(&w->lock);
            return;
        }
        w->ops = ops;
        w->cap = cap;
    }
    char key[96], value[32];
    writer_key(w, w->count, key, sizeof(key));
    snprintf(value, sizeof(value), "%zu", w->count);
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)strlen(key),
                            .value = (const uint8_t *)value,
                            .value_len = (uint32_t)strlen(value)};
    uint8_t buf[256];
    int n = void_sm_op_encode(&op, buf, sizeof(buf));
    struct wop *rec = &w->ops[w->count++];
    memset(rec, 0, sizeof(*rec));
    rec->invoke_ns = wall_ns();
    pthread_mutex_unlock(&w->lock);
    if (n < 0 || void_kvclient_submit(&w->kv, buf, (size_t)n, writer_done, w) != 0) {
        w->failed = 1;
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    writer_submit(w);
    while (!atomic_load(&w->stop) && !w->failed) {
        uv_run(&w->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    return NULL;
}

static int writer_start(struct writer *w, const struct chaos *ch)
{
    memset(w, 0, sizeof(*w));
    w->ch = ch;
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->prefix,
             sizeof(w->prefix),
             "chaos-%llu-%ld-",
             (unsigned long long)ch->o.seed,
             (long)getpid());
    char err[VOID_CONFIG_ERR_MAX] = "";
    struct void_kvclient_config kc = {.cluster = &ch->cluster,
                                      .id = ch->cluster.self_id,
                                      .keypair = &ch->cluster.keypair,
                                      .retry_ns = CHAOS_RETRY_NS};
    if (uv_loop_init(&w->loop) != 0) {
        return -1;
    }
    kc.loop = &w->loop;
    uv_timer_init(&w->loop, &w->gap);
    w->gap.data = w;
    if (void_kvclient_init(&w->kv, &kc, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidctl chaos: writer: %s\n", err);
        return -1;
    }
    w->kv_ready = 1;
    /* SIGINT and SIGTERM go to the main thread, which heals the cluster. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        return -1;
    }
    return 0;
}

static void writer_stop(struct writer *w)
{
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    uv_timer_stop(&w->gap);
    uv_close((uv_handle_t *)&w->gap, NULL);
    void_kvclient_fini(&w->kv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&w->loop);
    pthread_mutex_destroy(&w->lock);
}

/* The recovery time of e from the writer's records: from recovery_from_ns
 * to the first acknowledgement after it (after a kill of the primary, of a
 * write sent after the kill: one the dead primary had ordered may still be
 * acknowledged by the backups); -1 when none came within the bound. Takes
 * the writer's lock: the main thread calls it while the writer runs. */
static double recovery_of(const struct chaos *ch, struct writer *w, const struct experiment *e)
{
    uint64_t bound = e->end_ns + (uint64_t)(ch->o.bound_s * 1e9);
    uint64_t first = 0;
    pthread_mutex_lock(&w->lock);
    for (size_t i = w->count; i-- > 0;) {
        const struct wop *op = &w->ops[i];
        int counts = op->ack_ns > e->recovery_from_ns &&
                     (!e->recovery_needs_new || op->invoke_ns >= e->recovery_from_ns);
        if (counts && (first == 0 || op->ack_ns < first)) {
            first = op->ack_ns;
        }
        /* Writes are serial (each sent after the previous one's answer):
         * of those sent before the window began, only the last can be
         * acknowledged after it. */
        if (op->invoke_ns < e->window_start_ns) {
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return first != 0 && first <= bound ? (double)(first - e->recovery_from_ns) / 1e9 : -1;
}

/* The writer's history as samples for the figures and the HTML report;
 * NULL when out of memory. */
static struct chaos_sample *writer_samples(const struct writer *w)
{
    struct chaos_sample *s = calloc(w->count > 0 ? w->count : 1, sizeof(*s));
    for (size_t i = 0; s != NULL && i < w->count; i++) {
        s[i].invoke_ns = w->ops[i].invoke_ns;
        s[i].ack_ns = w->ops[i].ack_ns;
        s[i].ok = w->ops[i].ack_ns != 0 && w->ops[i].status == VOID_SM_OK;
    }
    return s;
}

/* ---- a pool of clients on this thread's loop (between experiments, at the end) */

struct pool_client {
    struct void_kvclient kv;
    int ready;
    int busy;
    size_t job;
    struct pool *pool;
};

struct pool_job {
    char key[96];
    char value[32]; /* put: the value; get: the value expected */
    uint8_t kind;   /* VOID_SM_OP_PUT, GET (read-only), DELETE */
    int done;
    int ok; /* put/delete answered OK or NOT_FOUND; get: the expected value read */
};

struct pool {
    uv_loop_t loop;
    struct pool_client c[CHAOS_READERS];
    uint32_t count;
    struct pool_job *jobs;
    size_t count_jobs, next, finished;
};

static int pool_open(struct pool *p, const struct chaos *ch, uint32_t clients)
{
    memset(p, 0, sizeof(*p));
    if (uv_loop_init(&p->loop) != 0) {
        return -1;
    }
    char err[VOID_CONFIG_ERR_MAX] = "";
    for (uint32_t i = 0; i < clients; i++) {
        struct void_kvclient_config kc = {.loop = &p->loop,
                                          .cluster = &ch->cluster,
                                          .id = ch->cluster.self_id,
                                          .keypair = &ch->cluster.keypair,
                                          .retry_ns = CHAOS_RETRY_NS};
        if (void_kvclient_init(&p->c[i].kv, &kc, err, sizeof(err)) != 0) {
            fprintf(stderr, "voidctl chaos: client: %s\n", err);
            return -1;
        }
        p->c[i].ready = 1;
        p->c[i].pool = p;
        p->count++;
    }
    return 0;
}

static void pool_close(struct pool *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        void_kvclient_fini(&p->c[i].kv);
    }
    uv_run(&p->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&p->loop);
}

static void pool_next(struct pool_client *c);

static void pool_done(void *ctx, const uint8_t *result, size_t len)
{
    struct pool_client *c = ctx;
    struct pool *p = c->pool;
    struct pool_job *j = &p->jobs[c->job];
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) == 0) {
        if (j->kind == VOID_SM_OP_GET) {
            j->ok = res.status == VOID_SM_OK && res.value_len == strlen(j->value) &&
                    memcmp(res.value, j->value, res.value_len) == 0;
        } else {
            j->ok = res.status == VOID_SM_OK || res.status == VOID_SM_NOT_FOUND;
        }
    }
    j->done = 1;
    p->finished++;
    c->busy = 0;
    pool_next(c);
}

static void pool_next(struct pool_client *c)
{
    struct pool *p = c->pool;
    if (p->next == p->count_jobs) {
        return;
    }
    c->job = p->next++;
    struct pool_job *j = &p->jobs[c->job];
    struct void_sm_op op = {
        .kind = j->kind, .key = (const uint8_t *)j->key, .key_len = (uint16_t)strlen(j->key)};
    if (j->kind == VOID_SM_OP_PUT) {
        op.value = (const uint8_t *)j->value;
        op.value_len = (uint32_t)strlen(j->value);
    }
    uint8_t buf[256];
    int n = void_sm_op_encode(&op, buf, sizeof(buf));
    int rc = n < 0 ? n
             : j->kind == VOID_SM_OP_GET
                 ? void_kvclient_submit_read(&c->kv, buf, (size_t)n, pool_done, c)
                 : void_kvclient_submit(&c->kv, buf, (size_t)n, pool_done, c);
    if (rc != 0) {
        j->done = 1;
        p->finished++;
        pool_next(c);
        return;
    }
    c->busy = 1;
}

/* Runs jobs[0..count) on the pool's clients; returns the number that
 * finished within timeout_s. A client whose job did not finish is left busy
 * (one request outstanding): close the pool afterwards. */
static size_t pool_run(struct pool *p, struct pool_job *jobs, size_t count, double timeout_s)
{
    p->jobs = jobs;
    p->count_jobs = count;
    p->next = 0;
    p->finished = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        pool_next(&p->c[i]);
    }
    uint64_t deadline = wall_ns() + (uint64_t)(timeout_s * 1e9);
    while (p->finished < count && wall_ns() < deadline) {
        uv_run(&p->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    return p->finished;
}

/* One job on a fresh one-client pool; 1 when it finished OK. */
static int one_job(const struct chaos *ch, struct pool_job *j, double timeout_s)
{
    struct pool p;
    int ok = pool_open(&p, ch, 1) == 0 && pool_run(&p, j, 1, timeout_s) == 1 && j->ok;
    pool_close(&p);
    return ok;
}

/* ---- voidload lin, one process per experiment -------------------------------- */

struct lin_proc {
    pid_t pid;
    char out[CHAOS_PATH_MAX + 64];
};

static int lin_start(const struct chaos *ch, uint32_t index, double secs, struct lin_proc *l)
{
    char clients[16], seconds[32], keys[16];
    snprintf(l->out, sizeof(l->out), "%s/logs/chaos-lin-%u.out", ch->dir, (unsigned)index);
    snprintf(clients, sizeof(clients), "%u", (unsigned)ch->o.lin_clients);
    snprintf(seconds, sizeof(seconds), "%.3f", secs);
    snprintf(keys, sizeof(keys), "%u", (unsigned)CHAOS_LIN_KEYS);
    l->pid = fork();
    if (l->pid == 0) {
        int out = open(l->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execl(ch->voidload,
              ch->voidload,
              "lin",
              ch->dir,
              "--clients",
              clients,
              "--seconds",
              seconds,
              "--keys",
              keys,
              (char *)NULL);
        _exit(127);
    }
    return l->pid > 0 ? 0 : -1;
}

/* Waits for the process and reads its verdict into e. */
static void lin_finish(struct lin_proc *l, struct experiment *e)
{
    int st = 0;
    e->lin_ok = 0;
    if (l->pid <= 0 || waitpid(l->pid, &st, 0) != l->pid) {
        snprintf(e->lin_line, sizeof(e->lin_line), "voidload lin did not run");
        return;
    }
    FILE *f = fopen(l->out, "r");
    char line[1024];
    int verdict = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        unsigned long long ops = 0, done = 0, pending = 0;
        if (sscanf(line, "lin: ops=%llu completed=%llu pending=%llu", &ops, &done, &pending) == 3) {
            e->lin_ops = ops;
            e->lin_completed = done;
            e->lin_pending = pending;
            verdict = strstr(line, "linearizable=yes") != NULL;
            line[strcspn(line, "\n")] = '\0';
            snprintf(e->lin_line, sizeof(e->lin_line), "%s", line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    e->lin_ok = verdict && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (e->lin_line[0] == '\0') {
        snprintf(
            e->lin_line, sizeof(e->lin_line), "voidload lin printed no verdict (see %s)", l->out);
    }
}

/* voidload lin's keys start absent in each history it checks: delete them
 * between experiments (its operations have all returned by then). */
static int lin_reset(const struct chaos *ch)
{
    struct pool_job jobs[CHAOS_LIN_KEYS];
    memset(jobs, 0, sizeof(jobs));
    for (uint32_t k = 0; k < CHAOS_LIN_KEYS; k++) {
        jobs[k].kind = VOID_SM_OP_DELETE;
        snprintf(jobs[k].key, sizeof(jobs[k].key), "lin%u", (unsigned)k);
    }
    struct pool p;
    int ok =
        pool_open(&p, ch, 1) == 0 && pool_run(&p, jobs, CHAOS_LIN_KEYS, 10.0) == CHAOS_LIN_KEYS;
    pool_close(&p);
    for (uint32_t k = 0; k < CHAOS_LIN_KEYS && ok; k++) {
        ok = jobs[k].ok;
    }
    if (!ok) {
        fprintf(stderr,
                "voidctl chaos: cannot delete voidload's keys lin0..lin%u before the next "
                "experiment\n",
                CHAOS_LIN_KEYS - 1);
        return -1;
    }
    return 0;
}

/* ---- one experiment --------------------------------------------------------- */

static int all_up(const struct chaos *ch)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        if (node_pid(ch, i) == 0) {
            return 0;
        }
    }
    return 1;
}

/* What voidctl_chaos_faults.c may use of the engine. */
static pid_t fx_node_pid(void *ctx, uint32_t i)
{
    return node_pid(ctx, i);
}

static pid_t fx_start_node(void *ctx, uint32_t i)
{
    return start_node(ctx, i);
}

static int fx_set_fault(void *ctx, uint32_t i, const struct void_fault_request *r)
{
    return set_fault(ctx, i, r);
}

static struct chaos_fx_env fx_env(struct chaos *ch)
{
    return (struct chaos_fx_env){.dir = ch->dir,
                                 .n = ch->n,
                                 .fault_s = ch->o.fault_s,
                                 .info = ch->info,
                                 .cluster = &ch->cluster,
                                 .ctx = ch,
                                 .node_pid = fx_node_pid,
                                 .start_node = fx_start_node,
                                 .set_fault = fx_set_fault};
}

/* Starts e's fault; returns 0 or -1 (cannot inject: a setup error). */
static int inject(struct chaos *ch, struct experiment *e)
{
    uint32_t primary = find_primary(ch);
    e->node = e->target == TARGET_PRIMARY ? primary : e->target;
    e->was_primary = e->fault != FAULT_PARTITION ? e->node == primary : in_minority(ch, e, primary);
    struct void_fault_request r;
    memset(&r, 0, sizeof(r));
    pid_t pid = node_pid(ch, e->node);
    /* The fault starts now, after the look-ups above: a write sent while
     * they ran is no evidence of recovery. */
    e->start_ns = wall_ns();
    switch (e->fault) {
    case FAULT_KILL:
    case FAULT_PAUSE:
        if (pid == 0) {
            fprintf(stderr, "voidctl chaos: node %u is not running\n", (unsigned)e->node);
            return -1;
        }
        return kill(pid, e->fault == FAULT_KILL ? SIGKILL : SIGSTOP) == 0 ? 0 : -1;
    case FAULT_DELAY:
        r.delay_ms = e->amount;
        return set_fault(ch, e->node, &r);
    case FAULT_LOSS:
        r.loss_pct = e->amount;
        return set_fault(ch, e->node, &r);
    case FAULT_PARTITION:
        return partition(ch, e);
    case FAULT_FX:
    case FAULT_COUNT:
    default: {
        struct chaos_fx_env env = fx_env(ch);
        return chaos_fx_inject(&env, (enum chaos_fx)(e->fault - FAULT_FX), e->node, e->amount);
    }
    }
    return -1;
}

static int heal(struct chaos *ch, struct experiment *e)
{
    pid_t pid = node_pid(ch, e->node);
    switch (e->fault) {
    case FAULT_KILL:
        /* The old process is gone once its pid no longer names a voidd; one
         * that still runs (the kill failed) is left alone, since a second
         * voidd on its data directory would only fail on the lock. */
        for (int k = 0; k < 100 && pid != 0; k++) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
            (void)nanosleep(&ts, NULL);
            pid = node_pid(ch, e->node);
        }
        return pid != 0 || start_node(ch, e->node) > 0 ? 0 : -1;
    case FAULT_PAUSE:
        return pid != 0 && kill(pid, SIGCONT) == 0 ? 0 : -1;
    case FAULT_DELAY:
    case FAULT_LOSS: {
        struct void_fault_request clear;
        memset(&clear, 0, sizeof(clear));
        return set_fault(ch, e->node, &clear);
    }
    case FAULT_PARTITION:
        return heal_all(ch);
    case FAULT_FX:
    case FAULT_COUNT:
    default: {
        struct chaos_fx_env env = fx_env(ch);
        return chaos_fx_heal(&env, (enum chaos_fx)(e->fault - FAULT_FX), e->node, e->amount);
    }
    }
    return -1;
}

/* Runs experiment e during [now, now + interval): the lin workload over the
 * whole window, the fault from a short lead-in for fault_s, then the wait
 * for the next commit. Returns 0, or -1 on a setup error. */
static int causal_read(struct chaos *ch, uint64_t *total, uint32_t *answered);

static int run_experiment(struct chaos *ch, struct writer *w, uint32_t index)
{
    struct experiment *e = &ch->exp[index];
    double lead = ch->o.interval_s / 8 < 1.0 ? ch->o.interval_s / 8 : 1.0;
    e->window_start_ns = wall_ns();
    struct lin_proc lin;
    if (lin_start(ch, index + 1, ch->o.interval_s - lead, &lin) != 0) {
        fprintf(stderr, "voidctl chaos: cannot run %s\n", ch->voidload);
        return -1;
    }
    sleep_s(lead);
    int rc = 0, healed = 0;
    if (!interrupted) {
        rc = inject(ch, e);
        e->injected_ns = wall_ns();
        if (rc == 0) {
            sleep_s(ch->o.fault_s);
        }
        e->heal_ns = wall_ns();
        /* Healed also after a failed injection: a partition may be half set. */
        healed = heal(ch, e) == 0;
    }
    e->end_ns = wall_ns();
    /* Recovery: fault end (for a kill of the primary: the kill) to the next
     * acknowledged write, waited for up to the bound. */
    uint64_t from = e->fault == FAULT_KILL && e->was_primary ? e->start_ns : e->end_ns;
    uint64_t bound = e->end_ns + (uint64_t)(ch->o.bound_s * 1e9);
    while (atomic_load(&w->last_ack_ns) <= from && wall_ns() < bound && !interrupted) {
        sleep_s(0.005);
    }
    e->recovery_from_ns = from;
    e->recovery_needs_new = e->fault == FAULT_KILL && e->was_primary;
    uint64_t window_end = e->window_start_ns + (uint64_t)(ch->o.interval_s * 1e9);
    sleep_s((double)(window_end > wall_ns() ? window_end - wall_ns() : 0) / 1e9);
    if (interrupted) {
        (void)kill(lin.pid, SIGTERM);
    }
    lin_finish(&lin, e);
    e->window_end_ns = wall_ns();
    e->nodes_up = all_up(ch);
    /* The alerts raised meanwhile, read now: a node that a later fault
     * restarts counts from 0 again. */
    uint64_t before = 0, after = 0;
    for (uint32_t i = 0; i < ch->n; i++) {
        before += ch->causal_base[i] + ch->causal_last[i];
    }
    (void)causal_read(ch, &after, NULL);
    e->causal_alerts = after > before ? after - before : 0;
    if (interrupted) {
        return -1;
    }
    e->fault_failed = rc != 0 || !healed; /* the run stops; the row says NO */
    if (e->fault_failed) {
        fprintf(stderr,
                "voidctl chaos: experiment %u: could not %s the fault\n",
                (unsigned)index + 1,
                rc != 0 ? "inject" : "heal");
        return -1;
    }
    return lin_reset(ch);
}

/* ---- after the run: the checkers ------------------------------------------- */

struct final_checks {
    int states_equal;
    uint64_t last_executed;
    char digest[80];
    char states_note[256];
    size_t acked, present;
    int all_present;
    char present_note[256];
    int nodes_up;
    /* The causality verifier's alerts over the whole run, summed over the
     * nodes: each read after every experiment and at the end, a count that
     * went back (a restarted node) added to what it had (causal_read). A
     * verdict: any alert fails the run (docs/chaos.md). */
    uint64_t causal_alerts;
    uint32_t causal_nodes; /* nodes that answered /trace/alerts at the end */
};

/* Waits (up to --settle-s) until every node answers /status with the
 * same last_executed and state digest; a lagging replica catches up on the
 * settle writes put meanwhile (acknowledged writes like the others). */
static void check_states(const struct chaos *ch, struct writer *w, struct final_checks *fc)
{
    uint64_t deadline = wall_ns() + (uint64_t)(ch->o.settle_s * 1e9);
    uint32_t settle = 0;
    for (;;) {
        struct node_status s[CHAOS_NODES_MAX];
        int equal = 1;
        for (uint32_t i = 0; i < ch->n; i++) {
            fetch_status(ch, i, 2.0, &s[i]);
            equal = equal && s[i].up && s[i].last_executed == s[0].last_executed &&
                    strcmp(s[i].digest, s[0].digest) == 0;
        }
        if (equal) {
            fc->states_equal = 1;
            fc->last_executed = s[0].last_executed;
            snprintf(fc->digest, sizeof(fc->digest), "%s", s[0].digest);
            snprintf(fc->states_note,
                     sizeof(fc->states_note),
                     "%u replicas at last_executed %llu, digest %.16s...",
                     (unsigned)ch->n,
                     (unsigned long long)s[0].last_executed,
                     s[0].digest);
            return;
        }
        if (wall_ns() >= deadline || interrupted) { /* a second signal in continuous mode */
            size_t at = 0;
            for (uint32_t i = 0; i < ch->n && at < sizeof(fc->states_note); i++) {
                int m = snprintf(fc->states_note + at,
                                 sizeof(fc->states_note) - at,
                                 "%snode %u: %s%llu %.12s",
                                 i ? ", " : "",
                                 (unsigned)i,
                                 s[i].up ? "" : "down ",
                                 (unsigned long long)s[i].last_executed,
                                 s[i].digest);
                at += m > 0 ? (size_t)m : 0;
            }
            return;
        }
        /* A settle write: the replicas agree at equal last_executed only, and
         * one that lags learns of it from new traffic. */
        struct pool_job j;
        memset(&j, 0, sizeof(j));
        j.kind = VOID_SM_OP_PUT;
        snprintf(j.key, sizeof(j.key), "%ssettle%u", w->prefix, (unsigned)settle++);
        snprintf(j.value, sizeof(j.value), "settle");
        (void)one_job(ch, &j, 5.0);
        sleep_s(0.5);
    }
}

/* Reads every node's /trace/alerts, sums its alerts_total counts and folds
 * them into ch's per-node tallies: a count lower than the last reading is a
 * node restarted since (counting from 0 again), whose earlier alerts stay
 * in causal_base. *total: every alert seen over the run; *answered: the
 * nodes that answered (may be NULL). Returns 0. */
static int causal_read(struct chaos *ch, uint64_t *total, uint32_t *answered)
{
    static char text[VOIDCTL_HTTP_BODY_MAX];
    VOID_ASSERT(ch->n <= CHAOS_NODES_MAX && total != NULL);
    uint32_t got = 0;
    *total = 0;
    for (uint32_t i = 0; i < ch->n; i++) {
        struct voidctl_body b;
        voidctl_body_init(&b, text, sizeof(text));
        long code = voidctl_http_get_addr(&ch->cluster.replicas[i].http, "/trace/alerts", 2000, &b);
        json_t *root = code == 200 ? json_loads(b.text, 0, NULL) : NULL;
        json_t *counts = json_object_get(root, "alerts_total");
        if (json_is_object(counts)) {
            uint64_t now = 0;
            const char *kind;
            json_t *v;
            json_object_foreach(counts, kind, v)
            {
                now += (uint64_t)json_integer_value(v);
            }
            if (now < ch->causal_last[i]) {
                ch->causal_base[i] += ch->causal_last[i]; /* restarted: counts from 0 */
            }
            ch->causal_last[i] = now;
            got++;
        }
        json_decref(root);
        *total += ch->causal_base[i] + ch->causal_last[i];
    }
    if (answered != NULL) {
        *answered = got;
    }
    VOID_ASSERT(got <= ch->n);
    return 0;
}

/* The run's causality verdict: every node's alerts since the run began. */
static void check_causal(struct chaos *ch, struct final_checks *fc)
{
    uint64_t total = 0;
    (void)causal_read(ch, &total, &fc->causal_nodes);
    fc->causal_alerts = total > ch->causal_baseline ? total - ch->causal_baseline : 0;
    VOID_ASSERT(fc->causal_nodes <= ch->n);
}

/* Reads back every acknowledged write through a quorum of replicas. With
 * equal states on every replica (check_states), a value a quorum returns is
 * on every replica. */
static void check_present(const struct chaos *ch, const struct writer *w, struct final_checks *fc)
{
    size_t acked = 0;
    for (size_t i = 0; i < w->count; i++) {
        acked += w->ops[i].ack_ns != 0 && w->ops[i].status == VOID_SM_OK;
    }
    fc->acked = acked;
    struct pool_job *jobs = calloc(acked > 0 ? acked : 1, sizeof(*jobs));
    struct pool p;
    if (jobs == NULL || pool_open(&p, ch, CHAOS_READERS) != 0) {
        snprintf(fc->present_note, sizeof(fc->present_note), "cannot open the readers");
        free(jobs);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < w->count; i++) {
        if (w->ops[i].ack_ns != 0 && w->ops[i].status == VOID_SM_OK) {
            jobs[k].kind = VOID_SM_OP_GET;
            writer_key(w, i, jobs[k].key, sizeof(jobs[k].key));
            snprintf(jobs[k].value, sizeof(jobs[k].value), "%zu", i);
            k++;
        }
    }
    (void)pool_run(&p, jobs, acked, 30.0 + (double)acked / 100.0);
    pool_close(&p);
    const char *missing = NULL;
    for (size_t i = 0; i < acked; i++) {
        fc->present += jobs[i].done && jobs[i].ok;
        missing = missing == NULL && !(jobs[i].done && jobs[i].ok) ? jobs[i].key : missing;
    }
    fc->all_present = fc->present == acked;
    snprintf(fc->present_note,
             sizeof(fc->present_note),
             "%zu of %zu acknowledged writes read back%s%s",
             fc->present,
             acked,
             missing ? "; first missing: " : "",
             missing ? missing : "");
    free(jobs);
}

/* Per experiment, from the writer's records: writes invoked in its window
 * (acknowledged within CHAOS_OP_SLOW_NS: ok; later or never: failed) and
 * the recovery time. */
static void tally(struct chaos *ch, struct writer *w, const struct chaos_sample *samples)
{
    for (uint32_t x = 0; x < ch->count_exp; x++) {
        struct experiment *e = &ch->exp[x];
        e->recovery_s = recovery_of(ch, w, e);
        if (samples != NULL) {
            chaos_window_stats(samples, w->count, e->start_ns, e->end_ns, &e->during);
            chaos_window_stats(samples, w->count, e->end_ns, e->window_end_ns, &e->after);
        }
        uint32_t side = e->minority > ch->n - e->minority ? e->minority : ch->n - e->minority;
        e->quorumless =
            e->fault == FAULT_PARTITION && !ch->o.bridge && side < void_membership_quorum(ch->n);
        for (size_t i = 0; e->quorumless && samples != NULL && i < w->count; i++) {
            e->acks_no_quorum += samples[i].ok && samples[i].invoke_ns >= e->injected_ns &&
                                         samples[i].ack_ns <= e->heal_ns
                                     ? 1u
                                     : 0u;
        }
        for (size_t i = 0; i < w->count; i++) {
            const struct wop *op = &w->ops[i];
            if (op->invoke_ns >= e->window_start_ns && op->invoke_ns < e->window_end_ns) {
                int ok = op->ack_ns != 0 && op->status == VOID_SM_OK &&
                         op->ack_ns - op->invoke_ns <= CHAOS_OP_SLOW_NS;
                e->writes_ok += ok ? 1u : 0u;
                e->writes_failed += ok ? 0u : 1u;
            }
        }
        e->start_s = since_s(ch, e->start_ns);
        e->end_s = since_s(ch, e->end_ns);
        e->window_start_s = since_s(ch, e->window_start_ns);
        e->window_end_s = since_s(ch, e->window_end_ns);
    }
}

/* ---- the report --------------------------------------------------------------- */

static json_t *experiment_json(const struct chaos *ch,
                               const struct experiment *e,
                               uint32_t index,
                               const struct final_checks *fc)
{
    char what[256], target[32];
    describe(ch, e, what, sizeof(what));
    if (e->fault == FAULT_PARTITION) {
        snprintf(target, sizeof(target), "minority of %u", (unsigned)e->minority);
    } else {
        if (e->target == TARGET_PRIMARY) {
            snprintf(target, sizeof(target), "primary");
        } else {
            snprintf(target, sizeof(target), "node %u", (unsigned)e->target);
        }
    }
    json_t *v = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
                          "quorum_respected",
                          e->acks_no_quorum == 0,
                          "no_causal_alerts",
                          e->causal_alerts == 0,
                          "linearizable",
                          e->lin_ok,
                          "recovered",
                          e->recovery_s >= 0,
                          "nodes_up",
                          e->nodes_up,
                          "acknowledged_writes_present",
                          fc->all_present,
                          "replica_states_equal",
                          fc->states_equal);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:i, s:b, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, "
                          "s:I, s:s, s:o, s:b}",
                          "experiment",
                          (int)index + 1,
                          "fault",
                          fault_names[e->fault],
                          "target",
                          target,
                          "plan",
                          what,
                          "node",
                          (int)e->node,
                          "node_was_primary",
                          e->was_primary,
                          "start_s",
                          e->start_s,
                          "end_s",
                          e->end_s,
                          "window_start_s",
                          e->window_start_s,
                          "window_end_s",
                          e->window_end_s,
                          "writes_ok",
                          (json_int_t)e->writes_ok,
                          "writes_failed",
                          (json_int_t)e->writes_failed,
                          "lin_ops",
                          (json_int_t)e->lin_ops,
                          "lin_completed",
                          (json_int_t)e->lin_completed,
                          "lin_pending",
                          (json_int_t)e->lin_pending,
                          "lin",
                          e->lin_line,
                          "verdicts",
                          v,
                          "survived",
                          e->survived);
    json_object_set_new(
        o, "recovery_s", e->recovery_s >= 0 ? json_real(e->recovery_s) : json_null());
    if (e->quorumless) {
        json_object_set_new(o, "acks_without_quorum", json_integer((json_int_t)e->acks_no_quorum));
    }
    /* The writer's figures under the fault and after it (null: no write
     * acknowledged in that part of the window). */
    const struct chaos_window *win[2] = {&e->during, &e->after};
    static const char *const part[2] = {"during", "after"};
    for (int k = 0; k < 2; k++) {
        char key[32];
        snprintf(key, sizeof(key), "throughput_%s", part[k]);
        json_object_set_new(o, key, json_real(win[k]->ops_per_s));
        snprintf(key, sizeof(key), "p50_%s_ms", part[k]);
        json_object_set_new(o, key, win[k]->p50_ms >= 0 ? json_real(win[k]->p50_ms) : json_null());
        snprintf(key, sizeof(key), "p99_%s_ms", part[k]);
        json_object_set_new(o, key, win[k]->p99_ms >= 0 ? json_real(win[k]->p99_ms) : json_null());
    }
    if (e->fault == FAULT_DELAY || e->fault == FAULT_LOSS) {
        json_object_set_new(
            o, e->fault == FAULT_DELAY ? "delay_ms" : "loss_pct", json_integer(e->amount));
    }
    json_object_set_new(o, "causal_alerts", json_integer((json_int_t)e->causal_alerts));
    return o;
}

static void print_table(const struct chaos *ch, const struct final_checks *fc)
{
    FILE *out = ch->info;
    fprintf(out,
            "\n %3s  %-9s  %-11s  %-15s  %-15s  %-13s  %-15s  %9s  %-4s  %-7s  %s\n",
            "#",
            "fault",
            "target",
            "fault window s",
            "writes ok/fail",
            "lin ok/pend",
            "p99 ms in/after",
            "recovery",
            "lin",
            "up",
            "survived");
    for (uint32_t i = 0; i < ch->count_exp; i++) {
        const struct experiment *e = &ch->exp[i];
        char target[32], window[32], writes[32], lin[32], rec[32], p99[32];
        snprintf(p99, sizeof(p99), "%.0f/%.0f", e->during.p99_ms, e->after.p99_ms);
        snprintf(target,
                 sizeof(target),
                 "node %u%s",
                 (unsigned)e->node,
                 e->was_primary && e->fault != FAULT_PARTITION ? " (P)" : "");
        if (e->fault == FAULT_PARTITION) {
            snprintf(target,
                     sizeof(target),
                     "%u of %u%s",
                     (unsigned)e->minority,
                     (unsigned)ch->n,
                     e->was_primary ? " (P)" : "");
        }
        snprintf(window, sizeof(window), "%.1f-%.1f", e->start_s, e->end_s);
        snprintf(writes,
                 sizeof(writes),
                 "%llu/%llu",
                 (unsigned long long)e->writes_ok,
                 (unsigned long long)e->writes_failed);
        snprintf(lin,
                 sizeof(lin),
                 "%llu/%llu",
                 (unsigned long long)e->lin_completed,
                 (unsigned long long)e->lin_pending);
        if (e->recovery_s >= 0) {
            snprintf(rec, sizeof(rec), "%.3f s", e->recovery_s);
        } else {
            snprintf(rec, sizeof(rec), "none");
        }
        fprintf(out,
                " %3u  %-9s  %-11s  %-15s  %-15s  %-13s  %-15s  %9s  %-4s  %-7s  %s\n",
                (unsigned)i + 1,
                fault_names[e->fault],
                target,
                window,
                writes,
                lin,
                p99,
                rec,
                e->lin_ok ? "yes" : "NO",
                e->nodes_up ? "yes" : "NO",
                e->survived ? "yes" : "NO");
    }
    fprintf(out,
            "\nacknowledged writes present: %s (%s)\n",
            fc->all_present ? "yes" : "NO",
            fc->present_note);
    fprintf(
        out, "replica states equal: %s (%s)\n", fc->states_equal ? "yes" : "NO", fc->states_note);
    fprintf(out, "nodes up at the end: %s\n", fc->nodes_up ? "yes" : "NO");
    fprintf(out,
            "causal alerts: %llu over the run (%u node%s answered at the end; each read after "
            "every experiment, a restarted node's earlier count kept)\n",
            (unsigned long long)fc->causal_alerts,
            (unsigned)fc->causal_nodes,
            fc->causal_nodes == 1 ? "" : "s");
    for (uint32_t i = 0; i < ch->count_exp; i++) {
        if (!ch->exp[i].lin_ok) {
            fprintf(out, "experiment %u: %s\n", (unsigned)i + 1, ch->exp[i].lin_line);
        }
        if (ch->exp[i].causal_alerts > 0) {
            fprintf(out,
                    "experiment %u: %llu causality alerts raised (the nodes' /trace/alerts and "
                    "their logs' \"causality violation\" lines name the events)\n",
                    (unsigned)i + 1,
                    (unsigned long long)ch->exp[i].causal_alerts);
        }
        if (ch->exp[i].acks_no_quorum > 0) {
            fprintf(out,
                    "experiment %u: %llu writes acknowledged while no side of the partition held "
                    "a quorum of %u\n",
                    (unsigned)i + 1,
                    (unsigned long long)ch->exp[i].acks_no_quorum,
                    (unsigned)void_membership_quorum(ch->n));
        }
    }
    fflush(out);
}

/* --json lines and --report; returns 0 or -1 (the report file). */
static int emit(const struct chaos *ch,
                const struct final_checks *fc,
                int survived,
                const struct chaos_sample *samples,
                size_t count_samples)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < ch->count_exp; i++) {
        json_t *o = experiment_json(ch, &ch->exp[i], i, fc);
        if (ch->o.json) {
            char *line = json_dumps(o, JSON_COMPACT);
            if (line != NULL) {
                printf("%s\n", line);
                free(line);
            }
        }
        json_array_append_new(list, o);
    }
    fflush(stdout);
    int rc = 0;
    if (ch->o.report != NULL || ch->o.html != NULL) {
        json_t *checks = json_pack("{s:b, s:s, s:b, s:s, s:I, s:I, s:b, s:I, s:i}",
                                   "replica_states_equal",
                                   fc->states_equal,
                                   "states",
                                   fc->states_note,
                                   "acknowledged_writes_present",
                                   fc->all_present,
                                   "present",
                                   fc->present_note,
                                   "acknowledged",
                                   (json_int_t)fc->acked,
                                   "read_back",
                                   (json_int_t)fc->present,
                                   "nodes_up",
                                   fc->nodes_up,
                                   "causal_alerts",
                                   (json_int_t)fc->causal_alerts,
                                   "causal_nodes",
                                   (int)fc->causal_nodes);
        json_t *root = json_pack("{s:I, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:s, s:o, s:o, "
                                 "s:b}",
                                 "seed",
                                 (json_int_t)ch->o.seed,
                                 "mode",
                                 ch->o.continuous ? "continuous" : "run",
                                 "faults",
                                 ch->o.faults,
                                 "duration_s",
                                 ch->o.duration_s,
                                 "interval_s",
                                 ch->o.interval_s,
                                 "fault_s",
                                 ch->o.fault_s,
                                 "recovery_bound_s",
                                 ch->o.bound_s,
                                 "settle_s",
                                 ch->o.settle_s,
                                 "nodes",
                                 (int)ch->n,
                                 "cluster",
                                 ch->dir,
                                 "checks",
                                 checks,
                                 "experiments",
                                 json_incref(list),
                                 "survived",
                                 survived);
        if (ch->o.report != NULL && chaos_report_is_html(ch->o.report)) {
            rc = chaos_html_write(ch->o.report, root, samples, count_samples, ch->run_start_ns);
        } else if (ch->o.report != NULL &&
                   json_dump_file(root, ch->o.report, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "voidctl chaos: cannot write --report %s\n", ch->o.report);
            rc = -1;
        }
        if (ch->o.html != NULL &&
            chaos_html_write(ch->o.html, root, samples, count_samples, ch->run_start_ns) != 0) {
            rc = -1;
        }
        json_decref(root);
    }
    json_decref(list);
    return rc;
}

/* ---- command line and setup ---------------------------------------------------- */

static int usage_chaos(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fprintf(out,
            "usage: voidctl chaos run --cluster DIR --faults LIST --duration D --interval I\n"
            "                         --seed S [--fault-s F] [--recovery-bound B]\n"
            "                         [--lin-clients C] [--settle-s T] [--json] [--report FILE]\n"
            "                         [--dry-run]\n"
            "       voidctl chaos continuous --cluster DIR [--faults LIST] [--duration D]\n"
            "                         [--interval I] [--seed S] [options of run]\n"
            "       voidctl chaos faults\n\n"
            "Hurts a running cluster, one experiment every I seconds for D seconds, while a\n"
            "workload runs, and proves afterwards that nothing was lost (docs/chaos.md).\n"
            "DIR is a cluster started by `scripts/cluster start --fault-control` (its\n"
            "node configs, pidfiles in DIR/run, the admin key in DIR/keys/admin.secret);\n"
            "killed nodes are restarted the way scripts/cluster starts them.\n\n"
            "Each experiment: a `voidload lin` history over the whole window (checked\n"
            "linearizable), and the fault, from a short lead-in for F seconds, then healed:\n"
            "  kill       SIGKILL the target, restart it at the end\n"
            "  pause      SIGSTOP the target, SIGCONT at the end\n"
            "  delay      the target's frames sent 50, 100 or 200 ms late (/fault)\n"
            "  loss       10, 25 or 50%% of the target's frames dropped (/fault)\n"
            "  partition  f nodes cut from the majority both ways (/fault block lists)\n"
            "  skew       the target's clock 200 or 2000 ms ahead or behind (/fault skew_ms)\n"
            "  disk       its data directory on a tmpfs the engine mounts, filled (root)\n"
            "  corrupt    stopped, a byte of its record log flipped, restarted: it must\n"
            "             refuse it; then it starts empty and catches up by state transfer\n"
            "  memory     a memory cgroup limited 4-8 MiB above its use (root)\n"
            "  cpu        pinned to one CPU beside stress-ng --cpu 1, 2 or 4\n"
            "  byzantine  silent, garbage, future or equivocate (/fault byz; test builds\n"
            "             with [fault] byzantine = 1: scripts/cluster start --byzantine)\n"
            "The target is a node or the primary of the moment. A writer puts unique keys\n"
            "throughout and records each acknowledgement. Recovery time: from the fault's\n"
            "end (for a kill of the primary: from the kill) to the next acknowledged write.\n"
            "At the end: the replicas' states equal (last_executed and state digest in\n"
            "/status), every acknowledged write read back, every node running.\n\n"
            "options:\n"
            "  --cluster DIR        the scripts/cluster directory\n"
            "  --faults LIST        comma-separated, from kill,pause,delay,loss,partition,\n"
            "                       skew,disk,corrupt,memory,cpu,byzantine;\n"
            "                       each runs once in the first |LIST| experiments\n"
            "  --duration D         seconds in all; D / I experiments (at least one)\n"
            "  --interval I         seconds per experiment, 2..3600\n"
            "  --seed S             fixes the schedule (printed first); same seed, same one\n"
            "  --fault-s F          seconds each fault is held (default I / 2)\n"
            "  --recovery-bound B   seconds after the fault ends within which the cluster\n"
            "                       must commit again (default 10)\n"
            "  --lin-clients C      voidload lin clients, 1..the cluster's --clients (default 1)\n"
            "  --settle-s T         seconds the replicas get at the end to reach equal states\n"
            "                       (default 30)\n"
            "  --json               one JSON object per experiment on stdout (the schedule\n"
            "                       and table go to stderr)\n"
            "  --report FILE        the whole run as one JSON document (HTML if FILE ends\n"
            "                       in .html)\n"
            "  --html FILE          the HTML report as well (with a JSON --report)\n"
            "  --partition-shape S  minority (default: f nodes cut from the rest), halves\n"
            "                       (n/2 nodes cut off: no side holds a quorum; the cluster\n"
            "                       stops committing until the heal) or bridge (one node\n"
            "                       keeps a link to one other, the bridge, only)\n"
            "  --dry-run            print the schedule and stop\n"
            "  --continuous         the same as `voidctl chaos continuous`\n\n");
    fprintf(out,
            "continuous: experiments one after the other until SIGINT or SIGTERM (or\n"
            "--duration D), with a one-line summary after each (experiments, faults by\n"
            "kind, survived, recovery p50/p99, writes acknowledged). Stopped, it heals the\n"
            "fault under way (that experiment is not counted), runs the final checks and\n"
            "prints the report. Defaults: every fault, --interval 10, a seed from the clock\n"
            "(printed, so the run can be repeated with --seed).\n\n"
            "faults: prints the fault kinds this build knows, one a line.\n\n"
            "--report FILE ending in .html writes a self-contained HTML page (the checkers'\n"
            "verdicts, latency over time with the fault windows shaded, throughput, a table\n"
            "per fault and per experiment); any other name, the JSON document.\n\n"
            "exit status:\n"
            "  0  every experiment survived: every checker passed\n"
            "  1  a checker failed (or the engine could not inject or heal a fault)\n"
            "  2  usage error, or DIR holds no cluster made for it\n\n"
            "example:\n"
            "  scripts/cluster start --dir /tmp/c1 --fault-control\n"
            "  voidctl chaos run --cluster /tmp/c1 --faults kill,pause,delay,loss,partition \\\n"
            "      --duration 50 --interval 10 --seed 7 --report /tmp/c1/chaos.json\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, struct chaos_opts *o, char **pos, int cap, int *help)
{
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"faults", required_argument, NULL, 'f'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"interval", required_argument, NULL, 'i'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"fault-s", required_argument, NULL, 'F'},
                                             {"recovery-bound", required_argument, NULL, 'B'},
                                             {"lin-clients", required_argument, NULL, 'L'},
                                             {"settle-s", required_argument, NULL, 'S'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"report", required_argument, NULL, 'r'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"continuous", no_argument, NULL, 'C'},
                                             {"html", required_argument, NULL, 'H'},
                                             {"partition-shape", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *prog = "voidctl chaos";
    optind = 0;
    opterr = 0;
    int c, npos = 0, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (npos == cap) {
                fprintf(stderr, "voidctl chaos: unexpected argument '%s'\n", optarg);
                return -1;
            }
            pos[npos++] = optarg;
            break;
        case 'c':
            o->dir = optarg;
            break;
        case 'f':
            o->faults = optarg;
            break;
        case 'd':
            bad = void_cli_seconds(prog, "duration", optarg, 86400, &o->duration_s) != 0;
            break;
        case 'i':
            bad = void_cli_seconds(prog, "interval", optarg, 3600, &o->interval_s) != 0;
            break;
        case 'F':
            bad = void_cli_seconds(prog, "fault-s", optarg, 3600, &o->fault_s) != 0;
            break;
        case 'B':
            bad = void_cli_seconds(prog, "recovery-bound", optarg, 3600, &o->bound_s) != 0;
            break;
        case 's':
            bad = void_cli_u64(prog, "seed", optarg, 0, UINT64_MAX, &o->seed) != 0;
            break;
        case 'L':
            bad = void_cli_u32(prog, "lin-clients", optarg, 1, 128, &o->lin_clients) != 0;
            break;
        case 'S':
            bad = void_cli_seconds(prog, "settle-s", optarg, 3600, &o->settle_s) != 0;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'r':
            o->report = optarg;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'C':
            o->continuous = 1;
            break;
        case 'H':
            o->html = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "halves") != 0 && strcmp(optarg, "minority") != 0 &&
                strcmp(optarg, "bridge") != 0) {
                fprintf(stderr,
                        "voidctl chaos: --partition-shape wants minority, halves or bridge\n");
                return -1;
            }
            o->halves = strcmp(optarg, "halves") == 0;
            o->bridge = strcmp(optarg, "bridge") == 0;
            break;
        case 'h':
            *help = 1;
            break;
        default:
            void_cli_bad_option(prog, c, argv);
            return -1;
        }
    }
    return bad ? -1 : npos;
}

/* What the options lack; NULL when they are complete. */
static const char *missing(const struct chaos_opts *o, int have_seed)
{
    return o->dir == NULL                ? "--cluster DIR is required"
           : o->faults == NULL           ? "--faults LIST is required"
           : o->duration_s == 0          ? "--duration D is required"
           : o->interval_s == 0          ? "--interval I is required"
           : !have_seed                  ? "--seed S is required (it fixes the schedule)"
           : o->interval_s < 2           ? "--interval must be at least 2 seconds"
           : o->fault_s >= o->interval_s ? "--fault-s must be shorter than --interval"
                                         : NULL;
}

/* n and clients from DIR/cluster.env (scripts/cluster). */
static int read_env(struct chaos *ch)
{
    char path[CHAOS_PATH_MAX + 32], line[128];
    snprintf(path, sizeof(path), "%s/cluster.env", ch->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr,
                "voidctl chaos: no cluster in %s (%s: %s); start one with scripts/cluster start "
                "--dir %s --fault-control\n",
                ch->dir,
                path,
                strerror(errno),
                ch->dir);
        return -1;
    }
    unsigned v = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "n=%u", &v) == 1) {
            ch->n = v;
        } else if (sscanf(line, "clients=%u", &v) == 1) {
            ch->clients = v;
        }
    }
    fclose(f);
    if (ch->n < 4 || ch->n > CHAOS_NODES_MAX || ch->clients < 1) {
        fprintf(stderr,
                "voidctl chaos: %s: want n= (4..%d) and clients= lines\n",
                path,
                CHAOS_NODES_MAX);
        return -1;
    }
    return 0;
}

/* voidd and voidload beside this voidctl (or in $VOID_BIN). */
static int find_binaries(struct chaos *ch)
{
    char self[CHAOS_PATH_MAX];
    const char *bin = getenv("VOID_BIN");
    if (bin == NULL) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            return -1;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        bin = self;
    }
    snprintf(ch->voidd, sizeof(ch->voidd), "%s/voidd", bin);
    snprintf(ch->voidload, sizeof(ch->voidload), "%s/voidload", bin);
    if (access(ch->voidd, X_OK) != 0 || access(ch->voidload, X_OK) != 0) {
        fprintf(stderr, "voidctl chaos: no voidd and voidload in %s (set VOID_BIN)\n", bin);
        return -1;
    }
    return 0;
}

/* Everything the run needs from DIR; 0 or -1 after a message. */
static int setup(struct chaos *ch)
{
    /* realpath into a buffer of our own size would need PATH_MAX bytes
     * (_FORTIFY_SOURCE aborts otherwise): let it allocate. */
    char *real = realpath(ch->o.dir, NULL);
    if (real == NULL || strlen(real) >= sizeof(ch->dir)) {
        fprintf(stderr,
                "voidctl chaos: --cluster %s: %s\n",
                ch->o.dir,
                real == NULL ? strerror(errno) : "path too long");
        free(real);
        return -1;
    }
    snprintf(ch->dir, sizeof(ch->dir), "%s", real);
    free(real);
    if (read_env(ch) != 0 || find_binaries(ch) != 0) {
        return -1;
    }
    if (ch->o.lin_clients > ch->clients) {
        fprintf(stderr,
                "voidctl chaos: --lin-clients %u: the cluster has %u client identities "
                "(scripts/cluster start --clients)\n",
                (unsigned)ch->o.lin_clients,
                (unsigned)ch->clients);
        return -1;
    }
    char path[CHAOS_PATH_MAX + 64], err[VOID_CONFIG_ERR_MAX] = "";
    snprintf(path, sizeof(path), "%s/client.ini", ch->dir);
    if (void_sign_global_init() != 0 ||
        void_config_load(&ch->cluster, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidctl chaos: %s\n", err);
        return -1;
    }
    for (uint32_t i = 0; i < ch->cluster.count_replicas; i++) {
        if (ch->cluster.replicas[i].id != i || ch->cluster.count_replicas != ch->n) {
            fprintf(stderr,
                    "voidctl chaos: %s: want replicas 0..%u in order\n",
                    path,
                    (unsigned)ch->n - 1);
            return -1;
        }
    }
    snprintf(path, sizeof(path), "%s/keys/admin.secret", ch->dir);
    if (void_sign_keyfile_read_secret(path, &ch->admin, err, sizeof(err)) != 0) {
        fprintf(stderr,
                "voidctl chaos: %s (the cluster was not started with scripts/cluster "
                "start --fault-control)\n",
                err);
        return -1;
    }
    ch->have_admin = 1;
    return 0;
}

/* The run after setup; returns the exit status. */
static int run(struct chaos *ch)
{
    ch->run_start_ns = wall_ns();
    if (heal_all(ch) != 0) {
        fprintf(stderr,
                "voidctl chaos: fault control refused; start the cluster with scripts/cluster "
                "start --fault-control\n");
        return VOIDCTL_EXIT_USAGE;
    }
    if (!all_up(ch) || lin_reset(ch) != 0) {
        fprintf(stderr, "voidctl chaos: the cluster in %s is not up and committing\n", ch->dir);
        return VOIDCTL_EXIT_FAILED;
    }
    /* The alerts the nodes counted before this run are not its own. */
    (void)causal_read(ch, &ch->causal_baseline, NULL);
    static struct writer w;
    if (writer_start(&w, ch) != 0) {
        return VOIDCTL_EXIT_FAILED;
    }
    int setup_error = 0;
    uint32_t done = 0;
    struct chaos_live live;
    memset(&live, 0, sizeof(live));
    for (; done < ch->count_exp && !setup_error; done++) {
        if (!ch->o.continuous) {
            fprintf(ch->info,
                    "chaos: experiment %u/%u: %s\n",
                    (unsigned)done + 1,
                    (unsigned)ch->count_exp,
                    fault_names[ch->exp[done].fault]);
            fflush(ch->info);
        }
        setup_error = run_experiment(ch, &w, done) != 0;
        if (ch->o.continuous && interrupted) {
            setup_error = 0;
            break; /* its fault is healed; it has no verdict and is not counted */
        }
        if (ch->o.continuous && !setup_error) {
            /* The live summary: the verdicts known now (the final checks
             * come at the end) and the exact recovery time. */
            struct experiment *e = &ch->exp[done];
            double rec = recovery_of(ch, &w, e);
            (void)chaos_live_add(&live, e->fault, e->lin_ok && e->nodes_up && rec >= 0, rec);
            chaos_live_print(ch->info,
                             &live,
                             fault_names,
                             FAULT_COUNT,
                             atomic_load(&w.acked),
                             since_s(ch, wall_ns()));
        }
    }
    ch->count_exp = done;
    if (ch->o.continuous) {
        ch->o.duration_s = since_s(ch, wall_ns()); /* the report's: as long as it ran */
    }
    if (ch->o.continuous && isatty(fileno(ch->info))) {
        fputc('\n', ch->info);
    }
    chaos_live_fini(&live);
    (void)heal_all(ch);
    writer_stop(&w);
    if (interrupted && ch->o.continuous) {
        /* Stopped by the operator: the fault under way is healed; the run's
         * experiments get their final checks and report. */
        fprintf(ch->info,
                "chaos: stopped after %u experiment(s); faults healed, final checks follow\n",
                (unsigned)done);
        interrupted = 0;
    }
    if (interrupted) {
        fprintf(stderr,
                "voidctl chaos: interrupted after %u experiment(s); faults healed, no "
                "verdict\n",
                (unsigned)done);
        free(w.ops);
        return VOIDCTL_EXIT_FAILED;
    }
    struct final_checks fc;
    memset(&fc, 0, sizeof(fc));
    uint64_t checks_ns = wall_ns();
    check_states(ch, &w, &fc);
    check_present(ch, &w, &fc);
    fc.nodes_up = all_up(ch);
    check_causal(ch, &fc);
    fprintf(ch->info,
            "chaos: experiments took %.1f s, the final checks %.1f s\n",
            (double)(checks_ns - ch->run_start_ns) / 1e9,
            (double)(wall_ns() - checks_ns) / 1e9);
    struct chaos_sample *samples = writer_samples(&w);
    tally(ch, &w, samples);
    int causal_ok = fc.causal_alerts == 0;
    int survived = !setup_error && !w.failed && fc.all_present && fc.states_equal && causal_ok;
    for (uint32_t i = 0; i < ch->count_exp; i++) {
        struct experiment *e = &ch->exp[i];
        e->survived = !e->fault_failed && e->lin_ok && e->recovery_s >= 0 && e->nodes_up &&
                      fc.all_present && fc.states_equal && fc.nodes_up && e->acks_no_quorum == 0 &&
                      e->causal_alerts == 0;
        survived = survived && e->survived;
    }
    print_table(ch, &fc);
    int rc = emit(ch, &fc, survived, samples, samples != NULL ? w.count : 0);
    free(samples);
    free(w.ops);
    fprintf(ch->info, "chaos: %s\n", survived ? "survived every experiment" : "a checker FAILED");
    return survived && rc == 0 ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_FAILED;
}

int voidctl_chaos(int argc, char **argv)
{
    static struct chaos ch;
    memset(&ch, 0, sizeof(ch));
    ch.o.lin_clients = 1;
    ch.o.bound_s = 10;
    ch.o.settle_s = CHAOS_SETTLE_S;
    char *pos[2] = {NULL, NULL};
    int help = 0;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        have_seed |= strcmp(argv[i], "--seed") == 0 || strncmp(argv[i], "--seed=", 7) == 0;
    }
    int npos = parse_opts(argc, argv, &ch.o, pos, 2, &help);
    if (help) {
        return usage_chaos(1);
    }
    if (npos < 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (npos == 1 && strcmp(pos[0], "faults") == 0) {
        /* The fault kinds this build knows, for scripts (chaos-campaign). */
        for (int f = 0; f < FAULT_COUNT; f++) {
            printf("%s\n", fault_names[f]);
        }
        return VOIDCTL_EXIT_OK;
    }
    if (npos != 1 || (strcmp(pos[0], "run") != 0 && strcmp(pos[0], "continuous") != 0)) {
        fprintf(stderr, "voidctl chaos: want `voidctl chaos run|continuous|faults ...`\n");
        void_cli_hint("voidctl chaos");
        return VOIDCTL_EXIT_USAGE;
    }
    static char all_faults[512];
    if (strcmp(pos[0], "continuous") == 0 || ch.o.continuous) {
        /* Continuous: until stopped (or --duration), every fault unless
         * --faults says otherwise, 10 s experiments, a seed from the clock
         * (printed) unless given. */
        ch.o.continuous = 1;
        if (ch.o.faults == NULL) {
            for (int f = 0; f < FAULT_COUNT; f++) {
                size_t at = strlen(all_faults);
                snprintf(
                    all_faults + at, sizeof(all_faults) - at, "%s%s", f ? "," : "", fault_names[f]);
            }
            ch.o.faults = all_faults;
        }
        ch.o.interval_s = ch.o.interval_s > 0 ? ch.o.interval_s : 10;
        if (!have_seed) {
            ch.o.seed = wall_ns() ^ (uint64_t)getpid();
            have_seed = 1;
        }
        if (ch.o.duration_s == 0) {
            ch.o.duration_s = ch.o.interval_s * CHAOS_EXP_MAX;
        }
    }
    if (ch.o.fault_s == 0 && ch.o.interval_s > 0) {
        ch.o.fault_s = ch.o.interval_s / 2;
    }
    const char *why = missing(&ch.o, have_seed);
    enum chaos_fault list[FAULT_COUNT];
    uint32_t count = 0;
    if (why != NULL) {
        fprintf(stderr, "voidctl chaos: %s\n", why);
        void_cli_hint("voidctl chaos");
        return VOIDCTL_EXIT_USAGE;
    }
    if (parse_faults(ch.o.faults, list, &count) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    ch.info = ch.o.json ? stderr : stdout;
    double exps = ch.o.duration_s / ch.o.interval_s;
    ch.count_exp = exps < 1 ? 1 : exps > CHAOS_EXP_MAX ? CHAOS_EXP_MAX : (uint32_t)exps;
    if (setup(&ch) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    plan(&ch, list, count);
    print_schedule(&ch);
    if (ch.o.dry_run) {
        void_config_fini(&ch.cluster);
        return VOIDCTL_EXIT_OK;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt; /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = run(&ch);
    curl_global_cleanup();
    void_sign_keypair_wipe(&ch.admin);
    void_config_fini(&ch.cluster);
    return rc;
}

/*
 * voidsim: runs the deterministic simulator. `voidsim --seed N` runs one
 * reproducible run and prints what happened; `voidsim --seeds A..B --jobs J`
 * runs a campaign in J forked worker processes and prints one line per seed
 * in seed order, then the summary line
 *     SIM runs=<N> faults=<N> byzantine=<N> violations=<N>
 * The exit status is 1 when any run violated a checked property, 2 on a usage
 * error. Every failing seed is printed with the exact command that replays it.
 */
#include "void/error.h"
#include "void/pbft.h"
#include "void/sign.h"
#include "void/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOBS_MAX 64
/* A quiet campaign reports its progress on stderr every this many runs. */
#define PROGRESS_EVERY 1000

/* What the command line fixed; anything left unset comes from the seed. */
struct options {
    uint64_t seed_lo;
    uint64_t seed_hi;
    int campaign;
    uint32_t jobs;
    int quiet;
    const char *trace_path;
    int have_n, have_byz, have_faults, have_strategies, have_requests, have_clients, have_verify;
    int have_pipeline;
    int no_verify_honest;
    int no_sig_memo;
    struct void_sim_config fixed;
    char replay_flags[512]; /* the overriding flags, repeated in the replay command */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidsim --seed N [options]        one run\n"
            "       voidsim --seeds A..B [--jobs J]   a campaign, one run per seed\n"
            "\n"
            "options (unset ones are drawn from the seed):\n"
            "  --n N              replicas (4, 7, ...; at most %d)\n"
            "  --byzantine K      Byzantine replicas, at most (n-1)/3\n"
            "  --strategies LIST  Byzantine strategies: equivocate,forge,replay,digest,\n"
            "                     future,silent,garbage | all\n"
            "  --faults LIST      delay,loss,dup,reorder,partition,isolate,flap,crash,clock\n"
            "                     | all | none\n"
            "  --requests R       client operations in total\n"
            "  --clients C        clients (1..%d)\n"
            "  --pipeline P       batches in flight at a primary (1..64; 0: the default)\n"
            "  --window MS        fault window, and the time the workload spreads over\n"
            "                     (100..600000 ms; default drawn from the seed, 2-6 s)\n"
            "  --restart-backup   restart scenario: a backup stops cleanly at 0.3 s and\n"
            "                     restarts 1 s later, its links connecting for 0.3 s\n"
            "  --no-verify        replicas skip signature verification (honest runs only)\n"
            "  --no-verify-honest skip it in the runs that have no Byzantine replica\n"
            "  --no-sig-memo      verify every signature with Ed25519 anew and derive every\n"
            "                     MAC key (slower; the memos change no answer, see\n"
            "                     docs/simulator.md)\n"
            "  --trace FILE       write a readable, deterministic trace of the run\n"
            "  --jobs J           worker processes for a campaign (default 1)\n"
            "  --quiet            campaign: print only failing seeds and the summary\n"
            "                     (and a progress line on stderr every %d runs)\n"
            "  --help             this text\n"
            "\n"
            "Exit status: 0 all runs passed, 1 a checker found a violation, 2 usage error.\n",
            PROGRESS_EVERY,
            VOID_SIM_N_MAX,
            VOID_SIM_CLIENTS_MAX);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0') {
        return VOID_EPARSE;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || s[0] == '-') {
        return VOID_EPARSE;
    }
    *out = v;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (parse_u64(s, &v) != 0 || v > UINT32_MAX) {
        return VOID_EPARSE;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dots = strstr(s, "..");
    if (dots == NULL) {
        return VOID_EPARSE;
    }
    char left[32];
    size_t len = (size_t)(dots - s);
    if (len == 0 || len >= sizeof(left)) {
        return VOID_EPARSE;
    }
    memcpy(left, s, len);
    left[len] = '\0';
    if (parse_u64(left, lo) != 0 || parse_u64(dots + 2, hi) != 0 || *lo > *hi) {
        return VOID_EPARSE;
    }
    return 0;
}

static void note_flag(struct options *o, const char *flag, const char *value)
{
    size_t used = strlen(o->replay_flags);
    snprintf(o->replay_flags + used,
             sizeof(o->replay_flags) - used,
             " %s%s%s",
             flag,
             value != NULL ? " " : "",
             value != NULL ? value : "");
}

/* Parses one option at argv[*i] (advancing past its value). Returns 0, or 2
 * for a usage error (message printed). */
static int parse_option(struct options *o, int argc, char **argv, int *i)
{
    const char *flag = argv[*i];
    int has_value = strcmp(flag, "--no-verify") != 0 && strcmp(flag, "--quiet") != 0 &&
                    strcmp(flag, "--no-verify-honest") != 0 && strcmp(flag, "--no-sig-memo") != 0 &&
                    strcmp(flag, "--restart-backup") != 0;
    const char *value = NULL;
    if (has_value) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "voidsim: %s needs a value\n", flag);
            return 2;
        }
        value = argv[++*i];
    }
    int rc = 0;
    if (strcmp(flag, "--seed") == 0) {
        rc = parse_u64(value, &o->seed_lo);
        o->seed_hi = o->seed_lo;
    } else if (strcmp(flag, "--seeds") == 0) {
        rc = parse_range(value, &o->seed_lo, &o->seed_hi);
        o->campaign = 1;
    } else if (strcmp(flag, "--jobs") == 0) {
        rc = parse_u32(value, &o->jobs);
        rc = rc == 0 && (o->jobs == 0 || o->jobs > JOBS_MAX) ? VOID_EPARSE : rc;
    } else if (strcmp(flag, "--trace") == 0) {
        o->trace_path = value;
    } else if (strcmp(flag, "--quiet") == 0) {
        o->quiet = 1;
    } else if (strcmp(flag, "--no-verify") == 0) {
        o->have_verify = 1;
        o->fixed.verify_signatures = 0;
        note_flag(o, flag, NULL);
    } else if (strcmp(flag, "--no-verify-honest") == 0) {
        o->no_verify_honest = 1;
        note_flag(o, flag, NULL);
    } else if (strcmp(flag, "--no-sig-memo") == 0) {
        o->no_sig_memo = 1;
    } else if (strcmp(flag, "--n") == 0) {
        rc = parse_u32(value, &o->fixed.n);
        o->have_n = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--byzantine") == 0) {
        rc = parse_u32(value, &o->fixed.byzantine);
        o->have_byz = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--faults") == 0) {
        rc = void_sim_parse_faults(value, &o->fixed.faults);
        o->have_faults = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--strategies") == 0) {
        rc = void_sim_parse_strategies(value, &o->fixed.strategies);
        o->have_strategies = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--requests") == 0) {
        rc = parse_u32(value, &o->fixed.requests);
        o->have_requests = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--clients") == 0) {
        rc = parse_u32(value, &o->fixed.clients);
        o->have_clients = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--pipeline") == 0) {
        rc = parse_u32(value, &o->fixed.pipeline);
        rc = rc == 0 && o->fixed.pipeline > VOID_PBFT_WINDOW_MAX ? VOID_EPARSE : rc;
        o->have_pipeline = 1;
        note_flag(o, flag, value);
    } else if (strcmp(flag, "--restart-backup") == 0) {
        o->fixed.restart_backup = 1;
        note_flag(o, flag, NULL);
    } else if (strcmp(flag, "--window") == 0) {
        uint32_t ms = 0;
        rc = parse_u32(value, &ms);
        rc = rc == 0 && (ms < 100 || ms > 600000) ? VOID_EPARSE : rc;
        o->fixed.fault_window_ns = (uint64_t)ms * 1000000u;
        note_flag(o, flag, value);
    } else {
        fprintf(stderr, "voidsim: unknown option '%s' (try voidsim --help)\n", flag);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "voidsim: bad value '%s' for %s\n", value != NULL ? value : "", flag);
        return 2;
    }
    return 0;
}

/* The configuration for seed: drawn from the seed, then the flags override. */
static void config_for(const struct options *o, uint64_t seed, struct void_sim_config *c)
{
    void_sim_config_from_seed(c, seed);
    if (o->have_n) {
        c->n = o->fixed.n;
        if (!o->have_byz && c->byzantine > (c->n - 1) / 3) {
            c->byzantine = (c->n - 1) / 3;
        }
    }
    if (o->have_byz) {
        c->byzantine = o->fixed.byzantine;
        if (c->byzantine > 0 && c->strategies == 0) {
            c->strategies = VOID_SIM_BYZ_ALL;
        }
    }
    if (o->have_faults) {
        c->faults = o->fixed.faults;
    }
    if (o->have_strategies) {
        c->strategies = o->fixed.strategies;
    }
    if (o->have_requests) {
        c->requests = o->fixed.requests;
    }
    if (o->have_clients) {
        c->clients = o->fixed.clients;
    }
    if (o->have_pipeline) {
        c->pipeline = o->fixed.pipeline;
    }
    if (o->have_verify || (o->no_verify_honest && c->byzantine == 0)) {
        c->verify_signatures = 0;
    }
    if (o->no_sig_memo) {
        c->sig_memo = 0;
    }
    c->restart_backup = o->fixed.restart_backup;
    if (o->fixed.fault_window_ns != 0) {
        c->fault_window_ns = o->fixed.fault_window_ns;
    }
}

/* One line per run, the same in single and campaign mode. */
static void print_run_line(FILE *out,
                           uint64_t seed,
                           const struct void_sim_config *c,
                           const struct void_sim_result *r)
{
    char faults[160], strategies[160];
    void_sim_format_faults(c->faults, faults, sizeof(faults));
    void_sim_format_strategies(
        c->byzantine > 0 ? c->strategies : 0, strategies, sizeof(strategies));
    fprintf(out,
            "seed=%" PRIu64 " n=%u byz=%u[%s] faults=%s pipeline=%u hints=%d seq=%" PRIu64
            " view=%" PRIu64 " done=%" PRIu64 " pending=%" PRIu64 " vt=%.3fs trace=%016" PRIx64
            " %s\n",
            seed,
            c->n,
            c->byzantine,
            strategies,
            faults,
            c->pipeline,
            c->link_hints,
            r->seq_executed,
            r->view_max,
            r->requests_done,
            r->requests_pending,
            (double)r->end_ns / 1e9,
            r->trace_hash,
            r->violations == 0 ? "ok" : "VIOLATION");
}

static void
print_replay(FILE *out, const struct options *o, uint64_t seed, const struct void_sim_result *r)
{
    fprintf(out,
            "  violation: %s\n  replay: voidsim --seed %" PRIu64 "%s --trace seed-%" PRIu64
            ".trace\n",
            r->violation,
            seed,
            o->replay_flags,
            seed);
}

static int run_single(const struct options *o)
{
    struct void_sim_config c;
    config_for(o, o->seed_lo, &c);
    FILE *trace = NULL;
    if (o->trace_path != NULL) {
        trace = fopen(o->trace_path, "w");
        if (trace == NULL) {
            fprintf(stderr, "voidsim: cannot write %s: %s\n", o->trace_path, strerror(errno));
            return 2;
        }
    }
    c.trace = trace;
    struct void_sim_result r;
    int rc = void_sim_run(&c, &r);
    if (trace != NULL && fclose(trace) != 0) {
        fprintf(stderr, "voidsim: writing %s failed\n", o->trace_path);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "voidsim: %s\n", void_strerror(rc));
        return 2;
    }
    print_run_line(stdout, o->seed_lo, &c, &r);
    printf("  commits: seq %" PRIu64 ", views up to %" PRIu64 ", %" PRIu64
           " of %u requests answered"
           " (last at %.3fs, faults healed at %.3fs)\n",
           r.seq_executed,
           r.view_max,
           r.requests_done,
           c.requests,
           (double)r.last_done_ns / 1e9,
           (double)r.heal_ns / 1e9);
    printf("  faults: %" PRIu64 " injected, %" PRIu64 " crashes, %" PRIu64 " of %" PRIu64
           " frames dropped; byzantine frames: %" PRIu64 "\n",
           r.faults_injected,
           r.crashes,
           r.frames_dropped,
           r.frames_sent,
           r.byz_frames);
    printf("  checkers: agreement, linearizability, as-of, hlc (%" PRIu64
           " events), view (longest out after the heal %.3fs), liveness: %s\n",
           r.events,
           (double)r.out_of_view_ns_max / 1e9,
           r.violations == 0 ? "all passed" : "VIOLATION");
    if (r.violations != 0) {
        print_replay(stdout, o, o->seed_lo, &r);
        return 1;
    }
    return 0;
}

/* A worker's record for one seed, sent over its pipe. */
struct record {
    uint64_t seed;
    struct void_sim_config config;
    struct void_sim_result result;
    int rc;
};

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static void worker(const struct options *o, uint64_t first, uint32_t jobs, int fd)
{
    for (uint64_t seed = first; seed <= o->seed_hi; seed += jobs) {
        struct record rec;
        memset(&rec, 0, sizeof(rec));
        rec.seed = seed;
        config_for(o, seed, &rec.config);
        rec.rc = void_sim_run(&rec.config, &rec.result);
        rec.config.trace = NULL;
        if (write_all(fd, &rec, sizeof(rec)) != 0) {
            _exit(3);
        }
        if (seed > UINT64_MAX - jobs) {
            break;
        }
    }
    _exit(0);
}

struct pool {
    uint32_t jobs;
    int fds[JOBS_MAX];
    pid_t pids[JOBS_MAX];
};

/* Starts worker slot j on the seeds first, first + jobs, ... Returns 0 or -1. */
static int spawn(const struct options *o, struct pool *p, uint32_t j, uint64_t first)
{
    int fd[2];
    fflush(stdout);
    if (pipe(fd) != 0) {
        perror("voidsim: pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("voidsim: fork");
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        for (uint32_t k = 0; k < p->jobs; k++) {
            if (k != j && p->fds[k] >= 0) {
                close(p->fds[k]);
            }
        }
        worker(o, first, p->jobs, fd[1]);
    }
    close(fd[1]);
    p->fds[j] = fd[0];
    p->pids[j] = pid;
    return 0;
}

/* Reaps worker slot j; returns its wait status. */
static int reap(struct pool *p, uint32_t j)
{
    int status = 0;
    close(p->fds[j]);
    p->fds[j] = -1;
    while (waitpid(p->pids[j], &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* A worker that died mid-seed (an assertion in a core, a sanitizer report)
 * is a violation of that seed: report it and start a fresh worker on the
 * rest of its seeds. */
static int worker_died(const struct options *o, struct pool *p, uint32_t j, uint64_t seed)
{
    int status = reap(p, j);
    printf("seed=%" PRIu64 " CRASHED (%s %d)\n",
           seed,
           WIFSIGNALED(status) ? "signal" : "exit status",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    printf("  violation: the simulator process died (see stderr)\n  replay: voidsim --seed %" PRIu64
           "%s --trace seed-%" PRIu64 ".trace\n",
           seed,
           o->replay_flags,
           seed);
    if (seed <= o->seed_hi - p->jobs) {
        return spawn(o, p, j, seed + p->jobs);
    }
    return 0;
}

/* The progress line of a quiet campaign: how far it got, for a log that is
 * read while a long campaign runs. Wall time is the operator's, not the
 * simulation's, and never reaches stdout. */
static void
print_progress(uint64_t done, uint64_t runs, uint64_t last_seed, uint64_t violations, time_t start)
{
    fprintf(stderr,
            "voidsim: %" PRIu64 " of %" PRIu64 " runs (through seed %" PRIu64 "), %" PRIu64
            " violations, %lld s\n",
            done,
            runs,
            last_seed,
            violations,
            (long long)(time(NULL) - start));
}

/* Forks the workers; seeds are dealt round-robin, so reading the pipes in
 * turn yields the results in seed order whatever the scheduling. */
static int run_campaign(const struct options *o)
{
    uint64_t runs = o->seed_hi - o->seed_lo + 1;
    struct pool p;
    p.jobs = o->jobs == 0 ? 1 : o->jobs;
    if (p.jobs > runs) {
        p.jobs = (uint32_t)runs;
    }
    for (uint32_t j = 0; j < JOBS_MAX; j++) {
        p.fds[j] = -1;
    }
    for (uint32_t j = 0; j < p.jobs; j++) {
        if (spawn(o, &p, j, o->seed_lo + j) != 0) {
            return 2;
        }
    }
    uint64_t faults = 0, byzantine = 0, violations = 0;
    int broken = 0;
    time_t start = time(NULL);
    for (uint64_t i = 0; i < runs; i++) {
        if (o->quiet && i > 0 && i % PROGRESS_EVERY == 0) {
            print_progress(i, runs, o->seed_lo + i - 1, violations, start);
        }
        uint32_t j = (uint32_t)(i % p.jobs);
        struct record rec;
        if (p.fds[j] < 0 || read_all(p.fds[j], &rec, sizeof(rec)) != 0) {
            violations++;
            if (p.fds[j] < 0 || worker_died(o, &p, j, o->seed_lo + i) != 0) {
                broken = 1;
                break;
            }
            continue;
        }
        if (rec.rc != 0) {
            fprintf(stderr, "voidsim: seed %" PRIu64 ": %s\n", rec.seed, void_strerror(rec.rc));
            broken = 1;
            continue;
        }
        faults += rec.result.faults_injected;
        byzantine += rec.config.byzantine > 0;
        violations += rec.result.violations != 0;
        if (!o->quiet || rec.result.violations != 0) {
            print_run_line(stdout, rec.seed, &rec.config, &rec.result);
        }
        if (rec.result.violations != 0) {
            print_replay(stdout, o, rec.seed, &rec.result);
            fflush(stdout); /* a long campaign's log shows a failure at once */
        }
    }
    for (uint32_t j = 0; j < p.jobs; j++) {
        if (p.fds[j] >= 0) {
            int status = reap(&p, j);
            broken |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }
    printf("SIM runs=%" PRIu64 " faults=%" PRIu64 " byzantine=%" PRIu64 " violations=%" PRIu64 "\n",
           runs,
           faults,
           byzantine,
           violations);
    if (broken) {
        return 2;
    }
    return violations == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct options o;
    memset(&o, 0, sizeof(o));
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        have_seed |= strcmp(argv[i], "--seed") == 0 || strcmp(argv[i], "--seeds") == 0;
        int rc = parse_option(&o, argc, argv, &i);
        if (rc != 0) {
            return rc;
        }
    }
    if (!have_seed) {
        usage(stderr);
        return 2;
    }
    if (o.campaign && o.trace_path != NULL) {
        fprintf(stderr, "voidsim: --trace needs a single --seed\n");
        return 2;
    }
    if (void_sign_global_init() != 0) {
        fprintf(stderr, "voidsim: libsodium failed to initialise\n");
        return 2;
    }
    return o.campaign ? run_campaign(&o) : run_single(&o);
}

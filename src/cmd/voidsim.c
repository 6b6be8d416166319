/*
 * voidsim: runs the deterministic simulator. `voidsim --seed N` runs one
 * reproducible run and prints what happened; `voidsim --seeds A..B --jobs J`
 * runs a campaign in J forked worker processes and prints one line per seed
 * in seed order, then the summary line
 *     SIM runs=<N> faults=<N> byzantine=<N> violations=<N>
 * The exit status is 1 when any run violated a checked property, 2 on a usage
 * error. Every failing seed is printed with the exact command that replays it.
 */
#include "cmd/cli.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/pbft.h"
#include "void/sign.h"
#include "void/sim.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
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
    int seed_given; /* --seed or --seeds seen (the last one counts) */
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

/* Limits of the options that have no other (VOID_SIM_N_MAX and friends in
 * include/void/sim.h). Requests: the runs keep every operation's history for
 * the checkers, and a million is already hours of simulated work. */
#define REQUESTS_MAX 1000000u
#define BYZANTINE_MAX ((VOID_SIM_N_MAX - 1) / 3)

/* The names --strategies and --faults take, from the X-macros of
 * include/void/sim.h (each followed by a comma, the last one cut off). */
#define VOIDSIM_NAME(name, str) str ","
static const char strategy_names[] = VOID_SIM_BYZ_MAP(VOIDSIM_NAME);
static const char fault_names[] = VOID_SIM_FAULT_MAP(VOIDSIM_NAME);
#undef VOIDSIM_NAME

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidsim --seed N [options]                 one run\n"
            "       voidsim --seeds A..B [--jobs J] [options]  a campaign, one run per seed\n"
            "\n"
            "Runs a whole Void cluster in one process on virtual time (docs/simulator.md):\n"
            "every run is reproducible from its seed and the options, and checked for\n"
            "agreement, linearizability, as-of reads, HLC order and liveness.\n"
            "\n"
            "options (in any order; unset ones are drawn from the seed):\n"
            "  --seed N           the run's seed, 0..2^64-1\n"
            "  --seeds A..B       a campaign over the seeds A to B inclusive\n"
            "  --n N              replicas, 4 up to %d (default: 4 or 7, from the seed)\n"
            "  --byzantine K      Byzantine replicas, 0..(n-1)/3 (default: 0..f, from the\n"
            "                     seed; above 1 needs --n)\n"
            "  --strategies LIST  Byzantine strategies, a comma-separated list of\n"
            "                     %.*s\n"
            "                     or all (default: a subset, from the seed)\n"
            "  --faults LIST      faults, a comma-separated list of\n"
            "                     %.*s\n"
            "                     or all or none (default: a subset, from the seed)\n"
            "  --requests R       client operations in total, 0..%u (default: 30..60)\n"
            "  --clients C        clients, 1..%d (default: 2..4, from the seed)\n"
            "  --pipeline P       batches in flight at a primary, 0..%d (0 or unset: the\n"
            "                     seed's choice)\n"
            "  --window MS        fault window, and the time the workload spreads over,\n"
            "                     100..600000 ms (default: 2000..6000, from the seed)\n"
            "  --restart-backup   restart scenario: a backup stops cleanly at 0.3 s and\n"
            "                     restarts 1 s later, its links connecting for 0.3 s\n"
            "  --no-read-only     every GET is ordered (default: about half the plain GETs\n"
            "                     are read-only requests, docs/pbft.md)\n"
            "  --member-changes   the admin removes one replica (a Byzantine one if any) at a\n"
            "                     random time, or (in some seeds: n >= 5) the last replica\n"
            "                     starts outside the cluster and the admin joins it, then\n"
            "                     promotes it; the membership checker runs (docs/simulator.md)\n"
            "  --auto-remove      replicas heartbeat, run the failure detector, gossip signed\n"
            "                     suspicions and submit certified removals; Byzantine replicas\n"
            "                     add the suspect strategy (false suspicions, forged\n"
            "                     certificates); the removal checker runs (not with\n"
            "                     --member-changes; docs/simulator.md, Automatic removal)\n"
            "  --tasks            clients also submit and cancel tasks; every honest replica's\n"
            "                     placement is compared at each sequence number (docs/scheduler.md)\n"
            "  --no-rejoin-beacon replicas run without the rejoin beacon (config.rejoin_beacon\n"
            "                     -1; docs/pbft.md, Rejoining)\n"
            "  --no-verify        replicas skip signature verification (honest runs only:\n"
            "                     not with --byzantine above 0)\n"
            "  --no-verify-honest skip it in the runs that have no Byzantine replica\n"
            "  --no-sig-memo      verify every signature with Ed25519 anew and derive every\n"
            "                     MAC key (slower; the memos change no answer, see\n"
            "                     docs/simulator.md)\n"
            "  --trace FILE       one run: write a readable, deterministic trace of it\n"
            "  --jobs J           worker processes for a campaign, 1..%d (default 1)\n"
            "  --quiet            campaign: print only failing seeds and the summary\n"
            "                     (and a progress line on stderr every %d runs)\n"
            "  --help             this text\n"
            "  --version          print the version\n"
            "\n"
            "Exit status: 0 all runs passed, 1 a checker found a violation, 2 usage error\n"
            "(or a run that could not be set up).\n"
            "\n"
            "examples:\n"
            "  voidsim --seed 7 --n 4 --byzantine 1 --faults all --trace seed-7.trace\n"
            "  voidsim --seeds 1..1000 --jobs 2 --quiet\n",
            VOID_SIM_N_MAX,
            (int)sizeof(strategy_names) - 2,
            strategy_names,
            (int)sizeof(fault_names) - 2,
            fault_names,
            REQUESTS_MAX,
            VOID_SIM_CLIENTS_MAX,
            VOID_PBFT_WINDOW_MAX,
            JOBS_MAX,
            PROGRESS_EVERY);
}

/* Parses "A..B" (A <= B; at most UINT64_MAX seeds, so that the count fits). */
static int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dots = strstr(s, "..");
    char left[32];
    size_t len = dots != NULL ? (size_t)(dots - s) : 0;
    if (dots == NULL || len == 0 || len >= sizeof(left)) {
        fprintf(stderr, "voidsim: --seeds must be A..B (got '%s')\n", s);
        return 2;
    }
    memcpy(left, s, len);
    left[len] = '\0';
    if (void_cli_u64("voidsim", "seeds", left, 0, UINT64_MAX, lo) != 0 ||
        void_cli_u64("voidsim", "seeds", dots + 2, 0, UINT64_MAX, hi) != 0) {
        return 2;
    }
    if (*lo > *hi) {
        fprintf(stderr, "voidsim: --seeds %s: the first seed is above the last\n", s);
        return 2;
    }
    if (*hi - *lo == UINT64_MAX) {
        fprintf(stderr, "voidsim: --seeds covers at most %" PRIu64 " seeds\n", UINT64_MAX);
        return 2;
    }
    return 0;
}

static void note_flag(struct options *o, const char *flag, const char *value)
{
    size_t used = strlen(o->replay_flags);
    snprintf(o->replay_flags + used,
             sizeof(o->replay_flags) - used,
             " --%s%s%s",
             flag,
             value != NULL ? " " : "",
             value != NULL ? value : "");
}

enum {
    OPT_SEED = 256,
    OPT_SEEDS,
    OPT_JOBS,
    OPT_TRACE,
    OPT_QUIET,
    OPT_NO_VERIFY,
    OPT_NO_VERIFY_HONEST,
    OPT_NO_SIG_MEMO,
    OPT_N,
    OPT_BYZANTINE,
    OPT_FAULTS,
    OPT_STRATEGIES,
    OPT_REQUESTS,
    OPT_CLIENTS,
    OPT_PIPELINE,
    OPT_WINDOW,
    OPT_RESTART_BACKUP,
    OPT_NO_READ_ONLY,
    OPT_NO_REJOIN_BEACON,
    OPT_MEMBER_CHANGES,
    OPT_AUTO_REMOVE,
    OPT_TASKS,
    OPT_VERSION,
};

static const struct option long_options[] = {
    {"seed", required_argument, NULL, OPT_SEED},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"no-verify-honest", no_argument, NULL, OPT_NO_VERIFY_HONEST},
    {"no-sig-memo", no_argument, NULL, OPT_NO_SIG_MEMO},
    {"n", required_argument, NULL, OPT_N},
    {"byzantine", required_argument, NULL, OPT_BYZANTINE},
    {"faults", required_argument, NULL, OPT_FAULTS},
    {"strategies", required_argument, NULL, OPT_STRATEGIES},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"restart-backup", no_argument, NULL, OPT_RESTART_BACKUP},
    {"no-read-only", no_argument, NULL, OPT_NO_READ_ONLY},
    {"no-rejoin-beacon", no_argument, NULL, OPT_NO_REJOIN_BEACON},
    {"member-changes", no_argument, NULL, OPT_MEMBER_CHANGES},
    {"auto-remove", no_argument, NULL, OPT_AUTO_REMOVE},
    {"tasks", no_argument, NULL, OPT_TASKS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Applies one option getopt_long returned (ch, with optarg). Returns 0, or 2
 * for a usage error (message printed). */
static int apply_option(struct options *o, int ch, const char *value)
{
    const char *name = "?";
    for (const struct option *lo = long_options; lo->name != NULL; lo++) {
        if (lo->val == ch) {
            name = lo->name;
        }
    }
    switch (ch) {
    case OPT_SEED:
        o->seed_given = 1;
        o->campaign = 0;
        if (void_cli_u64("voidsim", name, value, 0, UINT64_MAX, &o->seed_lo) != 0) {
            return 2;
        }
        o->seed_hi = o->seed_lo;
        return 0;
    case OPT_SEEDS:
        o->seed_given = 1;
        o->campaign = 1;
        return parse_range(value, &o->seed_lo, &o->seed_hi);
    case OPT_JOBS:
        return void_cli_u32("voidsim", name, value, 1, JOBS_MAX, &o->jobs);
    case OPT_TRACE:
        o->trace_path = value;
        return 0;
    case OPT_QUIET:
        o->quiet = 1;
        return 0;
    case OPT_NO_VERIFY:
        o->have_verify = 1;
        o->fixed.verify_signatures = 0;
        note_flag(o, name, NULL);
        return 0;
    case OPT_NO_VERIFY_HONEST:
        o->no_verify_honest = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_NO_SIG_MEMO:
        o->no_sig_memo = 1;
        return 0;
    case OPT_N:
        o->have_n = 1;
        note_flag(o, name, value);
        if (void_cli_u32("voidsim", name, value, 4, VOID_SIM_N_MAX, &o->fixed.n) != 0) {
            return 2;
        }
        return 0;
    case OPT_BYZANTINE:
        o->have_byz = 1;
        note_flag(o, name, value);
        return void_cli_u32("voidsim", name, value, 0, BYZANTINE_MAX, &o->fixed.byzantine);
    case OPT_FAULTS:
        o->have_faults = 1;
        note_flag(o, name, value);
        if (void_sim_parse_faults(value, &o->fixed.faults) != 0) {
            fprintf(stderr, "voidsim: bad value '%s' for --faults (see voidsim --help)\n", value);
            return 2;
        }
        return 0;
    case OPT_STRATEGIES:
        o->have_strategies = 1;
        note_flag(o, name, value);
        if (void_sim_parse_strategies(value, &o->fixed.strategies) != 0) {
            fprintf(stderr, "voidsim: bad value '%s' for --strategies (see voidsim --help)\n", value);
            return 2;
        }
        return 0;
    case OPT_REQUESTS:
        o->have_requests = 1;
        note_flag(o, name, value);
        return void_cli_u32("voidsim", name, value, 0, REQUESTS_MAX, &o->fixed.requests);
    case OPT_CLIENTS:
        o->have_clients = 1;
        note_flag(o, name, value);
        return void_cli_u32("voidsim", name, value, 1, VOID_SIM_CLIENTS_MAX, &o->fixed.clients);
    case OPT_PIPELINE:
        o->have_pipeline = 1;
        note_flag(o, name, value);
        return void_cli_u32("voidsim", name, value, 0, VOID_PBFT_WINDOW_MAX, &o->fixed.pipeline);
    case OPT_WINDOW: {
        uint32_t ms = 0;
        note_flag(o, name, value);
        int rc = void_cli_u32("voidsim", name, value, 100, 600000, &ms);
        o->fixed.fault_window_ns = (uint64_t)ms * 1000000u;
        return rc;
    }
    case OPT_RESTART_BACKUP:
        o->fixed.restart_backup = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_NO_READ_ONLY:
        o->fixed.no_read_only = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_MEMBER_CHANGES:
        o->fixed.member_changes = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_AUTO_REMOVE:
        o->fixed.auto_remove = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_TASKS:
        o->fixed.tasks = 1;
        note_flag(o, name, NULL);
        return 0;
    case OPT_NO_REJOIN_BEACON:
        o->fixed.rejoin_beacon = -1;
        note_flag(o, name, NULL);
        return 0;
    default:
        VOID_ASSERT(0 && "an option without a case");
        return 2;
    }
}

/* Checks the options against each other once all are in. Returns 0 or 2. */
static int check_options(const struct options *o)
{
    if (o->seed_given == 0) {
        fprintf(stderr, "voidsim: give --seed N or --seeds A..B\n");
        return 2;
    }
    if (o->campaign && o->trace_path != NULL) {
        fprintf(stderr, "voidsim: --trace needs a single --seed\n");
        return 2;
    }
    if (o->have_byz && o->have_n && o->fixed.byzantine > (o->fixed.n - 1) / 3) {
        fprintf(stderr,
                "voidsim: --byzantine must be 0..%u with --n %u (at most (n-1)/3)\n",
                (o->fixed.n - 1) / 3,
                o->fixed.n);
        return 2;
    }
    if (o->have_byz && !o->have_n && o->fixed.byzantine > 1) {
        /* A seed may draw n = 4, which tolerates one. */
        fprintf(stderr,
                "voidsim: --byzantine %u needs --n %u or more (a seed may draw n = 4)\n",
                o->fixed.byzantine,
                3 * o->fixed.byzantine + 1);
        return 2;
    }
    if (o->fixed.auto_remove && o->fixed.member_changes) {
        fprintf(stderr, "voidsim: --auto-remove and --member-changes cannot be combined yet\n");
        return 2;
    }
    if (o->have_verify && o->have_byz && o->fixed.byzantine > 0) {
        fprintf(stderr, "voidsim: --no-verify is for honest runs only (not with --byzantine above 0)\n");
        return 2;
    }
    return 0;
}

/* Why void_sim_run refused a seed's configuration (VOID_EINVAL): the one
 * combination the options cannot rule out alone is a seed drawing Byzantine
 * replicas under --no-verify. */
static void print_invalid(uint64_t seed, const struct void_sim_config *c)
{
    if (c->byzantine > 0 && !c->verify_signatures) {
        fprintf(stderr,
                "voidsim: seed %" PRIu64 " draws Byzantine replicas (%u), and they need signature "
                "verification: drop --no-verify, add --byzantine 0, or use --no-verify-honest\n",
                seed,
                c->byzantine);
    } else {
        fprintf(stderr,
                "voidsim: seed %" PRIu64 ": invalid configuration (n=%u byzantine=%u clients=%u)\n",
                seed,
                c->n,
                c->byzantine,
                c->clients);
    }
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
    c->no_read_only = o->fixed.no_read_only;
    c->member_changes = o->fixed.member_changes;
    c->auto_remove = o->fixed.auto_remove;
    if (c->auto_remove && c->byzantine > 0) {
        c->strategies |= 1u << VOID_SIM_BYZ_SUSPECT_BIT; /* false suspicions in every such run */
    }
    c->tasks = o->fixed.tasks;
    c->rejoin_beacon = o->fixed.rejoin_beacon;
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
    char members[160] = "";
    if (c->auto_remove) {
        snprintf(members,
                 sizeof(members),
                 " epochs=%" PRIu64 " removed=%" PRIu64 " refused=%" PRIu64 " suspicions=%" PRIu64
                 " false=%" PRIu64 " not_member=%" PRIu64 " multi=%" PRIu64,
                 r->epoch_changes,
                 r->auto_removals,
                 r->certs_refused,
                 r->suspicions_signed,
                 r->suspicions_false,
                 r->not_member_dropped + r->heartbeats_dropped,
                 r->auto_removals_multi);
    } else if (c->tasks) {
        snprintf(members,
                 sizeof(members),
                 " tasks_placed=%" PRIu64 " task_checks=%" PRIu64,
                 r->tasks_placed,
                 r->task_checks);
    } else if (c->member_changes) {
        snprintf(members,
                 sizeof(members),
                 " epochs=%" PRIu64 " not_member=%" PRIu64,
                 r->epoch_changes,
                 r->not_member_dropped);
    }
    fprintf(out,
            "seed=%" PRIu64 " n=%u byz=%u[%s] faults=%s pipeline=%u hints=%d seq=%" PRIu64
            " view=%" PRIu64 " done=%" PRIu64 " pending=%" PRIu64 " vt=%.3fs trace=%016" PRIx64
            "%s %s\n",
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
            members,
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
    if (rc == VOID_EINVAL) {
        print_invalid(o->seed_lo, &c);
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
    printf("  read-only gets: %" PRIu64 " answered by a quorum, %" PRIu64 " ordered instead\n",
           r.reads_quorum,
           r.reads_ordered);
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
    uint64_t faults = 0, byzantine = 0, violations = 0, removals = 0;
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
        if (rec.rc == VOID_EINVAL) {
            print_invalid(rec.seed, &rec.config);
            broken = 1;
            continue;
        }
        if (rec.rc != 0) {
            fprintf(stderr, "voidsim: seed %" PRIu64 ": %s\n", rec.seed, void_strerror(rec.rc));
            broken = 1;
            continue;
        }
        faults += rec.result.faults_injected;
        removals += rec.result.auto_removals;
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
    printf("SIM runs=%" PRIu64 " faults=%" PRIu64 " byzantine=%" PRIu64 " violations=%" PRIu64,
           runs,
           faults,
           byzantine,
           violations);
    if (o->fixed.auto_remove) {
        printf(" auto_removals=%" PRIu64, removals);
    }
    printf("\n");
    if (broken) {
        return 2;
    }
    return violations == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* Each run allocates and frees several multi-megabyte replicas. With
     * glibc's dynamic thresholds, one seed that frees a large mmapped block
     * raises them, and from then on the heap is trimmed and faulted back in
     * on every run: a campaign range ran 3.5x slower (10,001..10,200: 25.5 s
     * against 7.3 s with these fixed; docs/simulator.md). Fixing both keeps
     * the memory of one run for the next. */
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    struct options o;
    memset(&o, 0, sizeof(o));
    opterr = 0; /* our messages, with the hint */
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 0;
        }
        if (ch == OPT_VERSION) {
            void_cli_version("voidsim");
            return 0;
        }
        if (ch == ':' || ch == '?') {
            return void_cli_bad_option("voidsim", ch, argv);
        }
        if (apply_option(&o, ch, optarg) != 0) {
            void_cli_hint("voidsim");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidsim: unexpected argument '%s'\n", argv[optind]);
        void_cli_hint("voidsim");
        return 2;
    }
    if (check_options(&o) != 0) {
        void_cli_hint("voidsim");
        return 2;
    }
    if (void_sign_global_init() != 0) {
        fprintf(stderr, "voidsim: libsodium failed to initialise\n");
        return 2;
    }
    return o.campaign ? run_campaign(&o) : run_single(&o);
}

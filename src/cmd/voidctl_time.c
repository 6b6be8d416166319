/*
 * voidctl time: the timekeeper from the command line.
 *
 * `voidctl time sources` is a one-shot query in the spirit of `chronyc
 * sources`: it runs the real NTP client (src/io/ntp_client.c) against the
 * given servers for a few polls, then prints what the discipline core made
 * of them: per server offset, delay, jitter, stratum, reach and selection
 * state, and the combined offset of the truechimers. `voidctl time watch`
 * keeps the same client running and prints one JSON status line at a time,
 * which is how the real-peer test watches failover. Neither touches any
 * clock.
 */
#include "cmd/voidctl.h"
#include "void/clockdisc.h"
#include "void/error.h"
#include "void/ntp_client.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SAMPLES_DEF     4
#define TIMEOUT_MS_DEF  1000
#define INTERVAL_MS_DEF 250

struct sources_opts {
    const char *servers[VOID_CLOCKDISC_SERVERS_MAX];
    uint32_t count_servers;
    int json;
    uint32_t samples;
    uint64_t timeout_ms;
    uint64_t interval_ms;
    uint64_t duration_ms; /* watch: 0 runs until SIGINT/SIGTERM */
    uint64_t report_ms;   /* watch: one status line per report_ms */
};

struct sources_run {
    struct sources_opts *opts;
    struct void_ntp_client client;
    uv_timer_t deadline;
    uv_timer_t report;           /* watch only */
    uv_signal_t sigint, sigterm; /* watch only */
    int watch;
    uint64_t start_ns;
    int stopping;
};

static void time_usage(FILE *out)
{
    fprintf(
        out,
        "usage: voidctl time sources --server HOST:PORT [--server HOST:PORT ...]\n"
        "                            [--json] [--samples N] [--timeout-ms T] [--interval-ms I]\n"
        "       voidctl time watch --server HOST:PORT [--server HOST:PORT ...]\n"
        "                            [--duration-ms D] [--report-ms R] [--timeout-ms T]\n"
        "                            [--interval-ms I]\n"
        "\n"
        "Queries each NTP server N times (default %d, at most %d), I ms apart (default %d),\n"
        "waiting up to T ms per reply (default %d), and prints per server the offset of\n"
        "the server relative to this machine's clock, round-trip delay, jitter, stratum,\n"
        "reach (octal register of answered polls) and selection state (truechimer,\n"
        "falseticker, no-majority, unreachable, denied), then the combined offset of the\n"
        "truechimers. HOST may be a name, an IPv4 address or [IPv6]; PORT defaults to 123.\n"
        "\n"
        "watch keeps the client running (polling every I ms, default %d) for D ms or\n"
        "until interrupted, and prints one JSON line every R ms (default 1000): the\n"
        "disciplined clock's correction and frequency, the combined offset and each\n"
        "server's state, as the daemon's timekeeper would see them.\n"
        "\n"
        "options:\n"
        "  --server HOST:PORT  an NTP server (repeat for several)\n"
        "  --samples N         queries per server (sources)\n"
        "  --interval-ms I     ms between queries\n"
        "  --timeout-ms T      ms to wait for each reply\n"
        "  --duration-ms D     how long watch runs (0: until interrupted)\n"
        "  --report-ms R       ms between watch's JSON lines\n"
        "  --json              sources: one JSON object\n"
        "\n"
        "Exit status: 0 with a combined offset; 1 if no server answered, the servers\n"
        "have no majority, or a name does not resolve; 2 on a usage error.\n"
        "\n"
        "example:\n"
        "  voidctl time sources --server pool.ntp.org:123 --server 127.0.0.1:11123\n",
        SAMPLES_DEF,
        VOID_CLOCKDISC_FILTER,
        INTERVAL_MS_DEF,
        TIMEOUT_MS_DEF,
        INTERVAL_MS_DEF);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses the options of sources/watch (argv[0] is the subcommand) with
 * getopt_long. Returns 0, or 2 after printing a usage error. */
static int parse_opts(int argc, char **argv, struct sources_opts *o)
{
    static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
                                             {"samples", required_argument, NULL, 'n'},
                                             {"timeout-ms", required_argument, NULL, 't'},
                                             {"interval-ms", required_argument, NULL, 'i'},
                                             {"duration-ms", required_argument, NULL, 'd'},
                                             {"report-ms", required_argument, NULL, 'r'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->samples = SAMPLES_DEF;
    o->timeout_ms = TIMEOUT_MS_DEF;
    o->interval_ms = INTERVAL_MS_DEF;
    o->report_ms = 1000;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        uint64_t n = 0;
        int ok = 1;
        if (c == 'j') {
            o->json = 1;
        } else if (c == 's') {
            if (o->count_servers == VOID_CLOCKDISC_SERVERS_MAX) {
                fprintf(stderr, "voidctl time: at most %d servers\n", VOID_CLOCKDISC_SERVERS_MAX);
                return 2;
            }
            o->servers[o->count_servers++] = optarg;
        } else if (c == 'n' && (ok = parse_u64(optarg, 1, VOID_CLOCKDISC_FILTER, &n) == 0)) {
            o->samples = (uint32_t)n;
        } else if (c == 't' && (ok = parse_u64(optarg, 1, 60000, &n) == 0)) {
            o->timeout_ms = n;
        } else if (c == 'i' && (ok = parse_u64(optarg, 10, 60000, &n) == 0)) {
            o->interval_ms = n;
        } else if (c == 'd' && (ok = parse_u64(optarg, 0, UINT32_MAX, &n) == 0)) {
            o->duration_ms = n;
        } else if (c == 'r' && (ok = parse_u64(optarg, 10, 3600000, &n) == 0)) {
            o->report_ms = n;
        } else {
            ok = 0;
        }
        if (!ok) {
            /* The option's own word: for `--opt VALUE` it is before the value. */
            int separate = c != '?' && c != ':' && optind >= 2 && argv[optind - 1] == optarg;
            const char *word = argv[optind - 1 - separate];
            size_t len = strcspn(word, "=");
            fprintf(stderr,
                    "voidctl time %s: bad or incomplete option '%.*s'\n",
                    argv[0],
                    (int)len,
                    word);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidctl time %s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return 2;
    }
    if (o->count_servers == 0) {
        fprintf(stderr, "voidctl time %s: give at least one --server HOST:PORT\n", argv[0]);
        return 2;
    }
    return 0;
}

/* A server is finished when its request budget is spent or it denied us. */
static int all_done(const struct sources_run *r)
{
    for (uint32_t i = 0; i < r->opts->count_servers; i++) {
        const struct void_ntp_client_server *s = &r->client.servers[i];
        uint64_t ended = s->count_accepted + s->count_timeouts + s->count_kod + s->count_unsync +
                         s->count_send_errors;
        if (ended < r->opts->samples && r->client.disc.servers[i].state != VOID_CLOCKDISC_DENIED) {
            return 0;
        }
    }
    return 1;
}

static void on_report(uv_timer_t *t);

static void stop(struct sources_run *r)
{
    if (r->stopping) {
        return;
    }
    r->stopping = 1;
    uv_close((uv_handle_t *)&r->deadline, NULL);
    if (r->watch) {
        on_report(&r->report); /* a last line with the final counters */
        uv_close((uv_handle_t *)&r->report, NULL);
        uv_close((uv_handle_t *)&r->sigint, NULL);
        uv_close((uv_handle_t *)&r->sigterm, NULL);
    }
    void_ntp_client_close(&r->client, NULL);
}

static void on_event(void *ctx, uint32_t server, int rc)
{
    struct sources_run *r = ctx;
    (void)server;
    (void)rc;
    if (!r->watch && all_done(r)) {
        stop(r);
    }
}

static void on_deadline(uv_timer_t *t)
{
    stop(t->data);
}

static const char *state_of(const struct sources_run *r, uint32_t i)
{
    const struct void_clockdisc_server *d = &r->client.disc.servers[i];
    if (d->state == VOID_CLOCKDISC_NONE && r->client.servers[i].count_accepted == 0) {
        return "unreachable";
    }
    return void_clockdisc_state_name(d->state);
}

static void address_of(const struct void_ntp_client_server *s, char *buf, size_t cap)
{
    if (s->addr.ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)(const void *)&s->addr, buf, cap);
    } else {
        uv_ip4_name((const struct sockaddr_in *)(const void *)&s->addr, buf, cap);
    }
}

static void print_table(const struct sources_run *r)
{
    const struct void_clockdisc *d = &r->client.disc;
    printf("%-12s %-24s %-16s %7s %5s %12s %11s %11s %7s\n",
           "State",
           "Server",
           "Address",
           "Stratum",
           "Reach",
           "Offset(us)",
           "Delay(us)",
           "Jitter(us)",
           "Replies");
    for (uint32_t i = 0; i < r->opts->count_servers; i++) {
        const struct void_ntp_client_server *s = &r->client.servers[i];
        const struct void_clockdisc_server *ds = &d->servers[i];
        char addr[64];
        address_of(s, addr, sizeof(addr));
        printf("%-12s %-24s %-16s %7u %5o",
               state_of(r, i),
               s->name,
               addr,
               (unsigned)ds->stratum,
               (unsigned)ds->reach);
        if (ds->count_filter > 0) {
            printf(" %+12.1f %11.1f %11.1f",
                   (double)ds->offset_ns / 1e3,
                   (double)ds->delay_ns / 1e3,
                   (double)ds->jitter_ns / 1e3);
        } else {
            printf(" %12s %11s %11s", "-", "-", "-");
        }
        printf(" %3llu/%-3llu\n",
               (unsigned long long)s->count_accepted,
               (unsigned long long)s->count_sent);
    }
    if (d->count_truechimers > 0) {
        printf("\nCombined offset: %+.1f us (%u truechimer%s of %u servers)\n",
               (double)d->combined_offset_ns / 1e3,
               d->count_truechimers,
               d->count_truechimers == 1 ? "" : "s",
               r->opts->count_servers);
    } else {
        printf("\nCombined offset: none (no majority of agreeing servers)\n");
    }
}

static json_t *server_json(const struct sources_run *r, uint32_t i)
{
    const struct void_ntp_client_server *s = &r->client.servers[i];
    const struct void_clockdisc_server *ds = &r->client.disc.servers[i];
    char addr[64];
    address_of(s, addr, sizeof(addr));
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I}",
                          "server",
                          s->name,
                          "address",
                          addr,
                          "state",
                          state_of(r, i),
                          "stratum",
                          (int)ds->stratum,
                          "reach",
                          (int)ds->reach,
                          "replies",
                          (json_int_t)s->count_accepted,
                          "sent",
                          (json_int_t)s->count_sent,
                          "malformed",
                          (json_int_t)s->count_malformed,
                          "unexpected",
                          (json_int_t)s->count_unexpected,
                          "kod",
                          (json_int_t)s->count_kod);
    json_object_set_new(o, "unsync", json_integer((json_int_t)s->count_unsync));
    json_object_set_new(o, "timeouts", json_integer((json_int_t)s->count_timeouts));
    json_object_set_new(
        o, "last_error", s->last_error ? json_string(void_err_name(s->last_error)) : json_null());
    int have = ds->count_filter > 0;
    json_object_set_new(o, "offset_ns", have ? json_integer(ds->offset_ns) : json_null());
    json_object_set_new(o, "delay_ns", have ? json_integer(ds->delay_ns) : json_null());
    json_object_set_new(o, "jitter_ns", have ? json_integer(ds->jitter_ns) : json_null());
    json_object_set_new(o, "root_distance_ns", have ? json_integer(ds->rootdist_ns) : json_null());
    return o;
}

static void print_json(const struct sources_run *r)
{
    const struct void_clockdisc *d = &r->client.disc;
    json_t *servers = json_array();
    for (uint32_t i = 0; i < r->opts->count_servers; i++) {
        json_array_append_new(servers, server_json(r, i));
    }
    json_t *root = json_object();
    json_object_set_new(root, "servers", servers);
    json_object_set_new(root, "truechimers", json_integer(d->count_truechimers));
    json_object_set_new(root,
                        "combined_offset_ns",
                        d->count_truechimers > 0 ? json_integer(d->combined_offset_ns)
                                                 : json_null());
    char *text = json_dumps(root, JSON_INDENT(2));
    if (text != NULL) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(root);
}

/* ---- watch ---------------------------------------------------------------- */

/* One compact JSON line: elapsed time, the disciplined clock and each
 * server's view, from the running client. */
static void on_report(uv_timer_t *t)
{
    struct sources_run *r = t->data;
    struct void_clockdisc *d = &r->client.disc;
    uint64_t sys = void_ntp_client_sys_now(&r->client);
    uint64_t virt = void_clockdisc_now(d, sys);
    json_t *servers = json_array();
    for (uint32_t i = 0; i < r->opts->count_servers; i++) {
        const struct void_clockdisc_server *ds = &d->servers[i];
        json_t *o = json_pack("{s:s, s:s, s:i}",
                              "server",
                              r->client.servers[i].name,
                              "state",
                              state_of(r, i),
                              "reach",
                              (int)ds->reach);
        json_object_set_new(
            o, "offset_ns", ds->count_filter > 0 ? json_integer(ds->offset_ns) : json_null());
        json_object_set_new(o, "sent", json_integer((json_int_t)r->client.servers[i].count_sent));
        json_object_set_new(
            o, "replies", json_integer((json_int_t)r->client.servers[i].count_accepted));
        json_array_append_new(servers, o);
    }
    json_t *root = json_pack("{s:I, s:I, s:f, s:i}",
                             "elapsed_ms",
                             (json_int_t)((sys - r->start_ns) / 1000000),
                             "correction_ns",
                             (json_int_t)((int64_t)virt - (int64_t)sys),
                             "freq_ppm",
                             void_clockdisc_freq_ppm(d),
                             "truechimers",
                             (int)d->count_truechimers);
    json_object_set_new(root,
                        "combined_offset_ns",
                        d->have_combined ? json_integer(d->combined_offset_ns) : json_null());
    json_object_set_new(root, "servers", servers);
    char *text = json_dumps(root, JSON_COMPACT);
    if (text != NULL) {
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }
    json_decref(root);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    stop(h->data);
}

/* Arms what only watch needs: the report timer and clean exit on signals. */
static void start_watch(struct sources_run *r, uv_loop_t *loop)
{
    r->start_ns = void_ntp_client_sys_now(&r->client);
    uv_timer_init(loop, &r->report);
    r->report.data = r;
    uv_timer_start(&r->report, on_report, r->opts->report_ms, r->opts->report_ms);
    uv_signal_init(loop, &r->sigint);
    uv_signal_init(loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
}

/* Prints the one-shot result and turns it into the exit status. */
static int report_sources(const struct sources_run *r)
{
    if (r->opts->json) {
        print_json(r);
    } else {
        print_table(r);
    }
    uint64_t answered = 0;
    for (uint32_t i = 0; i < r->opts->count_servers; i++) {
        answered += r->client.servers[i].count_accepted;
    }
    if (answered == 0) {
        fprintf(stderr, "voidctl time sources: %s\n", void_strerror(VOID_ENTP_NO_SOURCES));
        return 1;
    }
    if (r->client.disc.count_truechimers == 0) {
        fprintf(stderr,
                "voidctl time sources: the servers that answered do not agree "
                "(no majority)\n");
        return 1;
    }
    return 0;
}

static int run_sources(struct sources_opts *o, int watch)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct sources_run r; /* big (socket state per server): keep it off the stack */
    memset(&r, 0, sizeof(r));
    r.opts = o;
    r.watch = watch;
    struct void_ntp_client_config cfg = {.servers = o->servers,
                                         .count_servers = o->count_servers,
                                         .disc = {.poll_min_ns = o->interval_ms * 1000000ull,
                                                  .poll_max_ns = o->interval_ms * 1000000ull,
                                                  .unreach_polls = watch ? 0 : o->samples},
                                         .timeout_ms = o->timeout_ms,
                                         .on_event = on_event,
                                         .event_ctx = &r};
    int rc = void_ntp_client_init(&r.client, &loop, &cfg);
    if (rc != 0) {
        fprintf(stderr, "voidctl time sources: %s\n", void_strerror(rc));
        uv_loop_close(&loop);
        return rc == VOID_EPARSE || rc == VOID_EINVAL ? 2 : 1;
    }
    uv_timer_init(&loop, &r.deadline);
    r.deadline.data = &r;
    uint64_t deadline_ms = o->samples * o->interval_ms + o->timeout_ms + 500;
    if (watch) {
        start_watch(&r, &loop);
        deadline_ms = o->duration_ms;
    }
    if (deadline_ms > 0) {
        uv_timer_start(&r.deadline, on_deadline, deadline_ms, 0);
    }
    rc = void_ntp_client_start(&r.client);
    if (rc != 0) {
        fprintf(stderr, "voidctl time sources: cannot open sockets: %s\n", void_strerror(rc));
        stop(&r);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc != 0) {
        return 1;
    }
    if (watch) {
        return 0;
    }
    return report_sources(&r);
}

/* Names each server that failed to resolve or parse, for a clear message. */
static int check_servers(const struct sources_opts *o)
{
    for (uint32_t i = 0; i < o->count_servers; i++) {
        struct sockaddr_storage ss;
        int rc = void_ntp_client_resolve(o->servers[i], &ss);
        if (rc == VOID_EPARSE) {
            fprintf(stderr,
                    "voidctl time sources: cannot parse server address '%s' "
                    "(want HOST:PORT or [IPv6]:PORT)\n",
                    o->servers[i]);
            return 2;
        }
        if (rc != 0) {
            fprintf(stderr, "voidctl time sources: cannot resolve '%s'\n", o->servers[i]);
            return 1;
        }
    }
    return 0;
}

/* `sources` (watch 0) and `watch` (watch 1) share options and checks. */
static int cmd_run(int argc, char **argv, int watch)
{
    static struct sources_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc == 0) {
        rc = check_servers(&o);
    }
    return rc != 0 ? rc : run_sources(&o, watch);
}

int voidctl_time(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        time_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "sources") == 0 || strcmp(argv[1], "watch") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                time_usage(stdout);
                return 0;
            }
        }
        return cmd_run(argc - 1, argv + 1, strcmp(argv[1], "watch") == 0);
    }
    fprintf(stderr, "voidctl time: unknown subcommand '%s' (try voidctl time --help)\n", argv[1]);
    return 2;
}

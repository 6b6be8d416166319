/*
 * voidctl chaos: window statistics, the live summary of continuous mode and
 * the HTML report (voidctl_chaos_report.h, docs/chaos.md). The HTML page is
 * one file a browser opens offline: inline CSS and SVG, no script, no
 * external resource; it is also well-formed XML, so that tests check it
 * with an XML parser.
 */
#include "cmd/voidctl_chaos_report.h"

#include "void/assert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

void chaos_sort(double *v, size_t count)
{
    VOID_ASSERT(v != NULL || count == 0);
    if (count > 1) {
        qsort(v, count, sizeof(*v), cmp_double);
    }
}

double chaos_quantile(const double *sorted, size_t count, double p)
{
    VOID_ASSERT(p >= 0 && p <= 1);
    if (count == 0) {
        return -1;
    }
    /* Nearest rank: the smallest value with at least p of the values at or
     * below it. */
    size_t rank = (size_t)ceil(p * (double)count);
    rank = rank == 0 ? 1 : rank > count ? count : rank;
    return sorted[rank - 1];
}

void chaos_window_stats(const struct chaos_sample *s,
                        size_t count,
                        uint64_t from_ns,
                        uint64_t to_ns,
                        struct chaos_window *out)
{
    VOID_ASSERT(out != NULL);
    VOID_ASSERT(s != NULL || count == 0);
    memset(out, 0, sizeof(*out));
    out->p50_ms = out->p99_ms = out->max_ms = -1;
    if (to_ns <= from_ns) {
        return;
    }
    double *lat = malloc((count > 0 ? count : 1) * sizeof(*lat));
    if (lat == NULL) {
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (s[i].invoke_ns < from_ns || s[i].invoke_ns >= to_ns) {
            continue;
        }
        out->invoked++;
        if (s[i].ack_ns != 0 && s[i].ok && s[i].ack_ns >= s[i].invoke_ns) {
            lat[n++] = (double)(s[i].ack_ns - s[i].invoke_ns) / 1e6;
        }
    }
    out->acked = n;
    out->ops_per_s = (double)n / ((double)(to_ns - from_ns) / 1e9);
    chaos_sort(lat, n);
    out->p50_ms = chaos_quantile(lat, n, 0.50);
    out->p99_ms = chaos_quantile(lat, n, 0.99);
    out->max_ms = n > 0 ? lat[n - 1] : -1;
    free(lat);
}

/* ---- the live summary ------------------------------------------------------- */

int chaos_live_add(struct chaos_live *l, uint32_t fault, int survived, double recovery_s)
{
    VOID_ASSERT(l != NULL);
    l->experiments++;
    l->survived += survived ? 1u : 0u;
    if (fault < sizeof(l->by_kind) / sizeof(l->by_kind[0])) {
        l->by_kind[fault]++;
    }
    if (recovery_s < 0) {
        return 0;
    }
    if (l->count_recovery == l->cap_recovery) {
        size_t cap = l->cap_recovery ? 2 * l->cap_recovery : 64;
        double *r = realloc(l->recovery, cap * sizeof(*r));
        if (r == NULL) {
            return -1;
        }
        l->recovery = r;
        l->cap_recovery = cap;
    }
    l->recovery[l->count_recovery++] = recovery_s;
    return 0;
}

void chaos_live_print(FILE *out,
                      const struct chaos_live *l,
                      const char *const *names,
                      uint32_t kinds,
                      uint64_t acked,
                      double elapsed_s)
{
    VOID_ASSERT(out != NULL && l != NULL);
    char kinds_text[512] = "";
    size_t at = 0;
    for (uint32_t k = 0; k < kinds && k < 64 && at < sizeof(kinds_text); k++) {
        if (l->by_kind[k] == 0) {
            continue;
        }
        int m = snprintf(kinds_text + at,
                         sizeof(kinds_text) - at,
                         "%s%s %u",
                         at ? " " : "",
                         names[k],
                         (unsigned)l->by_kind[k]);
        at += m > 0 ? (size_t)m : 0;
    }
    double *r = malloc((l->count_recovery ? l->count_recovery : 1) * sizeof(*r));
    double p50 = -1, p99 = -1;
    if (r != NULL) {
        if (l->count_recovery > 0) {
            memcpy(r, l->recovery, l->count_recovery * sizeof(*r));
        }
        chaos_sort(r, l->count_recovery);
        p50 = chaos_quantile(r, l->count_recovery, 0.50);
        p99 = chaos_quantile(r, l->count_recovery, 0.99);
        free(r);
    }
    int tty = isatty(fileno(out));
    fprintf(out,
            "%schaos: %.0f s, %u experiments [%s], survived %u/%u, recovery p50 %.3f s "
            "p99 %.3f s, %llu writes acknowledged%s",
            tty ? "\r\033[K" : "",
            elapsed_s,
            (unsigned)l->experiments,
            kinds_text,
            (unsigned)l->survived,
            (unsigned)l->experiments,
            p50 < 0 ? 0.0 : p50,
            p99 < 0 ? 0.0 : p99,
            (unsigned long long)acked,
            tty ? "" : "\n");
    fflush(out);
}

void chaos_live_fini(struct chaos_live *l)
{
    free(l->recovery);
    memset(l, 0, sizeof(*l));
}

/* ---- HTML ------------------------------------------------------------------- */

int chaos_report_is_html(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".html") == 0) ||
           (n > 4 && strcmp(path + n - 4, ".htm") == 0);
}

/* Text with &, <, >, " escaped. */
static void esc(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static double jnum(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static int jbool(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

/* The run's fault list (the report's "faults"): a kind's colour is its
 * place in it, so that every kind of a run has its own, also kinds added
 * to the engine later. */
static const char *g_faults = "";

static const char *fault_colour(const char *name)
{
    static const char *const palette[] = {"#d62728",
                                          "#ff7f0e",
                                          "#1f77b4",
                                          "#9467bd",
                                          "#2ca02c",
                                          "#8c564b",
                                          "#e377c2",
                                          "#7f7f7f",
                                          "#bcbd22",
                                          "#17becf"};
    size_t len = strlen(name), k = 0;
    for (const char *at = g_faults; *at != '\0'; k++) {
        size_t w = strcspn(at, ",");
        if (w == len && strncmp(at, name, len) == 0) {
            break;
        }
        at += w + (at[w] == ',' ? 1 : 0);
    }
    return palette[k % (sizeof(palette) / sizeof(palette[0]))];
}

static void ms_cell(FILE *f, double ms)
{
    if (ms < 0) {
        fputs("<td>-</td>", f);
    } else {
        fprintf(f, "<td>%.1f</td>", ms);
    }
}

static void yes_cell(FILE *f, int yes)
{
    fprintf(f, "<td class=\"%s\">%s</td>", yes ? "yes" : "no", yes ? "yes" : "NO");
}

#define PLOT_W  960.0
#define PLOT_H  300.0
#define PLOT_L  60.0 /* left margin */
#define PLOT_T  20.0 /* top margin */
#define PLOT_B  36.0 /* bottom margin */
#define PLOT_R  20.0
#define COLUMNS 900 /* at most three points per column are drawn */

struct plot {
    double x_max_s;          /* the x axis: 0 .. x_max_s seconds */
    double y_lo_ms, y_hi_ms; /* the y axis, log scale */
};

static double px(const struct plot *p, double s)
{
    double w = PLOT_W - PLOT_L - PLOT_R;
    return PLOT_L + (s < 0 ? 0 : s > p->x_max_s ? p->x_max_s : s) / p->x_max_s * w;
}

static double py(const struct plot *p, double ms)
{
    double h = PLOT_H - PLOT_T - PLOT_B;
    double v = ms < p->y_lo_ms ? p->y_lo_ms : ms > p->y_hi_ms ? p->y_hi_ms : ms;
    double t = (log10(v) - log10(p->y_lo_ms)) / (log10(p->y_hi_ms) - log10(p->y_lo_ms));
    return PLOT_T + h - t * h;
}

/* The fault windows, shaded, with the fault's name above. */
static void shade_faults(FILE *f, const struct plot *p, const json_t *exps, double height)
{
    size_t i;
    json_t *e;
    double last_label = -1e9;
    json_array_foreach(exps, i, e)
    {
        double a = px(p, jnum(e, "start_s")), b = px(p, jnum(e, "end_s"));
        const char *name = jstr(e, "fault");
        fprintf(f,
                "<rect class=\"fault\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\" fill-opacity=\"0.18\"><title>",
                a,
                PLOT_T,
                b - a > 1 ? b - a : 1,
                height - PLOT_T - PLOT_B,
                fault_colour(name));
        fprintf(f, "experiment %d: ", (int)jnum(e, "experiment"));
        esc(f, jstr(e, "plan"));
        fputs("</title></rect>\n", f);
        /* Names only where they do not overlap (long runs: the colours and
         * the fault table say which is which). */
        if (a - last_label < 48) {
            continue;
        }
        last_label = a;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\">",
                a + 1,
                PLOT_T - 4,
                fault_colour(name));
        esc(f, name);
        fputs("</text>\n", f);
    }
}

static void x_axis(FILE *f, const struct plot *p, double height)
{
    double y = height - PLOT_B;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            PLOT_L,
            y,
            PLOT_W - PLOT_R,
            y);
    /* Ticks 1, 2, 5, 10, 20, 50 ... seconds apart: at most 12 of them. */
    double step = 1;
    for (int k = 0; p->x_max_s / step > 12; k++) {
        step *= k % 3 == 1 ? 2.5 : 2;
    }
    for (double s = 0; s <= p->x_max_s + 1e-9; s += step) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%g</text>\n",
                px(p, s),
                y + 14,
                s);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">seconds since "
            "the run began</text>\n",
            (PLOT_L + PLOT_W - PLOT_R) / 2,
            y + 30);
}

/* Latency of every write over time (log scale), drawn as dots, at most
 * three per pixel column (its fastest, median and slowest), writes never
 * acknowledged as red ticks at the top. */
static void latency_plot(FILE *f,
                         const struct plot *p,
                         const json_t *exps,
                         const struct chaos_sample *s,
                         size_t count,
                         uint64_t start_ns)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"latency-plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            PLOT_W,
            PLOT_H,
            PLOT_W,
            PLOT_H);
    shade_faults(f, p, exps, PLOT_H);
    for (double ms = p->y_lo_ms; ms <= p->y_hi_ms * 1.0001; ms *= 10) {
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%g ms</text>\n",
                PLOT_L,
                py(p, ms),
                PLOT_W - PLOT_R,
                py(p, ms),
                PLOT_L - 4,
                py(p, ms) + 3,
                ms);
    }
    x_axis(f, p, PLOT_H);
    /* Per column: the acknowledged writes' latencies. */
    double *col_lat = malloc((count > 0 ? count : 1) * sizeof(*col_lat));
    if (col_lat == NULL) {
        fputs("</svg>\n", f);
        return;
    }
    fputs("<path class=\"acked\" stroke=\"#1f3b73\" stroke-width=\"2.2\" "
          "stroke-linecap=\"round\" fill=\"none\" d=\"",
          f);
    /* Samples are in invocation order, so a column's samples are
     * consecutive. */
    size_t i = 0;
    while (i < count) {
        double x0 = (double)(s[i].invoke_ns - (s[i].invoke_ns >= start_ns ? start_ns : 0)) / 1e9;
        uint32_t col = (uint32_t)((px(p, x0) - PLOT_L) / (PLOT_W - PLOT_L - PLOT_R) * COLUMNS);
        size_t n = 0, j = i;
        for (; j < count; j++) {
            double xs =
                (double)(s[j].invoke_ns - (s[j].invoke_ns >= start_ns ? start_ns : 0)) / 1e9;
            uint32_t cj = (uint32_t)((px(p, xs) - PLOT_L) / (PLOT_W - PLOT_L - PLOT_R) * COLUMNS);
            if (cj != col) {
                break;
            }
            if (s[j].ack_ns != 0 && s[j].ok && s[j].ack_ns >= s[j].invoke_ns) {
                col_lat[n++] = (double)(s[j].ack_ns - s[j].invoke_ns) / 1e6;
            }
        }
        chaos_sort(col_lat, n);
        double x = px(p, x0);
        if (n > 0) {
            fprintf(f, "M%.1f %.1fh0.1", x, py(p, col_lat[0]));
        }
        if (n > 2) {
            fprintf(f, "M%.1f %.1fh0.1", x, py(p, col_lat[n / 2]));
        }
        if (n > 1) {
            fprintf(f, "M%.1f %.1fh0.1", x, py(p, col_lat[n - 1]));
        }
        i = j > i ? j : i + 1;
    }
    fputs("\"/>\n<path class=\"unacked\" stroke=\"#d62728\" stroke-width=\"1.5\" "
          "fill=\"none\" d=\"",
          f);
    for (size_t k = 0; k < count; k++) {
        if (s[k].ack_ns == 0 || !s[k].ok) {
            double x = (double)(s[k].invoke_ns - (s[k].invoke_ns >= start_ns ? start_ns : 0)) / 1e9;
            fprintf(f, "M%.1f %.1fv6", px(p, x), PLOT_T);
        }
    }
    fputs("\"/>\n</svg>\n", f);
    free(col_lat);
}

/* Acknowledged writes per second over time, one bin per second (longer
 * bins on long runs, at most 600). */
static void throughput_plot(FILE *f,
                            const struct plot *p,
                            const json_t *exps,
                            const struct chaos_sample *s,
                            size_t count,
                            uint64_t start_ns)
{
    double h = 200;
    double bin = 1;
    while (p->x_max_s / bin > 600) {
        bin *= 2;
    }
    size_t bins = (size_t)ceil(p->x_max_s / bin) + 1;
    double *acks = calloc(bins, sizeof(*acks));
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"throughput-plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            PLOT_W,
            h,
            PLOT_W,
            h);
    if (acks == NULL) {
        fputs("</svg>\n", f);
        return;
    }
    shade_faults(f, p, exps, h);
    x_axis(f, p, h);
    double top = 1;
    for (size_t k = 0; k < count; k++) {
        if (s[k].ack_ns != 0 && s[k].ok && s[k].ack_ns >= start_ns) {
            size_t b = (size_t)((double)(s[k].ack_ns - start_ns) / 1e9 / bin);
            if (b < bins) {
                acks[b] += 1 / bin;
                top = acks[b] > top ? acks[b] : top;
            }
        }
    }
    double inner = h - PLOT_T - PLOT_B;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.0f/s</text>"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">0</text>\n",
            PLOT_L - 4,
            PLOT_T + 3,
            top,
            PLOT_L - 4,
            PLOT_T + inner);
    fputs("<polyline class=\"throughput\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"1.5\" "
          "points=\"",
          f);
    for (size_t b = 0; b < bins; b++) {
        fprintf(f,
                "%s%.1f,%.1f",
                b ? " " : "",
                px(p, ((double)b + 0.5) * bin),
                PLOT_T + inner - acks[b] / top * inner);
    }
    fputs("\"/>\n</svg>\n", f);
    free(acks);
}

static void experiments_table(FILE *f, const json_t *exps)
{
    fputs("<table id=\"experiment-table\">\n<tr><th>#</th><th>fault</th><th>plan</th>"
          "<th>node</th><th>fault window s</th><th>writes ok/failed</th>"
          "<th>lin ok/pending</th><th>writes/s during</th><th>p50/p99 ms during</th>"
          "<th>writes/s after</th><th>p50/p99 ms after</th><th>recovery s</th>"
          "<th>linearizable</th><th>recovered</th><th>nodes up</th><th>acked present</th>"
          "<th>states equal</th><th>survived</th></tr>\n",
          f);
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        const json_t *v = json_object_get(e, "verdicts");
        fprintf(f, "<tr><td>%d</td><td>", (int)jnum(e, "experiment"));
        esc(f, jstr(e, "fault"));
        fputs("</td><td>", f);
        esc(f, jstr(e, "plan"));
        fprintf(f,
                "</td><td>%d%s</td><td>%.1f-%.1f</td><td>%lld/%lld</td><td>%lld/%lld</td>"
                "<td>%.1f</td>",
                (int)jnum(e, "node"),
                jbool(e, "node_was_primary") ? " (P)" : "",
                jnum(e, "start_s"),
                jnum(e, "end_s"),
                (long long)jnum(e, "writes_ok"),
                (long long)jnum(e, "writes_failed"),
                (long long)jnum(e, "lin_completed"),
                (long long)jnum(e, "lin_pending"),
                jnum(e, "throughput_during"));
        fputs("<td>", f);
        fprintf(f, "%.1f / %.1f", jnum(e, "p50_during_ms"), jnum(e, "p99_during_ms"));
        fprintf(f, "</td><td>%.1f</td><td>", jnum(e, "throughput_after"));
        fprintf(f, "%.1f / %.1f", jnum(e, "p50_after_ms"), jnum(e, "p99_after_ms"));
        fputs("</td>", f);
        double r = jnum(e, "recovery_s");
        if (r < 0) {
            fputs("<td class=\"no\">none</td>", f);
        } else {
            fprintf(f, "<td>%.3f</td>", r);
        }
        yes_cell(f, jbool(v, "linearizable"));
        yes_cell(f, jbool(v, "recovered"));
        yes_cell(f, jbool(v, "nodes_up"));
        yes_cell(f, jbool(v, "acknowledged_writes_present"));
        yes_cell(f, jbool(v, "replica_states_equal"));
        yes_cell(f, jbool(e, "survived"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Faults by kind with their recovery p50/p99. */
static void faults_table(FILE *f, const json_t *exps)
{
    const char *names[64];
    uint32_t kinds = 0;
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        const char *n = jstr(e, "fault");
        uint32_t k = 0;
        while (k < kinds && strcmp(names[k], n) != 0) {
            k++;
        }
        if (k == kinds && kinds < 64) {
            names[kinds++] = n;
        }
    }
    fputs("<table id=\"fault-table\">\n<tr><th>fault</th><th>experiments</th><th>survived</th>"
          "<th>recovery p50 s</th><th>recovery p99 s</th><th>writes/s during</th>"
          "<th>p99 ms during</th></tr>\n",
          f);
    double *rec = malloc((json_array_size(exps) + 1) * sizeof(*rec));
    for (uint32_t k = 0; k < kinds && rec != NULL; k++) {
        size_t n = 0, count = 0, survived = 0;
        double tput = 0, p99 = -1;
        json_array_foreach(exps, i, e)
        {
            if (strcmp(jstr(e, "fault"), names[k]) != 0) {
                continue;
            }
            count++;
            survived += jbool(e, "survived") ? 1u : 0u;
            tput += jnum(e, "throughput_during") > 0 ? jnum(e, "throughput_during") : 0;
            p99 = jnum(e, "p99_during_ms") > p99 ? jnum(e, "p99_during_ms") : p99;
            if (jnum(e, "recovery_s") >= 0) {
                rec[n++] = jnum(e, "recovery_s");
            }
        }
        chaos_sort(rec, n);
        fprintf(f,
                "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>",
                fault_colour(names[k]));
        esc(f, names[k]);
        fprintf(f,
                "</td><td>%zu</td><td>%zu</td><td>%.3f</td><td>%.3f</td><td>%.1f</td>",
                count,
                survived,
                chaos_quantile(rec, n, 0.5),
                chaos_quantile(rec, n, 0.99),
                count ? tput / (double)count : 0.0);
        ms_cell(f, p99);
        fputs("</tr>\n", f);
    }
    free(rec);
    fputs("</table>\n<p class=\"note\">writes/s during: the mean over the kind's experiments; "
          "p99 ms during: the worst of them.</p>\n",
          f);
}

static void check_row(FILE *f, const char *name, int yes, const char *note)
{
    fputs("<tr><td>", f);
    esc(f, name);
    fputs("</td>", f);
    yes_cell(f, yes);
    fputs("<td>", f);
    esc(f, note);
    fputs("</td></tr>\n", f);
}

static void checks_table(FILE *f, const json_t *report)
{
    const json_t *c = json_object_get(report, "checks");
    const json_t *exps = json_object_get(report, "experiments");
    size_t i, lin = 0, rec = 0, up = 0, n = json_array_size(exps);
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        const json_t *v = json_object_get(e, "verdicts");
        lin += jbool(v, "linearizable") ? 1u : 0u;
        rec += jbool(v, "recovered") ? 1u : 0u;
        up += jbool(v, "nodes_up") ? 1u : 0u;
    }
    char note[128];
    fputs("<table id=\"checker-table\">\n<tr><th>checker</th><th>verdict</th><th>detail</th>"
          "</tr>\n",
          f);
    snprintf(note, sizeof(note), "%zu of %zu experiments' histories linearizable", lin, n);
    check_row(f, "linearizable (voidload lin)", lin == n, note);
    snprintf(note, sizeof(note), "%zu of %zu experiments committed again within the bound", rec, n);
    check_row(f, "recovered", rec == n, note);
    snprintf(note, sizeof(note), "%zu of %zu experiments ended with every node running", up, n);
    check_row(f, "nodes up", up == n && jbool(c, "nodes_up"), note);
    check_row(f,
              "acknowledged writes present",
              jbool(c, "acknowledged_writes_present"),
              jstr(c, "present"));
    check_row(f, "replica states equal", jbool(c, "replica_states_equal"), jstr(c, "states"));
    size_t quorum = 0, acks = 0;
    json_array_foreach(exps, i, e)
    {
        quorum += jbool(json_object_get(e, "verdicts"), "quorum_respected") ? 1u : 0u;
        acks += jnum(e, "acks_without_quorum") > 0 ? (size_t)jnum(e, "acks_without_quorum") : 0;
    }
    snprintf(note,
             sizeof(note),
             "%zu writes acknowledged while no side of a partition held a quorum",
             acks);
    check_row(f, "quorum respected", quorum == n, note);
    fputs("</table>\n", f);
}

static void findings(FILE *f, const json_t *report)
{
    const json_t *c = json_object_get(report, "checks");
    const json_t *exps = json_object_get(report, "experiments");
    fputs("<ul id=\"findings\">\n", f);
    int any = 0;
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        if (jbool(e, "survived")) {
            continue;
        }
        const json_t *v = json_object_get(e, "verdicts");
        any = 1;
        fprintf(f, "<li>experiment %d (", (int)jnum(e, "experiment"));
        esc(f, jstr(e, "plan"));
        fputs("):", f);
        const char *keys[] = {"quorum_respected",
                              "linearizable",
                              "recovered",
                              "nodes_up",
                              "acknowledged_writes_present",
                              "replica_states_equal"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (!jbool(v, keys[k])) {
                fprintf(f, " %s failed;", keys[k]);
            }
        }
        if (!jbool(v, "linearizable")) {
            fputs(" ", f);
            esc(f, jstr(e, "lin"));
        }
        fputs("</li>\n", f);
    }
    if (!jbool(c, "acknowledged_writes_present")) {
        any = 1;
        fputs("<li>acknowledged writes lost: ", f);
        esc(f, jstr(c, "present"));
        fputs("</li>\n", f);
    }
    if (!jbool(c, "replica_states_equal")) {
        any = 1;
        fputs("<li>replicas diverged or lag: ", f);
        esc(f, jstr(c, "states"));
        fputs("</li>\n", f);
    }
    if (!any) {
        fputs("<li>No anomaly: every checker passed on every experiment.</li>\n", f);
    }
    fputs("</ul>\n", f);
}

int chaos_html_write(const char *path,
                     const json_t *report,
                     const struct chaos_sample *samples,
                     size_t count,
                     uint64_t run_start_ns)
{
    VOID_ASSERT(path != NULL && report != NULL);
    VOID_ASSERT(samples != NULL || count == 0);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "voidctl chaos: cannot write --report %s\n", path);
        return -1;
    }
    const json_t *exps = json_object_get(report, "experiments");
    const json_t *c = json_object_get(report, "checks");
    int survived = jbool(report, "survived");
    g_faults = jstr(report, "faults");
    struct plot p = {.x_max_s = 1, .y_lo_ms = 1, .y_hi_ms = 1000};
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        p.x_max_s = jnum(e, "window_end_s") > p.x_max_s ? jnum(e, "window_end_s") : p.x_max_s;
    }
    double worst = 0;
    for (size_t k = 0; k < count; k++) {
        if (samples[k].ack_ns > samples[k].invoke_ns && samples[k].ok) {
            double ms = (double)(samples[k].ack_ns - samples[k].invoke_ns) / 1e6;
            worst = ms > worst ? ms : worst;
        }
    }
    while (p.y_hi_ms < worst && p.y_hi_ms < 1e6) {
        p.y_hi_ms *= 10;
    }
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
          "<meta charset=\"utf-8\"/>\n<title>Void chaos report, seed ",
          f);
    fprintf(f, "%lld</title>\n", (long long)jnum(report, "seed"));
    fputs("<style>\nbody{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\n"
          "table{border-collapse:collapse;margin:0.5em 0 1em}\n"
          "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}\n"
          "th{background:#f3f3f3}\ntd.yes{color:#176117}\n"
          "td.no{color:#fff;background:#c0392b;font-weight:bold}\n"
          ".verdict{font-size:20px;font-weight:bold;padding:6px 10px;display:inline-block}\n"
          ".verdict.ok{background:#dff0d8;color:#176117}\n"
          ".verdict.bad{background:#c0392b;color:#fff}\n"
          ".swatch{display:inline-block;width:10px;height:10px;margin-right:4px}\n"
          ".note{font-size:12px;color:#555}\n</style>\n</head>\n<body>\n",
          f);
    fputs("<h1>Void chaos report</h1>\n", f);
    fprintf(f,
            "<p id=\"verdict\" class=\"verdict %s\">%s</p>\n",
            survived ? "ok" : "bad",
            survived ? "Survived: every checker passed on every experiment"
                     : "FAILED: a checker found a violation (see Findings)");
    size_t n = json_array_size(exps), ok = 0;
    double *rec = malloc((n + 1) * sizeof(*rec));
    size_t nrec = 0;
    json_array_foreach(exps, i, e)
    {
        ok += jbool(e, "survived") ? 1u : 0u;
        if (rec != NULL && jnum(e, "recovery_s") >= 0) {
            rec[nrec++] = jnum(e, "recovery_s");
        }
    }
    chaos_sort(rec, rec != NULL ? nrec : 0);
    fputs("<h2>Run</h2>\n<table id=\"run-table\">\n<tr><th>seed</th><td>", f);
    fprintf(f, "%lld</td></tr>\n<tr><th>mode</th><td>", (long long)jnum(report, "seed"));
    esc(f, jstr(report, "mode"));
    fputs("</td></tr>\n<tr><th>faults</th><td>", f);
    esc(f, jstr(report, "faults"));
    fputs("</td></tr>\n<tr><th>cluster</th><td>", f);
    esc(f, jstr(report, "cluster"));
    fprintf(f,
            " (%d nodes)</td></tr>\n<tr><th>interval, fault held</th><td>%.1f s, %.1f s</td></tr>\n"
            "<tr><th>experiments survived</th><td>%zu of %zu</td></tr>\n"
            "<tr><th>recovery p50 / p99</th><td>%.3f s / %.3f s (%zu measured)</td></tr>\n"
            "<tr><th>writes acknowledged</th><td>%lld (read back: %lld)</td></tr>\n</table>\n",
            (int)jnum(report, "nodes"),
            jnum(report, "interval_s"),
            jnum(report, "fault_s"),
            ok,
            n,
            rec != NULL ? chaos_quantile(rec, nrec, 0.5) : -1,
            rec != NULL ? chaos_quantile(rec, nrec, 0.99) : -1,
            nrec,
            (long long)jnum(c, "acknowledged"),
            (long long)jnum(c, "read_back"));
    free(rec);
    fputs("<h2>Workload</h2>\n<p id=\"workload\">A writer (one client, one put at a time, 20 ms "
          "apart) puts unique keys and records when each was sent and acknowledged; every "
          "acknowledged one is read back through a quorum at the end. In each experiment's "
          "window a <code>voidload lin</code> process runs reads, writes and compare-and-sets "
          "on four keys and its history is checked linearizable. Throughput and latency below "
          "are the writer's: a write's latency is from its send to its acknowledgement.</p>\n",
          f);
    fputs("<h2>Checker verdicts</h2>\n", f);
    checks_table(f, report);
    fputs("<h2>Latency under faults</h2>\n<p class=\"note\">Each dot a write's latency (log "
          "scale; per pixel column its fastest, median and slowest), red ticks at the top "
          "writes never acknowledged, shaded bands the fault windows (hover for the "
          "plan).</p>\n",
          f);
    latency_plot(f, &p, exps, samples, count, run_start_ns);
    fputs("<h3>Acknowledged writes per second</h3>\n", f);
    throughput_plot(f, &p, exps, samples, count, run_start_ns);
    fputs("<h2>Faults</h2>\n", f);
    faults_table(f, exps);
    fputs("<h2>Experiments</h2>\n", f);
    experiments_table(f, exps);
    fputs("<h2>Findings</h2>\n", f);
    findings(f, report);
    fputs("</body>\n</html>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "voidctl chaos: cannot write --report %s\n", path);
        return -1;
    }
    return 0;
}

/*
 * Command-line helpers shared by voidd, voidsim and voidload: the version
 * they print, and option values parsed in full against their limits. A value
 * out of range is refused with a message naming the option and the limit
 * ("voidload: --clients must be 1..128 (got 129)") rather than wrapped or
 * truncated into a narrower integer, which strtoul-and-cast used to do
 * (4294967297 clients became 1).
 *
 * Header-only (static inline) because each binary is built from its own
 * sources (CMakeLists.txt: src/cmd/<bin>.c plus src/cmd/<bin>_*.c).
 */
#ifndef VOID_CMD_CLI_H
#define VOID_CMD_CLI_H

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOID_CLI_VERSION "0.1.0"

/* The exit status of a usage error, for every binary (docs/operations.md). */
#define VOID_CLI_USAGE 2

static inline void void_cli_version(const char *prog)
{
    printf("%s %s\n", prog, VOID_CLI_VERSION);
}

/* Prints the one-line hint that follows every usage error. */
static inline void void_cli_hint(const char *prog)
{
    fprintf(stderr, "%s: try '%s --help'\n", prog, prog);
}

/* Reports the option getopt_long (with opterr = 0 and an optstring that
 * starts with ':') refused as ch ('?' unknown, ':' missing value), then the
 * hint. Returns VOID_CLI_USAGE. */
static inline int void_cli_bad_option(const char *prog, int ch, char *const *argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) == 0) {
        const char *eq = strchr(arg, '=');
        if (ch == ':') {
            fprintf(stderr, "%s: option '%s' needs a value\n", prog, arg);
        } else if (eq != NULL && optopt != 0) {
            fprintf(stderr, "%s: option '%.*s' takes no value\n", prog, (int)(eq - arg), arg);
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, arg);
        }
    } else if (ch == ':') {
        fprintf(stderr, "%s: option '-%c' needs a value\n", prog, optopt);
    } else {
        fprintf(stderr, "%s: unknown option '-%c'\n", prog, optopt);
    }
    void_cli_hint(prog);
    return VOID_CLI_USAGE;
}

/* Parses text as a decimal integer in lo..hi into *out. Returns 0, or prints
 * "PROG: --OPT must be LO..HI (got TEXT)" (or "... is not a number") and
 * returns VOID_CLI_USAGE; *out is untouched then. */
static inline int
void_cli_u64(const char *prog, const char *opt, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    /* strtoull would skip blanks and negate a '-' ("-1" is 2^64 - 1). */
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (end == NULL || *end != '\0') {
        fprintf(stderr,
                "%s: --%s must be a number in %" PRIu64 "..%" PRIu64 " (got '%s')\n",
                prog,
                opt,
                lo,
                hi,
                text);
        return VOID_CLI_USAGE;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "%s: --%s must be %" PRIu64 "..%" PRIu64 " (got %s)\n", prog, opt, lo, hi, text);
        return VOID_CLI_USAGE;
    }
    *out = v;
    return 0;
}

/* The same for a value stored in a uint32_t (hi must fit one). */
static inline int
void_cli_u32(const char *prog, const char *opt, const char *text, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v = 0;
    int rc = void_cli_u64(prog, opt, text, lo, hi, &v);
    if (rc == 0) {
        *out = (uint32_t)v;
    }
    return rc;
}

/* Parses text as a finite decimal number in (0, hi] seconds. */
static inline int void_cli_seconds(const char *prog, const char *opt, const char *text, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v) || !(v > 0) || v > hi) {
        fprintf(stderr,
                "%s: --%s must be a number of seconds above 0 and at most %.0f (got '%s')\n",
                prog,
                opt,
                hi,
                text);
        return VOID_CLI_USAGE;
    }
    *out = v;
    return 0;
}

#endif

/*
 * `voidctl store`: the command line of the local content-addressable store
 * (include/void/cas.h). Each verb opens the store, does one thing and
 * prints a line of text or, with --json, one JSON object on stdout.
 * Errors go to stderr as one clear sentence; the exit status is 0 on
 * success, 1 when the operation failed (or fsck found problems) and 2 on a
 * usage error. A progress bar is drawn on stderr for put and get when
 * stderr is a terminal. The old spelling `voidctl cas <verb> --store DIR`
 * still arrives here (argv[0] is then "cas"); `voidctl cas KEY EXPECTED NEW`
 * is compare-and-set (voidctl_kv.c).
 */
#include "cmd/voidctl.h"
#include "void/cas.h"
#include "void/error.h"
#include "void/node.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Most ingest workers --threads accepts. */
#define THREADS_MAX 256

struct opts {
    const char *store;
    const char *pin; /* put --pin NAME */
    int json;
    int progress;
    int force;
    int dry_run;
    unsigned threads;
    uint32_t chunk_avg;
    int zstd_level;
    char *args[4];
    int nargs;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: voidctl store <verb> [args] --store DIR [options]\n"
        "\n"
        "The local content-addressable store: files and trees cut into chunks by\n"
        "content, named by SHA-256, deduplicated and compressed (docs/cas-format.md).\n"
        "\n"
        "verbs:\n"
        "  put PATH|- [--pin NAME]  store a file, a directory tree or stdin; print the root hash\n"
        "                           (creates the store if DIR is absent or empty)\n"
        "  get HASH [DEST|-]        write a file to DEST or stdout, or a tree to DEST\n"
        "  ls HASH                  list a directory's entries or a file's chunks\n"
        "  stat [HASH]              store usage and dedup ratio, or a tree's summary\n"
        "  pin NAME HASH            name a root so that gc keeps it\n"
        "  unpin NAME               drop a pin\n"
        "  pins                     list the pins\n"
        "  gc [--dry-run] [--force] delete every block no pin reaches, saying first how\n"
        "                           many go; --dry-run only reports what would be freed.\n"
        "                           Refuses a voidd replica's store without --force: its\n"
        "                           files are named in the replicated state, not by pins\n"
        "  fsck                     verify every block, reference and refcount\n"
        "\n"
        "HASH is 64 hex digits or the name of a pin.\n"
        "\n"
        "options:\n"
        "  --store DIR        the store (required)\n"
        "  --json             machine-readable output\n"
        "  --quiet            no progress bar\n"
        "  --threads N        ingest workers, 0-%d (default 0: one per CPU)\n"
        "  --chunk-avg BYTES  average chunk size of a new store, a power of two from 256\n"
        "                     to 4 MiB; min and max are 1/4 and 4x (default 65536)\n"
        "  --zstd-level N     compression level of new blocks, 1-19 (default 5)\n"
        "\n"
        "exit status: 0 ok; 1 failed (or fsck found damage); 2 usage error.\n"
        "(`voidctl cas <verb> --store DIR` is the deprecated spelling of this command.)\n"
        "\n"
        "example:\n"
        "  voidctl store put ./photos --pin album --store /tmp/store\n"
        "  voidctl store gc --dry-run --store /tmp/store\n",
        THREADS_MAX);
}

static void fail(const char *what, const char *subject, int err)
{
    if (subject != NULL) {
        fprintf(stderr, "voidctl store: %s '%s': %s\n", what, subject, void_strerror(err));
    } else {
        fprintf(stderr, "voidctl store: %s: %s\n", what, void_strerror(err));
    }
}

static void print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(obj);
}

static json_t *hash_json(const struct void_hash *h)
{
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(h, hex);
    return json_string(hex);
}

/* ---- progress bar ------------------------------------------------------- */

struct progress {
    double last;
    int drawn;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    double t = now_s();
    if (t - p->last < 0.1) {
        return;
    }
    p->last = t;
    p->drawn = 1;
    double mib = (double)done / 1048576.0;
    if (total == 0) {
        fprintf(stderr, "\r  %.1f MiB", mib);
        return;
    }
    int pct = (int)(100.0 * (double)done / (double)total);
    pct = pct > 100 ? 100 : pct;
    char bar[41];
    memset(bar, ' ', 40);
    memset(bar, '#', (size_t)(pct * 40 / 100));
    bar[40] = '\0';
    fprintf(stderr, "\r  [%s] %3d%% %.1f/%.1f MiB", bar, pct, mib, (double)total / 1048576.0);
}

static void progress_end(struct progress *p)
{
    if (p->drawn) {
        fprintf(stderr, "\r\033[K");
    }
}

/* ---- verbs -------------------------------------------------------------- */

/* Resolves a HASH argument: 64 hex digits, or the name of a pin. */
static int resolve(struct void_cas *cas, const char *arg, struct void_hash *out)
{
    if (void_hash_from_hex(arg, out) == 0) {
        return 0;
    }
    int rc = void_cas_pin_get(cas, arg, out);
    if (rc == VOID_ENOTFOUND || rc == VOID_EINVAL) {
        fprintf(
            stderr, "voidctl store: '%s' is neither a hash (64 hex digits) nor a pin name\n", arg);
        return 1;
    }
    if (rc != 0) {
        fail("cannot read pin", arg, rc);
        return 1;
    }
    return 0;
}

static int verb_put(struct void_cas *cas, const struct opts *o)
{
    struct void_cas_put_result r;
    struct progress p = {0, 0};
    void_cas_progress_fn fn = o->progress ? progress_draw : NULL;
    const char *src = o->args[0];
    int rc = strcmp(src, "-") == 0 ? void_cas_put_fd(cas, 0, o->pin, fn, &p, &r)
                                   : void_cas_put_path(cas, src, o->pin, fn, &p, &r);
    progress_end(&p);
    if (rc != 0) {
        if (r.error_name[0] != '\0') {
            fprintf(stderr,
                    "voidctl store: cannot store '%s' (at entry '%s'): %s\n",
                    src,
                    r.error_name,
                    void_strerror(rc));
        } else {
            fail("cannot store", src, rc);
        }
        return 1;
    }
    if (o->json) {
        print_json(json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                             "root",
                             hash_json(&r.root),
                             "kind",
                             r.kind == VOID_CAS_DIR ? "dir" : "file",
                             "logical_bytes",
                             (json_int_t)r.logical_bytes,
                             "new_bytes",
                             (json_int_t)r.new_bytes,
                             "stored_bytes",
                             (json_int_t)r.stored_bytes,
                             "files",
                             (json_int_t)r.files,
                             "dirs",
                             (json_int_t)r.dirs,
                             "symlinks",
                             (json_int_t)r.symlinks,
                             "skipped",
                             (json_int_t)r.skipped));
    } else {
        char hex[VOID_HASH_HEX_SIZE];
        void_hash_to_hex(&r.root, hex);
        puts(hex);
    }
    if (r.skipped > 0) {
        fprintf(stderr,
                "voidctl store: skipped %" PRIu64 " special files (sockets, fifos, devices)\n",
                r.skipped);
    }
    return 0;
}

static int verb_get(struct void_cas *cas, const struct opts *o)
{
    struct void_hash h;
    if (resolve(cas, o->args[0], &h) != 0) {
        return 1;
    }
    const char *dest = o->nargs > 1 ? o->args[1] : "-";
    struct progress p = {0, 0};
    void_cas_progress_fn fn = o->progress ? progress_draw : NULL;
    int to_stdout = strcmp(dest, "-") == 0;
    int rc =
        to_stdout ? void_cas_get_fd(cas, &h, 1, fn, &p) : void_cas_get_path(cas, &h, dest, fn, &p);
    progress_end(&p);
    if (rc == VOID_EINVAL && to_stdout) {
        fprintf(stderr,
                "voidctl store: %s is not a file (a directory needs a DEST path; a chunk is "
                "read through its file)\n",
                o->args[0]);
        return 1;
    }
    if (rc == VOID_ECAS_MISSING) {
        fprintf(stderr, "voidctl store: %s: unknown hash (not in this store)\n", o->args[0]);
        return 1;
    }
    if (rc != 0) {
        fail("cannot get", o->args[0], rc);
        return 1;
    }
    if (o->json && !to_stdout) {
        print_json(json_pack("{s:o,s:s}", "root", hash_json(&h), "dest", dest));
    }
    return 0;
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case VOID_CAS_FILE:
        return "file";
    case VOID_CAS_DIR:
        return "dir";
    case VOID_CAS_SYMLINK:
        return "symlink";
    case VOID_CAS_BLOB:
        return "chunk";
    default:
        return "?";
    }
}

static void ls_one(void *arg, const struct void_casobj_entry *e)
{
    json_t *list = arg;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&e->hash, hex);
    if (list != NULL) {
        json_t *o = json_pack("{s:s,s:I}", "type", type_name(e->type), "size", (json_int_t)e->size);
        if (e->name != NULL) {
            json_object_set_new(o, "name", json_stringn(e->name, e->name_len));
            json_object_set_new(o, "mode", json_integer(e->mode));
        }
        json_object_set_new(o,
                            e->type == VOID_CAS_SYMLINK ? "target" : "hash",
                            e->type == VOID_CAS_SYMLINK ? json_stringn(e->target, e->target_len)
                                                        : json_string(hex));
        json_array_append_new(list, o);
        return;
    }
    if (e->type == VOID_CAS_BLOB) {
        printf("chunk %10" PRIu64 " %s\n", e->size, hex);
    } else if (e->type == VOID_CAS_SYMLINK) {
        printf("%-7s %04o %12s %-64s %.*s -> %.*s\n",
               "symlink",
               (unsigned)e->mode,
               "-",
               "-",
               (int)e->name_len,
               e->name,
               (int)e->target_len,
               e->target);
    } else {
        printf("%-7s %04o %12" PRIu64 " %s %.*s\n",
               type_name(e->type),
               (unsigned)e->mode,
               e->size,
               hex,
               (int)e->name_len,
               e->name);
    }
}

static int verb_ls(struct void_cas *cas, const struct opts *o)
{
    struct void_hash h;
    if (resolve(cas, o->args[0], &h) != 0) {
        return 1;
    }
    json_t *list = o->json ? json_array() : NULL;
    int rc = void_cas_ls(cas, &h, ls_one, list);
    if (rc != 0) {
        json_decref(list);
        fail("cannot list", o->args[0], rc == VOID_ECAS_MISSING ? VOID_ENOTFOUND : rc);
        return 1;
    }
    if (list != NULL) {
        print_json(list);
    }
    return 0;
}

static int stat_tree(struct void_cas *cas, const struct opts *o)
{
    struct void_hash h;
    struct void_cas_tree_stat st;
    if (resolve(cas, o->args[0], &h) != 0) {
        return 1;
    }
    int rc = void_cas_tree_stat(cas, &h, &st);
    if (rc != 0) {
        fail("cannot stat", o->args[0], rc == VOID_ECAS_MISSING ? VOID_ENOTFOUND : rc);
        return 1;
    }
    if (o->json) {
        print_json(json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:I}",
                             "root",
                             hash_json(&h),
                             "kind",
                             type_name(st.kind),
                             "logical_bytes",
                             (json_int_t)st.logical_bytes,
                             "files",
                             (json_int_t)st.files,
                             "dirs",
                             (json_int_t)st.dirs,
                             "symlinks",
                             (json_int_t)st.symlinks,
                             "chunks",
                             (json_int_t)st.chunks));
    } else {
        printf("kind %s\nlogical_bytes %" PRIu64 "\nfiles %" PRIu64 "\ndirs %" PRIu64
               "\nsymlinks %" PRIu64 "\nchunks %" PRIu64 "\n",
               type_name(st.kind),
               st.logical_bytes,
               st.files,
               st.dirs,
               st.symlinks,
               st.chunks);
    }
    return 0;
}

static int verb_stat(struct void_cas *cas, const struct opts *o)
{
    if (o->nargs > 0) {
        return stat_tree(cas, o);
    }
    struct void_cas_stats s;
    int rc = void_cas_stats(cas, &s);
    if (rc != 0) {
        fail("cannot read the store counters", NULL, rc);
        return 1;
    }
    double ratio = s.stored_bytes ? (double)s.logical_bytes / (double)s.stored_bytes : 0.0;
    if (o->json) {
        print_json(json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}",
                             "blocks",
                             (json_int_t)s.blocks,
                             "raw_bytes",
                             (json_int_t)s.raw_bytes,
                             "stored_bytes",
                             (json_int_t)s.stored_bytes,
                             "pins",
                             (json_int_t)s.pins,
                             "logical_bytes",
                             (json_int_t)s.logical_bytes,
                             "dedup_ratio",
                             ratio));
    } else {
        printf("blocks %" PRIu64 "\nraw_bytes %" PRIu64 "\nstored_bytes %" PRIu64 "\npins %" PRIu64
               "\nlogical_bytes %" PRIu64 "\ndedup_ratio %.3f\n",
               s.blocks,
               s.raw_bytes,
               s.stored_bytes,
               s.pins,
               s.logical_bytes,
               ratio);
    }
    return 0;
}

static int verb_pin(struct void_cas *cas, const struct opts *o)
{
    struct void_hash h;
    if (resolve(cas, o->args[1], &h) != 0) {
        return 1;
    }
    int rc = void_cas_pin(cas, o->args[0], &h);
    if (rc != 0) {
        fail("cannot pin", o->args[0], rc == VOID_ECAS_MISSING ? VOID_ENOTFOUND : rc);
        return 1;
    }
    if (o->json) {
        print_json(json_pack("{s:s,s:o}", "pin", o->args[0], "root", hash_json(&h)));
    }
    return 0;
}

static int verb_unpin(struct void_cas *cas, const struct opts *o)
{
    int rc = void_cas_unpin(cas, o->args[0]);
    if (rc != 0) {
        fail("cannot unpin", o->args[0], rc);
        return 1;
    }
    if (o->json) {
        print_json(json_pack("{s:s}", "unpinned", o->args[0]));
    }
    return 0;
}

static void pins_one(void *arg, const char *name, const struct void_hash *h)
{
    json_t *list = arg;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(h, hex);
    if (list != NULL) {
        json_array_append_new(list, json_pack("{s:s,s:s}", "name", name, "root", hex));
    } else {
        printf("%s %s\n", hex, name);
    }
}

static int verb_pins(struct void_cas *cas, const struct opts *o)
{
    json_t *list = o->json ? json_array() : NULL;
    int rc = void_cas_pins(cas, pins_one, list);
    if (rc != 0) {
        json_decref(list);
        fail("cannot list pins", NULL, rc);
        return 1;
    }
    if (list != NULL) {
        print_json(list);
    }
    return 0;
}

static int verb_gc(struct void_cas *cas, const struct opts *o)
{
    char owner[VOID_CAS_OWNER_MAX + 1];
    int rc = void_cas_owner(cas, owner, sizeof(owner));
    if (rc != 0) {
        fail("cannot read the store's owner", o->store, rc);
        return 1;
    }
    if (owner[0] != '\0' && !o->force && !o->dry_run) {
        fprintf(stderr,
                "voidctl store: refusing gc of '%s':\n"
                "  the store belongs to %s%s; its files are named in the replicated state,\n"
                "  not by pins here, so gc would delete the blocks of every committed file.\n"
                "  --force collects anyway.\n",
                o->store,
                owner,
                strcmp(owner, VOID_NODE_CAS_OWNER) == 0 ? " (a replica)" : "");
        return 1;
    }
    struct void_cas_gc_result r;
    if (!o->dry_run) {
        /* Say what will go before it goes: the same walk, aborted. */
        rc = void_cas_gc_dry_run(cas, &r);
        if (rc == 0 && !o->json) {
            fprintf(stderr,
                    "voidctl store gc: deleting %" PRIu64 " blocks that no pin reaches (%" PRIu64
                    " bytes)\n",
                    r.blocks_freed,
                    r.bytes_freed);
        }
    }
    if (rc == 0) {
        rc = o->dry_run ? void_cas_gc_dry_run(cas, &r) : void_cas_gc(cas, &r);
    }
    if (rc != 0) {
        fail("gc failed", NULL, rc);
        if (rc == VOID_ECAS_BAD_RECORD || rc == VOID_ECAS_HASH_MISMATCH) {
            fprintf(stderr, "voidctl store: run `voidctl store fsck` to locate the damage\n");
        }
        return 1;
    }
    if (o->json) {
        print_json(json_pack("{s:I,s:I,s:b}",
                             "blocks_freed",
                             (json_int_t)r.blocks_freed,
                             "bytes_freed",
                             (json_int_t)r.bytes_freed,
                             "dry_run",
                             o->dry_run));
    } else if (o->dry_run) {
        printf("would free %" PRIu64 " blocks, %" PRIu64 " bytes (dry run: nothing deleted)\n",
               r.blocks_freed,
               r.bytes_freed);
    } else {
        printf("freed %" PRIu64 " blocks, %" PRIu64 " bytes\n", r.blocks_freed, r.bytes_freed);
    }
    return 0;
}

static void fsck_one(void *arg, const struct void_hash *h, const char *problem)
{
    json_t *list = arg;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(h, hex);
    if (list != NULL) {
        json_array_append_new(list, json_pack("{s:s,s:s}", "hash", hex, "problem", problem));
    } else {
        printf("%s %s\n", hex, problem);
    }
}

static int verb_fsck(struct void_cas *cas, const struct opts *o)
{
    struct void_cas_fsck_result r;
    json_t *list = o->json ? json_array() : NULL;
    int rc = void_cas_fsck(cas, &r, fsck_one, list);
    if (rc != 0) {
        json_decref(list);
        fail("fsck could not walk the store", NULL, rc);
        return 1;
    }
    int bad = r.corrupted || r.missing || r.bad_refcounts;
    if (list != NULL) {
        print_json(json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:o}",
                             "clean",
                             !bad,
                             "blocks",
                             (json_int_t)r.blocks,
                             "corrupted",
                             (json_int_t)r.corrupted,
                             "missing",
                             (json_int_t)r.missing,
                             "bad_refcounts",
                             (json_int_t)r.bad_refcounts,
                             "unreferenced",
                             (json_int_t)r.unreferenced,
                             "problems",
                             list));
    } else {
        printf("%s: %" PRIu64 " blocks, %" PRIu64 " corrupted, %" PRIu64 " missing, %" PRIu64
               " bad refcounts, %" PRIu64 " unreferenced (gc collects them)\n",
               bad ? "DAMAGED" : "clean",
               r.blocks,
               r.corrupted,
               r.missing,
               r.bad_refcounts,
               r.unreferenced);
    }
    return bad ? 1 : 0;
}

struct verb {
    const char *name;
    int nargs_min, nargs_max;
    int (*run)(struct void_cas *cas, const struct opts *o);
};

static const struct verb verbs[] = {
    {"put", 1, 1, verb_put},
    {"get", 1, 2, verb_get},
    {"ls", 1, 1, verb_ls},
    {"stat", 0, 1, verb_stat},
    {"pin", 2, 2, verb_pin},
    {"unpin", 1, 1, verb_unpin},
    {"pins", 0, 0, verb_pins},
    {"gc", 0, 0, verb_gc},
    {"fsck", 0, 0, verb_fsck},
};

/* Parses a number in lo..hi for option name; 0, or -1 after saying why. */
static int parse_num(const char *name, const char *text, unsigned long lo, unsigned long hi,
                     unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "voidctl store: --%s wants a number from %lu to %lu, not '%s'\n", name,
                lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses options (getopt_long, anywhere on the line) and positional
 * arguments: the verb, then its arguments. Returns 0, 1 for --help (usage
 * printed), or 2 on misuse. */
static int parse(int argc, char **argv, struct opts *o, const char **verb)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"pin", required_argument, NULL, 'p'},
                                             {"zstd-level", required_argument, NULL, 'z'},
                                             {"chunk-avg", required_argument, NULL, 'C'},
                                             {"threads", required_argument, NULL, 'T'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"force", no_argument, NULL, 'F'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *verb = NULL;
    optind = 0;
    opterr = 0;
    int c, help = 0;
    unsigned long n = 0;
    while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->store = optarg;
            break;
        case 'p':
            o->pin = optarg;
            break;
        case 'z':
            if (parse_num("zstd-level", optarg, 1, 19, &n) != 0) {
                return 2;
            }
            o->zstd_level = (int)n;
            break;
        case 'C':
            if (parse_num("chunk-avg", optarg, 256, 4u << 20, &n) != 0) {
                return 2;
            }
            o->chunk_avg = (uint32_t)n;
            break;
        case 'T':
            if (parse_num("threads", optarg, 0, THREADS_MAX, &n) != 0) {
                return 2;
            }
            o->threads = (unsigned)n;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'q':
            o->progress = 0;
            break;
        case 'F':
            o->force = 1;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'h':
            help = 1;
            break;
        case ':':
            fprintf(stderr, "voidctl store: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "voidctl store: unknown option '%s' (see voidctl store --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (help) {
        usage(stdout);
        return 1;
    }
    if (optind < argc) {
        *verb = argv[optind++];
    }
    for (; optind < argc; optind++) {
        if (o->nargs == (int)(sizeof(o->args) / sizeof(o->args[0]))) {
            fprintf(stderr, "voidctl store: too many arguments\n");
            return 2;
        }
        o->args[o->nargs++] = argv[optind];
    }
    return 0;
}

static int open_store(struct void_cas *cas, const struct opts *o, int create)
{
    struct void_cas_config config;
    void_cas_config_default(&config);
    config.create = create;
    config.shared = 1; /* any number of us at once, never beside the voidd that owns it */
    config.threads = o->threads;
    config.zstd_level = o->zstd_level;
    if (o->chunk_avg != 0) {
        config.cdc.size_avg = o->chunk_avg;
        config.cdc.size_min = o->chunk_avg / 4;
        config.cdc.size_max = o->chunk_avg * 4;
    }
    int rc = void_cas_init(cas, o->store, &config);
    if (rc == VOID_EINVAL) {
        fprintf(stderr, "voidctl store: --chunk-avg must be a power of two from 256 to 4 MiB\n");
    } else if (rc == VOID_ENOTFOUND || rc == VOID_ECAS_NOT_STORE) {
        fprintf(stderr,
                "voidctl store: '%s' is not a void cas store%s\n",
                o->store,
                create ? " (and is not empty)" : "");
    } else if (rc != 0 && cas->error[0] != '\0') {
        fprintf(stderr, "voidctl store: %s\n", cas->error); /* names the file or the holder */
    } else if (rc != 0) {
        fail("cannot open store", o->store, rc);
    }
    return rc;
}

int voidctl_store(int argc, char **argv)
{
    /* LMDB allocates each dirty overflow page run with malloc; above glibc's
     * mmap threshold every chunk would cost an mmap/munmap pair and fresh
     * zeroed pages (measured: 2x slower ingest). Keep them on the heap. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    struct opts o = {.progress = isatty(2)};
    const char *name;
    int rc = parse(argc, argv, &o, &name);
    if (rc != 0) {
        return rc == 1 ? 0 : 2;
    }
    if (name == NULL || o.store == NULL) {
        fprintf(stderr,
                "voidctl store: %s (see voidctl store --help)\n",
                name == NULL ? "give a verb: put, get, ls, stat, pin, unpin, pins, gc or fsck"
                             : "give the store: --store DIR");
        return 2;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        const struct verb *v = &verbs[i];
        if (strcmp(name, v->name) != 0) {
            continue;
        }
        if (o.nargs < v->nargs_min || o.nargs > v->nargs_max) {
            fprintf(stderr, "voidctl store %s: wrong number of arguments (see --help)\n", name);
            return 2;
        }
        if (o.dry_run && v->run != verb_gc) {
            fprintf(stderr, "voidctl store %s: --dry-run applies to gc only\n", name);
            return 2;
        }
        struct void_cas cas;
        if (open_store(&cas, &o, v->run == verb_put) != 0) {
            void_cas_fini(&cas);
            return 1;
        }
        rc = v->run(&cas, &o);
        void_cas_fini(&cas);
        return rc;
    }
    fprintf(stderr, "voidctl store: unknown verb '%s' (see voidctl store --help)\n", name);
    return 2;
}

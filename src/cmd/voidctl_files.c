/*
 * voidctl put --file PATH NAME / get --file NAME DEST: files and directory
 * trees through the cluster (DESIGN.md section 6).
 *
 * put chunks PATH into a temporary local content store (the CAS's FastCDC
 * chunking, hashing and compression), uploads every block to every replica
 * directly -- children before parents, at most UPLOAD_WINDOW unacknowledged --
 * and waits until f + 1 replicas acknowledged each block (so at least one
 * honest replica holds it), then commits "file:NAME -> root" through PBFT.
 *
 * get reads the root through PBFT, then fetches the DAG block by block from
 * the replicas (a replica that lacks a block fetches it from a peer; a
 * replica that answers MISSING is skipped for the next one), checking every
 * block's hash against the name it was asked for, rebuilds it in a temporary
 * local store and writes the file or tree to DEST (a file: also to stdout).
 *
 * --timeout bounds the time without progress, not the whole transfer: the
 * clock restarts whenever a replica acknowledges a block (put) or a block
 * arrives (get), so a large tree takes as long as it needs while a stalled
 * cluster still fails after T seconds. On a terminal (stderr), a status line
 * shows files and bytes done of total, rate, ETA and the current file, as
 * restic does; a summary line ends the run. --quiet silences both.
 */
#include "cmd/voidctl.h"
#include "void/casnet.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sm.h"
#include "void/task.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UPLOAD_WINDOW    64
#define FETCH_WINDOW     32
#define UPLOAD_RESEND_NS (1000ull * 1000 * 1000)
#define BLOCKS_MAX       (1u << 20)

struct block {
    struct void_hash hash;
    uint8_t kind;
    uint32_t len;      /* raw bytes of the block (put: known from the walk) */
    const char *name;  /* put: the file this block belongs to; get: a file's name */
    uint32_t acks;   /* put: replicas that stored it (bit per replica id) */
    uint32_t tries;  /* get: replicas asked so far */
    int state;       /* 0 waiting, 1 in flight, 2 done */
    uint8_t *object; /* get: bytes of a file/dir object, inserted at the end */
    size_t object_len;
    uint64_t sent_ns; /* put: when it was last sent */
};

struct files {
    const struct void_config *cl;
    uv_loop_t loop;
    struct void_kvclient kv;
    int kv_ready;
    void_transport_frame_fn on_other;
    struct void_cas cas;
    int cas_ready;
    char tmp[64];
    struct block *blocks;
    size_t count;
    size_t done;
    size_t in_flight;
    uint32_t need; /* f + 1, or every chosen holder (put --on / --copies) */
    uint32_t holders; /* put: bit per replica id the blocks go to; 0: every replica */
    int failed;
    int json;   /* --json output */
    int quiet;  /* --quiet: no status line, no summary */
    int tty;    /* stderr is a terminal: draw the status line */
    uint64_t stall_ns;      /* --timeout: the longest time without progress */
    uint64_t progress_ns;   /* when progress was last made */
    uint64_t start_ns;
    double drawn_s;         /* when the status line was last drawn */
    uint64_t bytes_total;   /* put: of every block; get: known so far */
    uint64_t bytes_done;
    uint64_t files_total;
    uint64_t files_done;
    const char *current;    /* the file being moved, or NULL */
    char **names;           /* put: file names, owned */
    size_t count_names;
    int kv_done;
    uint8_t result[VOID_SM_RESULT_MAX];
    size_t result_len;
};

static int find_block(const struct files *fs, const struct void_hash *h)
{
    for (size_t i = 0; i < fs->count; i++) {
        if (void_hash_equal(&fs->blocks[i].hash, h)) {
            return (int)i;
        }
    }
    return -1;
}

static int add_block(struct files *fs, const struct void_hash *h, uint8_t kind, size_t len)
{
    if (find_block(fs, h) >= 0) {
        return 0;
    }
    if (fs->count == BLOCKS_MAX) {
        return VOID_EFULL;
    }
    fs->blocks[fs->count++] = (struct block){.hash = *h, .kind = kind, .len = (uint32_t)len};
    fs->bytes_total += len;
    fs->files_total += kind == VOID_CAS_FILE;
    return 0;
}

/* ---- progress ------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void made_progress(struct files *fs)
{
    fs->progress_ns = void_kvclient_now_ns();
}

/* 1:23:45 or 3:07 */
static void format_duration(double s, char *out, size_t cap)
{
    /* Below 100 hours, so the hours take at most two digits. */
    unsigned t = s > 0 && s < 360000.0 ? (unsigned)s : 0;
    unsigned h = t / 3600 % 100, m = t / 60 % 60, sec = t % 60;
    if (h > 0) {
        snprintf(out, cap, "%u:%02u:%02u", h, m, sec);
    } else {
        snprintf(out, cap, "%u:%02u", t / 60 % 100, sec);
    }
}

/* The status line on stderr, at most 5 times a second (force: now). */
static void draw(struct files *fs, const char *verb, int force)
{
    double now = mono_s();
    if (!fs->tty || fs->quiet || (!force && now - fs->drawn_s < 0.2)) {
        return;
    }
    fs->drawn_s = now;
    double elapsed = (double)(void_kvclient_now_ns() - fs->start_ns) / 1e9;
    double rate = elapsed > 0 ? (double)fs->bytes_done / elapsed : 0;
    char el[16], eta[16] = "?";
    format_duration(elapsed, el, sizeof(el));
    if (rate > 0 && fs->bytes_total >= fs->bytes_done) {
        format_duration((double)(fs->bytes_total - fs->bytes_done) / rate, eta, sizeof(eta));
    }
    double pct = fs->bytes_total > 0 ? 100.0 * (double)fs->bytes_done / (double)fs->bytes_total : 0;
    fprintf(stderr,
            "\r\033[K[%s] %5.1f%%  %s %" PRIu64 " / %" PRIu64 " files  %.1f / %.1f MiB  "
            "%.1f MiB/s  ETA %s  %.40s",
            el,
            pct,
            verb,
            fs->files_done,
            fs->files_total,
            (double)fs->bytes_done / 1048576.0,
            (double)fs->bytes_total / 1048576.0,
            rate / 1048576.0,
            eta,
            fs->current != NULL ? fs->current : "");
}

/* Clears the status line and prints the summary (unless --quiet). */
static void summary(struct files *fs, const char *what)
{
    if (fs->tty && !fs->quiet && fs->drawn_s > 0) {
        fprintf(stderr, "\r\033[K");
    }
    if (fs->quiet) {
        return;
    }
    double elapsed = (double)(void_kvclient_now_ns() - fs->start_ns) / 1e9;
    fprintf(stderr,
            "%s %" PRIu64 " files, %.1f MiB (%zu blocks) in %.2f s, %.1f MiB/s\n",
            what,
            fs->files_done,
            (double)fs->bytes_done / 1048576.0,
            fs->done,
            elapsed,
            elapsed > 0 ? (double)fs->bytes_done / 1048576.0 / elapsed : 0.0);
}

/* Whether the transfer may go on: not failed, and progress within --timeout. */
static int alive(const struct files *fs)
{
    return !fs->failed && void_kvclient_now_ns() - fs->progress_ns < fs->stall_ns;
}

/* Removes the temporary store directory (two levels are enough for it). */
static void remove_tree(const char *path, int depth)
{
    DIR *d = depth < 4 ? opendir(path) : NULL;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char sub[1024];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
                remove_tree(sub, depth + 1);
            } else {
                unlink(sub);
            }
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(path);
}

static int open_local(struct files *fs)
{
    snprintf(fs->tmp, sizeof(fs->tmp), "/tmp/voidctl-cas-XXXXXX");
    if (mkdtemp(fs->tmp) == NULL) {
        return VOID_EIO;
    }
    char dir[96];
    snprintf(dir, sizeof(dir), "%s/store", fs->tmp);
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    cc.create = 1;
    int rc = void_cas_init(&fs->cas, dir, &cc);
    fs->cas_ready = rc == 0;
    return rc;
}

/* ---- PBFT part: the name -> root mapping ---------------------------------- */

static void on_kv_done(void *ctx, const uint8_t *result, size_t len)
{
    struct files *fs = ctx;
    fs->result_len = len < sizeof(fs->result) ? len : sizeof(fs->result);
    memcpy(fs->result, result, fs->result_len);
    fs->kv_done = 1;
}

static int run_kv(struct files *fs, const struct void_sm_op *op)
{
    uint8_t buf[VOID_SM_OP_MAX];
    int n = void_sm_op_encode(op, buf, sizeof(buf));
    if (n < 0 || void_kvclient_submit(&fs->kv, buf, (size_t)n, on_kv_done, fs) != 0) {
        return VOID_EINVAL;
    }
    made_progress(fs); /* one PBFT round trip gets the whole --timeout */
    while (!fs->kv_done && alive(fs)) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    return fs->kv_done ? 0 : VOID_ETIMEOUT;
}

/* ---- upload --------------------------------------------------------------- */

static int
collect(void *ctx, const struct void_hash *h, uint8_t kind, const uint8_t *data, size_t len)
{
    (void)data;
    return add_block(ctx, h, kind, len);
}

/* Names the file blocks from the entries of the directory objects, then
 * each block by the file it belongs to: the walk is post-order, so a file's
 * chunks come just before it. Names are for the status line only. */
static void name_blocks(struct files *fs)
{
    for (size_t i = 0; i < fs->count && fs->tty && !fs->quiet; i++) {
        uint8_t *data = NULL, kind = 0;
        size_t len = 0;
        struct void_casobj_dir dir;
        struct void_casobj_entry e;
        if (fs->blocks[i].kind != VOID_CAS_DIR ||
            void_cas_get_block(&fs->cas, &fs->blocks[i].hash, &data, &len, &kind) != 0) {
            continue;
        }
        if (void_casobj_dir_decode(data, len, &dir) == 0) {
            while (void_casobj_dir_next(&dir, &e) == 1) {
                int k = e.type == VOID_CAS_FILE ? find_block(fs, &e.hash) : -1;
                char **grown = k >= 0 ? realloc(fs->names, (fs->count_names + 1) * sizeof(char *))
                                      : NULL;
                if (grown != NULL) {
                    fs->names = grown;
                    fs->names[fs->count_names] = strndup(e.name, e.name_len);
                    fs->blocks[k].name = fs->names[fs->count_names++];
                }
            }
        }
        free(data);
    }
    const char *next = NULL;
    for (size_t i = fs->count; i-- > 0;) {
        if (fs->blocks[i].kind == VOID_CAS_FILE) {
            next = fs->blocks[i].name;
        }
        fs->blocks[i].name = next;
    }
}

/* Sends block b to every replica; 0, or -1 if it cannot be read back. */
static int send_block(struct files *fs, struct block *b)
{
    uint8_t *body = NULL;
    size_t len = 0;
    if (void_casnet_block_body(&fs->cas, &b->hash, &body, &len) != 0) {
        return -1;
    }
    for (uint32_t id = 0; fs->holders != 0 && id < 32; id++) {
        if ((fs->holders & (1u << id)) != 0) {
            (void)void_kvclient_send(&fs->kv, id, VOID_MSG_CAS_BLOCK, body, len);
        }
    }
    if (fs->holders == 0) {
        (void)void_kvclient_send(&fs->kv, VOID_PBFT_TO_ALL, VOID_MSG_CAS_BLOCK, body, len);
    }
    free(body);
    b->sent_ns = void_kvclient_now_ns();
    return 0;
}

static void upload_more(struct files *fs)
{
    for (size_t i = 0; i < fs->count && fs->in_flight < UPLOAD_WINDOW; i++) {
        struct block *b = &fs->blocks[i];
        if (b->state != 0) {
            continue;
        }
        if (send_block(fs, b) != 0) {
            fs->failed = 1;
            return;
        }
        b->state = 1;
        fs->in_flight++;
    }
}

/* A replica whose block writer is full drops the block (back-pressure) and
 * the transport may drop frames too: blocks unacknowledged for
 * UPLOAD_RESEND_NS go out again (a replica that has one answers STORED). */
static void upload_resend(struct files *fs)
{
    uint64_t now = void_kvclient_now_ns();
    for (size_t i = 0; i < fs->count && !fs->failed; i++) {
        struct block *b = &fs->blocks[i];
        if (b->state == 1 && now - b->sent_ns >= UPLOAD_RESEND_NS) {
            fs->failed = send_block(fs, b) != 0;
        }
    }
}

static void on_upload_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *f)
{
    struct files *fs = ctx;
    (void)buf;
    (void)len;
    uint8_t op = 0;
    struct void_hash h;
    if (f->type != VOID_MSG_CAS_FETCH ||
        void_casnet_fetch_decode(f->body, f->body_len, &op, &h) != 0 || op != VOID_CASNET_STORED ||
        f->sender >= 32) {
        return;
    }
    int i = find_block(fs, &h);
    if (i < 0 || fs->blocks[i].state != 1 ||
        (fs->holders != 0 && (fs->holders & (1u << f->sender)) == 0)) {
        return;
    }
    struct block *b = &fs->blocks[i];
    if ((b->acks & (1u << f->sender)) == 0) {
        made_progress(fs); /* a replica stored a block */
    }
    b->acks |= 1u << f->sender;
    if ((uint32_t)__builtin_popcount(b->acks) >= fs->need) {
        b->state = 2;
        fs->done++;
        fs->in_flight--;
        fs->bytes_done += b->len;
        fs->files_done += b->kind == VOID_CAS_FILE;
        fs->current = b->name;
        upload_more(fs);
    }
}

/* ---- download ------------------------------------------------------------- */

static void request(struct files *fs, struct block *b)
{
    uint8_t body[VOID_CASNET_FETCH_SIZE];
    void_casnet_fetch_encode(VOID_CASNET_FETCH, &b->hash, body);
    uint32_t n = fs->cl->count_replicas;
    uint32_t to = (uint32_t)((b->hash.b[0] + b->tries) % n); /* spread, then rotate on MISSING */
    b->tries++;
    b->state = 1;
    b->sent_ns = void_kvclient_now_ns();
    (void)void_kvclient_send(&fs->kv, to, VOID_MSG_CAS_FETCH, body, sizeof(body));
}

/* A replica that is down answers nothing, not even MISSING: a block asked
 * UPLOAD_RESEND_NS ago without an answer is asked of the next replica
 * (after a whole round, of each again: the --timeout stall decides). */
static void fetch_resend(struct files *fs)
{
    uint64_t now = void_kvclient_now_ns();
    for (size_t i = 0; i < fs->count; i++) {
        struct block *b = &fs->blocks[i];
        if (b->state == 1 && now - b->sent_ns >= UPLOAD_RESEND_NS) {
            request(fs, b);
        }
    }
}

static void fetch_more(struct files *fs)
{
    for (size_t i = 0; i < fs->count && fs->in_flight < FETCH_WINDOW; i++) {
        if (fs->blocks[i].state == 0) {
            request(fs, &fs->blocks[i]);
            fs->in_flight++;
        }
    }
}

static int add_child(void *ctx, const struct void_hash *h)
{
    return add_block(ctx, h, 0, 0);
}

/* A directory's file entries: their names for the status line and their
 * sizes for the total (known as the directories arrive). */
static void note_entries(struct files *fs, const uint8_t *data, size_t len)
{
    struct void_casobj_dir dir;
    struct void_casobj_entry e;
    if (void_casobj_dir_decode(data, len, &dir) != 0) {
        return;
    }
    while (void_casobj_dir_next(&dir, &e) == 1) {
        if (e.type != VOID_CAS_FILE) {
            continue;
        }
        fs->files_total++;
        fs->bytes_total += e.size;
        int k = find_block(fs, &e.hash);
        char **grown = k >= 0 && fs->tty && !fs->quiet
                           ? realloc(fs->names, (fs->count_names + 1) * sizeof(char *))
                           : NULL;
        if (grown != NULL) {
            fs->names = grown;
            fs->names[fs->count_names] = strndup(e.name, e.name_len);
            fs->blocks[k].name = fs->names[fs->count_names++];
        }
    }
}

static void got_block(struct files *fs, const struct void_frame *f)
{
    uint8_t kind = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    struct void_hash h, stored;
    if (void_casnet_block_decode(f->body, f->body_len, &kind, &data, &len, &h) != 0) {
        return;
    }
    int i = find_block(fs, &h); /* the hash was computed here: a forged block matches nothing */
    if (i < 0 || fs->blocks[i].state != 1) {
        return;
    }
    struct block *b = &fs->blocks[i];
    b->kind = kind;
    if (kind == VOID_CAS_BLOB) {
        fs->failed |= void_cas_put_block(&fs->cas, kind, data, len, &stored) != 0;
        fs->bytes_done += len;
    } else if ((b->object = malloc(len)) != NULL) {
        memcpy(b->object, data, len);
        b->object_len = len;
        fs->failed |= void_casnet_children(kind, data, len, add_child, fs) != 0;
        if (kind == VOID_CAS_DIR) {
            note_entries(fs, data, len);
        }
    } else {
        fs->failed = 1;
    }
    if (kind == VOID_CAS_FILE) {
        fs->files_done++;
        fs->current = b->name;
        if (i == 0) { /* the root is one file: its size is in its object */
            struct void_casobj_file fo;
            fs->files_total = 1;
            fs->bytes_total = void_casobj_file_decode(data, len, &fo) == 0 ? fo.size : 0;
        }
    }
    made_progress(fs); /* a block arrived */
    b->state = 2;
    fs->done++;
    fs->in_flight--;
}

static void on_fetch_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *f)
{
    struct files *fs = ctx;
    (void)buf;
    (void)len;
    if (f->type == VOID_MSG_CAS_BLOCK) {
        got_block(fs, f);
    } else {
        uint8_t op = 0;
        struct void_hash h;
        int i = -1;
        if (void_casnet_fetch_decode(f->body, f->body_len, &op, &h) == 0 &&
            op == VOID_CASNET_MISSING) {
            i = find_block(fs, &h);
        }
        if (i >= 0 && fs->blocks[i].state == 1) {
            if (fs->blocks[i].tries >= fs->cl->count_replicas) {
                fs->failed = 1; /* no replica has it */
            } else {
                request(fs, &fs->blocks[i]);
            }
        }
    }
    fetch_more(fs);
}

/* Inserts object block i after its children (post-order), depth bounded. */
static int insert_objects(struct files *fs, const struct void_hash *h, unsigned depth);

static int insert_child(void *ctx, const struct void_hash *h)
{
    struct files *fs = ctx;
    return insert_objects(fs, h, 1);
}

static int insert_objects(struct files *fs, const struct void_hash *h, unsigned depth)
{
    int i = find_block(fs, h);
    if (i < 0 || depth > VOID_CAS_DEPTH_MAX) {
        return VOID_ECAS_MISSING;
    }
    struct block *b = &fs->blocks[i];
    if (b->object == NULL || void_cas_has(&fs->cas, h) == 1) {
        return 0;
    }
    int rc = void_casnet_children(b->kind, b->object, b->object_len, insert_child, fs);
    struct void_hash stored;
    return rc != 0 ? rc : void_cas_put_block(&fs->cas, b->kind, b->object, b->object_len, &stored);
}

/* ---- commands ------------------------------------------------------------- */

static void print_json(json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(j);
}

static int
files_open(struct files *fs, const struct void_config *cl, void_transport_frame_fn on_other)
{
    fs->cl = cl;
    fs->on_other = on_other;
    fs->need = (cl->count_replicas - 1) / 3 + 1;
    fs->blocks = calloc(BLOCKS_MAX, sizeof(*fs->blocks));
    uv_loop_init(&fs->loop);
    int rc = fs->blocks == NULL ? VOID_ENOMEM : open_local(fs);
    if (rc != 0) {
        fprintf(stderr, "voidctl: %s\n", void_strerror(rc));
    }
    return rc;
}

/* Connects to the replicas. put calls it after chunking the file: the
 * replicas close a connection whose HELLO does not come within their
 * handshake limit (2 s), which a long local ingest on a loaded machine
 * would exceed if the connection were opened first. Returns 0 or an exit
 * status after saying why. */
static int files_connect(struct files *fs)
{
    struct void_kvclient_config kc = {.loop = &fs->loop,
                                      .cluster = fs->cl,
                                      .id = fs->cl->self_id,
                                      .keypair = &fs->cl->keypair,
                                      .reply_all = 1,
                                      .on_other = fs->on_other,
                                      .other_ctx = fs};
    char err[512] = "";
    int rc = void_kvclient_init(&fs->kv, &kc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "voidctl: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        void_kvclient_fini(&fs->kv);
        return VOIDCTL_EXIT_FAILED;
    }
    fs->kv_ready = 1;
    made_progress(fs); /* the --timeout counts from here */
    return 0;
}

static void files_close(struct files *fs)
{
    if (fs->kv_ready) {
        void_kvclient_fini(&fs->kv);
    }
    uv_run(&fs->loop, UV_RUN_DEFAULT);
    uv_loop_close(&fs->loop);
    if (fs->cas_ready) {
        void_cas_fini(&fs->cas);
    }
    if (fs->tmp[0] != '\0') {
        remove_tree(fs->tmp, 0);
    }
    for (size_t i = 0; fs->blocks != NULL && i < fs->count; i++) {
        free(fs->blocks[i].object);
    }
    free(fs->blocks);
    for (size_t i = 0; i < fs->count_names; i++) {
        free(fs->names[i]);
    }
    free(fs->names);
}

/* The key of NAME: VOID_CASNET_NAME_PREFIX + NAME, refused (not cut) when it
 * would exceed the state machine's key limit. Returns 0 or -1 after saying
 * why. */
static int name_key(const char *cmd, const char *name, char key[VOID_SM_KEY_MAX + 1])
{
    size_t limit = VOID_SM_KEY_MAX - strlen(VOID_CASNET_NAME_PREFIX);
    size_t len = strlen(name);
    if (len == 0 || len > limit) {
        fprintf(stderr,
                "voidctl %s --file: the name is %zu bytes; a name is 1 to %zu bytes (the key "
                "'%s' + name is at most %d)\n",
                cmd,
                len,
                limit,
                VOID_CASNET_NAME_PREFIX,
                VOID_SM_KEY_MAX);
        return -1;
    }
    snprintf(key, VOID_SM_KEY_MAX + 1, "%s%s", VOID_CASNET_NAME_PREFIX, name);
    return 0;
}

/* The status line while PATH is cut into chunks locally, before upload. */
static void chunk_progress(void *arg, uint64_t done, uint64_t total)
{
    struct files *fs = arg;
    double now = mono_s();
    if (now - fs->drawn_s < 0.2) {
        return;
    }
    fs->drawn_s = now;
    if (total == 0) { /* a tree: its size is known once it is walked */
        fprintf(stderr, "\r\033[K[chunking] %.1f MiB", (double)done / 1048576.0);
    } else {
        fprintf(stderr,
                "\r\033[K[chunking] %.1f / %.1f MiB",
                (double)done / 1048576.0,
                (double)total / 1048576.0);
    }
}

/* ---- where the file lives ------------------------------------------------ */

static int same_rack(const struct void_config_replica *a, const struct void_config_replica *b)
{
    return strcmp(a->topology.datacenter, b->topology.datacenter) == 0 &&
           strcmp(a->topology.rack, b->topology.rack) == 0;
}

/* --copies K: HDFS's rule over the cluster file's locations. The first
 * holder is chosen by the root hash (files spread over the replicas), the
 * second is in another rack (a rack's loss keeps a copy), the third in the
 * second's rack (a reader there finds two), or in the first's when the
 * second is alone in its rack, the rest in replica order after the first.
 * Returns the bit mask of the chosen ids. */
static uint32_t choose_copies(const struct void_config *cl, uint32_t k, const struct void_hash *root)
{
    uint32_t n = cl->count_replicas;
    uint32_t first = ((uint32_t)root->b[0] << 8 | root->b[1]) % n;
    uint32_t chosen = 1u << cl->replicas[first].id;
    uint32_t second = first;
    for (uint32_t step = 1; step < n && k >= 2 && second == first; step++) {
        uint32_t i = (first + step) % n;
        if (!same_rack(&cl->replicas[i], &cl->replicas[first])) {
            second = i;
        }
    }
    if (k >= 2 && second != first) {
        chosen |= 1u << cl->replicas[second].id;
    }
    uint32_t racks[2] = {second, first};
    for (uint32_t r = 0; r < 2 && k >= 3 && second != first &&
                         (uint32_t)__builtin_popcount(chosen) < 3; r++) {
        for (uint32_t step = 1; step < n; step++) {
            uint32_t i = (racks[r] + step) % n;
            if ((chosen & (1u << cl->replicas[i].id)) == 0 &&
                same_rack(&cl->replicas[i], &cl->replicas[racks[r]])) {
                chosen |= 1u << cl->replicas[i].id;
                break;
            }
        }
    }
    for (uint32_t step = 1; step < n && (uint32_t)__builtin_popcount(chosen) < k; step++) {
        chosen |= 1u << cl->replicas[(first + step) % n].id;
    }
    return chosen;
}

/* Sets fs->holders and fs->need from --on or --copies. Returns 0, or -1
 * after saying why (a usage error). */
static int choose_holders(struct files *fs, const char *on, uint32_t copies,
                          const struct void_hash *root)
{
    const struct void_config *cl = fs->cl;
    uint32_t f1 = (cl->count_replicas - 1) / 3 + 1;
    for (uint32_t i = 0; (on != NULL || copies != 0) && i < cl->count_replicas; i++) {
        if (cl->replicas[i].id >= 32) {
            fprintf(stderr, "voidctl put --file: --on and --copies need replica ids below 32\n");
            return -1;
        }
    }
    if (copies != 0) {
        if (copies < f1 || copies > cl->count_replicas) {
            fprintf(stderr,
                    "voidctl put --file: --copies %u: want %u..%u (at least f+1, so that an "
                    "honest replica holds every block)\n",
                    copies, f1, cl->count_replicas);
            return -1;
        }
        fs->holders = choose_copies(cl, copies, root);
    }
    for (const char *p = on; p != NULL && *(p += strspn(p, ", ")) != '\0';) {
        char *end = NULL;
        unsigned long id = strtoul(p, &end, 10);
        if (end == p || (*end != '\0' && *end != ',' && *end != ' ') ||
            void_config_replica_get(cl, (uint32_t)id) == NULL || id >= 32) {
            fprintf(stderr, "voidctl put --file: --on %s: '%.*s' is not a replica of the cluster\n",
                    on, (int)strcspn(p, ", "), p);
            return -1;
        }
        if ((fs->holders & (1u << id)) != 0) {
            fprintf(stderr, "voidctl put --file: --on %s: replica %lu named twice\n", on, id);
            return -1;
        }
        fs->holders |= 1u << id;
        p = end;
    }
    uint32_t count = (uint32_t)__builtin_popcount(fs->holders);
    if (on != NULL && count < f1) {
        fprintf(stderr,
                "voidctl put --file: --on %s: %u replica%s, want at least f+1 = %u (so that an "
                "honest replica holds every block)\n",
                on, count, count == 1 ? "" : "s", f1);
        return -1;
    }
    if (fs->holders != 0) {
        fs->need = count; /* every chosen holder stores every block */
    }
    return 0;
}

static int put_file(struct files *fs,
                    const char *path,
                    const char *name,
                    const char *key,
                    const char *on,
                    uint32_t copies)
{
    struct void_cas_put_result res;
    int show = fs->tty && !fs->quiet;
    int rc = void_cas_put_path(&fs->cas, path, NULL, show ? chunk_progress : NULL, fs, &res);
    if (rc != 0) {
        fprintf(stderr, "voidctl: cannot read %s: %s\n", path, void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    if (choose_holders(fs, on, copies, &res.root) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if ((rc = void_casnet_walk(&fs->cas, &res.root, collect, fs)) != 0) {
        fprintf(stderr, "voidctl: cannot walk the chunks of %s: %s\n", path, void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    name_blocks(fs);
    if ((rc = files_connect(fs)) != 0) {
        return rc;
    }
    /* Sign and send blocks only once the links are up: a first burst of
     * blocks (a signature each) would hold up the loop past the replicas'
     * 2 s handshake limit on a loaded machine, and they would close the
     * connections before the HELLO went out. */
    while (void_kvclient_connected(&fs->kv) < fs->need && alive(fs)) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    upload_more(fs);
    while (fs->done < fs->count && alive(fs)) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        upload_resend(fs);
        draw(fs, "uploaded", 0);
        uv_sleep(1);
    }
    draw(fs, "uploaded", 1);
    if (fs->done < fs->count) {
        summary(fs, "put: stopped after");
        fprintf(stderr,
                "voidctl: upload stalled: no replica stored a block for %.1f s; %zu of %zu "
                "blocks stored by %s%u replicas\n",
                (double)fs->stall_ns / 1e9,
                fs->done,
                fs->count,
                fs->holders != 0 ? "the chosen " : "f+1 = ",
                (unsigned)fs->need);
        return fs->failed ? VOIDCTL_EXIT_FAILED : VOIDCTL_EXIT_UNREACHABLE;
    }
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&res.root, hex);
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)strlen(key),
                            .value = (const uint8_t *)hex,
                            .value_len = VOID_HASH_HEX_SIZE - 1};
    if (run_kv(fs, &op) != 0) {
        summary(fs, "put: uploaded");
        fprintf(stderr, "voidctl: blocks uploaded, but committing the name timed out\n");
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    /* Where the blocks live, for task placement (docs/scheduler.md, "Where
     * data lives"): the replicas that acknowledged every block (any that
     * acknowledged one, if none did all), recorded through PBFT. */
    uint32_t every = UINT32_MAX, some = 0;
    for (size_t i = 0; i < fs->count; i++) {
        every &= fs->blocks[i].acks;
        some |= fs->blocks[i].acks;
    }
    struct void_task_op hold = {.op = VOID_TASK_HOLD};
    hold.hold.name = (struct void_task_str){(const uint8_t *)name, (uint16_t)strlen(name)};
    memcpy(hold.hold.root, res.root.b, VOID_HASH_SIZE);
    hold.hold.bytes = res.logical_bytes;
    for (uint32_t i = 0; i < fs->cl->count_replicas && i < VOID_TASK_HOLDERS_MAX; i++) {
        uint32_t id = fs->cl->replicas[i].id;
        if (id < 32 && ((every != 0 ? every : some) & (1u << id)) != 0) {
            hold.hold.holders[hold.hold.holder_count++] = id;
        }
    }
    uint8_t hold_op[VOID_TASK_OP_MAX];
    int hold_len = strlen(name) <= VOID_TASK_NAME_MAX
                       ? void_task_op_encode(&hold, hold_op, sizeof(hold_op))
                       : VOID_EINVAL;
    fs->kv_done = 0;
    if (hold_len > 0 &&
        void_kvclient_submit(&fs->kv, hold_op, (size_t)hold_len, on_kv_done, fs) == 0) {
        made_progress(fs);
        while (!fs->kv_done && alive(fs)) {
            uv_run(&fs->loop, UV_RUN_NOWAIT);
            uv_sleep(1);
        }
    }
    if (!fs->kv_done && !fs->quiet) {
        fprintf(stderr, "voidctl: note: the holders of '%s' were not recorded (tasks cannot "
                        "name it as an input)\n", name);
    }
    summary(fs, "put: stored");
    if (fs->json) {
        json_t *holders = json_array();
        for (uint32_t i = 0; i < hold.hold.holder_count; i++) {
            json_array_append_new(holders, json_integer(hold.hold.holders[i]));
        }
        print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}",
                             "status",
                             "ok",
                             "name",
                             name,
                             "root",
                             hex,
                             "blocks",
                             (json_int_t)fs->count,
                             "bytes",
                             (json_int_t)res.logical_bytes,
                             "holders",
                             holders));
    } else {
        printf(
            "ok %s %zu blocks %llu bytes\n", hex, fs->count, (unsigned long long)res.logical_bytes);
    }
    return VOIDCTL_EXIT_OK;
}

/* Reads the root of NAME through PBFT into *root; 0 or an exit status. */
static int get_root(struct files *fs, const char *name, const char *key, struct void_hash *root,
                    char hex[VOID_HASH_HEX_SIZE])
{
    struct void_sm_op op = {
        .kind = VOID_SM_OP_GET, .key = (const uint8_t *)key, .key_len = (uint16_t)strlen(key)};
    struct void_sm_result res;
    if (run_kv(fs, &op) != 0 || void_sm_result_decode(fs->result, fs->result_len, &res) != 0) {
        fprintf(stderr, "voidctl: reading the name timed out\n");
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    if (res.status != VOID_SM_OK || res.value_len != VOID_HASH_HEX_SIZE - 1) {
        fprintf(stderr, "voidctl: no file named '%s'\n", name);
        return VOIDCTL_EXIT_FAILED;
    }
    memcpy(hex, res.value, VOID_HASH_HEX_SIZE - 1);
    hex[VOID_HASH_HEX_SIZE - 1] = '\0';
    if (void_hash_from_hex(hex, root) != 0 || add_block(fs, root, 0, 0) != 0) {
        fprintf(stderr, "voidctl: the name '%s' does not hold a root hash\n", name);
        return VOIDCTL_EXIT_FAILED;
    }
    return VOIDCTL_EXIT_OK;
}

static int get_file(struct files *fs, const char *name, const char *key, const char *dest)
{
    char hex[VOID_HASH_HEX_SIZE];
    struct void_hash root;
    int rc = files_connect(fs);
    if (rc != 0) {
        return rc;
    }
    rc = get_root(fs, name, key, &root, hex);
    if (rc != 0) {
        return rc;
    }
    int to_stdout = strcmp(dest, "-") == 0;
    made_progress(fs);
    fetch_more(fs);
    while (fs->done < fs->count && alive(fs)) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        fetch_resend(fs);
        if (to_stdout && fs->blocks[0].state == 2 && fs->blocks[0].kind != VOID_CAS_FILE) {
            fprintf(stderr,
                    "voidctl get --file: '%s' is a directory; only a single file can go to "
                    "stdout: give a DEST path\n",
                    name);
            return VOIDCTL_EXIT_FAILED;
        }
        draw(fs, "fetched", 0);
        uv_sleep(1);
    }
    draw(fs, "fetched", 1);
    rc = fs->done == fs->count && !fs->failed ? insert_objects(fs, &root, 0) : VOID_ETIMEOUT;
    if (rc == 0) {
        rc = to_stdout ? void_cas_get_fd(&fs->cas, &root, 1, NULL, NULL)
                       : void_cas_get_path(&fs->cas, &root, dest, NULL, NULL);
    }
    if (rc != 0) {
        summary(fs, "get: stopped after");
        fprintf(stderr,
                "voidctl: cannot get '%s' (%zu of %zu blocks): %s\n",
                name,
                fs->done,
                fs->count,
                fs->failed ? "a block is missing on every replica"
                : rc == VOID_ETIMEOUT
                    ? "no block arrived within --timeout"
                    : void_strerror(rc));
        return rc == VOID_ETIMEOUT && !fs->failed ? VOIDCTL_EXIT_UNREACHABLE : VOIDCTL_EXIT_FAILED;
    }
    summary(fs, "get: restored");
    if (fs->json) {
        print_json(json_pack("{s:s, s:s, s:s, s:I, s:s}",
                             "status",
                             "ok",
                             "name",
                             name,
                             "root",
                             hex,
                             "blocks",
                             (json_int_t)fs->count,
                             "dest",
                             dest));
    } else if (!to_stdout) {
        printf("ok %s %zu blocks -> %s\n", hex, fs->count, dest);
    }
    return VOIDCTL_EXIT_OK;
}

int voidctl_files(struct voidctl_opts *o, const char *cmd, char **pos, int npos)
{
    int put = strcmp(cmd, "put") == 0;
    if (npos != 2) {
        fprintf(stderr,
                "usage: voidctl put --file PATH NAME | voidctl get --file NAME DEST|- "
                "(see voidctl %s --help)\n",
                cmd);
        return VOIDCTL_EXIT_USAGE;
    }
    char key[VOID_SM_KEY_MAX + 1];
    if (name_key(cmd, put ? pos[1] : pos[0], key) != 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (!put && strcmp(pos[1], "-") == 0 && o->json) {
        fprintf(stderr, "voidctl get --file: --json and DEST - both want stdout\n");
        return VOIDCTL_EXIT_USAGE;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(o, &cl);
    if (rc != 0) {
        return rc;
    }
    static struct files fs;
    fs.json = o->json;
    fs.quiet = o->quiet || o->json;
    fs.tty = isatty(2);
    fs.stall_ns = (uint64_t)(o->timeout_s * 1e9);
    fs.start_ns = void_kvclient_now_ns();
    if (files_open(&fs, &cl, put ? on_upload_frame : on_fetch_frame) != 0) {
        rc = VOIDCTL_EXIT_FAILED;
    } else {
        rc = put ? put_file(&fs, pos[0], pos[1], key, o->on, o->copies)
                 : get_file(&fs, pos[0], key, pos[1]);
    }
    files_close(&fs);
    void_config_fini(&cl);
    return rc;
}

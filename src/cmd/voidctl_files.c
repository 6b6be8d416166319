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
 * local store and writes the file or tree to DEST.
 */
#include "cmd/voidctl.h"
#include "void/casnet.h"
#include "void/config.h"
#include "void/error.h"
#include "void/kvclient.h"
#include "void/sm.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_WINDOW    64
#define FETCH_WINDOW     32
#define UPLOAD_RESEND_NS (1000ull * 1000 * 1000)
#define BLOCKS_MAX       (1u << 20)

struct block {
    struct void_hash hash;
    uint8_t kind;
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
    struct void_cas cas;
    int cas_ready;
    char tmp[64];
    struct block *blocks;
    size_t count;
    size_t done;
    size_t in_flight;
    uint32_t need; /* f + 1 */
    int failed;
    int json; /* --json output */
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

static int add_block(struct files *fs, const struct void_hash *h, uint8_t kind)
{
    if (find_block(fs, h) >= 0) {
        return 0;
    }
    if (fs->count == BLOCKS_MAX) {
        return VOID_EFULL;
    }
    fs->blocks[fs->count++] = (struct block){.hash = *h, .kind = kind};
    return 0;
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

static int run_kv(struct files *fs, const struct void_sm_op *op, uint64_t deadline_ns)
{
    uint8_t buf[VOID_SM_OP_MAX];
    int n = void_sm_op_encode(op, buf, sizeof(buf));
    if (n < 0 || void_kvclient_submit(&fs->kv, buf, (size_t)n, on_kv_done, fs) != 0) {
        return VOID_EINVAL;
    }
    while (!fs->kv_done && void_kvclient_now_ns() < deadline_ns) {
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
    (void)len;
    return add_block(ctx, h, kind);
}

/* Sends block b to every replica; 0, or -1 if it cannot be read back. */
static int send_block(struct files *fs, struct block *b)
{
    uint8_t *data = NULL;
    size_t len = 0;
    uint8_t kind = 0;
    if (void_cas_get_block(&fs->cas, &b->hash, &data, &len, &kind) != 0) {
        return -1;
    }
    uint8_t *body = malloc(len + 1);
    if (body != NULL) {
        body[0] = kind;
        memcpy(body + 1, data, len);
        (void)void_kvclient_send(&fs->kv, VOID_PBFT_TO_ALL, VOID_MSG_CAS_BLOCK, body, len + 1);
    }
    free(body);
    free(data);
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
    if (i < 0 || fs->blocks[i].state != 1) {
        return;
    }
    struct block *b = &fs->blocks[i];
    b->acks |= 1u << f->sender;
    if ((uint32_t)__builtin_popcount(b->acks) >= fs->need) {
        b->state = 2;
        fs->done++;
        fs->in_flight--;
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
    (void)void_kvclient_send(&fs->kv, to, VOID_MSG_CAS_FETCH, body, sizeof(body));
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
    return add_block(ctx, h, 0);
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
    } else if ((b->object = malloc(len)) != NULL) {
        memcpy(b->object, data, len);
        b->object_len = len;
        fs->failed |= void_casnet_children(kind, data, len, add_child, fs) != 0;
    }
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
    fs->need = (cl->count_replicas - 1) / 3 + 1;
    fs->blocks = calloc(BLOCKS_MAX, sizeof(*fs->blocks));
    uv_loop_init(&fs->loop);
    struct void_kvclient_config kc = {.loop = &fs->loop,
                                      .cluster = cl,
                                      .id = cl->self_id,
                                      .keypair = &cl->keypair,
                                      .reply_all = 1,
                                      .on_other = on_other,
                                      .other_ctx = fs};
    char err[512] = "";
    int rc = fs->blocks == NULL ? VOID_ENOMEM : open_local(fs);
    if (rc == 0) {
        rc = void_kvclient_init(&fs->kv, &kc, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "voidctl: %s\n", err[0] != '\0' ? err : void_strerror(rc));
    }
    return rc;
}

static void files_close(struct files *fs)
{
    void_kvclient_fini(&fs->kv);
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
}

static int put_file(struct files *fs, const char *path, const char *name, uint64_t deadline)
{
    struct void_cas_put_result res;
    int rc = void_cas_put_path(&fs->cas, path, NULL, NULL, NULL, &res);
    if (rc != 0) {
        fprintf(stderr, "voidctl: cannot read %s: %s\n", path, void_strerror(rc));
        return 1;
    }
    if ((rc = void_casnet_walk(&fs->cas, &res.root, collect, fs)) != 0) {
        fprintf(stderr, "voidctl: cannot walk the chunks of %s: %s\n", path, void_strerror(rc));
        return 1;
    }
    upload_more(fs);
    while (fs->done < fs->count && !fs->failed && void_kvclient_now_ns() < deadline) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        upload_resend(fs);
        uv_sleep(1);
    }
    if (fs->done < fs->count) {
        fprintf(stderr,
                "voidctl: upload timed out: %zu of %zu blocks stored by f+1 = %u replicas\n",
                fs->done,
                fs->count,
                (unsigned)fs->need);
        return 1;
    }
    char key[VOID_SM_KEY_MAX + 1], hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&res.root, hex);
    snprintf(key, sizeof(key), "%s%s", VOID_CASNET_NAME_PREFIX, name);
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)key,
                            .key_len = (uint16_t)strlen(key),
                            .value = (const uint8_t *)hex,
                            .value_len = VOID_HASH_HEX_SIZE - 1};
    if (run_kv(fs, &op, deadline) != 0) {
        fprintf(stderr, "voidctl: blocks uploaded, but committing the name timed out\n");
        return 1;
    }
    if (fs->json) {
        print_json(json_pack("{s:s, s:s, s:s, s:I, s:I}",
                             "status",
                             "ok",
                             "name",
                             name,
                             "root",
                             hex,
                             "blocks",
                             (json_int_t)fs->count,
                             "bytes",
                             (json_int_t)res.logical_bytes));
    } else {
        printf(
            "ok %s %zu blocks %llu bytes\n", hex, fs->count, (unsigned long long)res.logical_bytes);
    }
    return 0;
}

static int get_file(struct files *fs, const char *name, const char *dest, uint64_t deadline)
{
    char key[VOID_SM_KEY_MAX + 1], hex[VOID_HASH_HEX_SIZE];
    snprintf(key, sizeof(key), "%s%s", VOID_CASNET_NAME_PREFIX, name);
    struct void_sm_op op = {
        .kind = VOID_SM_OP_GET, .key = (const uint8_t *)key, .key_len = (uint16_t)strlen(key)};
    struct void_sm_result res;
    struct void_hash root;
    if (run_kv(fs, &op, deadline) != 0 ||
        void_sm_result_decode(fs->result, fs->result_len, &res) != 0) {
        fprintf(stderr, "voidctl: reading the name timed out\n");
        return 1;
    }
    if (res.status != VOID_SM_OK || res.value_len != VOID_HASH_HEX_SIZE - 1) {
        fprintf(stderr, "voidctl: no file named '%s'\n", name);
        return 1;
    }
    memcpy(hex, res.value, VOID_HASH_HEX_SIZE - 1);
    hex[VOID_HASH_HEX_SIZE - 1] = '\0';
    if (void_hash_from_hex(hex, &root) != 0 || add_block(fs, &root, 0) != 0) {
        return 1;
    }
    fetch_more(fs);
    while (fs->done < fs->count && !fs->failed && void_kvclient_now_ns() < deadline) {
        uv_run(&fs->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    int rc = fs->done == fs->count && !fs->failed ? insert_objects(fs, &root, 0) : VOID_ETIMEOUT;
    if (rc == 0) {
        rc = void_cas_get_path(&fs->cas, &root, dest, NULL, NULL);
    }
    if (rc != 0) {
        fprintf(stderr,
                "voidctl: cannot get '%s' (%zu of %zu blocks): %s\n",
                name,
                fs->done,
                fs->count,
                fs->failed ? "a block is missing on every replica" : void_strerror(rc));
        return 1;
    }
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
    } else {
        printf("ok %s %zu blocks -> %s\n", hex, fs->count, dest);
    }
    return 0;
}

int voidctl_files(struct voidctl_opts *o, const char *cmd, char **pos, int npos)
{
    if (npos != 2) {
        fprintf(stderr, "usage: voidctl put --file PATH NAME | voidctl get --file NAME DEST\n");
        return 2;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(o, &cl);
    if (rc != 0) {
        return rc;
    }
    static struct files fs;
    int put = strcmp(cmd, "put") == 0;
    fs.json = o->json;
    uint64_t deadline = void_kvclient_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    if (files_open(&fs, &cl, put ? on_upload_frame : on_fetch_frame) != 0) {
        rc = 1;
    } else {
        rc =
            put ? put_file(&fs, pos[0], pos[1], deadline) : get_file(&fs, pos[0], pos[1], deadline);
    }
    files_close(&fs);
    void_config_fini(&cl);
    return rc;
}

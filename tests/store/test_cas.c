/*
 * Tests of the LMDB-backed CAS store: tree round trips, dedup, streams,
 * pins and gc (a randomised property test against a model), corruption
 * and missing-block detection, refusal of directories that are not
 * stores, and gc running concurrently with puts in another process.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "lib/cas_tree.h"
#include "store/cas_int.h"
#include "void/cas.h"
#include "void/error.h"
#include "void/prng.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
    char dir[256];
    char store[300];
    struct void_cas cas;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    cas_tmpdir(f->dir, sizeof(f->dir));
    if (snprintf(f->store, sizeof(f->store), "%s/store", f->dir) < 0) {
        abort();
    }
    struct void_cas_config c;
    void_cas_config_default(&c);
    c.create = 1;
    c.threads = 2;
    /* Small chunks so that small test files still make many of them. */
    c.cdc = (struct void_cdc_config){1024, 4096, 16384};
    assert_int_equal(void_cas_init(&f->cas, f->store, &c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    void_cas_fini(&f->cas);
    cas_rmrf(f->dir);
    free(f);
    return 0;
}

static void assert_fsck_clean(struct void_cas *cas)
{
    struct void_cas_fsck_result r;
    assert_int_equal(void_cas_fsck(cas, &r, NULL, NULL), 0);
    assert_int_equal(r.corrupted, 0);
    assert_int_equal(r.missing, 0);
    assert_int_equal(r.bad_refcounts, 0);
}

/* Setup: random trees from three seeds (empty/large files, deep dirs, odd
 * names, symlinks, modes). Action: put, get into a new path. Expected: the
 * copy is identical (bytes, modes, links); a second put gives the same root
 * and writes nothing new; fsck is clean. */
static void test_cas_random_trees_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cas_tree_config tc = {60, 25, 8, 300000, 12};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        char src[400], dst[400];
        if (snprintf(src, sizeof(src), "%s/src%llu", f->dir, (unsigned long long)seed) < 0) {
            abort();
        }
        if (snprintf(dst, sizeof(dst), "%s/dst%llu", f->dir, (unsigned long long)seed) < 0) {
            abort();
        }
        uint64_t bytes = cas_tree_make(src, seed, &tc);
        struct void_cas_put_result r, r2;
        assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
        assert_int_equal(r.kind, VOID_CAS_DIR);
        assert_int_equal(r.logical_bytes, bytes);
        assert_int_equal(void_cas_get_path(&f->cas, &r.root, dst, NULL, NULL), 0);
        if (cas_tree_compare(src, dst) != 0) {
            fail_msg("seed %llu: tree differs after round trip", (unsigned long long)seed);
        }
        assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r2), 0);
        assert_true(void_hash_equal(&r.root, &r2.root));
        assert_int_equal(r2.new_bytes, 0);
        struct void_cas_tree_stat st;
        assert_int_equal(void_cas_tree_stat(&f->cas, &r.root, &st), 0);
        assert_int_equal(st.logical_bytes, bytes);
        assert_int_equal(st.symlinks, tc.symlinks);
    }
    assert_fsck_clean(&f->cas);
}

/* Setup: a directory with the same 1 MiB file under ten names in three
 * directories. Action: put. Expected: the raw bytes stored are about one
 * copy (1 MiB plus the small objects), not ten. */
static void test_cas_identical_content_stored_once(void **state)
{
    struct fixture *f = *state;
    char src[400], path[500];
    if (snprintf(src, sizeof(src), "%s/dups", f->dir) < 0) {
        abort();
    }
    assert_int_equal(mkdir(src, 0755), 0);
    for (int d = 0; d < 3; d++) {
        if (snprintf(path, sizeof(path), "%s/d%d", src, d) < 0) {
            abort();
        }
        assert_int_equal(mkdir(path, 0755), 0);
    }
    for (int i = 0; i < 10; i++) {
        if (snprintf(path, sizeof(path), "%s/d%d/copy %d", src, i % 3, i) < 0) {
            abort();
        }
        cas_write_random_file(path, 1 << 20, 42);
    }
    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
    struct void_cas_stats s;
    assert_int_equal(void_cas_stats(&f->cas, &s), 0);
    assert_int_equal(r.logical_bytes, 10u << 20);
    assert_true(s.raw_bytes >= 1u << 20);
    assert_true(s.raw_bytes < (1u << 20) + 64 * 1024);
    assert_int_equal(void_cas_pin(&f->cas, "dups", &r.root), 0);
    assert_int_equal(void_cas_stats(&f->cas, &s), 0);
    assert_int_equal(s.logical_bytes, 10u << 20);
    assert_true(s.logical_bytes / s.stored_bytes >= 9);
}

/* Writes a file of len bytes from seed: kind 0 random bytes, 1 random
 * values 0..15 (four bits of entropy per byte), 2 text of random words. */
static void write_content(const char *path, size_t len, int kind, uint64_t seed)
{
    static const char *const words[] = {"void ", "chunk ", "pack ", "store ", "hash ", "tree\n"};
    struct void_prng p;
    void_prng_seed(&p, seed);
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len;) {
        uint64_t r = void_prng_next(&p);
        if (kind == 2) {
            const char *w = words[r % 6];
            for (size_t k = 0; w[k] != '\0' && i < len; k++) {
                buf[i++] = (uint8_t)w[k];
            }
        } else {
            buf[i++] = (uint8_t)(kind == 1 ? r & 0x0f : r);
        }
    }
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
    free(buf);
}

/* Setup: files of random bytes, of random 4-bit values and of text, each
 * once large (read through a mapping, chunked on the workers) and once
 * small (chunked on the calling thread). Action: put each into the store.
 * Expected: random bytes are stored raw (stored = logical plus record
 * overhead), while the 4-bit values (byte histogram far from uniform, so
 * the randomness test lets zstd try) and the text are compressed (at most
 * 60% and 30% of their size); every file reads back intact. */
static void test_cas_compresses_what_shrinks_and_stores_random_raw(void **state)
{
    struct fixture *f = *state;
    const size_t sizes[] = {(3u << 19) + 7, 300000};
    const double most[] = {1.02, 0.6, 0.3};
    for (int kind = 0; kind < 3; kind++) {
        for (size_t k = 0; k < 2; k++) {
            char src[400];
            if (snprintf(src, sizeof(src), "%s/c%d-%zu", f->dir, kind, k) < 0) {
                abort();
            }
            write_content(src, sizes[k], kind, 100 + (uint64_t)kind * 2 + k);
            struct void_cas_put_result r;
            assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
            print_message("kind %d, %zu bytes: stored %llu\n",
                          kind,
                          sizes[k],
                          (unsigned long long)r.stored_bytes);
            assert_int_equal(r.logical_bytes, sizes[k]);
            assert_true((double)r.stored_bytes <= most[kind] * (double)sizes[k]);
            if (kind == 0) {
                assert_true(r.stored_bytes >= sizes[k]);
            }
            uint8_t *obj, okind;
            size_t olen;
            assert_int_equal(void_cas_get_block(&f->cas, &r.root, &obj, &olen, &okind), 0);
            assert_int_equal(okind, VOID_CAS_FILE);
            free(obj);
        }
    }
    assert_fsck_clean(&f->cas);
}

/* Setup: a directory where small files (queued as ready blocks) alternate
 * with files larger than 1 MiB (read through a mapping, one of them over
 * two segments), so that mapped segments follow queued blocks still in
 * flight. Action: put, get into a new path, put again. Expected: the copy
 * is identical, the second put gives the same root and stores nothing. */
static void test_cas_tree_of_small_and_mapped_files_round_trips(void **state)
{
    struct fixture *f = *state;
    char src[400], dst[400], path[500];
    if (snprintf(src, sizeof(src), "%s/mixed", f->dir) < 0 ||
        snprintf(dst, sizeof(dst), "%s/mixed.out", f->dir) < 0) {
        abort();
    }
    assert_int_equal(mkdir(src, 0755), 0);
    const size_t sizes[] = {
        1000, (8u << 20) + 100000, 70000, (2u << 20) + 1, 5, 300000, (1u << 20) + 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (snprintf(path, sizeof(path), "%s/f%zu", src, i) < 0) {
            abort();
        }
        /* Large files random (not compressed: quick under ASan), small mixed. */
        write_content(path, sizes[i], sizes[i] > (1u << 20) ? 0 : (int)(i % 3), 300 + i);
    }
    struct void_cas_put_result r, r2;
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
    assert_int_equal(void_cas_get_path(&f->cas, &r.root, dst, NULL, NULL), 0);
    assert_int_equal(cas_tree_compare(src, dst), 0);
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r2), 0);
    assert_true(void_hash_equal(&r.root, &r2.root));
    assert_int_equal(r2.new_bytes, 0);
    assert_fsck_clean(&f->cas);
}

/* Setup: a 3 MB file, opened and positioned at byte 1000, and a copy of
 * its bytes from 1000 on. Action: put the open file with void_cas_put_fd,
 * put the copy by path. Expected: the same root: put_fd stores what a read
 * from the descriptor's position gives, as for a pipe, although a regular
 * file from its start would be read through a mapping. */
static void test_cas_put_fd_starts_at_the_descriptor_position(void **state)
{
    struct fixture *f = *state;
    char src[400], tail[400];
    if (snprintf(src, sizeof(src), "%s/whole", f->dir) < 0 ||
        snprintf(tail, sizeof(tail), "%s/tail", f->dir) < 0) {
        abort();
    }
    size_t len = 3000000, skip = 1000;
    write_content(src, len, 0, 77);
    uint8_t *buf = malloc(len);
    FILE *in = fopen(src, "rb");
    assert_int_equal(fread(buf, 1, len, in), len);
    fclose(in);
    FILE *out = fopen(tail, "wb");
    assert_int_equal(fwrite(buf + skip, 1, len - skip, out), len - skip);
    assert_int_equal(fclose(out), 0);
    free(buf);
    int fd = open(src, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
    struct void_cas_put_result a, b;
    assert_int_equal(void_cas_put_fd(&f->cas, fd, NULL, NULL, NULL, &a), 0);
    close(fd);
    assert_int_equal(void_cas_put_path(&f->cas, tail, NULL, NULL, NULL, &b), 0);
    assert_int_equal(a.logical_bytes, len - skip);
    assert_true(void_hash_equal(&a.root, &b.root));
}

/* Setup: a 20 MB file (three ingest segments). Action: put it by path
 * (read through a mapping) and through a pipe (read in segments with the
 * overlap copied over). Expected: the same root hash; get gives the bytes. */
static void test_cas_stream_put_matches_file_put(void **state)
{
    struct fixture *f = *state;
    char src[400], out[400];
    if (snprintf(src, sizeof(src), "%s/big", f->dir) < 0) {
        abort();
    }
    if (snprintf(out, sizeof(out), "%s/big.out", f->dir) < 0) {
        abort();
    }
    cas_write_random_file(src, 20000003, 7);
    struct void_cas_put_result a, b;
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &a), 0);
    assert_int_equal(a.kind, VOID_CAS_FILE);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        FILE *in = fopen(src, "rb");
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
            if (write(fds[1], buf, n) != (ssize_t)n) {
                _exit(1);
            }
        }
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(void_cas_put_fd(&f->cas, fds[0], NULL, NULL, NULL, &b), 0);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    assert_true(void_hash_equal(&a.root, &b.root));
    assert_int_equal(void_cas_get_path(&f->cas, &a.root, out, NULL, NULL), 0);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, 20000003);
    assert_int_equal(void_cas_get_path(&f->cas, &a.root, out, NULL, NULL), VOID_EEXIST);
}

/* Setup: a 20 MB file (three ingest segments) of random bytes with a run
 * of zeros and a repeated block in it. Action: put it with two worker
 * threads. Expected: its chunk list equals a single serial pass of the
 * chunker over the whole file (the segments are cut in parallel and
 * stitched back; this checks the stitching). */
static void test_cas_parallel_chunking_equals_single_pass(void **state)
{
    struct fixture *f = *state;
    size_t len = 20u << 20;
    char src[400];
    if (snprintf(src, sizeof(src), "%s/segments", f->dir) < 0) {
        abort();
    }
    cas_write_random_file(src, len, 5);
    uint8_t *data = malloc(len);
    FILE *in = fopen(src, "rb");
    assert_int_equal(fread(data, 1, len, in), len);
    fclose(in);
    memset(data + (8u << 20) - 5000, 0, 300000);             /* zeros across a segment edge */
    memcpy(data + (15u << 20), data + (3u << 20), 1u << 20); /* repeated content */
    FILE *out = fopen(src, "wb");
    assert_int_equal(fwrite(data, 1, len, out), len);
    fclose(out);

    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
    uint8_t *obj, kind;
    size_t olen;
    assert_int_equal(void_cas_get_block(&f->cas, &r.root, &obj, &olen, &kind), 0);
    struct void_casobj_file fo;
    assert_int_equal(void_casobj_file_decode(obj, olen, &fo), 0);
    size_t off = 0;
    uint32_t i = 0;
    for (; off < len; i++) {
        size_t n = void_cdc_cut(&f->cas.cdc, data + off, len - off);
        struct void_casobj_chunk c;
        assert_true(i < fo.count);
        void_casobj_file_chunk(&fo, i, &c);
        assert_int_equal(c.size, n);
        struct void_hash h;
        void_hash_compute(data + off, n, &h);
        assert_true(void_hash_equal(&h, &c.hash));
        off += n;
    }
    assert_int_equal(i, fo.count);
    free(obj);
    free(data);
}

struct reach {
    struct void_hash *v;
    size_t n, cap;
};

static void reach_add(struct reach *r, const struct void_hash *h)
{
    for (size_t i = 0; i < r->n; i++) {
        if (void_hash_equal(&r->v[i], h)) {
            return;
        }
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n++] = *h;
}

/* Collects every block reachable from h (h itself, objects, chunks). */
static void reach_walk(struct void_cas *cas, const struct void_hash *h, struct reach *r)
{
    uint8_t *data, kind;
    size_t len;
    assert_int_equal(void_cas_get_block(cas, h, &data, &len, &kind), 0);
    reach_add(r, h);
    if (kind == VOID_CAS_FILE) {
        struct void_casobj_file fo;
        assert_int_equal(void_casobj_file_decode(data, len, &fo), 0);
        for (uint32_t i = 0; i < fo.count; i++) {
            struct void_casobj_chunk c;
            void_casobj_file_chunk(&fo, i, &c);
            reach_walk(cas, &c.hash, r);
        }
    } else if (kind == VOID_CAS_DIR) {
        struct void_casobj_dir d;
        struct void_casobj_entry e;
        assert_int_equal(void_casobj_dir_decode(data, len, &d), 0);
        while (void_casobj_dir_next(&d, &e)) {
            if (e.type != VOID_CAS_SYMLINK) {
                reach_walk(cas, &e.hash, r);
            }
        }
    }
    free(data);
}

static void collect_pin(void *arg, const char *name, const struct void_hash *h)
{
    (void)name;
    struct void_hash *roots = arg;
    size_t i = 0;
    while (roots[i].b[0] != 0 || roots[i].b[1] != 0) {
        i++;
    }
    roots[i] = *h;
}

/* Setup: eight small trees sharing content. Action: 120 random operations
 * (put a tree, pin a root under one of four names, unpin, gc), seeded.
 * Expected after every gc: every block reachable from a pin is still
 * readable (hash verified), the store holds exactly the reachable blocks
 * (unreachable ones were collected), and fsck is clean. */
static void test_cas_gc_never_frees_reachable_and_frees_the_rest(void **state)
{
    struct fixture *f = *state;
    struct cas_tree_config tc = {12, 4, 2, 60000, 3};
    char src[8][400];
    for (int i = 0; i < 8; i++) {
        if (snprintf(src[i], sizeof(src[i]), "%s/t%d", f->dir, i) < 0) {
            abort();
        }
        cas_tree_make(src[i], 100 + (uint64_t)(i % 4), &tc); /* pairs share seeds */
        if (i >= 4) {
            char extra[500];
            if (snprintf(extra, sizeof(extra), "%s/extra", src[i]) < 0) {
                abort();
            }
            cas_write_random_file(extra, 20000, (uint64_t)i);
        }
    }
    struct void_prng p;
    void_prng_seed(&p, 77);
    struct void_hash last[8];
    int have[8] = {0};
    const char *names[] = {"p0", "p1", "p2", "p3"};
    for (int op = 0; op < 120; op++) {
        uint64_t kind = void_prng_below(&p, 4);
        int t = (int)void_prng_below(&p, 8);
        if (kind == 0 || !have[t]) {
            struct void_cas_put_result r;
            assert_int_equal(void_cas_put_path(&f->cas, src[t], NULL, NULL, NULL, &r), 0);
            last[t] = r.root;
            have[t] = 1;
        } else if (kind == 1) {
            int rc = void_cas_pin(&f->cas, names[void_prng_below(&p, 4)], &last[t]);
            /* The root may have been collected by a gc since its put. */
            assert_true(rc == 0 || rc == VOID_ECAS_MISSING);
            have[t] = rc == 0;
        } else if (kind == 2) {
            int rc = void_cas_unpin(&f->cas, names[void_prng_below(&p, 4)]);
            assert_true(rc == 0 || rc == VOID_ENOTFOUND);
        } else {
            struct void_cas_gc_result g;
            assert_int_equal(void_cas_gc(&f->cas, &g), 0);
            struct void_hash roots[5];
            memset(roots, 0, sizeof(roots));
            assert_int_equal(void_cas_pins(&f->cas, collect_pin, roots), 0);
            struct reach r = {NULL, 0, 0};
            for (int i = 0; i < 4 && (roots[i].b[0] | roots[i].b[1]); i++) {
                reach_walk(&f->cas, &roots[i], &r);
            }
            struct void_cas_stats s;
            assert_int_equal(void_cas_stats(&f->cas, &s), 0);
            assert_int_equal(s.blocks, r.n);
            free(r.v);
            memset(have, 0, sizeof(have));
        }
    }
    assert_fsck_clean(&f->cas);
}

/* Setup: a stored file. Action: flip bits of one chunk in its pack file,
 * then delete another chunk's record directly in LMDB. Expected: get fails
 * with VOID_ECAS_HASH_MISMATCH, then VOID_ECAS_MISSING; fsck counts one
 * corrupted and one missing block. */
static void test_cas_detects_corrupted_and_missing_blocks(void **state)
{
    struct fixture *f = *state;
    char src[400];
    if (snprintf(src, sizeof(src), "%s/victim", f->dir) < 0) {
        abort();
    }
    cas_write_random_file(src, 200000, 9);
    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&f->cas, src, NULL, NULL, NULL, &r), 0);
    assert_int_equal(void_cas_pin(&f->cas, "victim", &r.root), 0);
    uint8_t *obj, kind;
    size_t len;
    assert_int_equal(void_cas_get_block(&f->cas, &r.root, &obj, &len, &kind), 0);
    struct void_casobj_file fo;
    struct void_casobj_chunk c0, c1;
    assert_int_equal(void_casobj_file_decode(obj, len, &fo), 0);
    assert_true(fo.count >= 2);
    void_casobj_file_chunk(&fo, 0, &c0);
    void_casobj_file_chunk(&fo, 1, &c1);
    free(obj);

    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->cas.env, NULL, MDB_RDONLY, &txn), 0);
    MDB_val k = {VOID_HASH_SIZE, c0.hash.b}, v;
    assert_int_equal(mdb_get(txn, f->cas.blocks, &k, &v), 0);
    uint32_t pack, plen;
    uint64_t off;
    assert_int_equal(void__cas_record_locator(&v, &pack, &off, &plen), 0);
    mdb_txn_abort(txn);
    /* Flip bits in the chunk's payload inside its pack file. */
    char path[600];
    if (snprintf(path, sizeof(path), "%s/packs/%08x.pack", f->store, (unsigned)pack) < 0) {
        abort();
    }
    int pfd = open(path, O_RDWR);
    assert_true(pfd >= 0);
    uint8_t byte;
    assert_int_equal(pread(pfd, &byte, 1, (off_t)(off + plen - 1)), 1);
    byte ^= 0x55;
    assert_int_equal(pwrite(pfd, &byte, 1, (off_t)(off + plen - 1)), 1);
    close(pfd);

    int fd = open("/dev/null", O_WRONLY);
    assert_int_equal(void_cas_get_fd(&f->cas, &r.root, fd, NULL, NULL), VOID_ECAS_HASH_MISMATCH);
    struct void_cas_fsck_result fr;
    assert_int_equal(void_cas_fsck(&f->cas, &fr, NULL, NULL), 0);
    assert_int_equal(fr.corrupted, 1);
    assert_int_equal(fr.missing, 0);

    assert_int_equal(mdb_txn_begin(f->cas.env, NULL, 0, &txn), 0);
    MDB_val k1 = {VOID_HASH_SIZE, c1.hash.b};
    assert_int_equal(mdb_del(txn, f->cas.blocks, &k1, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(void_cas_fsck(&f->cas, &fr, NULL, NULL), 0);
    assert_int_equal(fr.corrupted, 1);
    assert_int_equal(fr.missing, 1);
    uint8_t *data;
    assert_int_equal(void_cas_get_block(&f->cas, &c1.hash, &data, &len, &kind), VOID_ECAS_MISSING);
    close(fd);
}

/* A directory holding other files, a missing directory and a regular file
 * are refused as stores; an empty directory becomes one on create. */
static void test_cas_refuses_directories_that_are_not_stores(void **state)
{
    struct fixture *f = *state;
    struct void_cas other;
    struct void_cas_config c;
    void_cas_config_default(&c);
    char path[400];
    if (snprintf(path, sizeof(path), "%s/notastore", f->dir) < 0) {
        abort();
    }
    assert_int_equal(mkdir(path, 0755), 0);
    char file[500];
    if (snprintf(file, sizeof(file), "%s/notes.txt", path) < 0) {
        abort();
    }
    cas_write_random_file(file, 10, 1);
    assert_int_equal(void_cas_init(&other, path, &c), VOID_ECAS_NOT_STORE);
    void_cas_fini(&other);
    c.create = 1;
    assert_int_equal(void_cas_init(&other, path, &c), VOID_ECAS_NOT_STORE);
    void_cas_fini(&other);
    assert_int_equal(void_cas_init(&other, file, &c), VOID_ECAS_NOT_STORE);
    void_cas_fini(&other);
    c.create = 0;
    if (snprintf(path, sizeof(path), "%s/absent", f->dir) < 0) {
        abort();
    }
    assert_int_equal(void_cas_init(&other, path, &c), VOID_ENOTFOUND);
    void_cas_fini(&other);
    c.create = 1;
    assert_int_equal(void_cas_init(&other, path, &c), 0);
    void_cas_fini(&other);
    c.create = 0;
    assert_int_equal(void_cas_init(&other, path, &c), 0);
    void_cas_fini(&other);
    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&f->cas, "/nonexistent/void", NULL, NULL, NULL, &r),
                     VOID_ENOTFOUND);
}

/* The owner record: none in a new store; set, it survives a reopen;
 * cleared with ""; a name longer than VOID_CAS_OWNER_MAX is refused and
 * changes nothing. */
static void test_cas_owner_is_recorded_and_survives_reopen(void **state)
{
    struct fixture *f = *state;
    char owner[VOID_CAS_OWNER_MAX + 1];
    assert_int_equal(void_cas_owner(&f->cas, owner, sizeof(owner)), 0);
    assert_string_equal(owner, "");
    assert_int_equal(void_cas_set_owner(&f->cas, "voidd"), 0);
    char longer[VOID_CAS_OWNER_MAX + 2];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(void_cas_set_owner(&f->cas, longer), VOID_EINVAL);
    void_cas_fini(&f->cas);
    struct void_cas_config c;
    void_cas_config_default(&c);
    assert_int_equal(void_cas_init(&f->cas, f->store, &c), 0);
    assert_int_equal(void_cas_owner(&f->cas, owner, sizeof(owner)), 0);
    assert_string_equal(owner, "voidd");
    longer[VOID_CAS_OWNER_MAX] = '\0';
    assert_int_equal(void_cas_set_owner(&f->cas, longer), 0);
    assert_int_equal(void_cas_owner(&f->cas, owner, sizeof(owner)), 0);
    assert_string_equal(owner, longer);
    assert_int_equal(void_cas_set_owner(&f->cas, ""), 0);
    assert_int_equal(void_cas_owner(&f->cas, owner, sizeof(owner)), 0);
    assert_string_equal(owner, "");
    assert_int_equal(void_cas_set_owner(&f->cas, ""), 0); /* clearing twice is fine */
}

/* Setup: a child process putting and pinning trees in a loop (its own
 * handle on the same store). Action: the parent runs gc over and over
 * meanwhile. Expected: every put of the child succeeds, every pinned tree
 * is complete afterwards, and fsck is clean. */
static void test_cas_gc_concurrent_with_puts(void **state)
{
    struct fixture *f = *state;
    struct cas_tree_config tc = {10, 3, 1, 50000, 3};
    char src[6][400];
    for (int i = 0; i < 6; i++) {
        if (snprintf(src[i], sizeof(src[i]), "%s/c%d", f->dir, i) < 0) {
            abort();
        }
        cas_tree_make(src[i], 200 + (uint64_t)i, &tc);
    }
    /* Both sides open the store shared, as voidctl cas does. */
    struct void_cas_config sc;
    void_cas_config_default(&sc);
    sc.shared = 1;
    void_cas_fini(&f->cas);
    assert_int_equal(void_cas_init(&f->cas, f->store, &sc), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct void_cas cas;
        struct void_cas_config c;
        void_cas_config_default(&c);
        c.cdc = f->cas.cdc.config;
        c.shared = 1;
        if (void_cas_init(&cas, f->store, &c) != 0) {
            _exit(2);
        }
        for (int i = 0; i < 30; i++) {
            struct void_cas_put_result r;
            char name[16];
            if (snprintf(name, sizeof(name), "c%d", i % 6) < 0) {
                abort();
            }
            if (void_cas_put_path(&cas, src[i % 6], name, NULL, NULL, &r) != 0) {
                _exit(1);
            }
        }
        void_cas_fini(&cas);
        _exit(0);
    }
    int status = 0, gcs = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        struct void_cas_gc_result g;
        assert_int_equal(void_cas_gc(&f->cas, &g), 0);
        gcs++;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    print_message("%d gc runs during the puts\n", gcs);
    for (int i = 0; i < 6; i++) {
        char name[16], dst[400];
        struct void_hash h;
        if (snprintf(name, sizeof(name), "c%d", i) < 0) {
            abort();
        }
        if (snprintf(dst, sizeof(dst), "%s/out%d", f->dir, i) < 0) {
            abort();
        }
        assert_int_equal(void_cas_pin_get(&f->cas, name, &h), 0);
        assert_int_equal(void_cas_get_path(&f->cas, &h, dst, NULL, NULL), 0);
        assert_int_equal(cas_tree_compare(src[i], dst), 0);
    }
    assert_fsck_clean(&f->cas);
}

/* Setup: a store holding a tree, closed. Action: write random bytes over the
 * first 4 KiB page of its data.mdb (an LMDB meta page) and open it.
 * Expected: VOID_ECAS_DAMAGED, not "not a store", with cas.error naming
 * data.mdb and the ways to recover; an empty directory and one holding other
 * files still give VOID_ECAS_NOT_STORE
 * (test_cas_refuses_directories_that_are_not_stores). */
static void test_cas_damaged_first_page_is_reported_as_damage(void **state)
{
    struct fixture *f = *state;
    char src[400], path[400];
    if (snprintf(src, sizeof(src), "%s/src", f->dir) < 0 ||
        snprintf(path, sizeof(path), "%s/data.mdb", f->store) < 0) {
        abort();
    }
    struct cas_tree_config tc = {10, 2, 1, 20000, 2};
    cas_tree_make(src, 11, &tc);
    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&f->cas, src, "t", NULL, NULL, &r), 0);
    void_cas_fini(&f->cas);
    uint8_t junk[4096];
    struct void_prng p;
    void_prng_seed(&p, 16);
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)void_prng_below(&p, 256);
    }
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    assert_int_equal(close(fd), 0);
    struct void_cas_config c;
    void_cas_config_default(&c);
    int rc = void_cas_init(&f->cas, f->store, &c);
    print_message("%s: %s\n", void_err_name(rc), f->cas.error);
    assert_int_equal(rc, VOID_ECAS_DAMAGED);
    assert_non_null(strstr(f->cas.error, path));
    assert_non_null(strstr(f->cas.error, "damaged"));
    assert_non_null(strstr(f->cas.error, "peers"));
    assert_non_null(strstr(void_strerror(rc), "damaged"));
}

/* Opens dir with the given lock mode; the result code. */
static int open_mode(struct void_cas *cas, const char *dir, int shared)
{
    struct void_cas_config c;
    void_cas_config_default(&c);
    c.shared = shared;
    return void_cas_init(cas, dir, &c);
}

struct holder {
    pid_t pid;
    int hold_fd; /* closing it lets the child close the store and exit */
};

/* A child that opens dir (shared or not), says so on a pipe, and holds the
 * store until the parent closes its end of another. */
static struct holder holder_start(const char *dir, int shared)
{
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* never outlives a parent that failed */
        close(ready[0]);
        close(hold[1]);
        struct void_cas cas;
        char ok = open_mode(&cas, dir, shared) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) {
            _exit(3);
        }
        char c;
        while (read(hold[0], &c, 1) > 0) {
        }
        void_cas_fini(&cas);
        _exit(ok == 'y' ? 0 : 2);
    }
    close(ready[1]);
    close(hold[0]);
    char ok = 'n';
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_int_equal(ok, 'y');
    return (struct holder){pid, hold[1]};
}

static void holder_stop(struct holder h)
{
    close(h.hold_fd);
    int status = 0;
    assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Opens dir in the given mode expecting VOID_ECAS_LOCKED, with cas.error
 * naming the holder's pid and the lock file. */
static void assert_locked_by(const char *dir, int shared, pid_t holder)
{
    struct void_cas cas;
    assert_int_equal(open_mode(&cas, dir, shared), VOID_ECAS_LOCKED);
    char pid[32];
    if (snprintf(pid, sizeof(pid), "process %ld", (long)holder) < 0) {
        abort();
    }
    print_message("%s\n", cas.error);
    assert_non_null(strstr(cas.error, pid));
    assert_non_null(strstr(cas.error, "store.lock"));
    void_cas_fini(&cas);
}

/* Setup: the store closed by this process. Action: a child process opens it
 * exclusively (as voidd does), then shared (as voidctl cas does), and this
 * process opens it meanwhile in either mode. Expected: beside an exclusive
 * holder every open fails at once with VOID_ECAS_LOCKED naming the child's
 * pid; beside a shared one, shared opens succeed and an exclusive one fails
 * naming it; once the child is gone, the store opens again. */
static void test_cas_store_is_locked_against_other_processes(void **state)
{
    struct fixture *f = *state;
    void_cas_fini(&f->cas);
    struct holder h = holder_start(f->store, 0);
    assert_locked_by(f->store, 0, h.pid);
    assert_locked_by(f->store, 1, h.pid);
    holder_stop(h);
    h = holder_start(f->store, 1);
    assert_locked_by(f->store, 0, h.pid);
    assert_int_equal(open_mode(&f->cas, f->store, 1), 0);
    void_cas_fini(&f->cas);
    holder_stop(h);
    assert_int_equal(open_mode(&f->cas, f->store, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cas_random_trees_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_identical_content_stored_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_stream_put_matches_file_put, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_compresses_what_shrinks_and_stores_random_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_tree_of_small_and_mapped_files_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_put_fd_starts_at_the_descriptor_position, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_parallel_chunking_equals_single_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_gc_never_frees_reachable_and_frees_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_detects_corrupted_and_missing_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_refuses_directories_that_are_not_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_gc_concurrent_with_puts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_owner_is_recorded_and_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_damaged_first_page_is_reported_as_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cas_store_is_locked_against_other_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The replicated state's stores (include/void/kvs.h) at 100,000 keys: puts
 * (batches of 100, one commit each) and point gets through the LMDB store
 * against raw LMDB doing the same work (one table keyed by the key, the same
 * flags, MDB_NOSYNC), and the in-memory store's figures beside them. Also the
 * digest's cost: what a commit spends per write keeping the bucket digests
 * and the Merkle tree up to date, what a checkpoint digest then costs, and
 * what hashing the whole state would cost instead (as src/core/sm.c does).
 * Then snapshots (PBFT checkpoints): what a take costs at 100,000 keys, and
 * what the first batch after a take costs over one without (the memory
 * store's copy-on-write), and the VKX1 export and import throughput of the
 * whole state between the two stores.
 * Keys are 16 bytes, values 100 bytes. Figures in docs/kvs.md.
 */
#include "bench.h"
#include "void/kvs.h"
#include "void/prng.h"

#include <dirent.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS   100000u
#define BATCH  100u
#define ROUNDS 5
#define OPS    20000u /* per round */
#define VLEN   100u

/* CPU time of this process, not wall time: the bench machine is shared by
 * up to eight jobs on two cores, and the figures should be what the stores
 * cost, not how long they waited for a core. */
static uint64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
#define bench_now_ns cpu_ns

static uint8_t value[VLEN];
static uint64_t wall = 1;

static void key_of(uint32_t i, uint8_t k[16])
{
    snprintf((char *)k, 17, "key%013u", i);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_kvs: %s: %d\n", what, rc);
    exit(1);
}

static void rm_dir(const char *dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

/* ---- ours ------------------------------------------------------------------ */

static double commit_ns; /* time spent in commit, summed */

/* Puts keys [from, from+n) in batches of BATCH; returns ns per put. */
static double kvs_puts(struct void_kvs *kvs, uint32_t from, uint32_t n, struct void_prng *rng)
{
    uint8_t k[17];
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i += BATCH) {
        struct void_hlc_ts t = {wall++, 0};
        int rc = void_kvs_begin(kvs, t, wall);
        for (uint32_t j = 0; j < BATCH && rc == 0; j++) {
            uint32_t id = rng != NULL ? (uint32_t)void_prng_below(rng, KEYS) : from + i + j;
            key_of(id, k);
            value[0] = (uint8_t)wall;
            rc = void_kvs_put(kvs, k, 16, value, VLEN);
        }
        uint64_t c0 = bench_now_ns();
        if (rc != 0 || (rc = void_kvs_commit(kvs)) != 0) {
            die("put", rc);
        }
        commit_ns += (double)(bench_now_ns() - c0);
    }
    return (double)(bench_now_ns() - t0) / n;
}

static double kvs_gets(struct void_kvs *kvs, struct void_prng *rng)
{
    uint8_t k[17];
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < OPS; i++) {
        key_of((uint32_t)void_prng_below(rng, KEYS), k);
        struct void_kvs_version v;
        int rc = void_kvs_get(kvs, k, 16, NULL, &v);
        if (rc != 0 || v.value_len != VLEN) {
            die("get", rc);
        }
    }
    return (double)(bench_now_ns() - t0) / OPS;
}

/* ---- raw LMDB --------------------------------------------------------------- */

static MDB_env *env;
static MDB_dbi dbi;
static MDB_txn *rtxn;

static void raw_open(const char *dir)
{
    MDB_txn *txn;
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 2) != 0 ||
        mdb_env_set_mapsize(env, 1ull << 30) != 0 ||
        mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_dbi_open(txn, "kv", MDB_CREATE, &dbi) != 0 ||
        mdb_txn_commit(txn) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &rtxn) != 0) {
        die("raw open", 0);
    }
    mdb_txn_reset(rtxn);
}

static double raw_puts(uint32_t from, uint32_t n, struct void_prng *rng)
{
    uint8_t k[17];
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i += BATCH) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        for (uint32_t j = 0; j < BATCH && rc == 0; j++) {
            uint32_t id = rng != NULL ? (uint32_t)void_prng_below(rng, KEYS) : from + i + j;
            key_of(id, k);
            value[0] = (uint8_t)i;
            MDB_val mk = {16, k}, mv = {VLEN, value};
            rc = mdb_put(txn, dbi, &mk, &mv, 0);
        }
        if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
            die("raw put", rc);
        }
    }
    return (double)(bench_now_ns() - t0) / n;
}

/* One renewed read transaction per get, as the store does between calls. */
static double raw_gets(struct void_prng *rng)
{
    uint8_t k[17];
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < OPS; i++) {
        key_of((uint32_t)void_prng_below(rng, KEYS), k);
        MDB_val mk = {16, k}, mv;
        if (mdb_txn_renew(rtxn) != 0 || mdb_get(rtxn, dbi, &mk, &mv) != 0 || mv.mv_size != VLEN) {
            die("raw get", 0);
        }
        mdb_txn_reset(rtxn);
    }
    return (double)(bench_now_ns() - t0) / OPS;
}

/* ---- snapshots, export and import ----------------------------------------------- */

/* Median ns of a snapshot take (each released before the next). */
static double snapshot_take_ns(struct void_kvs *kvs)
{
    double t[101];
    for (int i = 0; i < 101; i++) {
        struct void_kvs_snap *s;
        uint64_t t0 = bench_now_ns();
        int rc = void_kvs_snapshot_take(kvs, &s);
        t[i] = (double)(bench_now_ns() - t0);
        if (rc != 0) {
            die("snapshot take", rc);
        }
        void_kvs_snapshot_release(kvs, s);
    }
    return bench_median(t, 101);
}

/* Median ns of a batch of BATCH random updates right after a take, and of
 * one with no snapshot live. */
static void batch_after_take(struct void_kvs *kvs, struct void_prng *rng, double *with, double *without)
{
    double w[21], wo[21];
    for (int i = 0; i < 21; i++) {
        wo[i] = kvs_puts(kvs, 0, BATCH, rng) * BATCH;
        struct void_kvs_snap *s;
        if (void_kvs_snapshot_take(kvs, &s) != 0) {
            die("snapshot take", 0);
        }
        w[i] = kvs_puts(kvs, 0, BATCH, rng) * BATCH;
        void_kvs_snapshot_release(kvs, s);
    }
    *with = bench_median(w, 21);
    *without = bench_median(wo, 21);
}

struct membuf {
    uint8_t *p;
    size_t len, cap;
};

static int membuf_write(void *arg, const uint8_t *data, size_t n)
{
    struct membuf *b = arg;
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 1u << 20 : b->cap;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* Exports kvs from a snapshot; returns MB/s and fills out. */
static double export_mbs(struct void_kvs *kvs, struct membuf *out)
{
    struct void_kvs_snap *s;
    if (void_kvs_snapshot_take(kvs, &s) != 0) {
        die("snapshot take", 0);
    }
    out->len = 0;
    uint64_t t0 = bench_now_ns();
    int rc = void_kvs_export(kvs, s, membuf_write, out);
    double ns = (double)(bench_now_ns() - t0);
    void_kvs_snapshot_release(kvs, s);
    if (rc != 0) {
        die("export", rc);
    }
    return (double)out->len / (ns / 1e9) / 1e6;
}

/* Imports buf into kvs; returns MB/s and checks the digest. */
static double import_mbs(struct void_kvs *kvs, const struct membuf *in, const uint8_t want[32])
{
    uint8_t got[32];
    uint64_t t0 = bench_now_ns();
    int rc = void_kvs_import(kvs, in->p, in->len, got);
    double ns = (double)(bench_now_ns() - t0);
    if (rc != 0 || memcmp(got, want, 32) != 0) {
        die("import", rc);
    }
    return (double)in->len / (ns / 1e9) / 1e6;
}

/* ---- the full-state digest, for comparison ----------------------------------------- */

static int
hash_version(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    uint8_t eh[32];
    void_kvs_version_hash(key, klen, v->hlc, v->deleted, v->value, v->value_len, eh);
    void_kvs_bucket_add_version(arg, eh);
    return 0;
}

/* Hashes every entry again, bucket by bucket: what a checkpoint would cost if
 * the digest were not incremental. Returns ns. */
static double full_digest(struct void_kvs *kvs)
{
    uint64_t t0 = bench_now_ns();
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        struct void_kvs_bucket_ctx c;
        uint8_t d[32];
        void_kvs_bucket_init(&c, b);
        if (void_kvs_partition(kvs, b, hash_version, NULL, &c) != 0) {
            die("partition", 0);
        }
        void_kvs_bucket_final(&c, d);
    }
    return (double)(bench_now_ns() - t0);
}

int main(void)
{
    char dir_ours[] = "/tmp/bench-kvs-XXXXXX", dir_raw[] = "/tmp/bench-kvs-raw-XXXXXX";
    if (mkdtemp(dir_ours) == NULL || mkdtemp(dir_raw) == NULL) {
        die("mkdtemp", 0);
    }
    memset(value, 'v', sizeof(value));
    struct void_kvs lm, mem;
    struct void_kvs_lmdb_config lc = {.quota = 1ull << 30, .create = 1};
    struct void_kvs_mem_config mc = {.quota = 1ull << 30};
    if (void_kvs_lmdb_open(&lm, dir_ours, &lc) != 0 || void_kvs_mem_init(&mem, &mc) != 0) {
        die("open", 0);
    }
    raw_open(dir_raw);
    struct void_prng rng;
    void_prng_seed(&rng, 17);

    /* Load: 100,000 new keys. */
    double load_lm = kvs_puts(&lm, 0, KEYS, NULL);
    commit_ns = 0;
    double load_mem = kvs_puts(&mem, 0, KEYS, NULL);
    double mem_commit_per_put = commit_ns / KEYS;
    double load_raw = raw_puts(0, KEYS, NULL);
    printf(
        "load of %u keys: lmdb store %.0f puts/s, raw lmdb %.0f puts/s, memory store %.0f puts/s\n",
        KEYS,
        1e9 / load_lm,
        1e9 / load_raw,
        1e9 / load_mem);

    /* Updates and gets at 100,000 keys, rounds alternating ours and raw. */
    double put_o[ROUNDS], put_r[ROUNDS], get_o[ROUNDS], get_r[ROUNDS], put_m[ROUNDS], get_m[ROUNDS];
    double commit_m[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            put_o[r] = kvs_puts(&lm, 0, OPS, &rng);
            put_r[r] = raw_puts(0, OPS, &rng);
            get_o[r] = kvs_gets(&lm, &rng);
            get_r[r] = raw_gets(&rng);
        } else {
            put_r[r] = raw_puts(0, OPS, &rng);
            put_o[r] = kvs_puts(&lm, 0, OPS, &rng);
            get_r[r] = raw_gets(&rng);
            get_o[r] = kvs_gets(&lm, &rng);
        }
        commit_ns = 0;
        put_m[r] = kvs_puts(&mem, 0, OPS, &rng);
        commit_m[r] = commit_ns / OPS;
        get_m[r] = kvs_gets(&mem, &rng);
    }
    for (int r = 0; r < ROUNDS; r++) {
        put_o[r] /= 1e3;
        put_r[r] /= 1e3;
        get_o[r] /= 1e3;
        get_r[r] /= 1e3;
    }
    bench_report_rounds("kvs_put_lmdb", "raw lmdb", "us", put_o, put_r, ROUNDS);
    bench_report_rounds("kvs_get_lmdb", "raw lmdb", "us", get_o, get_r, ROUNDS);
    double pm = bench_median(put_m, ROUNDS), gm = bench_median(get_m, ROUNDS);
    double cm = bench_median(commit_m, ROUNDS);
    printf("memory store at %u keys: put %.2f us (%.0f/s), get %.2f us (%.0f/s)\n",
           KEYS,
           pm / 1e3,
           1e9 / pm,
           gm / 1e3,
           1e9 / gm);
    printf("digest upkeep in commit (memory store, batches of %u): %.2f us per write "
           "(load: %.2f us)\n",
           BATCH,
           cm / 1e3,
           mem_commit_per_put / 1e3);

    uint8_t d[32];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 1000; i++) {
        void_kvs_digest(&mem, d);
    }
    double digest_ns = (double)(bench_now_ns() - t0) / 1000;
    double full_ns = full_digest(&mem);
    struct void_kvs_stats st;
    void_kvs_stats(&mem, &st);
    printf("checkpoint digest: %.2f us (incremental) vs %.1f ms hashing all %llu versions\n",
           digest_ns / 1e3,
           full_ns / 1e6,
           (unsigned long long)st.versions);

    /* Snapshots at 100,000 keys. */
    double take_lm = snapshot_take_ns(&lm), take_mem = snapshot_take_ns(&mem);
    printf("snapshot take at %u keys: lmdb store %.2f us, memory store %.2f us\n",
           KEYS,
           take_lm / 1e3,
           take_mem / 1e3);
    double with, without;
    batch_after_take(&lm, &rng, &with, &without);
    printf("batch of %u updates after a take: lmdb store %.0f us (%.0f us without a snapshot)\n",
           BATCH,
           with / 1e3,
           without / 1e3);
    batch_after_take(&mem, &rng, &with, &without);
    printf("batch of %u updates after a take: memory store %.0f us (%.0f us without a "
           "snapshot; the difference is copying the ~%u buckets it touches)\n",
           BATCH,
           with / 1e3,
           without / 1e3,
           BATCH);

    /* Export and import of the whole state, both ways. */
    struct membuf ex_lm = {0}, ex_mem = {0};
    uint8_t d_lm[32], d_mem[32];
    void_kvs_digest(&lm, d_lm);
    void_kvs_digest(&mem, d_mem);
    double e_lm = export_mbs(&lm, &ex_lm), e_mem = export_mbs(&mem, &ex_mem);
    char dir_imp[] = "/tmp/bench-kvs-imp-XXXXXX";
    if (mkdtemp(dir_imp) == NULL) {
        die("mkdtemp", 0);
    }
    struct void_kvs lm2, mem2;
    if (void_kvs_lmdb_open(&lm2, dir_imp, &lc) != 0 || void_kvs_mem_init(&mem2, &mc) != 0) {
        die("open", 0);
    }
    double i_lm = import_mbs(&lm2, &ex_mem, d_mem), i_mem = import_mbs(&mem2, &ex_lm, d_lm);
    printf("export (%.1f MB, %llu versions): lmdb store %.0f MB/s, memory store %.0f MB/s; "
           "import: into lmdb %.0f MB/s, into memory %.0f MB/s\n",
           (double)ex_lm.len / 1e6,
           (unsigned long long)st.versions,
           e_lm,
           e_mem,
           i_lm,
           i_mem);
    void_kvs_close(&lm2);
    void_kvs_close(&mem2);
    rm_dir(dir_imp);

    /* The same with 1 KiB values (the 1,000,000-key load uses them):
     * 20,000 keys, one version each, from the memory store into LMDB. */
    struct void_kvs big, lm3;
    static uint8_t kib[1024];
    memset(kib, 'b', sizeof(kib));
    char dir_big[] = "/tmp/bench-kvs-big-XXXXXX";
    if (void_kvs_mem_init(&big, &mc) != 0 || mkdtemp(dir_big) == NULL ||
        void_kvs_lmdb_open(&lm3, dir_big, &lc) != 0) {
        die("open", 0);
    }
    for (uint32_t i = 0; i < 20000; i += BATCH) {
        struct void_hlc_ts t = {wall++, 0};
        uint8_t k[17];
        int rc = void_kvs_begin(&big, t, wall);
        for (uint32_t j = 0; j < BATCH && rc == 0; j++) {
            key_of(i + j, k);
            kib[0] = (uint8_t)(i + j);
            rc = void_kvs_put(&big, k, 16, kib, sizeof(kib));
        }
        if (rc != 0 || (rc = void_kvs_commit(&big)) != 0) {
            die("put 1k", rc);
        }
    }
    uint8_t d_big[32];
    void_kvs_digest(&big, d_big);
    struct membuf ex_big = {0};
    double e_big = export_mbs(&big, &ex_big);
    double i_big = import_mbs(&lm3, &ex_big, d_big);
    printf("export of 20000 keys with 1 KiB values (%.1f MB): %.0f MB/s from memory; "
           "import into lmdb %.0f MB/s\n",
           (double)ex_big.len / 1e6,
           e_big,
           i_big);
    void_kvs_close(&big);
    void_kvs_close(&lm3);
    rm_dir(dir_big);
    free(ex_big.p);
    free(ex_lm.p);
    free(ex_mem.p);

    void_kvs_close(&lm);
    void_kvs_close(&mem);
    mdb_env_close(env);
    rm_dir(dir_ours);
    rm_dir(dir_raw);
    return 0;
}

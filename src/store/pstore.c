/*
 * Append-only record log of replica records (contract in
 * include/void/pstore.h; format in docs/operations.md).
 *
 * Why not LMDB any more: an LMDB commit costs two fdatasyncs and scattered
 * page writes, and a PBFT request waits for three commits in sequence. Here a
 * group of records is one frame appended at the end of a preallocated segment
 * and one fdatasync; overwriting blocks that already exist in a file costs
 * this disk about 0.15 ms per sync, appending to a growing file 1-3 ms.
 *
 * A segment file "wal-<16 hex digits>" holds frames: a 32-byte header (magic,
 * CRC32C of the rest, segment number, frame sequence number, body length,
 * type) and a body of operations. Frame 0 is a BASE holding every live record,
 * after the segment's geometry: the size the file was preallocated with and
 * where the bytes of the recycled file it reuses end (0 for a zero-filled
 * one); the others are GROUPs, one per void_pstore_write. The bytes after the
 * last frame are zeros or stale frames of an older segment (a recycled file),
 * which the segment number tells apart. Since a write is synced before the
 * next one starts, only the last frame can be incomplete after a crash: a bad
 * frame followed by no intact frame of the same segment is a torn tail and is
 * dropped; one followed by an intact frame is corruption and is refused.
 *
 * Damage a crash cannot explain is refused too (VOID_EDAMAGED): a file
 * shorter than its recorded size (nothing shrinks a segment), or a non-zero
 * byte past both the torn frame (as long as its header says, or its own 32
 * bytes when the header did not land) and the recycled file's old bytes. Old
 * bytes of a recycled file cannot be told from garbage written over them, so
 * that part of a recycled segment is not checked. A torn frame whose header
 * did not land while later sectors of it did is reported as damage: the
 * operator decides, since refusing is the safe side. A BASE of the older
 * format (type 1, no geometry) is not checked; the compaction every open
 * does rewrites it in the new one.
 *
 * Compaction writes the live records as the BASE of a new segment in a file
 * named ".tmp", syncs it, renames it into place and syncs the directory; only
 * then are older segments retired (one is kept as "wal-spare" and recycled by
 * the next compaction, so that no compaction has to zero-fill a file; its
 * descriptor stays open, so that a compaction opens no file and the log
 * rotates even when the process is out of descriptors). A
 * crash at any point leaves either the old segment or the new one as the
 * newest intact segment, and both hold every acknowledged record.
 */
#include "void/pstore.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <nmmintrin.h>

/* The mutant VOID_MUTANT_NO_FSYNC (CMakeLists.txt; scripts/chaos-powerloss)
 * skips every sync: what it writes reaches the disk whenever the kernel
 * writes it back, and a power loss before that loses it. */
#if defined(VOID_MUTANT_NO_FSYNC) && VOID_MUTANT_NO_FSYNC
#define store_fsync(fd)     ((void)(fd), 0)
#define store_fdatasync(fd) ((void)(fd), 0)
#else
#define store_fsync(fd)     fsync(fd)
#define store_fdatasync(fd) fdatasync(fd)
#endif
#endif

#define FRAME_MAGIC    0x56574c31u /* "VWL1" */
#define HEADER_SIZE    32u
#define OP_HEADER_SIZE 14u /* op, kind, key (8), len (4) */
#define FRAME_BASE     1u  /* older format: no geometry */
#define FRAME_GROUP    2u
#define FRAME_BASE_GEO 3u  /* a BASE whose body starts with the segment's geometry */
#define GEO_SIZE       16u /* u64 preallocated size, u64 end of the recycled file's bytes */
#define SPARE_NAME     "wal-spare"
#define NAME_CAP       32
#define ZERO_CHUNK     (1u << 20)

struct void__pstore_slot {
    uint8_t kind;
    uint64_t key;
    uint8_t *data; /* owned, at least one byte allocated */
    size_t len;
};

struct frame_info {
    uint64_t seq;
    uint32_t body_len;
    uint8_t type;
};

/* What replaying a segment found: the shape of the file against the geometry
 * its BASE recorded, for the damage checks and their message. */
struct replay_info {
    uint64_t size;      /* of the file */
    uint64_t size_rec;  /* preallocated size recorded in the BASE; 0: older format */
    uint64_t stale_end; /* bytes [0, stale_end) held a recycled file's frames */
    uint64_t end;       /* end of the last intact frame */
    uint64_t torn_end;  /* end of the torn frame after it, or end */
    uint64_t frames;    /* intact frames replayed */
    uint64_t bad_at;    /* first byte after them that is no fill, stale or torn byte */
    int truncated;      /* the file is shorter than recorded, or cut inside frame 0 */
};

/* ---- CRC32C (Castagnoli) --------------------------------------------------- */

/* The SSE4.2 instruction where the CPU has it (checksumming every frame was
 * 3 % of a replica's CPU with the table alone), else a table. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc32c)(const uint8_t *p, size_t n);

static uint32_t crc32c_table(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const uint8_t *p, size_t n)
{
    uint64_t crc = 0xffffffffu;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        crc = _mm_crc32_u64(crc, v);
    }
    uint32_t c = (uint32_t)crc;
    for (; n > 0; p++, n--) {
        c = _mm_crc32_u8(c, *p);
    }
    return ~c;
}
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) != 0 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc_table[i] = c;
    }
    crc32c = crc32c_table;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        crc32c = crc32c_sse42;
    }
#endif
    /* The check value of CRC-32C (RFC 3720 B.4), through whichever we use. */
    static const uint8_t check[] = "123456789";
    VOID_ASSERT(crc32c_table(check, 9) == 0xe3069283u);
    VOID_ASSERT(crc32c(check, 9) == 0xe3069283u);
}

/* EMFILE/ENFILE are pressure, not damage: a file could not be opened now,
 * nothing on disk is wrong, and the same write succeeds once descriptors are
 * free again (void_pstore_write leaves the store usable after it). */
static int errno_code(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return VOID_ENOSPC;
    case ENOMEM:
        return VOID_ENOMEM;
    case EMFILE:
    case ENFILE:
        return VOID_EPRESSURE;
    default:
        return VOID_EIO;
    }
}

static void segment_name(char out[NAME_CAP], uint64_t number, int tmp)
{
    (void)snprintf(out, NAME_CAP, "wal-%016" PRIx64 "%s", number, tmp ? ".tmp" : "");
}

/* Parses "wal-<16 hex>" or "wal-<16 hex>.tmp"; 1 when name is one of them. */
static int segment_parse(const char *name, uint64_t *number, int *tmp)
{
    if (strncmp(name, "wal-", 4) != 0 || strlen(name) < 20) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return 0;
        }
        v = v << 4 | (uint64_t)d;
    }
    *tmp = strcmp(name + 20, ".tmp") == 0;
    *number = v;
    return name[20] == '\0' || *tmp;
}

/* ---- live records in memory ----------------------------------------------- */

/* Index of the first slot at or after (kind, key). */
static size_t slot_lower_bound(const struct void_pstore *s, uint8_t kind, uint64_t key)
{
    size_t lo = 0, hi = s->count_slots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct void__pstore_slot *m = &s->slots[mid];
        if (m->kind < kind || (m->kind == kind && m->key < key)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    VOID_ASSERT(lo <= s->count_slots);
    return lo;
}

static int
slot_put(struct void_pstore *s, uint8_t kind, uint64_t key, const uint8_t *data, size_t len)
{
    size_t i = slot_lower_bound(s, kind, key);
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        return VOID_ENOMEM;
    }
    if (len > 0) {
        memcpy(copy, data, len);
    }
    if (i < s->count_slots && s->slots[i].kind == kind && s->slots[i].key == key) {
        free(s->slots[i].data);
        s->slots[i].data = copy;
        s->slots[i].len = len;
        return 0;
    }
    if (s->count_slots == s->cap_slots) {
        size_t cap = s->cap_slots > 0 ? 2 * s->cap_slots : 64;
        struct void__pstore_slot *grown = realloc(s->slots, cap * sizeof(*grown));
        if (grown == NULL) {
            free(copy);
            return VOID_ENOMEM;
        }
        s->slots = grown;
        s->cap_slots = cap;
    }
    memmove(&s->slots[i + 1], &s->slots[i], (s->count_slots - i) * sizeof(s->slots[0]));
    s->slots[i] = (struct void__pstore_slot){.kind = kind, .key = key, .data = copy, .len = len};
    s->count_slots++;
    VOID_ASSERT(s->count_slots <= s->cap_slots);
    return 0;
}

static void slot_delete_upto(struct void_pstore *s, uint8_t kind, uint64_t key)
{
    size_t from = slot_lower_bound(s, kind, 0);
    size_t to = from;
    while (to < s->count_slots && s->slots[to].kind == kind && s->slots[to].key <= key) {
        free(s->slots[to].data);
        to++;
    }
    memmove(&s->slots[from], &s->slots[to], (s->count_slots - to) * sizeof(s->slots[0]));
    s->count_slots -= to - from;
}

static void slots_clear(struct void_pstore *s)
{
    for (size_t i = 0; i < s->count_slots; i++) {
        free(s->slots[i].data);
    }
    s->count_slots = 0;
}

static int apply_op(
    struct void_pstore *s, uint8_t op, uint8_t kind, uint64_t key, const uint8_t *data, size_t len)
{
    if (op == VOID_PSTORE_PUT) {
        return slot_put(s, kind, key, data, len);
    }
    VOID_ASSERT(op == VOID_PSTORE_DELETE_UPTO);
    slot_delete_upto(s, kind, key);
    return 0;
}

/* ---- frames --------------------------------------------------------------- */

static int buf_reserve(struct void_pstore *s, size_t need)
{
    if (need <= s->buf_cap) {
        return 0;
    }
    size_t cap = s->buf_cap > 0 ? s->buf_cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *grown = realloc(s->buf, cap);
    if (grown == NULL) {
        return VOID_ENOMEM;
    }
    s->buf = grown;
    s->buf_cap = cap;
    return 0;
}

static uint8_t *
body_op(uint8_t *p, uint8_t op, uint8_t kind, uint64_t key, const uint8_t *data, size_t len)
{
    VOID_ASSERT(len <= UINT32_MAX);
    p[0] = op;
    p[1] = kind;
    void_bytes_put_be64(p + 2, key);
    void_bytes_put_be32(p + 10, (uint32_t)len);
    if (len > 0) {
        memcpy(p + OP_HEADER_SIZE, data, len);
    }
    return p + OP_HEADER_SIZE + len;
}

/* Fills in the header of the frame at s->buf whose body is body_len bytes. */
static void frame_seal(struct void_pstore *s, uint64_t seq, uint8_t type, size_t body_len)
{
    VOID_ASSERT(body_len <= UINT32_MAX);
    VOID_ASSERT(HEADER_SIZE + body_len <= s->buf_cap);
    uint8_t *h = s->buf;
    memset(h, 0, HEADER_SIZE);
    void_bytes_put_be32(h, FRAME_MAGIC);
    void_bytes_put_be64(h + 8, s->segment);
    void_bytes_put_be64(h + 16, seq);
    void_bytes_put_be32(h + 24, (uint32_t)body_len);
    h[28] = type;
    void_bytes_put_be32(h + 4, crc32c(h + 8, HEADER_SIZE - 8 + body_len));
}

/* Whether an intact frame of segment `segment` starts at map[off]. */
static int
frame_valid(const uint8_t *map, size_t size, size_t off, uint64_t segment, struct frame_info *fi)
{
    VOID_ASSERT(off <= size);
    if (size - off < HEADER_SIZE) {
        return 0;
    }
    const uint8_t *h = map + off;
    if (void_bytes_get_be32(h) != FRAME_MAGIC || void_bytes_get_be64(h + 8) != segment) {
        return 0;
    }
    uint32_t body_len = void_bytes_get_be32(h + 24);
    if (body_len > size - off - HEADER_SIZE) {
        return 0;
    }
    if (crc32c(h + 8, HEADER_SIZE - 8 + body_len) != void_bytes_get_be32(h + 4)) {
        return 0;
    }
    *fi = (struct frame_info){
        .seq = void_bytes_get_be64(h + 16), .body_len = body_len, .type = h[28]};
    return 1;
}

/* Whether an intact frame of `segment` numbered at least `seq` starts
 * anywhere in map[from..size): then the log does not end where it stopped. */
static int
later_frame_exists(const uint8_t *map, size_t size, size_t from, uint64_t segment, uint64_t seq)
{
    const uint8_t first = (uint8_t)(FRAME_MAGIC >> 24);
    for (size_t off = from; off + HEADER_SIZE <= size; off++) {
        const uint8_t *hit = memchr(map + off, first, size - HEADER_SIZE + 1 - off);
        if (hit == NULL) {
            return 0;
        }
        off = (size_t)(hit - map);
        struct frame_info fi;
        if (frame_valid(map, size, off, segment, &fi) && fi.seq >= seq) {
            return 1;
        }
    }
    return 0;
}

/* Applies the operations of an intact frame body. VOID_ECORRUPT when it does
 * not parse (a checksum collision or a bug). */
static int replay_body(struct void_pstore *s, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < OP_HEADER_SIZE) {
            return VOID_ECORRUPT;
        }
        uint8_t op = p[off];
        uint8_t kind = p[off + 1];
        uint64_t key = void_bytes_get_be64(p + off + 2);
        uint32_t dlen = void_bytes_get_be32(p + off + 10);
        off += OP_HEADER_SIZE;
        if ((op != VOID_PSTORE_PUT && op != VOID_PSTORE_DELETE_UPTO) || dlen > len - off) {
            return VOID_ECORRUPT;
        }
        int rc = apply_op(s, op, kind, key, p + off, dlen);
        if (rc != 0) {
            return rc;
        }
        off += dlen;
    }
    VOID_ASSERT(off == len);
    return 0;
}

/* Offset of the first non-zero byte in map[from..size), or size. */
static size_t first_nonzero(const uint8_t *map, size_t size, size_t from)
{
    static const uint8_t zeros[4096];
    size_t off = from;
    while (off < size) {
        size_t n = size - off < sizeof(zeros) ? size - off : sizeof(zeros);
        if (memcmp(map + off, zeros, n) != 0) {
            break;
        }
        off += n;
    }
    while (off < size && map[off] == 0) {
        off++;
    }
    VOID_ASSERT(off >= from || from > size);
    return off;
}

/* The end of the frame a crash cut short at map[off], if one began there:
 * a header naming our segment tells its length; a header that did not fully
 * land (its magic does not match, yet the byte is not zero) covers at least
 * its own bytes. Returns off when nothing of a frame is there. */
static size_t torn_frame_end(const uint8_t *map, size_t size, size_t off, uint64_t number)
{
    VOID_ASSERT(off <= size);
    if (size - off >= 28 && void_bytes_get_be32(map + off) == FRAME_MAGIC &&
        void_bytes_get_be64(map + off + 8) == number) {
        uint64_t end = (uint64_t)off + HEADER_SIZE + void_bytes_get_be32(map + off + 24);
        return end < size ? (size_t)end : size;
    }
    if (off < size && map[off] != 0) {
        return size - off < HEADER_SIZE ? size : off + HEADER_SIZE;
    }
    return off;
}

/* Checks the shape of a segment whose BASE recorded its geometry. A segment
 * file is preallocated (zero-filled, or a recycled file whose bytes up to
 * stale_end are an older segment's frames) before it gets its name and is
 * never resized, and only the last frame can be torn. So a file shorter than
 * recorded, or a non-zero byte after the torn frame and beyond the stale
 * bytes, is damage: truncation, or bytes someone else wrote. */
static int check_shape(const uint8_t *map, size_t size, uint64_t number, struct replay_info *ri)
{
    VOID_ASSERT(ri->end <= size);
    if (ri->size_rec == 0) {
        return 0; /* an older BASE: nothing to check against */
    }
    if (size < ri->size_rec) {
        ri->truncated = 1;
        return VOID_EDAMAGED;
    }
    ri->torn_end = torn_frame_end(map, size, (size_t)ri->end, number);
    size_t from = (size_t)(ri->torn_end > ri->stale_end ? ri->torn_end : ri->stale_end);
    ri->bad_at = from < size ? first_nonzero(map, size, from) : size;
    VOID_ASSERT(ri->bad_at <= size);
    return ri->bad_at < size ? VOID_EDAMAGED : 0;
}

/* Reads the geometry at the start of a BASE_GEO body. */
static int geometry_get(const uint8_t *body, size_t len, struct replay_info *ri)
{
    if (len < GEO_SIZE) {
        return VOID_ECORRUPT;
    }
    ri->size_rec = void_bytes_get_be64(body);
    ri->stale_end = void_bytes_get_be64(body + 8);
    return ri->size_rec >= VOID_PSTORE_SEGMENT_SIZE_MIN && ri->stale_end <= ri->size_rec
               ? 0
               : VOID_ECORRUPT;
}

/* Replays the frames of one mapped segment into the (empty) slots and checks
 * the file's shape. Returns 0, VOID_ENOTFOUND when frame 0 is not an intact
 * BASE (the caller tries an older segment), VOID_EDAMAGED (see check_shape,
 * or a file cut inside frame 0), VOID_ECORRUPT, VOID_ENOMEM. */
static int replay_map(
    struct void_pstore *s, const uint8_t *map, size_t size, uint64_t number, struct replay_info *ri)
{
    size_t off = 0;
    uint64_t seq = 0;
    struct frame_info fi;
    while (frame_valid(map, size, off, number, &fi) && fi.seq == seq) {
        const uint8_t *body = map + off + HEADER_SIZE;
        size_t len = fi.body_len;
        int rc = 0;
        if (seq == 0 && fi.type == FRAME_BASE_GEO) {
            rc = geometry_get(body, len, ri);
            body += GEO_SIZE;
            len -= rc == 0 ? GEO_SIZE : 0;
        } else if (fi.type != (seq == 0 ? FRAME_BASE : FRAME_GROUP)) {
            rc = VOID_ECORRUPT;
        }
        if (rc == 0) {
            rc = replay_body(s, body, len);
        }
        if (rc != 0) {
            return rc;
        }
        off += HEADER_SIZE + fi.body_len;
        seq++;
    }
    ri->end = off;
    ri->frames = seq;
    if (seq == 0) {
        /* A whole first frame of ours whose length runs past the end of the
         * file: the file was cut, since frame 0 was synced before the name. */
        ri->truncated = size >= 28 && void_bytes_get_be32(map) == FRAME_MAGIC &&
                        void_bytes_get_be64(map + 8) == number &&
                        (uint64_t)HEADER_SIZE + void_bytes_get_be32(map + 24) > size;
        return ri->truncated ? VOID_EDAMAGED : VOID_ENOTFOUND;
    }
    if (later_frame_exists(map, size, off + 1, number, seq)) {
        return VOID_ECORRUPT;
    }
    int rc = check_shape(map, size, number, ri);
    /* A frame of ours began here but is not intact: the write a crash cut. */
    if (rc == 0 && size - off >= 16 && void_bytes_get_be32(map + off) == FRAME_MAGIC &&
        void_bytes_get_be64(map + off + 8) == number) {
        s->count_torn++;
    }
    return rc;
}

static int replay_segment(struct void_pstore *s, uint64_t number, struct replay_info *ri)
{
    char name[NAME_CAP];
    segment_name(name, number, 0);
    int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int rc = errno_code(errno);
        if (fd >= 0) {
            (void)close(fd);
        }
        return rc;
    }
    ri->size = (uint64_t)st.st_size;
    if (st.st_size < (off_t)HEADER_SIZE) {
        /* Named only once preallocated: shorter than a header is a cut file. */
        (void)close(fd);
        ri->truncated = 1;
        return VOID_EDAMAGED;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    (void)close(fd);
    if (map == MAP_FAILED) {
        return errno_code(errno);
    }
    int rc = replay_map(s, map, size, number, ri);
    (void)munmap(map, size);
    return rc;
}

/* ---- segment files -------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return errno_code(n < 0 ? errno : ENOSPC);
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Writes zeros over [from, to): real blocks, so that later overwrites and
 * fdatasyncs need no allocation or extent conversion. */
static int zero_fill(int fd, uint64_t from, uint64_t to)
{
    uint8_t *zeros = calloc(1, ZERO_CHUNK);
    if (zeros == NULL) {
        return VOID_ENOMEM;
    }
    int rc = 0;
    for (uint64_t off = from; rc == 0 && off < to; off += ZERO_CHUNK) {
        rc = write_all(fd, zeros, (size_t)(to - off < ZERO_CHUNK ? to - off : ZERO_CHUNK), off);
    }
    free(zeros);
    return rc;
}

/* Makes the open file fd at least `size` bytes of real, zero-filled or
 * previously written blocks; *size_out is then the file's size. */
static int file_extend(int fd, uint64_t size, uint64_t *size_out)
{
    VOID_ASSERT(fd >= 0);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return errno_code(errno);
    }
    uint64_t have = (uint64_t)st.st_size;
    int rc = have < size ? zero_fill(fd, have, size) : 0;
    *size_out = have < size ? size : have;
    return rc;
}

/* Opens `name` (creating it) and makes it at least `size` bytes (see
 * file_extend). Returns an fd or a negative code; nothing stays open on
 * failure. */
static int file_ready(struct void_pstore *s, const char *name, uint64_t size, uint64_t *size_out)
{
    int fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno_code(errno);
    }
    int rc = file_extend(fd, size, size_out);
    if (rc != 0) {
        (void)close(fd);
        return rc;
    }
    return fd;
}

/* Creates the spare segment file if there is none, so that the next
 * compaction recycles a file instead of zero-filling one, and keeps it open
 * (s->spare_fd): the descriptor is reserved for the next segment, so that a
 * compaction opens no file and the log can rotate while the process has no
 * descriptor to spare (a flood of connections). */
static int spare_ensure(struct void_pstore *s)
{
    VOID_ASSERT(s->spare_fd < 0);
    int fd = openat(s->dir_fd, SPARE_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        s->spare_fd = fd;
        return 0;
    }
    if (errno != ENOENT) {
        return errno_code(errno);
    }
    uint64_t size = 0;
    fd = file_ready(s, SPARE_NAME, s->segment_size, &size);
    if (fd < 0) {
        return fd;
    }
    int rc = store_fsync(fd) == 0 && store_fsync(s->dir_fd) == 0 ? 0 : errno_code(errno);
    if (rc != 0) {
        (void)close(fd);
        return rc;
    }
    s->spare_fd = fd;
    return 0;
}

/* Retires every segment older than the current one: the newest of them
 * becomes the spare when there is none, the others are unlinked. */
static int retire_older(struct void_pstore *s)
{
    int fd = dup(s->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int rc = errno_code(errno); /* EMFILE from dup is pressure, not EBADF */
        if (fd >= 0) {
            (void)close(fd);
        }
        return rc;
    }
    uint64_t keep = 0;
    int have_spare = faccessat(s->dir_fd, SPARE_NAME, F_OK, 0) == 0;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        rewinddir(d);
        for (struct dirent *e = readdir(d); e != NULL && rc == 0; e = readdir(d)) {
            uint64_t n = 0;
            int tmp = 0;
            if (!segment_parse(e->d_name, &n, &tmp) || tmp || n >= s->segment) {
                continue;
            }
            if (pass == 0) {
                keep = n > keep ? n : keep;
            } else if (!have_spare && n == keep) {
                rc = renameat(s->dir_fd, e->d_name, s->dir_fd, SPARE_NAME) == 0 ? 0 : VOID_EIO;
            } else {
                rc = unlinkat(s->dir_fd, e->d_name, 0) == 0 ? 0 : VOID_EIO;
            }
        }
    }
    (void)closedir(d);
    if (rc == 0 && store_fsync(s->dir_fd) != 0) {
        rc = errno_code(errno);
    }
    return rc;
}

/* Retires segment `previous`, the one that was current until now (open
 * retired every older one, and each compaction retires its predecessor):
 * it becomes the spare, keeping its descriptor old_fd as the reserved one,
 * when there is no spare; else it is unlinked. Opens nothing. */
static int retire_previous(struct void_pstore *s, uint64_t previous, int old_fd)
{
    VOID_ASSERT(old_fd >= 0);
    VOID_ASSERT(previous < s->segment);
    char name[NAME_CAP];
    segment_name(name, previous, 0);
    int rc = 0;
    if (s->spare_fd < 0 && faccessat(s->dir_fd, SPARE_NAME, F_OK, 0) != 0) {
        rc = renameat(s->dir_fd, name, s->dir_fd, SPARE_NAME) == 0 ? 0 : errno_code(errno);
        if (rc == 0) {
            s->spare_fd = old_fd;
            old_fd = -1;
        }
    } else {
        rc = unlinkat(s->dir_fd, name, 0) == 0 ? 0 : errno_code(errno);
    }
    if (old_fd >= 0) {
        (void)close(old_fd);
    }
    if (rc == 0 && store_fsync(s->dir_fd) != 0) {
        rc = errno_code(errno);
    }
    return rc;
}

/* Encodes every live record as the BASE frame of segment s->segment into
 * s->buf, with room for the geometry that base_seal fills in once the file is
 * ready; returns its length or 0 when out of memory. */
static size_t base_encode(struct void_pstore *s)
{
    size_t len = HEADER_SIZE + GEO_SIZE;
    for (size_t i = 0; i < s->count_slots; i++) {
        len += OP_HEADER_SIZE + s->slots[i].len;
    }
    if (buf_reserve(s, len) != 0) {
        return 0;
    }
    memset(s->buf + HEADER_SIZE, 0, GEO_SIZE);
    uint8_t *p = s->buf + HEADER_SIZE + GEO_SIZE;
    for (size_t i = 0; i < s->count_slots; i++) {
        const struct void__pstore_slot *r = &s->slots[i];
        p = body_op(p, VOID_PSTORE_PUT, r->kind, r->key, r->data, r->len);
    }
    VOID_ASSERT((size_t)(p - s->buf) == len);
    return len;
}

/* End of the last non-zero byte of the first size bytes of fd (0 when all
 * are zero), read backwards: a recycled segment is full up to near its end,
 * so this usually reads one chunk. */
static int content_end(int fd, uint64_t size, uint64_t *end)
{
    uint8_t *chunk = malloc(ZERO_CHUNK / 16);
    if (chunk == NULL) {
        return VOID_ENOMEM;
    }
    const uint64_t cap = ZERO_CHUNK / 16;
    uint64_t hi = size;
    int rc = 0;
    *end = 0;
    while (hi > 0 && *end == 0 && rc == 0) {
        uint64_t lo = hi > cap ? hi - cap : 0;
        ssize_t n = pread(fd, chunk, (size_t)(hi - lo), (off_t)lo);
        if (n != (ssize_t)(hi - lo)) {
            rc = n < 0 ? errno_code(errno) : VOID_EIO;
            break;
        }
        for (uint64_t i = hi - lo; i > 0 && *end == 0; i--) {
            *end = chunk[i - 1] != 0 ? lo + i : 0;
        }
        hi = lo;
    }
    free(chunk);
    VOID_ASSERT(*end <= size);
    return rc;
}

/* Records the segment's geometry in the BASE at s->buf (the file's size and
 * where the older bytes of a recycled file end, so that opening can tell
 * them from damage) and seals it. fd is the new segment, not yet written. */
static int base_seal(struct void_pstore *s, int fd, size_t len, uint64_t size)
{
    VOID_ASSERT(len >= HEADER_SIZE + GEO_SIZE);
    uint64_t stale_end = 0;
    int rc = content_end(fd, size, &stale_end);
    if (rc != 0) {
        return rc;
    }
    void_bytes_put_be64(s->buf + HEADER_SIZE, size);
    void_bytes_put_be64(s->buf + HEADER_SIZE + 8, stale_end);
    frame_seal(s, 0, FRAME_BASE_GEO, len - HEADER_SIZE);
    VOID_ASSERT(stale_end <= size);
    return 0;
}

/* segment_open_tmp without a reserved descriptor: opens the spare file if
 * there is one (*recycled = 1), else creates a new file. */
static int segment_create_tmp(struct void_pstore *s, const char *tmp, int *recycled)
{
    int fd = openat(s->dir_fd, SPARE_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        if (renameat(s->dir_fd, SPARE_NAME, s->dir_fd, tmp) != 0) {
            int rc = errno_code(errno);
            (void)close(fd);
            return rc;
        }
        *recycled = 1;
        return fd;
    }
    if (errno != ENOENT) {
        return errno_code(errno);
    }
    fd = openat(s->dir_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd >= 0 ? fd : errno_code(errno);
}

/* Gets the file that becomes the next segment, under the name tmp: the
 * spare through its reserved descriptor (no file to open), else as
 * segment_create_tmp does. Every file is opened before it is renamed, so
 * that running out of descriptors (a retryable failure) happens before
 * anything in the directory changes. Returns an fd or a negative code. */
static int segment_open_tmp(struct void_pstore *s, const char *tmp, int *recycled)
{
    *recycled = 0;
    if (s->spare_fd < 0) {
        return segment_create_tmp(s, tmp, recycled);
    }
    if (renameat(s->dir_fd, SPARE_NAME, s->dir_fd, tmp) == 0) {
        int fd = s->spare_fd;
        s->spare_fd = -1;
        *recycled = 1;
        return fd;
    }
    if (errno != ENOENT) {
        return errno_code(errno);
    }
    /* The spare was removed behind our back. Its descriptor is let go only
     * after the open: when that fails for lack of descriptors, the retry
     * finds this one free. */
    int stale = s->spare_fd;
    s->spare_fd = -1;
    int fd = segment_create_tmp(s, tmp, recycled);
    (void)close(stale);
    return fd;
}

/* Undoes segment_open_tmp after a failure: the spare goes back to its name
 * if nothing was written into it, else the file goes, so that no ".tmp" is
 * left behind and no stale frame carries a segment number used again. */
static void
segment_drop_tmp(struct void_pstore *s, int fd, const char *tmp, int recycled, int wrote)
{
    VOID_ASSERT(s->spare_fd < 0);
    if (recycled && !wrote && renameat(s->dir_fd, tmp, s->dir_fd, SPARE_NAME) == 0) {
        s->spare_fd = fd; /* reserved again */
        return;
    }
    (void)close(fd);
    (void)unlinkat(s->dir_fd, tmp, 0);
}

/* Seals the BASE frame (len bytes at s->buf) with the geometry of the new
 * segment file fd (size bytes), writes it, makes it durable and gives the
 * file its name. *wrote: bytes went into the file. */
static int segment_publish(struct void_pstore *s,
                           int fd,
                           const char *tmp,
                           const char *name,
                           size_t len,
                           uint64_t size,
                           int *wrote)
{
    int rc = base_seal(s, fd, len, size);
    if (rc != 0) {
        return rc;
    }
    *wrote = 1;
    rc = write_all(fd, s->buf, len, 0);
    if (rc == 0 && store_fsync(fd) != 0) {
        rc = errno_code(errno);
    }
    if (rc == 0 && renameat(s->dir_fd, tmp, s->dir_fd, name) != 0) {
        rc = errno_code(errno);
    }
    return rc;
}

/* Starts segment s->segment + 1 holding every live record, makes it durable
 * and current, and retires the older ones. On failure before the new segment
 * has its name, nothing in the directory has changed (no ".tmp" is left) and
 * s->segment is unchanged, so the caller may try again: VOID_EPRESSURE (out
 * of descriptors) is worth it. */
static int compact(struct void_pstore *s)
{
    uint64_t previous = s->segment;
    s->segment++;
    size_t len = base_encode(s);
    if (len == 0) {
        s->segment = previous;
        return VOID_ENOMEM;
    }
    char tmp[NAME_CAP], name[NAME_CAP];
    segment_name(tmp, s->segment, 1);
    segment_name(name, s->segment, 0);
    int recycled = 0, wrote = 0;
    int fd = segment_open_tmp(s, tmp, &recycled);
    if (fd < 0) {
        s->segment = previous;
        return fd;
    }
    uint64_t want = s->segment_size > 4 * (uint64_t)len ? s->segment_size : 4 * (uint64_t)len;
    uint64_t size = 0;
    int rc = file_extend(fd, want, &size);
    wrote = rc != 0 && !recycled; /* a partly zero-filled new file */
    if (rc == 0) {
        rc = segment_publish(s, fd, tmp, name, len, size, &wrote);
    }
    if (rc != 0) {
        segment_drop_tmp(s, fd, tmp, recycled, wrote);
        s->segment = previous;
        return rc;
    }
    /* Named: from here a crash recovers the new segment. */
    rc = store_fsync(s->dir_fd) == 0 ? 0 : errno_code(errno);
    if (rc != 0) {
        (void)close(fd);
        return rc;
    }
    int old_fd = s->fd;
    s->fd = fd;
    s->frame_seq = 1;
    s->offset = len;
    s->file_size = size;
    s->count_bytes += len;
    s->count_compactions++;
    if (old_fd < 0) {
        return retire_older(s); /* opening: whatever older segments there are */
    }
    return retire_previous(s, previous, old_fd);
}

/* ---- open, write, read, close --------------------------------------------- */

/* Finds the newest segment in the directory (*newest, 0 when there is none)
 * and removes the ".tmp" files of compactions cut short; *max is the highest
 * number any file name carries, so that no number is used twice. */
static int scan_dir(struct void_pstore *s, uint64_t *newest, uint64_t *max)
{
    int fd = dup(s->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return errno_code(errno);
    }
    *newest = 0;
    *max = 0;
    int rc = 0;
    for (struct dirent *e = readdir(d); e != NULL && rc == 0; e = readdir(d)) {
        uint64_t n = 0;
        int tmp = 0;
        if (!segment_parse(e->d_name, &n, &tmp)) {
            continue;
        }
        *max = n > *max ? n : *max;
        if (tmp) {
            rc = unlinkat(s->dir_fd, e->d_name, 0) == 0 ? 0 : errno_code(errno);
        } else {
            *newest = n > *newest ? n : *newest;
        }
    }
    (void)closedir(d);
    VOID_ASSERT(*newest <= *max);
    return rc;
}

static int open_dir(struct void_pstore *s, const char *dir, char *errbuf, size_t errcap)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        (void)snprintf(errbuf, errcap, "cannot create %s: %s", dir, strerror(errno));
        return VOID_EIO;
    }
    s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        (void)snprintf(errbuf, errcap, "cannot open %s: %s", dir, strerror(errno));
        return VOID_EIO;
    }
    s->dir = strdup(dir);
    if (s->dir == NULL) {
        return VOID_ENOMEM;
    }
    if (faccessat(s->dir_fd, "data.mdb", F_OK, 0) == 0) {
        (void)snprintf(errbuf,
                       errcap,
                       "%s holds the LMDB record store of an older Void; this version keeps "
                       "a record log instead: wipe the data directory (the node catches up "
                       "by state transfer)",
                       dir);
        return VOID_EIO;
    }
    return 0;
}

/* What an operator can do about a damaged record log, and why the store does
 * not repair itself. Truncating the log to its last intact entry and carrying
 * on would be easy, but the lost records may be ones this replica already
 * acknowledged: a prepared certificate behind a COMMIT it sent, or the VIEW
 * record behind a VIEW-CHANGE. A replica that votes again without them can
 * contradict its own earlier votes, which makes it one of the f faulty
 * replicas without anyone knowing. Starting empty after the operator moved
 * the log aside is the same loss, but a visible one: the node catches up by
 * state transfer, and the operator knows to count it as faulty meanwhile and
 * never to do this on more than f replicas at once (docs/operations.md). */
#define DAMAGE_ADVICE                                                                              \
    "Refusing to open it: records this replica acknowledged may be gone. Move the wal-* files "    \
    "aside (or wipe the data directory): the node restarts empty and catches up by state "         \
    "transfer, counting as faulty until then (never on more than f replicas at once)"

/* Names the damage of segment `number` in errbuf: what is wrong with which
 * file, where its intact entries end, and what to do. */
static void damage_explain(const struct void_pstore *s,
                           uint64_t number,
                           int rc,
                           const struct replay_info *ri,
                           char *errbuf,
                           size_t errcap)
{
    VOID_ASSERT(rc == VOID_ENOTFOUND || rc == VOID_ECORRUPT || rc == VOID_EDAMAGED);
    char what[200];
    if (rc == VOID_EDAMAGED && ri->truncated && ri->size_rec > ri->size) {
        (void)snprintf(what,
                       sizeof(what),
                       "truncated: the file is %" PRIu64 " bytes of the %" PRIu64
                       " it was preallocated with",
                       ri->size,
                       ri->size_rec);
    } else if (rc == VOID_EDAMAGED && ri->truncated) {
        (void)snprintf(what,
                       sizeof(what),
                       "truncated: the file is %" PRIu64 " bytes and its first entry runs past its "
                       "end (or that entry's length field is damaged)",
                       ri->size);
    } else if (rc == VOID_EDAMAGED) {
        (void)snprintf(what,
                       sizeof(what),
                       "garbage after the last entry: byte %" PRIu64
                       " is neither zero fill nor part of a write cut by a crash",
                       ri->bad_at);
    } else {
        (void)snprintf(what,
                       sizeof(what),
                       "%s before the end of the log (a checksum fails)",
                       rc == VOID_ENOTFOUND ? "the first entry is corrupt" : "an entry is corrupt");
    }
    (void)snprintf(errbuf,
                   errcap,
                   "%s/wal-%016" PRIx64 ": record log damaged: %s; %" PRIu64
                   " entries intact up to byte %" PRIu64 ". " DAMAGE_ADVICE,
                   s->dir,
                   number,
                   what,
                   ri->frames,
                   ri->end);
}

/* Replays the newest segment, if any. Its first frame was synced before the
 * file got its name, so a bad one is corruption, not a crash. */
static int recover_newest(struct void_pstore *s, char *errbuf, size_t errcap)
{
    uint64_t newest = 0, max = 0;
    int rc = scan_dir(s, &newest, &max);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot list %s: %s", s->dir, void_strerror(rc));
        return rc;
    }
    s->segment = max;
    if (newest == 0) {
        return 0;
    }
    struct replay_info ri = {0};
    rc = replay_segment(s, newest, &ri);
    if (rc == VOID_ENOTFOUND || rc == VOID_ECORRUPT || rc == VOID_EDAMAGED) {
        damage_explain(s, newest, rc, &ri, errbuf, errcap);
        return rc == VOID_EDAMAGED ? rc : VOID_ECORRUPT;
    }
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot read %s: %s", s->dir, void_strerror(rc));
    }
    return rc;
}

int void_pstore_open(struct void_pstore *s,
                     const char *dir,
                     const struct void_pstore_config *config,
                     char *errbuf,
                     size_t errcap)
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(dir != NULL);
    char scratch[8];
    if (errbuf == NULL || errcap == 0) {
        errbuf = scratch;
        errcap = sizeof(scratch);
    }
    errbuf[0] = '\0';
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->dir_fd = -1;
    s->spare_fd = -1;
    size_t size = config != NULL ? config->segment_size : 0;
    s->segment_size = size != 0 ? size : VOID_PSTORE_SEGMENT_SIZE_DEF;
    if (s->segment_size < VOID_PSTORE_SEGMENT_SIZE_MIN) {
        (void)snprintf(errbuf, errcap, "segment size %zu is below the minimum", size);
        return VOID_EINVAL;
    }
    (void)pthread_once(&crc_once, crc_init);
    int rc = open_dir(s, dir, errbuf, errcap);
    if (rc == 0) {
        rc = recover_newest(s, errbuf, errcap);
    }
    if (rc == 0) {
        rc = compact(s);
    }
    if (rc == 0) {
        rc = spare_ensure(s);
    }
    if (rc != 0 && errbuf[0] == '\0') {
        (void)snprintf(errbuf, errcap, "cannot open the store in %s: %s", dir, void_strerror(rc));
    }
    s->open = rc == 0;
    return rc;
}

void void_pstore_close(struct void_pstore *s)
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(s->count_slots <= s->cap_slots);
    if (s->fd >= 0) {
        (void)close(s->fd);
    }
    if (s->spare_fd >= 0) {
        (void)close(s->spare_fd);
    }
    if (s->dir_fd >= 0) {
        (void)close(s->dir_fd);
    }
    slots_clear(s);
    free(s->slots);
    free(s->buf);
    free(s->dir);
    s->slots = NULL;
    s->buf = NULL;
    s->dir = NULL;
    s->cap_slots = 0;
    s->buf_cap = 0;
    s->fd = -1;
    s->spare_fd = -1;
    s->dir_fd = -1;
    s->open = 0;
}

/* Appends ops as one GROUP frame and syncs it. */
static int
append_group(struct void_pstore *s, const struct void_pstore_op *ops, size_t count, size_t len)
{
    int rc = buf_reserve(s, len);
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = s->buf + HEADER_SIZE;
    for (size_t i = 0; i < count; i++) {
        const struct void_pstore_op *op = &ops[i];
        p = body_op(
            p, op->op, op->kind, op->key, op->data, op->op == VOID_PSTORE_PUT ? op->len : 0);
    }
    VOID_ASSERT((size_t)(p - s->buf) == len);
    frame_seal(s, s->frame_seq, FRAME_GROUP, len - HEADER_SIZE);
    rc = write_all(s->fd, s->buf, len, s->offset);
    if (rc == 0 && store_fdatasync(s->fd) != 0) {
        rc = errno_code(errno);
    }
    if (rc == 0) {
        s->offset += len;
        s->frame_seq++;
        s->count_bytes += len;
    }
    return rc;
}

static int write_ops(struct void_pstore *s, const struct void_pstore_op *ops, size_t count)
{
    VOID_ASSERT(s != NULL && s->open);
    VOID_ASSERT(count == 0 || ops != NULL);
    if (s->failed) {
        return VOID_EIO;
    }
    size_t len = HEADER_SIZE;
    for (size_t i = 0; i < count; i++) {
        uint8_t op = ops[i].op;
        if ((op != VOID_PSTORE_PUT && op != VOID_PSTORE_DELETE_UPTO) || ops[i].len > UINT32_MAX ||
            (op == VOID_PSTORE_PUT && ops[i].len > 0 && ops[i].data == NULL)) {
            return VOID_EINVAL;
        }
        len += OP_HEADER_SIZE + (op == VOID_PSTORE_PUT ? ops[i].len : 0);
    }
    if (count == 0) {
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = apply_op(s, ops[i].op, ops[i].kind, ops[i].key, ops[i].data, ops[i].len);
    }
    if (rc == 0) {
        /* A full segment: the new one's BASE already holds these records.
         * After a compaction that lacked descriptors, memory holds records
         * that are not on disk: only a compaction (a BASE of all of them)
         * may follow, never an append of newer records alone. */
        rc = s->offset + len > s->file_size || s->pressure ? compact(s)
                                                           : append_group(s, ops, count, len);
    }
    if (rc == VOID_EPRESSURE) {
        s->pressure = 1;
        s->count_pressure++;
        return rc;
    }
    if (rc != 0) {
        s->failed = 1;
        return rc;
    }
    s->pressure = 0;
    s->count_commits++;
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int void_pstore_write(struct void_pstore *s, const struct void_pstore_op *ops, size_t count)
{
    uint64_t start = mono_ns();
    int rc = write_ops(s, ops, count);
    s->count_ns += mono_ns() - start;
    return rc;
}

int void_pstore_read_all(struct void_pstore *s, struct void_pstore_rec **out, size_t *count)
{
    VOID_ASSERT(s != NULL && s->open);
    VOID_ASSERT(out != NULL && count != NULL);
    size_t bytes = 0;
    for (size_t i = 0; i < s->count_slots; i++) {
        bytes += s->slots[i].len;
    }
    struct void_pstore_rec *recs = malloc(s->count_slots * sizeof(*recs) + bytes + 1);
    if (recs == NULL) {
        return VOID_ENOMEM;
    }
    uint8_t *data = (uint8_t *)(recs + s->count_slots);
    for (size_t i = 0; i < s->count_slots; i++) {
        const struct void__pstore_slot *r = &s->slots[i];
        if (r->len > 0) {
            memcpy(data, r->data, r->len);
        }
        recs[i] =
            (struct void_pstore_rec){.kind = r->kind, .key = r->key, .data = data, .len = r->len};
        data += r->len;
    }
    *out = recs;
    *count = s->count_slots;
    return 0;
}

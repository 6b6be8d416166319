/*
 * Encoders and bounds-checked decoders of the CAS file and directory
 * objects (format in include/void/casobj.h and docs/cas-format.md). The
 * decoders treat their input as hostile: every length is checked against
 * the bytes that remain before it is used, and a directory is validated
 * entirely before the iterator hands out a single entry, so the iterator
 * itself can assert instead of checking.
 */
#include "void/casobj.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

/* Fixed part of an entry before the name: type, mode, name length. */
#define ENTRY_FIXED 7u
/* Part after the name for a file or directory: size, hash. */
#define ENTRY_TAIL (8u + VOID_HASH_SIZE)

static void put_header(uint8_t *p, uint8_t kind)
{
    void_bytes_put_be32(p, VOID_CASOBJ_MAGIC);
    p[4] = VOID_CASOBJ_VERSION;
    p[5] = kind;
    p[6] = 0;
    p[7] = 0;
}

int void_casobj_kind(const uint8_t *buf, size_t len)
{
    VOID_ASSERT(buf != NULL || len == 0);
    if (len < VOID_CASOBJ_HEADER_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (void_bytes_get_be32(buf) != VOID_CASOBJ_MAGIC) {
        return VOID_EBAD_MAGIC;
    }
    if (buf[4] != VOID_CASOBJ_VERSION) {
        return VOID_EBAD_VERSION;
    }
    if (buf[5] != VOID_CAS_FILE && buf[5] != VOID_CAS_DIR) {
        return VOID_EBAD_TYPE;
    }
    if (buf[6] != 0 || buf[7] != 0) {
        return VOID_EBAD_FIELD;
    }
    return buf[5];
}

size_t void_casobj_file_encoded_size(uint32_t count)
{
    return VOID_CASOBJ_HEADER_SIZE + 12u + (size_t)count * VOID_CASOBJ_CHUNK_SIZE;
}

int void_casobj_file_encode(
    const struct void_casobj_chunk *chunks, uint32_t count, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(chunks != NULL || count == 0);
    VOID_ASSERT(buf != NULL && len != NULL);
    size_t need = void_casobj_file_encoded_size(count);
    if (need > cap || need > VOID_CASOBJ_SIZE_MAX) {
        return VOID_EOVERSIZED;
    }
    uint64_t total = 0;
    uint8_t *p = buf + VOID_CASOBJ_HEADER_SIZE + 12;
    for (uint32_t i = 0; i < count; i++) {
        if (chunks[i].size == 0) {
            return VOID_EINVAL;
        }
        total += chunks[i].size;
        memcpy(p, chunks[i].hash.b, VOID_HASH_SIZE);
        void_bytes_put_be32(p + VOID_HASH_SIZE, chunks[i].size);
        p += VOID_CASOBJ_CHUNK_SIZE;
    }
    put_header(buf, VOID_CAS_FILE);
    void_bytes_put_be64(buf + VOID_CASOBJ_HEADER_SIZE, total);
    void_bytes_put_be32(buf + VOID_CASOBJ_HEADER_SIZE + 8, count);
    *len = need;
    VOID_ASSERT((size_t)(p - buf) == need);
    return 0;
}

int void_casobj_file_decode(const uint8_t *buf, size_t len, struct void_casobj_file *out)
{
    VOID_ASSERT(out != NULL);
    int kind = void_casobj_kind(buf, len);
    if (kind < 0) {
        return kind;
    }
    if (kind != VOID_CAS_FILE) {
        return VOID_EBAD_TYPE;
    }
    if (len < VOID_CASOBJ_HEADER_SIZE + 12u) {
        return VOID_ETRUNCATED;
    }
    uint64_t size = void_bytes_get_be64(buf + VOID_CASOBJ_HEADER_SIZE);
    uint32_t count = void_bytes_get_be32(buf + VOID_CASOBJ_HEADER_SIZE + 8);
    if (len != void_casobj_file_encoded_size(count)) {
        return len < void_casobj_file_encoded_size(count) ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    const uint8_t *chunks = buf + VOID_CASOBJ_HEADER_SIZE + 12;
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n =
            void_bytes_get_be32(chunks + (size_t)i * VOID_CASOBJ_CHUNK_SIZE + VOID_HASH_SIZE);
        if (n == 0) {
            return VOID_EBAD_FIELD;
        }
        total += n; /* count < 2^32 chunks of < 2^32 bytes: no overflow */
    }
    if (total != size) {
        return VOID_EBAD_LENGTH;
    }
    out->size = size;
    out->count = count;
    out->chunks = chunks;
    return 0;
}

void void_casobj_file_chunk(const struct void_casobj_file *f,
                            uint32_t i,
                            struct void_casobj_chunk *out)
{
    VOID_ASSERT(f != NULL && out != NULL);
    VOID_ASSERT(i < f->count);
    const uint8_t *p = f->chunks + (size_t)i * VOID_CASOBJ_CHUNK_SIZE;
    memcpy(out->hash.b, p, VOID_HASH_SIZE);
    out->size = void_bytes_get_be32(p + VOID_HASH_SIZE);
}

static size_t entry_size(const struct void_casobj_entry *e)
{
    size_t n = ENTRY_FIXED + e->name_len;
    if (e->type == VOID_CAS_SYMLINK) {
        return n + 2u + e->target_len;
    }
    return n + ENTRY_TAIL;
}

size_t void_casobj_dir_encoded_size(const struct void_casobj_entry *entries, uint32_t count)
{
    VOID_ASSERT(entries != NULL || count == 0);
    size_t n = VOID_CASOBJ_HEADER_SIZE + 4u;
    for (uint32_t i = 0; i < count; i++) {
        n += entry_size(&entries[i]);
    }
    return n;
}

static int name_valid(const char *name, size_t len)
{
    if (len == 0 || len > VOID_CASOBJ_NAME_MAX) {
        return 0;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        return 0;
    }
    return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

/* -1, 0 or 1 as a sorts before, equal to or after b (bytewise, prefix first). */
static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Checks one entry (as built by the caller or parsed from a buffer) and its
 * order after prev (NULL for the first). Returns 0 or VOID_EBAD_FIELD. */
static int entry_check(const struct void_casobj_entry *e, const struct void_casobj_entry *prev)
{
    if (e->type != VOID_CAS_FILE && e->type != VOID_CAS_DIR && e->type != VOID_CAS_SYMLINK) {
        return VOID_EBAD_FIELD;
    }
    if (e->mode > 07777 || !name_valid(e->name, e->name_len)) {
        return VOID_EBAD_FIELD;
    }
    if (e->type == VOID_CAS_SYMLINK) {
        if (e->target_len == 0 || e->target_len > VOID_CASOBJ_TARGET_MAX ||
            memchr(e->target, '\0', e->target_len) != NULL) {
            return VOID_EBAD_FIELD;
        }
    }
    if (prev != NULL && name_cmp(prev->name, prev->name_len, e->name, e->name_len) >= 0) {
        return VOID_EBAD_FIELD;
    }
    return 0;
}

static uint8_t *entry_write(uint8_t *p, const struct void_casobj_entry *e)
{
    p[0] = e->type;
    void_bytes_put_be32(p + 1, e->mode);
    void_bytes_put_be16(p + 5, e->name_len);
    memcpy(p + ENTRY_FIXED, e->name, e->name_len);
    p += ENTRY_FIXED + e->name_len;
    if (e->type == VOID_CAS_SYMLINK) {
        void_bytes_put_be16(p, e->target_len);
        memcpy(p + 2, e->target, e->target_len);
        return p + 2 + e->target_len;
    }
    void_bytes_put_be64(p, e->size);
    memcpy(p + 8, e->hash.b, VOID_HASH_SIZE);
    return p + ENTRY_TAIL;
}

int void_casobj_dir_encode(
    const struct void_casobj_entry *entries, uint32_t count, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(entries != NULL || count == 0);
    VOID_ASSERT(buf != NULL && len != NULL);
    size_t need = void_casobj_dir_encoded_size(entries, count);
    if (need > cap || need > VOID_CASOBJ_SIZE_MAX) {
        return VOID_EOVERSIZED;
    }
    put_header(buf, VOID_CAS_DIR);
    void_bytes_put_be32(buf + VOID_CASOBJ_HEADER_SIZE, count);
    uint8_t *p = buf + VOID_CASOBJ_HEADER_SIZE + 4;
    for (uint32_t i = 0; i < count; i++) {
        if (entry_check(&entries[i], i > 0 ? &entries[i - 1] : NULL) != 0) {
            return VOID_EINVAL;
        }
        p = entry_write(p, &entries[i]);
    }
    *len = need;
    VOID_ASSERT((size_t)(p - buf) == need);
    return 0;
}

/* Parses one entry from [p, end) into e. Returns the bytes it takes, or
 * VOID_ETRUNCATED. Field validity is checked separately by entry_check. */
static long entry_parse(const uint8_t *p, const uint8_t *end, struct void_casobj_entry *e)
{
    size_t left = (size_t)(end - p);
    if (left < ENTRY_FIXED) {
        return VOID_ETRUNCATED;
    }
    memset(e, 0, sizeof(*e));
    e->type = p[0];
    e->mode = void_bytes_get_be32(p + 1);
    e->name_len = void_bytes_get_be16(p + 5);
    e->name = (const char *)(p + ENTRY_FIXED);
    size_t used = ENTRY_FIXED + e->name_len;
    if (left < used) {
        return VOID_ETRUNCATED;
    }
    if (e->type == VOID_CAS_SYMLINK) {
        if (left < used + 2) {
            return VOID_ETRUNCATED;
        }
        e->target_len = void_bytes_get_be16(p + used);
        e->target = (const char *)(p + used + 2);
        used += 2u + e->target_len;
    } else {
        if (left >= used + ENTRY_TAIL) {
            e->size = void_bytes_get_be64(p + used);
            memcpy(e->hash.b, p + used + 8, VOID_HASH_SIZE);
        }
        used += ENTRY_TAIL;
    }
    return left < used ? VOID_ETRUNCATED : (long)used;
}

int void_casobj_dir_decode(const uint8_t *buf, size_t len, struct void_casobj_dir *out)
{
    VOID_ASSERT(out != NULL);
    int kind = void_casobj_kind(buf, len);
    if (kind < 0) {
        return kind;
    }
    if (kind != VOID_CAS_DIR) {
        return VOID_EBAD_TYPE;
    }
    if (len < VOID_CASOBJ_HEADER_SIZE + 4u) {
        return VOID_ETRUNCATED;
    }
    uint32_t count = void_bytes_get_be32(buf + VOID_CASOBJ_HEADER_SIZE);
    const uint8_t *p = buf + VOID_CASOBJ_HEADER_SIZE + 4, *end = buf + len;
    struct void_casobj_entry e[2];
    for (uint32_t i = 0; i < count; i++) {
        long used = entry_parse(p, end, &e[i & 1]);
        if (used < 0) {
            return (int)used;
        }
        int rc = entry_check(&e[i & 1], i > 0 ? &e[(i - 1) & 1] : NULL);
        if (rc != 0) {
            return rc;
        }
        p += used;
    }
    if (p != end) {
        return VOID_EBAD_LENGTH;
    }
    out->count = count;
    out->left = count;
    out->next = buf + VOID_CASOBJ_HEADER_SIZE + 4;
    out->end = end;
    return 0;
}

int void_casobj_dir_next(struct void_casobj_dir *dir, struct void_casobj_entry *entry)
{
    VOID_ASSERT(dir != NULL && entry != NULL);
    if (dir->left == 0) {
        VOID_ASSERT(dir->next == dir->end);
        return 0;
    }
    long used = entry_parse(dir->next, dir->end, entry);
    VOID_ASSERT(used > 0); /* validated by void_casobj_dir_decode */
    dir->next += used;
    dir->left--;
    return 1;
}

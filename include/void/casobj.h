/*
 * Object formats of the content-addressable store (docs/cas-format.md).
 *
 * Three kinds of blocks make the Merkle DAG. A blob is a chunk of file data,
 * stored as is; its name is the SHA-256 of its bytes. A file object lists the
 * chunks of one file in order with their sizes. A directory object lists its
 * entries sorted by name, each with a type, permission bits and either the
 * hash of its file/directory object or, for a symlink, the link target
 * inline. File and directory objects start with an 8-byte header (magic
 * "VCAS", version, kind, two reserved zero bytes); all integers are
 * big-endian.
 *
 * Decoders are pure and bounds-checked: they accept any byte string, never
 * read outside it and return an error code for anything malformed, so blocks
 * fetched from a Byzantine peer can be fed to them directly.
 */
#ifndef VOID_CASOBJ_H
#define VOID_CASOBJ_H

#include "void/hash.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CASOBJ_MAGIC       0x56434153u /* "VCAS" */
#define VOID_CASOBJ_VERSION     1
#define VOID_CASOBJ_HEADER_SIZE 8
#define VOID_CASOBJ_SIZE_MAX    (64u << 20)          /* largest file or directory object */
#define VOID_CASOBJ_NAME_MAX    255                  /* bytes in an entry name */
#define VOID_CASOBJ_TARGET_MAX  4095                 /* bytes in a symlink target */
#define VOID_CASOBJ_CHUNK_SIZE  (VOID_HASH_SIZE + 4) /* one chunk in a file object */

/* Kinds of blocks, and types of directory entries. Values are on disk. */
enum void_cas_kind {
    VOID_CAS_BLOB = 1,
    VOID_CAS_FILE = 2,
    VOID_CAS_DIR = 3,
    VOID_CAS_SYMLINK = 4, /* only as a directory entry type */
};

/* One chunk of a file: its blob's hash and its length in bytes (> 0). */
struct void_casobj_chunk {
    struct void_hash hash;
    uint32_t size;
};

/* A decoded file object. chunks points into the decoded buffer (borrowed:
 * valid while that buffer is). */
struct void_casobj_file {
    uint64_t size;  /* sum of the chunk sizes */
    uint32_t count; /* number of chunks */
    const uint8_t *chunks;
};

/* One directory entry. name and target point into the decoded buffer when
 * produced by the iterator, or into caller memory when given to the encoder;
 * neither is NUL-terminated. For VOID_CAS_SYMLINK, hash and size are unused
 * and zero; for files and directories, target is NULL. size is the file's
 * length, or for a directory the total length of the files below it. */
struct void_casobj_entry {
    uint8_t type;  /* VOID_CAS_FILE, VOID_CAS_DIR or VOID_CAS_SYMLINK */
    uint32_t mode; /* permission bits, <= 07777 */
    const char *name;
    uint16_t name_len; /* 1..VOID_CASOBJ_NAME_MAX */
    uint64_t size;
    struct void_hash hash;
    const char *target;
    uint16_t target_len; /* 1..VOID_CASOBJ_TARGET_MAX for symlinks */
};

/* A validated directory object, walked with void_casobj_dir_next. */
struct void_casobj_dir {
    uint32_t count;
    const uint8_t *next; /* borrowed from the decoded buffer */
    const uint8_t *end;
    uint32_t left;
};

/* Encoded length of a file object with count chunks. Cannot fail. */
size_t void_casobj_file_encoded_size(uint32_t count);

/* Writes the file object listing chunks[0..count) into buf (cap bytes) and
 * its length into *len. chunks and buf are borrowed. Returns 0, VOID_EINVAL
 * if a chunk has size 0, or VOID_EOVERSIZED if cap or VOID_CASOBJ_SIZE_MAX
 * is too small. */
int void_casobj_file_encode(
    const struct void_casobj_chunk *chunks, uint32_t count, uint8_t *buf, size_t cap, size_t *len);

/* Validates the file object [buf, buf+len) and describes it in out, which
 * then borrows buf. Returns 0, or VOID_ETRUNCATED, VOID_EBAD_MAGIC,
 * VOID_EBAD_VERSION, VOID_EBAD_TYPE (not a file object), VOID_EBAD_LENGTH
 * (length disagrees with the chunk count, or sizes do not add up) or
 * VOID_EBAD_FIELD (a zero-length chunk, non-zero reserved bytes). */
int void_casobj_file_decode(const uint8_t *buf, size_t len, struct void_casobj_file *out);

/* Chunk i (< f->count) of a decoded file object. Cannot fail. */
void void_casobj_file_chunk(const struct void_casobj_file *f,
                            uint32_t i,
                            struct void_casobj_chunk *out);

/* Encoded length of a directory object with these entries. Cannot fail. */
size_t void_casobj_dir_encoded_size(const struct void_casobj_entry *entries, uint32_t count);

/* Writes the directory object for entries[0..count) into buf (cap bytes)
 * and its length into *len. Entries must already be sorted by name
 * (bytewise, shorter prefix first) and every entry valid as the decoder
 * defines it. Returns 0, VOID_EINVAL for an invalid or out-of-order entry,
 * or VOID_EOVERSIZED if buf or VOID_CASOBJ_SIZE_MAX is too small. */
int void_casobj_dir_encode(
    const struct void_casobj_entry *entries, uint32_t count, uint8_t *buf, size_t cap, size_t *len);

/* Validates the directory object [buf, buf+len) completely: every entry
 * well-formed (known type, mode <= 07777, name without '/' or NUL and not
 * "." or "..", non-empty symlink target without NUL), names strictly
 * ascending, no trailing bytes. On success out is ready for
 * void_casobj_dir_next and borrows buf. Returns 0 or the errors of
 * void_casobj_file_decode, plus VOID_EBAD_FIELD for a bad entry. */
int void_casobj_dir_decode(const uint8_t *buf, size_t len, struct void_casobj_dir *out);

/* Fills *entry with the next entry of a decoded directory and returns 1, or
 * returns 0 after the last one. entry borrows the decoded buffer. */
int void_casobj_dir_next(struct void_casobj_dir *dir, struct void_casobj_entry *entry);

/* Kind (VOID_CAS_FILE or VOID_CAS_DIR) named by the header of an encoded
 * object, or a negative error as in the decoders. Cannot fail otherwise. */
int void_casobj_kind(const uint8_t *buf, size_t len);

#endif

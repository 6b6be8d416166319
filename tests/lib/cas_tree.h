/*
 * Test helpers for the CAS store: seeded random file trees with the odd
 * cases (empty and large files, deep directories, names with spaces,
 * newlines and UTF-8, symlinks, varied modes, duplicated content), a
 * byte-for-byte tree comparison, and temporary directories.
 */
#ifndef VOID_TESTS_CAS_TREE_H
#define VOID_TESTS_CAS_TREE_H

#include <stddef.h>
#include <stdint.h>

struct cas_tree_config {
    unsigned files;       /* regular files to create */
    unsigned dirs;        /* directories to create */
    unsigned symlinks;    /* symlinks to create */
    size_t file_size_max; /* most files are small; a few reach this */
    unsigned depth_max;   /* deepest nesting */
};

/* Creates a random tree under root (which must not exist) from seed.
 * Returns the total bytes of regular files written. Aborts on failure. */
uint64_t cas_tree_make(const char *root, uint64_t seed, const struct cas_tree_config *config);

/* Compares trees a and b: same names, types, permission bits, file bytes
 * and symlink targets. Returns 0 if identical, else prints the first
 * difference to stderr and returns -1. */
int cas_tree_compare(const char *a, const char *b);

/* Creates a fresh temporary directory (mkdtemp under $TMPDIR or /tmp) and
 * writes its path into out (cap bytes). Aborts on failure. */
void cas_tmpdir(char *out, size_t cap);

/* rm -rf path. */
void cas_rmrf(const char *path);

/* Writes len seeded random bytes to path with mode 0644. Aborts on failure. */
void cas_write_random_file(const char *path, size_t len, uint64_t seed);

#endif

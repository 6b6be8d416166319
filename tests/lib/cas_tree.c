/*
 * Random file trees and tree comparison for the CAS tests (see
 * tests/lib/cas_tree.h). Uses the seeded void_prng so that a failing seed
 * can be replayed.
 */
#define _XOPEN_SOURCE 700
#include "cas_tree.h"

#include "void/prng.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 512

static void die(const char *what, const char *path)
{
    fprintf(stderr, "cas_tree: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

void cas_write_random_file(const char *path, size_t len, uint64_t seed)
{
    struct void_prng p;
    void_prng_seed(&p, seed);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        die("open", path);
    }
    uint8_t buf[65536];
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = void_prng_next(&p);
            memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
        }
        if (write(fd, buf, n) != (ssize_t)n) {
            die("write", path);
        }
        len -= n;
    }
    close(fd);
}

static const char *const name_parts[] = {
    "a",
    "b",
    "file",
    "with space",
    "new\nline",
    "\xc3\xa9t\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac",
    "x.txt",
    ".hidden",
    "-dash",
    "tab\there",
    "UPPER",
    "z",
    "emoji\xf0\x9f\x98\x80",
};

static void random_name(struct void_prng *p, char *out, size_t cap, unsigned serial)
{
    const char *part = name_parts[void_prng_below(p, sizeof(name_parts) / sizeof(name_parts[0]))];
    if (snprintf(out, cap, "%s-%u", part, serial) < 0) {
        abort();
    }
}

static const unsigned file_modes[] = {0644, 0600, 0755, 0700, 0444, 0640, 04755};
static const unsigned dir_modes[] = {0755, 0700, 0750, 0555};

static size_t random_size(struct void_prng *p, const struct cas_tree_config *c)
{
    uint64_t r = void_prng_below(p, 100);
    if (r < 15) {
        return 0;
    }
    if (r < 85) {
        return (size_t)void_prng_below(p, 5000);
    }
    return (size_t)void_prng_below(p, c->file_size_max + 1);
}

uint64_t cas_tree_make(const char *root, uint64_t seed, const struct cas_tree_config *c)
{
    struct void_prng p;
    void_prng_seed(&p, seed);
    static char dirs[MAX_DIRS][1024];
    unsigned depth[MAX_DIRS];
    unsigned ndirs = 1, serial = 0;
    uint64_t bytes = 0;
    if (snprintf(dirs[0], sizeof(dirs[0]), "%s", root) < 0) {
        abort();
    }
    depth[0] = 0;
    if (mkdir(root, 0755) != 0) {
        die("mkdir", root);
    }
    for (unsigned i = 0; i < c->dirs && ndirs < MAX_DIRS; i++) {
        /* Bias towards the newest directory, which makes deep chains. */
        unsigned parent =
            void_prng_chance(&p, 1, 2) ? ndirs - 1 : (unsigned)void_prng_below(&p, ndirs);
        if (depth[parent] >= c->depth_max) {
            parent = 0;
        }
        char name[128];
        random_name(&p, name, sizeof(name), serial++);
        /* Through a copy: gcc -O0 -Werror=restrict cannot see parent < ndirs. */
        char path[sizeof(dirs[0])];
        if (snprintf(path, sizeof(path), "%s/%s", dirs[parent], name) < 0) {
            abort();
        }
        memcpy(dirs[ndirs], path, sizeof(path));
        if (mkdir(dirs[ndirs], 0755) != 0) {
            die("mkdir", dirs[ndirs]);
        }
        depth[ndirs] = depth[parent] + 1;
        ndirs++;
    }
    char path[1200];
    uint64_t dup_seed = void_prng_next(&p);
    size_t dup_size = 100000;
    for (unsigned i = 0; i < c->files; i++) {
        char name[128];
        random_name(&p, name, sizeof(name), serial++);
        if (snprintf(path, sizeof(path), "%s/%s", dirs[void_prng_below(&p, ndirs)], name) < 0) {
            abort();
        }
        /* One file in five repeats the same content: stored once. */
        int dup = void_prng_chance(&p, 1, 5);
        size_t size = dup ? dup_size : random_size(&p, c);
        cas_write_random_file(path, size, dup ? dup_seed : void_prng_next(&p));
        chmod(path, file_modes[void_prng_below(&p, sizeof(file_modes) / sizeof(file_modes[0]))]);
        bytes += size;
    }
    for (unsigned i = 0; i < c->symlinks; i++) {
        char name[128];
        random_name(&p, name, sizeof(name), serial++);
        if (snprintf(path, sizeof(path), "%s/%s", dirs[void_prng_below(&p, ndirs)], name) < 0) {
            abort();
        }
        const char *target = void_prng_chance(&p, 1, 2) ? "../x.txt-0" : "dangling target \xc3\xa9";
        if (symlink(target, path) != 0) {
            die("symlink", path);
        }
    }
    /* Directory modes last (and deepest first), so creation above worked. */
    for (unsigned i = ndirs; i-- > 1;) {
        chmod(dirs[i], dir_modes[void_prng_below(&p, sizeof(dir_modes) / sizeof(dir_modes[0]))]);
    }
    return bytes;
}

static int names_of(const char *dir, char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof(*v));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
        }
        v[n++] = strdup(de->d_name);
    }
    closedir(d);
    *out = v;
    *count = n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL;
    char ba[65536], bb[65536];
    while (same) {
        size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
        if (na == 0) {
            break;
        }
    }
    if (fa != NULL) {
        fclose(fa);
    }
    if (fb != NULL) {
        fclose(fb);
    }
    return same;
}

static int compare_entry(const char *pa, const char *pb)
{
    struct stat sa, sb;
    if (lstat(pa, &sa) != 0 || lstat(pb, &sb) != 0) {
        fprintf(stderr, "compare: missing %s or %s\n", pa, pb);
        return -1;
    }
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
        fprintf(stderr, "compare: type differs at %s\n", pa);
        return -1;
    }
    if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
        fprintf(
            stderr, "compare: mode %o vs %o at %s\n", sa.st_mode & 07777, sb.st_mode & 07777, pa);
        return -1;
    }
    if (S_ISLNK(sa.st_mode)) {
        char ta[4096], tb[4096];
        ssize_t na = readlink(pa, ta, sizeof(ta)), nb = readlink(pb, tb, sizeof(tb));
        if (na != nb || na < 0 || memcmp(ta, tb, (size_t)na) != 0) {
            fprintf(stderr, "compare: link target differs at %s\n", pa);
            return -1;
        }
        return 0;
    }
    if (S_ISREG(sa.st_mode) && (sa.st_size != sb.st_size || !files_equal(pa, pb))) {
        fprintf(stderr, "compare: content differs at %s\n", pa);
        return -1;
    }
    return S_ISDIR(sa.st_mode) ? cas_tree_compare(pa, pb) : 0;
}

int cas_tree_compare(const char *a, const char *b)
{
    char **na, **nb;
    size_t ca, cb;
    if (names_of(a, &na, &ca) != 0 || names_of(b, &nb, &cb) != 0) {
        fprintf(stderr, "compare: cannot list %s or %s\n", a, b);
        return -1;
    }
    qsort(na, ca, sizeof(*na), cmp_str);
    qsort(nb, cb, sizeof(*nb), cmp_str);
    int rc = ca == cb ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "compare: %zu vs %zu entries in %s\n", ca, cb, a);
    }
    for (size_t i = 0; i < ca && rc == 0; i++) {
        if (strcmp(na[i], nb[i]) != 0) {
            fprintf(stderr, "compare: name '%s' vs '%s' in %s\n", na[i], nb[i], a);
            rc = -1;
            break;
        }
        char pa[4096], pb[4096];
        if (snprintf(pa, sizeof(pa), "%s/%s", a, na[i]) < 0) {
            abort();
        }
        if (snprintf(pb, sizeof(pb), "%s/%s", b, nb[i]) < 0) {
            abort();
        }
        rc = compare_entry(pa, pb);
    }
    for (size_t i = 0; i < ca; i++) {
        free(na[i]);
    }
    for (size_t i = 0; i < cb; i++) {
        free(nb[i]);
    }
    free(na);
    free(nb);
    return rc;
}

void cas_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (snprintf(out, cap, "%s/void-cas-test-XXXXXX", base != NULL ? base : "/tmp") < 0) {
        abort();
    }
    if (mkdtemp(out) == NULL) {
        die("mkdtemp", out);
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) {
        return rmdir(path);
    }
    return unlink(path);
}

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D && (st->st_mode & 0700) != 0700) {
        chmod(path, 0700);
    }
    return 0;
}

void cas_rmrf(const char *path)
{
    /* First make every directory writable (a pre-order walk reaches a
     * directory before its contents), then delete bottom-up. */
    nftw(path, open_up, 32, FTW_PHYS);
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

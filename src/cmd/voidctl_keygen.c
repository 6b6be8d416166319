/*
 * voidctl keygen: makes an Ed25519 key pair for a node or a client, as the
 * two files that configurations name (NAME.secret with mode 0600 and
 * NAME.public), and prints the public key in hex for pasting into a
 * configuration. voidctl cert issue: signs a client certificate with the
 * admin's key (include/void/client_cert.h), which admits the client to
 * replicas that name the admin key instead of listing the client.
 */
#include "cmd/voidctl.h"
#include "void/client_cert.h"
#include "void/error.h"
#include "void/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage_keygen(FILE *out)
{
    fprintf(out,
            "usage: voidctl keygen DIR NAME [--json]\n"
            "\n"
            "Writes DIR/NAME.secret (mode 0600) and DIR/NAME.public, creating DIR\n"
            "(mode 0700) if needed, and prints the public key in hex. Refuses to\n"
            "overwrite existing files.\n"
            "\n"
            "options:\n"
            "  --json   print name, public key and file names as one JSON object\n"
            "\n"
            "exit status: 0 ok; 1 failed (files exist, cannot write); 2 usage error.\n"
            "\n"
            "example:\n"
            "  voidctl keygen /etc/void/keys node0\n");
}

int voidctl_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int json = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'h') {
            usage_keygen(stdout);
            return VOIDCTL_EXIT_OK;
        } else {
            fprintf(stderr, "voidctl keygen: unknown option '%s' (see voidctl keygen --help)\n",
                    argv[optind - 1]);
            return VOIDCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "voidctl keygen: wants DIR NAME (see voidctl keygen --help)\n");
        return VOIDCTL_EXIT_USAGE;
    }
    argv += optind - 1; /* argv[1] is DIR, argv[2] NAME */
    const char *dir = argv[1];
    const char *name = argv[2];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "voidctl keygen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char secret[1024], public[1024];
    if ((size_t)snprintf(secret, sizeof(secret), "%s/%s.secret", dir, name) >= sizeof(secret) ||
        (size_t)snprintf(public, sizeof(public), "%s/%s.public", dir, name) >= sizeof(public)) {
        fprintf(stderr, "voidctl keygen: path too long\n");
        return 2;
    }
    struct void_sign_keypair kp;
    char err[256] = "";
    int rc = void_sign_global_init();
    if (rc == 0) {
        rc = void_sign_keypair_generate(&kp);
    }
    if (rc == 0) {
        rc = void_sign_keyfile_write(secret, public, &kp, err, sizeof(err));
    }
    if (rc != 0) {
        void_sign_keypair_wipe(&kp);
        fprintf(stderr, "voidctl keygen: %s\n", err[0] != '\0' ? err : void_strerror(rc));
        return 1;
    }
    char hex[65];
    void_sign_public_key_to_hex(kp.public_key, hex);
    void_sign_keypair_wipe(&kp);
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}",
                              "name",
                              name,
                              "public_key",
                              hex,
                              "secret_key_file",
                              secret,
                              "public_key_file",
                              public);
        char *text = json_dumps(j, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        printf("%s\n", hex);
    }
    return 0;
}

/* ---- voidctl cert issue --------------------------------------------------- */

static void usage_cert(FILE *out)
{
    fprintf(out,
            "usage: voidctl cert issue --admin-key FILE --id ID (--public-key HEX |\n"
            "                          --public-key-file FILE) [--days D] [--out FILE] [--json]\n"
            "\n"
            "Issues a client certificate: the client's id and public key with an expiry,\n"
            "signed by the admin's secret key. Replicas whose configuration names the\n"
            "admin's public key ([clients] admin_key_file) accept the client without a\n"
            "[client.ID] section; the client names the file in its own [client] cert.\n"
            "The replicas refuse a request whose certificate expired before the time of\n"
            "the batch that orders it (answer: expired).\n"
            "\n"
            "options:\n"
            "  --admin-key FILE        the admin's secret key file (voidctl keygen)\n"
            "  --id ID                 the client's id (not a replica's)\n"
            "  --public-key HEX        the client's public key, 64 hex digits, or\n"
            "  --public-key-file FILE  its public key file (voidctl keygen DIR NAME)\n"
            "  --days D                valid for D days from now (default 365; 1..36500)\n"
            "  --out FILE              write the certificate here (refuses to overwrite);\n"
            "                          default: standard output\n"
            "  --json                  print id, expiry and the certificate as JSON\n"
            "\n"
            "exit status: 0 ok; 1 failed (bad key file, cannot write); 2 usage error.\n"
            "\n"
            "example:\n"
            "  voidctl keygen keys admin && voidctl keygen keys client5000\n"
            "  voidctl cert issue --admin-key keys/admin.secret --id 5000 \\\n"
            "      --public-key-file keys/client5000.public --out keys/client5000.cert\n");
}

struct cert_args {
    const char *admin_key, *public_hex, *public_file, *out;
    uint32_t id;
    int have_id, json;
    double days;
};

static int cert_parse(int argc, char **argv, struct cert_args *a)
{
    static const struct option longopts[] = {{"admin-key", required_argument, NULL, 'a'},
                                             {"id", required_argument, NULL, 'i'},
                                             {"public-key", required_argument, NULL, 'p'},
                                             {"public-key-file", required_argument, NULL, 'P'},
                                             {"days", required_argument, NULL, 'd'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof(*a));
    a->days = 365;
    optind = 0;
    opterr = 0;
    int c;
    char *end = NULL;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            a->admin_key = optarg;
            break;
        case 'i': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v > UINT32_MAX || optarg[0] == '-') {
                fprintf(stderr, "voidctl cert: --id wants a number, not '%s'\n", optarg);
                return VOIDCTL_EXIT_USAGE;
            }
            a->id = (uint32_t)v;
            a->have_id = 1;
            break;
        }
        case 'p':
            a->public_hex = optarg;
            break;
        case 'P':
            a->public_file = optarg;
            break;
        case 'd':
            a->days = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(a->days >= 1 && a->days <= 36500)) {
                fprintf(stderr, "voidctl cert: --days wants 1..36500, not '%s'\n", optarg);
                return VOIDCTL_EXIT_USAGE;
            }
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'h':
            usage_cert(stdout);
            return -1;
        default:
            fprintf(stderr,
                    "voidctl cert: unknown option or missing value '%s' (see voidctl cert "
                    "--help)\n",
                    argv[optind - 1]);
            return VOIDCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1 || strcmp(argv[optind], "issue") != 0) {
        fprintf(stderr, "voidctl cert: wants the verb 'issue' (see voidctl cert --help)\n");
        return VOIDCTL_EXIT_USAGE;
    }
    if (a->admin_key == NULL || !a->have_id ||
        (a->public_hex == NULL) == (a->public_file == NULL)) {
        fprintf(stderr,
                "voidctl cert issue: wants --admin-key, --id and one of --public-key or "
                "--public-key-file (see voidctl cert --help)\n");
        return VOIDCTL_EXIT_USAGE;
    }
    return 0;
}

/* Writes the certificate as voidd and voidctl read it: a comment line, then
 * the bytes in hex on one line. */
static int cert_write(FILE *f, const struct void_client_cert *c, const uint8_t *bytes)
{
    char hex[2 * VOID_CLIENT_CERT_SIZE + 1];
    sodium_bin2hex(hex, sizeof(hex), bytes, VOID_CLIENT_CERT_SIZE);
    time_t expires = (time_t)(c->expires_ns / 1000000000ull);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&expires, &tm) != NULL) {
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    return fprintf(f, "# void client certificate: id %u, expires %s\n%s\n", c->id, when, hex) < 0
               ? -1
               : 0;
}

int voidctl_cert(int argc, char **argv)
{
    struct cert_args a;
    int rc = cert_parse(argc, argv, &a);
    if (rc != 0) {
        return rc < 0 ? VOIDCTL_EXIT_OK : rc;
    }
    struct void_client_cert c = {.id = a.id};
    char err[256] = "";
    struct void_sign_keypair admin;
    if (void_sign_global_init() != 0 ||
        void_sign_keyfile_read_secret(a.admin_key, &admin, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidctl cert issue: admin key: %s\n", err[0] ? err : "unreadable");
        return VOIDCTL_EXIT_FAILED;
    }
    rc = a.public_hex != NULL
             ? void_sign_public_key_from_hex(a.public_hex, c.public_key)
             : void_sign_keyfile_read_public(a.public_file, c.public_key, err, sizeof(err));
    if (rc != 0) {
        void_sign_keypair_wipe(&admin);
        fprintf(stderr,
                "voidctl cert issue: client key: %s\n",
                a.public_hex != NULL ? "want 64 hex digits" : err);
        return a.public_hex != NULL ? VOIDCTL_EXIT_USAGE : VOIDCTL_EXIT_FAILED;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    c.expires_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec +
                   (uint64_t)(a.days * 86400.0) * 1000000000ull;
    uint8_t bytes[VOID_CLIENT_CERT_SIZE];
    rc = void_client_cert_issue(&c, &admin, bytes);
    void_sign_keypair_wipe(&admin);
    if (rc != 0) {
        fprintf(stderr, "voidctl cert issue: %s\n", void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    FILE *f = stdout;
    if (a.out != NULL) {
        int fd = open(a.out, O_WRONLY | O_CREAT | O_EXCL, 0644);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            fprintf(stderr, "voidctl cert issue: cannot create %s: %s\n", a.out, strerror(errno));
            return VOIDCTL_EXIT_FAILED;
        }
    }
    if (a.json && a.out == NULL) {
        char hex[2 * VOID_CLIENT_CERT_SIZE + 1];
        sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
        printf("{\"id\":%u,\"expires_ns\":%llu,\"cert\":\"%s\"}\n",
               (unsigned)c.id,
               (unsigned long long)c.expires_ns,
               hex);
        return VOIDCTL_EXIT_OK;
    }
    rc = cert_write(f, &c, bytes);
    if (f != stdout && fclose(f) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "voidctl cert issue: cannot write the certificate: %s\n", strerror(errno));
        return VOIDCTL_EXIT_FAILED;
    }
    if (a.json) {
        printf("{\"id\":%u,\"expires_ns\":%llu,\"file\":\"%s\"}\n",
               (unsigned)c.id,
               (unsigned long long)c.expires_ns,
               a.out);
    }
    return VOIDCTL_EXIT_OK;
}

/*
 * voidctl keygen: makes an Ed25519 key pair for a node or a client, as the
 * two files that configurations name (NAME.secret with mode 0600 and
 * NAME.public), and prints the public key in hex for pasting into a
 * configuration.
 */
#include "cmd/voidctl.h"
#include "void/error.h"
#include "void/sign.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

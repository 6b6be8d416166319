/*
 * voidctl status / members: asks every replica's HTTP status server
 * (/status, JSON) and prints one line per replica, or the membership as the
 * first replica that answers sees it. A replica that does not answer within
 * --timeout is shown as unreachable; the command fails only when none answers.
 */
#include "cmd/voidctl.h"
#include "void/config.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
}

/* GET path from host:port with a total budget of timeout_ms; the body goes to
 * out (NUL-terminated). Returns 0 or -1. */
static int
http_get(const struct void_config_addr *a, const char *path, char *out, size_t cap, int timeout_ms)
{
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)a->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(a->host, service, &hints, &res) != 0) {
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (fd < 0 || (rc != 0 && errno != EINPROGRESS) || wait_fd(fd, POLLOUT, timeout_ms) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, a->text);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    while (len + 1 < cap && wait_fd(fd, POLLIN, timeout_ms) == 0) {
        ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    out[len] = '\0';
    char *body = strstr(out, "\r\n\r\n");
    if (strncmp(out, "HTTP/1.", 7) != 0 || body == NULL || strstr(out, " 200 ") == NULL) {
        return -1;
    }
    memmove(out, body + 4, strlen(body + 4) + 1);
    return 0;
}

static void print_status_line(uint32_t id, json_t *st)
{
    if (st == NULL) {
        printf("%-4u unreachable\n", (unsigned)id);
        return;
    }
    json_int_t view = 0, primary = 0, executed = 0, stable = 0;
    int changing = 0;
    const char *hlc = "";
    json_unpack(st,
                "{s:I, s:I, s:I, s:I, s:b, s:s}",
                "view",
                &view,
                "primary",
                &primary,
                "last_executed",
                &executed,
                "stable_checkpoint",
                &stable,
                "view_changing",
                &changing,
                "hlc",
                &hlc);
    printf("%-4u view=%lld primary=%lld%s executed=%lld stable=%lld hlc=%s\n",
           (unsigned)id,
           (long long)view,
           (long long)primary,
           changing ? " (view change)" : "",
           (long long)executed,
           (long long)stable,
           hlc);
}

static void print_members(json_t *st)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "members"), i, m)
    {
        json_t *heard = json_object_get(m, "last_heard_ms_ago");
        printf("%-4lld %-22s %s%s",
               (long long)json_integer_value(json_object_get(m, "id")),
               json_string_value(json_object_get(m, "address")),
               json_is_true(json_object_get(m, "self"))        ? "self"
               : json_is_true(json_object_get(m, "connected")) ? "connected"
                                                               : "disconnected",
               heard != NULL ? "" : "\n");
        if (heard != NULL) {
            printf(" last heard %lld ms ago\n", (long long)json_integer_value(heard));
        }
    }
}

int voidctl_status(int argc, char **argv)
{
    struct voidctl_opts o;
    char *pos[1];
    int npos = voidctl_parse_opts(argc, argv, &o, pos, 0);
    if (npos < 0 || o.help) {
        fprintf(o.help ? stdout : stderr,
                "usage: voidctl %s [--cluster FILE] [--timeout S] [--json]\n",
                argv[0]);
        return o.help && npos >= 0 ? 0 : 2;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&o, &cl);
    if (rc != 0) {
        return rc;
    }
    int members = strcmp(argv[0], "members") == 0;
    json_t *all = json_array();
    int answered = 0;
    static char buf[256 * 1024];
    for (uint32_t i = 0; i < cl.count_replicas; i++) {
        json_t *st = NULL;
        if (http_get(
                &cl.replicas[i].http, "/status", buf, sizeof(buf), (int)(o.timeout_s * 1000)) ==
            0) {
            st = json_loads(buf, 0, NULL);
        }
        answered += st != NULL;
        if (members && st != NULL) {
            if (o.json) {
                json_t *m = json_object_get(st, "members");
                char *text = json_dumps(m, JSON_COMPACT);
                printf("%s\n", text);
                free(text);
            } else {
                print_members(st);
            }
            json_decref(st);
            break;
        }
        if (!members && !o.json) {
            print_status_line(cl.replicas[i].id, st);
        }
        json_array_append_new(
            all,
            st != NULL
                ? st
                : json_pack("{s:i, s:b}", "id", (json_int_t)cl.replicas[i].id, "reachable", 0));
    }
    if (!members && o.json) {
        char *text = json_dumps(all, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
    }
    json_decref(all);
    void_config_fini(&cl);
    if (answered == 0) {
        fprintf(stderr, "voidctl: no replica answered on its status address\n");
        return 1;
    }
    return 0;
}

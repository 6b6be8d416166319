/*
 * voidctl status / members: asks every replica's HTTP status server
 * (/status or /members, JSON) at once (libcurl's multi interface, so the
 * whole command takes at most --timeout) and prints one line per replica,
 * or the membership as the first replica that answers sees it (its
 * configuration and its failure detector's state of every member). A replica that does
 * not answer 200 with a JSON object within --timeout is shown as
 * unreachable, and the command then exits VOIDCTL_EXIT_UNREACHABLE: a script
 * checking `voidctl status` learns that the cluster is not whole.
 */
#include "cmd/voidctl.h"
#include "cmd/voidctl_http.h"
#include "void/config.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The integer field name of j, or dflt when absent. */
static long long int_field(json_t *j, const char *name, long long dflt)
{
    json_t *v = json_object_get(j, name);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static const char *str_field(json_t *j, const char *name)
{
    const char *v = json_string_value(json_object_get(j, name));
    return v != NULL ? v : "";
}

/* One /members object (voidd's render_members) as a table. */
static void print_members(json_t *mb)
{
    printf("epoch %lld: n=%lld f=%lld quorum=%lld, as seen by replica %lld "
           "(suspect after %lld ms, dead after %lld ms of silence)\n",
           int_field(mb, "epoch", 0),
           int_field(mb, "n", 0),
           int_field(mb, "f", 0),
           int_field(mb, "quorum", 0),
           int_field(mb, "id", -1),
           int_field(mb, "suspect_after_ms", 0),
           int_field(mb, "dead_after_ms", 0));
    json_t *removed = json_object_get(mb, "removed");
    if (json_array_size(removed) > 0) {
        printf("removed (never readmitted):");
        size_t k;
        json_t *id;
        json_array_foreach(removed, k, id)
        {
            printf("%s %lld", k == 0 ? "" : ",", (long long)json_integer_value(id));
        }
        printf("\n");
    }
    printf("%-4s %-22s %-20s %-7s %-7s %s\n", "ID", "ADDRESS", "LOCATION", "ROLE", "STATE",
           "LAST HEARTBEAT");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(mb, "members"), i, m)
    {
        char loc[3 * 64 + 3];
        const char *dc = str_field(m, "datacenter"), *rack = str_field(m, "rack"),
                   *host = str_field(m, "host");
        if (dc[0] == '\0' && rack[0] == '\0' && host[0] == '\0') {
            snprintf(loc, sizeof(loc), "-");
        } else {
            snprintf(loc, sizeof(loc), "%s/%s/%s", dc, rack, host);
        }
        long long age = int_field(m, "last_heartbeat_ms_ago", -1);
        char heard[48];
        if (json_is_true(json_object_get(m, "self"))) {
            snprintf(heard, sizeof(heard), "(self)");
        } else if (age < 0) {
            snprintf(heard, sizeof(heard), "never");
        } else {
            snprintf(heard, sizeof(heard), "%lld ms ago", age);
        }
        printf("%-4lld %-22s %-20s %-7s %-7s %s\n",
               int_field(m, "id", -1),
               str_field(m, "address"),
               loc,
               str_field(m, "role"),
               str_field(m, "state"),
               heard);
    }
}

static int usage_status(const char *cmd, int ok)
{
    FILE *out = ok ? stdout : stderr;
    if (strcmp(cmd, "members") == 0) {
        fprintf(out,
                "usage: voidctl members [options]\n\n"
                "Prints the membership as the first replica that answers sees it (GET\n"
                "/members on its status server): the epoch of the replicated configuration\n"
                "in effect there, its n, f and quorum, the ids removed by changes (voidctl\n"
                "member), and per member its id, address, location (datacenter/rack/host),\n"
                "role, state as that replica's failure detector holds it (alive, suspect\n"
                "after 4 missed heartbeats, dead after 6) and the age of its last\n"
                "heartbeat. Exits %d when no replica answers.\n",
                VOIDCTL_EXIT_UNREACHABLE);
    } else {
        fprintf(out,
                "usage: voidctl status [options]\n\n"
                "Asks every replica's status server at once and prints one line per replica:\n"
                "view, primary, last executed and stable sequence numbers, HLC; `unreachable`\n"
                "for one that did not answer, and then exits %d.\n",
                VOIDCTL_EXIT_UNREACHABLE);
    }
    fprintf(out,
            "\noptions:\n"
            "  --cluster FILE   the cluster's client file (default: $VOID_CLUSTER)\n"
            "  --timeout S      wait at most S seconds for the replicas (default 5)\n"
            "  --json           status: the replicas' /status objects as one JSON array;\n"
            "                   members: the answering replica's /members object\n\n");
    voidctl_print_exit_codes(out);
    fprintf(out, "\nexample:\n  voidctl %s --cluster /tmp/void-cluster/client.ini\n", cmd);
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

int voidctl_status(int argc, char **argv)
{
    struct voidctl_opts o;
    char *pos[1];
    int npos = voidctl_parse_opts(argc, argv, &o, pos, 0);
    if (npos < 0) {
        return VOIDCTL_EXIT_USAGE; /* the parser said why */
    }
    if (o.help) {
        return usage_status(argv[0], 1);
    }
    if (o.as_of != NULL || o.absent || o.file) {
        fprintf(stderr, "voidctl %s: takes only --cluster, --timeout and --json\n", argv[0]);
        return VOIDCTL_EXIT_USAGE;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&o, &cl);
    if (rc != 0) {
        return rc;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "voidctl: cannot initialise libcurl\n");
        void_config_fini(&cl);
        return VOIDCTL_EXIT_FAILED;
    }
    int members = strcmp(argv[0], "members") == 0;
    static json_t *st[VOID_CONFIG_REPLICAS_MAX];
    voidctl_http_get_all(&cl, members ? "/members" : "/status", (long)(o.timeout_s * 1000), st);
    json_t *all = json_array();
    uint32_t answered = 0, printed_members = 0;
    for (uint32_t i = 0; i < cl.count_replicas; i++) {
        answered += st[i] != NULL;
        if (members && st[i] != NULL && !printed_members) {
            printed_members = 1;
            if (o.json) {
                char *text = json_dumps(st[i], JSON_COMPACT);
                printf("%s\n", text != NULL ? text : "[]");
                free(text);
            } else {
                print_members(st[i]);
            }
        }
        if (!members && !o.json) {
            print_status_line(cl.replicas[i].id, st[i]);
        }
        json_array_append_new(all,
                              st[i] != NULL ? st[i]
                                            : json_pack("{s:I, s:b}",
                                                        "id",
                                                        (json_int_t)cl.replicas[i].id,
                                                        "reachable",
                                                        0));
    }
    if (!members && o.json) {
        char *text = json_dumps(all, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "[]");
        free(text);
    }
    json_decref(all);
    uint32_t count = cl.count_replicas;
    void_config_fini(&cl);
    curl_global_cleanup();
    if (answered == 0) {
        fprintf(stderr, "voidctl: no replica answered on its status address\n");
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    if (!members && answered < count) {
        fprintf(stderr,
                "voidctl: %u of %u replicas did not answer within %.1f s\n",
                (unsigned)(count - answered),
                (unsigned)count,
                o.timeout_s);
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    return VOIDCTL_EXIT_OK;
}

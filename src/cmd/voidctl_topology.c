/*
 * voidctl topology: the datacenter / rack / host tree of a cluster file's
 * replicas, as the scheduler sees it (void_sched_topology(): racks named
 * within their datacenter, hosts within their rack). Read from the file
 * alone; the live load per host comes with task placement (docs/scheduler.md).
 */
#include "cmd/voidctl.h"
#include "void/config.h"
#include "void/sched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_topology(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fprintf(out,
            "usage: voidctl topology [options]\n\n"
            "Prints the replicas of the cluster file as a tree of datacenters, racks and\n"
            "hosts, from their [replica.N] datacenter, rack and host keys (racks are\n"
            "named within their datacenter, hosts within their rack; an unset name\n"
            "prints as -). This is the topology the scheduler measures distances on:\n"
            "0 on one host, 1 in one rack, 10 in one datacenter, 100 across.\n\n"
            "options:\n"
            "  --cluster FILE   the cluster file (default: $VOID_CLUSTER)\n"
            "  --json           {\"datacenters\":[{\"name\",\"racks\":[{\"name\",\"hosts\":\n"
            "                   [{\"name\",\"replicas\":[ids]}]}]}]}\n\n");
    voidctl_print_exit_codes(out);
    fprintf(out, "\nexample:\n  voidctl topology --cluster /tmp/void-cluster/client.ini --json\n");
    return ok ? VOIDCTL_EXIT_OK : VOIDCTL_EXIT_USAGE;
}

static const char *shown(const char *name)
{
    return name[0] != '\0' ? name : "-";
}

/* The replicas of host group m (by machine id), as a JSON array and text. */
static json_t *host_replicas(const struct void_config *c,
                             const struct void_sched_host *h,
                             uint32_t m,
                             char *text,
                             size_t len)
{
    json_t *ids = json_array();
    size_t at = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (h[i].machine != m) {
            continue;
        }
        json_array_append_new(ids, json_integer(c->replicas[i].id));
        int n = snprintf(text + at,
                         len - at,
                         "%s%u (%s)",
                         at ? ", " : "",
                         c->replicas[i].id,
                         c->replicas[i].address.text);
        at = n > 0 && (size_t)n < len - at ? at + (size_t)n : len - 1;
    }
    return ids;
}

static json_t *tree(const struct void_config *c, const struct void_sched_host *h, int print)
{
    json_t *dcs = json_array();
    for (uint32_t d = 0; d < c->count_replicas; d++) {
        if (h[d].dc != d) {
            continue;
        }
        const struct void_config_topology *td = &c->replicas[d].topology;
        json_t *racks = json_array();
        if (print) {
            printf("%s\n", shown(td->datacenter));
        }
        for (uint32_t r = d; r < c->count_replicas; r++) {
            if (h[r].rack != r || h[r].dc != d) {
                continue;
            }
            json_t *hosts = json_array();
            if (print) {
                printf("  %s\n", shown(c->replicas[r].topology.rack));
            }
            for (uint32_t m = r; m < c->count_replicas; m++) {
                if (h[m].machine != m || h[m].rack != r) {
                    continue;
                }
                char text[1024];
                json_t *ids = host_replicas(c, h, m, text, sizeof(text));
                if (print) {
                    printf("    %s: replica %s\n", shown(c->replicas[m].topology.host), text);
                }
                json_array_append_new(
                    hosts,
                    json_pack("{s:s, s:o}", "name", c->replicas[m].topology.host, "replicas", ids));
            }
            json_array_append_new(
                racks,
                json_pack("{s:s, s:o}", "name", c->replicas[r].topology.rack, "hosts", hosts));
        }
        json_array_append_new(dcs, json_pack("{s:s, s:o}", "name", td->datacenter, "racks", racks));
    }
    return json_pack("{s:o}", "datacenters", dcs);
}

int voidctl_topology(int argc, char **argv)
{
    struct voidctl_opts o;
    char *pos[1];
    int npos = voidctl_parse_opts(argc, argv, &o, pos, 0);
    if (npos < 0) {
        return VOIDCTL_EXIT_USAGE; /* the parser said why */
    }
    if (o.help) {
        return usage_topology(1);
    }
    if (o.as_of != NULL || o.absent || o.file || o.key_hex) {
        fprintf(stderr, "voidctl topology: takes only --cluster and --json\n");
        return VOIDCTL_EXIT_USAGE;
    }
    static struct void_config cl;
    int rc = voidctl_load_cluster(&o, &cl);
    if (rc != 0) {
        return rc;
    }
    static struct void_sched_location loc[VOID_CONFIG_REPLICAS_MAX];
    static struct void_sched_host hosts[VOID_CONFIG_REPLICAS_MAX];
    for (uint32_t i = 0; i < cl.count_replicas; i++) {
        const struct void_config_topology *t = &cl.replicas[i].topology;
        loc[i] = (struct void_sched_location){t->datacenter, t->rack, t->host};
    }
    if (void_sched_topology(hosts, loc, cl.count_replicas) != 0) {
        fprintf(stderr, "voidctl topology: the cluster file lists no replica\n");
        return VOIDCTL_EXIT_FAILED;
    }
    json_t *j = tree(&cl, hosts, !o.json);
    if (o.json) {
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s != NULL ? s : "{}");
        free(s);
    }
    json_decref(j);
    return VOIDCTL_EXIT_OK;
}

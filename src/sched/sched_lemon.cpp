/*
 * The LEMON engine of the scheduler's exact solver: LEMON's network simplex
 * (Kovács, "Minimum-cost flow algorithms: an experimental evaluation", 2015:
 * the fastest of LEMON's engines on sparse networks of this size). The only
 * C++ file of Void, kept behind the C interface of sched_int.h; used by the
 * tests and the bench, never by a replica.
 */
#include "sched_int.h"

#include <algorithm>
#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>
#include <new>
#include <utility>
#include <vector>

int void__sched_mcf_lemon(int nodes,
                          int arcs,
                          const int *tail,
                          const int *head,
                          const int64_t *cap,
                          const int64_t *cost,
                          const int64_t *supply,
                          int64_t *flow)
{
    try {
        // StaticDigraph wants its arcs sorted by tail; keep each arc's
        // position to write its flow back.
        std::vector<std::pair<int, int>> order(static_cast<size_t>(arcs));
        for (int a = 0; a < arcs; a++) {
            order[static_cast<size_t>(a)] = std::make_pair(tail[a], a);
        }
        std::stable_sort(order.begin(), order.end());
        std::vector<std::pair<int, int>> list(static_cast<size_t>(arcs));
        for (size_t i = 0; i < list.size(); i++) {
            int a = order[i].second;
            list[i] = std::make_pair(tail[a], head[a]);
        }
        lemon::StaticDigraph g;
        g.build(nodes, list.begin(), list.end());
        lemon::StaticDigraph::ArcMap<int64_t> c(g), u(g);
        lemon::StaticDigraph::NodeMap<int64_t> s(g);
        for (size_t i = 0; i < list.size(); i++) {
            int a = order[i].second;
            lemon::StaticDigraph::Arc arc = g.arc(static_cast<int>(i));
            c[arc] = cost[a];
            u[arc] = cap[a];
        }
        for (int v = 0; v < nodes; v++) {
            s[g.node(v)] = supply[v];
        }
        lemon::NetworkSimplex<lemon::StaticDigraph, int64_t, int64_t> ns(g);
        ns.upperMap(u).costMap(c).supplyMap(s);
        auto rc = ns.run();
        if (rc == ns.INFEASIBLE) {
            return 1;
        }
        if (rc != ns.OPTIMAL) {
            return 2;
        }
        for (size_t i = 0; i < list.size(); i++) {
            flow[order[i].second] = ns.flow(g.arc(static_cast<int>(i)));
        }
        return 0;
    } catch (const std::bad_alloc &) {
        return 2;
    }
}

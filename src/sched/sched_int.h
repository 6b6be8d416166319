/*
 * Internals shared by the files of libvoidsched (src/sched): the min-cost
 * flow engines behind void_sched_place_exact().
 */
#ifndef VOID_SCHED_INT_H
#define VOID_SCHED_INT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Solves a min-cost flow with LEMON's network simplex (sched_lemon.cpp):
 * nodes 0..nodes-1, supply[v] > 0 at sources, < 0 at sinks, summing to 0;
 * arc a from tail[a] to head[a] with capacity cap[a] and cost cost[a] (all
 * borrowed). Writes the optimal flow[a] (arcs entries). Returns 0, 1 when no
 * feasible flow exists, 2 when LEMON fails otherwise (out of memory). */
int void__sched_mcf_lemon(int nodes,
                          int arcs,
                          const int *tail,
                          const int *head,
                          const int64_t *cap,
                          const int64_t *cost,
                          const int64_t *supply,
                          int64_t *flow);

#ifdef __cplusplus
}
#endif

#endif

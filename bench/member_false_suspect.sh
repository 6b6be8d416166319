#!/usr/bin/env bash
# bench/member_false_suspect.sh: false suspicions over a long run with one
# node starved and every link lossy (issue 18: "a node under CPU burn or 5 %
# packet loss must not be falsely declared dead"; goal 0). Five voidd
# processes with [membership] auto_remove = 1 and fault control
# (scripts/cluster start --fault-control) under a steady voidload;
# `stress-ng --cpu 2` runs on the machine for the whole run (not pinned:
# on a 2-core machine it starves every node, not one, which is stricter)
# and `voidctl fault all --loss-pct 5` drops 5 % of the frames every node
# sends (so every link loses 5 % each way, not only one node's: stricter
# than the issue asks). At the end it sums over the nodes:
# suspicions (alive -> suspect), deaths, suspicions signed (dead ones) and
# removals; nobody died, so every one of them is false.
#
# Prints the per-node counts, the machine's load average, and
#   BENCH member_false_suspect: suspect=<k> dead=<k> removed=<k> seconds=<S> heartbeats=<k>
#
# Usage: [SECONDS_RUN=600] [LOSS=5] [CPU=2] bash bench/member_false_suspect.sh
#
# Options (environment):
#   SECONDS_RUN  length of the run (default 600)
#   LOSS         percent of frames every node drops (default 5)
#   CPU          stress-ng CPU workers (default 2)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: SECONDS_RUN=180 bash bench/member_false_suspect.sh
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "member_false_suspect: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
RUN=${SECONDS_RUN:-600}
LOSS=${LOSS:-5}
CPU=${CPU:-2}
for v in RUN LOSS CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "member_false_suspect: $v must be an integer" >&2; exit 2; }
done
command -v stress-ng > /dev/null || { echo "member_false_suspect: stress-ng not installed" >&2; exit 1; }
# member_bench_init, member_cluster_start, metric_at (bench/lib/member.sh)
source "$root/bench/lib/member.sh"
member_bench_init member_false_suspect 17960

member_cluster_start 5 2 --fault-control
admin=$VOID_CLUSTER_DIR/keys/admin.secret
t_base=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ) # as the logs stamp: compared as strings
declare -a s0 d0 g0
for i in 0 1 2 3 4; do
  s0[$i]=$(metric_at "$i" void_suspicions_total)
  d0[$i]=$(metric_at "$i" void_member_deaths_total)
  g0[$i]=$(metric_at "$i" void_suspicions_signed_total)
done
vctl fault all --admin-key "$admin" --loss-pct "$LOSS" > /dev/null
stress-ng --cpu "$CPU" --timeout "${RUN}s" --quiet &
echo $! > "$VOID_CLUSTER_DIR/run/stress.pid"
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds "$RUN" --value 50 --retry-ms 300 \
  > "$TEST_DIR/load.out" 2>&1 &
echo $! > "$VOID_CLUSTER_DIR/run/voidload.pid"
echo "running $RUN s: $CPU stress-ng CPU workers beside the nodes, ${LOSS}% loss on every node's sends; load average $(cut -d' ' -f1-3 /proc/loadavg)"
loads=""
for ((t = 0; t < RUN; t += 60)); do
  sleep $((RUN - t < 60 ? RUN - t : 60))
  loads="$loads $(cut -d' ' -f1 /proc/loadavg)"
done
wait "$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")" || fail "voidload failed: $(cat "$TEST_DIR/load.out")"
rm -f "$VOID_CLUSTER_DIR/run/voidload.pid"
wait "$(cat "$VOID_CLUSTER_DIR/run/stress.pid")" || true
rm -f "$VOID_CLUSTER_DIR/run/stress.pid"
vctl fault all --admin-key "$admin" --clear > /dev/null
cat "$TEST_DIR/load.out"
sus=0 dead=0 sig=0 hb=0
for i in 0 1 2 3 4; do
  s=$(($(metric_at "$i" void_suspicions_total) - s0[i]))
  d=$(($(metric_at "$i" void_member_deaths_total) - d0[i]))
  g=$(($(metric_at "$i" void_suspicions_signed_total) - g0[i]))
  h=$(metric_at "$i" 'void_heartbeats_total{dir="received"}')
  echo "node $i: suspicions $s, deaths $d, suspicions signed $g, heartbeats received $h"
  sus=$((sus + s)) dead=$((dead + d)) sig=$((sig + g)) hb=$((hb + h))
done
# Each transition counted above as the node logged it: how long the peer
# had been silent and the node's own local health multiplier then (0: its
# ticks were on time, so the silence was not its own slowness). Those of
# the cluster's start, before the counts were taken, are left out.
cat "$VOID_CLUSTER_DIR"/logs/node*.log | grep -- "-> suspect\|-> dead" |
  awk -v t="$t_base" '$1 >= t' | sed 's/ hlc=[^ ]*//' || true
epoch=$(metric_at 0 void_epoch)
echo "load average each minute:$loads; epoch at the end $epoch"
echo "BENCH member_false_suspect: suspect=$sus dead=$dead signed=$sig removed=$((epoch - 1)) seconds=$RUN heartbeats=$hb"

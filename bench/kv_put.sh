#!/usr/bin/env bash
# bench/kv_put.sh: BENCH kv_put, durable 100-byte puts, a 4-replica Void
# cluster against a 3-member etcd cluster (Debian's etcd-server), both on
# loopback on this machine, driven by the same closed-loop load generator
# (build/bin/voidload: C clients, one outstanding put each, distinct keys,
# same value size; for etcd the v3 JSON gateway /v3/kv/put over keep-alive
# HTTP/1.1, clients spread over the three members; on both sides each client
# makes one warm-up put before the clock starts). Each concurrency level
# runs both systems back to back, alternating which goes first. Prints a
# table and the BENCH line: the cost per put (1 / throughput) at the highest
# concurrency, ours / etcd's (lower is better), and BENCH kv_put_cpu: the CPU
# time (user + system, the servers' from /proc plus the load generator's) per
# put at that level. Void's clients share one process but no work: each
# authenticates the replies it uses on its own, by the tag each replica adds
# for it. Ports are below the kernel's ephemeral range (bench/lib/ports.sh);
# every Void node and etcd member must be up and healthy before and after
# each measurement, or the bench fails at once naming the one that is not.
#
# Usage: [LEVELS="1 16 64"] [SECS=5] bash bench/kv_put.sh
#
# Options (environment):
#   LEVELS       concurrency levels, closed-loop clients (default "1 16 64")
#   SECS         seconds per measurement (default 5)
#   VALUE        bytes per value (default 100; bench/kv_put_64k.sh sets 65536)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: LEVELS="1 16" SECS=3 VOID_BIN=build/bin bash bench/kv_put.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args "${KV_PUT_NAME:-kv_put}" "$@" # -h/--help, no other argument; root and bin
levels=${LEVELS:-"1 16 64"}
secs=${SECS:-5}
value=${VALUE:-100}
name=${KV_PUT_NAME:-kv_put} # the BENCH name (bench/kv_put_64k.sh runs this script)
max=0; for c in $levels; do [ "$c" -gt "$max" ] && max=$c; done

work=$(mktemp -d /tmp/void-bench-kvput-XXXXXX)
# Both clusters, healthy, stopped on exit; all_healthy, cpu_of (bench/lib/kv_clusters.sh).
source "$root/bench/lib/kv_clusters.sh"
run() { "$bin/voidload" "$1" "$2" --clients "$3" --seconds "$secs" --value "$value" ${4:-}; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

printf '%-8s %-6s %12s %10s %10s %14s %14s\n' system clients "puts/s" "p50 us" "p99 us" \
  "server us/put" "client us/put"
# measure LABEL SYSTEM TARGET CLIENTS PIDS [VOIDLOAD-FLAGS]: one run, one row;
# sets tput and cpu (server + client CPU per put).
measure() {
  local label=$1 sys=$2 target=$3 c=$4 pids=$5 before after ops scpu ccpu out
  before=$(cpu_of $pids)
  TIMEFORMAT="%U %S"
  { time out=$(run "$sys" "$target" "$c" ${6:-}); } 2> "$work/time"
  after=$(cpu_of $pids)
  ops=$(field "ops" "$out")
  scpu=$(awk -v a="$before" -v b="$after" -v n="$ops" 'BEGIN {printf "%.0f", (b - a) * 1e6 / n}')
  ccpu=$(awk -v n="$ops" '{printf "%.0f", ($1 + $2) * 1e6 / n}' "$work/time")
  printf '%-8s %-6s %12s %10s %10s %14s %14s\n' "$label" "$c" "$(field ops_per_s "$out")" \
    "$(field p50_us "$out")" "$(field p99_us "$out")" "$scpu" "$ccpu"
  tput=$(field ops_per_s "$out")
  cpu=$((scpu + ccpu))
}
round=0
for c in $levels; do
  if [ $((round % 2)) -eq 0 ]; then order="void etcd"; else order="etcd void"; fi
  round=$((round + 1))
  for sys in $order; do
    if [ "$sys" = void ]; then pids=$void_pids; target=$work/void; else pids="${etcd_pids[*]}"; target=$endpoints; fi
    all_healthy
    measure "$sys" "$sys" "$target" "$c" "$pids"
    eval "${sys}_tput_$c=$tput"
    eval "${sys}_cpu_$c=$cpu"
  done
done

all_healthy
ours=$(eval echo "\$void_tput_$max")
peer=$(eval echo "\$etcd_tput_$max")
ours_cpu=$(eval echo "\$void_cpu_$max")
peer_cpu=$(eval echo "\$etcd_cpu_$max")
python3 - "$ours" "$peer" "$max" "$ours_cpu" "$peer_cpu" "$value" "$name" <<'PY'
import sys
ours, peer, c = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
oc, pc, v, name = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
print(f"BENCH {name}: ours={1e6/ours:.1f}us peer(etcd 3.4 3-member, {v}-byte values, {c} closed-loop clients)={1e6/peer:.1f}us ratio={peer/ours:.2f}")
print(f"BENCH {name}_cpu: ours={oc:.0f}us peer(etcd 3.4 3-member + load generator, CPU per put, {c} clients)={pc:.0f}us ratio={oc/pc:.2f}")
if v >= 4096:
    print(f"BENCH {name}_mbs: ours={ours*v/1e6:.1f}MB/s peer(etcd)={peer*v/1e6:.1f}MB/s ratio={ours/peer:.2f}")
PY

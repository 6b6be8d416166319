#!/usr/bin/env bash
# bench/kv_get.sh: BENCH kv_get, linearizable gets of 100-byte values, a
# 4-replica Void cluster against a 3-member etcd cluster (Debian's
# etcd-server), both on loopback on this machine, driven by the same
# closed-loop load generator (build/bin/voidload --reads 100: C clients, one
# outstanding get each, of the 8 keys each client wrote first). Void's get is
# PBFT's read-only request (docs/pbft.md, Read-only requests: every replica
# answers from its executed state, the client takes 2f+1 matching answers,
# else orders the read); etcd's is a linearizable /v3/kv/range (its default,
# not serializable: the leader confirms its leadership by a heartbeat round,
# the read index). Each concurrency level runs both systems back to back,
# alternating which goes first. Prints a table, the BENCH line (the cost per
# get, 1 / throughput, at the highest concurrency: ours / etcd's, lower is
# better), BENCH kv_get_p50 (the p50 latency of a get at one client, ours /
# etcd's) and BENCH kv_get_vs_put (Void's p50 of a get over its p50 of a put
# at one client, same run; the goal of issue 17 is at most 0.5).
#
# Usage: [LEVELS="1 16 64"] [SECS=5] bash bench/kv_get.sh
#
# Options (environment):
#   LEVELS       concurrency levels, closed-loop clients (default "1 16 64";
#                1 is always measured, for the p50 lines)
#   SECS         seconds per measurement (default 5)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: LEVELS="1 16" SECS=3 VOID_BIN=build/bin bash bench/kv_get.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args kv_get "$@" # -h/--help, no other argument; root and bin
levels=${LEVELS:-"1 16 64"}
case " $levels " in *" 1 "*) ;; *) levels="1 $levels" ;; esac
secs=${SECS:-5}
value=100
name=kv_get
max=0; for c in $levels; do [ "$c" -gt "$max" ] && max=$c; done

work=$(mktemp -d /tmp/void-bench-kvget-XXXXXX)
# Both clusters, healthy, stopped on exit; all_healthy, cpu_of (bench/lib/kv_clusters.sh).
source "$root/bench/lib/kv_clusters.sh"
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

run() { "$bin/voidload" "$1" "$2" --clients "$3" --seconds "$4" --value "$value" ${5:-}; }

# Every client's 8 keys written in both systems before the gets read them.
all_healthy
run void "$work/void" "$max" 1 > /dev/null
run etcd "$endpoints" "$max" 1 > /dev/null

printf '%-10s %-6s %12s %10s %10s %14s %14s\n' system clients "ops/s" "p50 us" "p99 us" \
  "server us/op" "client us/op"
# measure LABEL SYSTEM TARGET CLIENTS PIDS [VOIDLOAD-FLAGS]: one run, one row;
# sets tput and p50.
measure() {
  local label=$1 sys=$2 target=$3 c=$4 pids=$5 before after ops scpu ccpu out
  before=$(cpu_of $pids)
  TIMEFORMAT="%U %S"
  { time out=$(run "$sys" "$target" "$c" "$secs" "${6:-}"); } 2> "$work/time"
  after=$(cpu_of $pids)
  ops=$(field "ops" "$out")
  scpu=$(awk -v a="$before" -v b="$after" -v n="$ops" 'BEGIN {printf "%.0f", (b - a) * 1e6 / n}')
  ccpu=$(awk -v n="$ops" '{printf "%.0f", ($1 + $2) * 1e6 / n}' "$work/time")
  printf '%-10s %-6s %12s %10s %10s %14s %14s\n' "$label" "$c" "$(field ops_per_s "$out")" \
    "$(field p50_us "$out")" "$(field p99_us "$out")" "$scpu" "$ccpu"
  tput=$(field ops_per_s "$out")
  p50=$(field p50_us "$out")
  if [[ "$out" == *read_only_quorum=* ]]; then
    echo "           read-only gets: $(field read_only_quorum "$out") by a quorum, $(field read_only_ordered "$out") ordered"
  fi
}
round=0
for c in $levels; do
  if [ $((round % 2)) -eq 0 ]; then order="void etcd"; else order="etcd void"; fi
  round=$((round + 1))
  for sys in $order; do
    if [ "$sys" = void ]; then pids=$void_pids; target=$work/void; else pids="${etcd_pids[*]}"; target=$endpoints; fi
    all_healthy
    measure "$sys get" "$sys" "$target" "$c" "$pids" "--reads 100"
    eval "${sys}_tput_$c=$tput"
    eval "${sys}_p50_$c=$p50"
  done
done
# Void's put and ordered get at one client, same run, for the ratios.
all_healthy
measure "void put" void "$work/void" 1 "$void_pids" ""
void_put_p50=$p50
all_healthy
measure "void oget" void "$work/void" 1 "$void_pids" "--reads 100 --ordered-reads"

all_healthy
ours=$(eval echo "\$void_tput_$max")
peer=$(eval echo "\$etcd_tput_$max")
python3 - "$ours" "$peer" "$max" "$void_p50_1" "$etcd_p50_1" "$void_put_p50" <<'PY'
import sys
ours, peer, c = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
g, e, p = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
print(f"BENCH kv_get: ours={1e6/ours:.1f}us peer(etcd 3.4 3-member, linearizable range, {c} closed-loop clients)={1e6/peer:.1f}us ratio={peer/ours:.2f}")
print(f"BENCH kv_get_p50: ours={g:.0f}us peer(etcd 3.4 3-member, linearizable range, 1 client)={e:.0f}us ratio={g/e:.2f}")
print(f"BENCH kv_get_vs_put: ours={g:.0f}us peer(Void's own put p50, 1 client, same run)={p:.0f}us ratio={g/p:.2f}")
PY

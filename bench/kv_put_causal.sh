#!/usr/bin/env bash
# bench/kv_put_causal.sh: BENCH kv_put_causal, what the causal event log
# costs durable 100-byte puts (issue 19: throughput with event logging on
# within 10 % of off). Two 4-replica Void clusters side by side on loopback
# (scripts/cluster, the same binaries): "on" as configured by default (every
# event recorded, verified and persisted to DATA_DIR/causal) and "off" with
# [causal] events = 0 in every node's config. The same closed-loop load
# (build/bin/voidload, one outstanding put each, distinct keys) runs against
# each in turn, ROUNDS times, alternating which goes first. Prints one row
# per run, then
#   BENCH kv_put_causal: ours=<us per put, log on> peer(events off)=<us per
#     put, log off> ratio=<on / off>
# from the summed puts and seconds of all rounds (goal ratio <= 1.11, i.e.
# on >= 90 % of off's throughput), and BENCH kv_put_causal_cpu: the servers'
# CPU time (user + system, /proc) per put, on / off, which moves far less
# with the load of other processes than throughput does. Every node of both
# clusters must be up and healthy before and after each run, or the bench
# fails at once naming it. Ports are below the kernel's ephemeral range.
#
# Usage: [CLIENTS=16] [SECS=8] [ROUNDS=4] bash bench/kv_put_causal.sh
#
# Options (environment):
#   CLIENTS      closed-loop clients (default 16)
#   SECS         seconds per run (default 8)
#   ROUNDS       pairs of runs, on and off (default 4)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: CLIENTS=16 SECS=5 ROUNDS=3 VOID_BIN=build/bin bash bench/kv_put_causal.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args kv_put_causal "$@" # -h/--help, no other argument; root and bin
clients=${CLIENTS:-16}
secs=${SECS:-8}
rounds=${ROUNDS:-4}
for v in "$clients" "$secs" "$rounds"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "kv_put_causal: CLIENTS, SECS and ROUNDS must be positive integers" >&2; exit 2; }
done
for b in voidd voidctl voidload; do
  [ -x "$bin/$b" ] || { echo "kv_put_causal: $bin/$b missing (build first, or set VOID_BIN)" >&2; exit 1; }
done

source "$root/bench/lib/ports.sh"
BENCH_NAME=kv_put_causal
work=$(mktemp -d /tmp/void-bench-kvcausal-XXXXXX)
cleanup() {
  for s in on off; do
    VOID_BIN=$bin VOID_CLUSTER_DIR=$work/$s "$root/scripts/cluster" stop > /dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cluster() { VOID_LOG_LEVEL=warn VOID_BIN=$bin VOID_CLUSTER_DIR=$work/$1 "$root/scripts/cluster" "${@:2}"; }
# "on" at P..P+3 (HTTP P+1000..), "off" at P+10..P+13 (HTTP P+1010..).
P=$(free_port_base 0 1 2 3 1000 1001 1002 1003 10 11 12 13 1010 1011 1012 1013)
cluster on start --n 4 --port "$P" --clients "$clients" > /dev/null
# The off cluster: generated and started once, stopped, given [causal]
# events = 0, started again (scripts/cluster keeps an existing config).
cluster off start --n 4 --port "$((P + 10))" --clients "$clients" > /dev/null
cluster off stop > /dev/null
for f in "$work"/off/node*.ini; do printf '\n[causal]\nevents = 0\n' >> "$f"; done
cluster off start > /dev/null
void_healthy "$work/on"
void_healthy "$work/off"
# The setting took: an "off" node answers 404 on its event queries.
addr=$(awk '/^\[replica.0\]/ { s = 1 } s && /^http *=/ { sub(/^http *= */, ""); print; exit }' "$work/off/node0.ini")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/trace/events" || true)
[ "$code" = 404 ] || bench_fail "the off cluster's node 0 answers /trace/events with $code, not 404: is [causal] events = 0 read?"

cpu_of() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.3f", s / hz}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

printf '%-5s %-4s %10s %10s %10s %14s\n' round log "puts/s" "p50 us" "p99 us" "server us/put"
declare -A ops_sum cpu_sum
ops_sum[on]=0 ops_sum[off]=0 cpu_sum[on]=0 cpu_sum[off]=0
for ((r = 1; r <= rounds; r++)); do
  if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
  for s in $order; do
    void_healthy "$work/$s"
    pids=$(cat "$work/$s"/run/node*.pid)
    before=$(cpu_of $pids)
    out=$("$bin/voidload" void "$work/$s" --clients "$clients" --seconds "$secs" --value 100)
    after=$(cpu_of $pids)
    void_healthy "$work/$s"
    ops=$(field ops "$out")
    [ -n "$ops" ] && [ "$ops" -gt 0 ] || bench_fail "voidload against the $s cluster completed no put: $out"
    printf '%-5s %-4s %10s %10s %10s %14s\n' "$r" "$s" "$(field ops_per_s "$out")" "$(field p50_us "$out")" \
      "$(field p99_us "$out")" "$(awk -v a="$before" -v b="$after" -v n="$ops" 'BEGIN {printf "%.0f", (b - a) * 1e6 / n}')"
    ops_sum[$s]=$((ops_sum[$s] + ops))
    cpu_sum[$s]=$(awk -v t="${cpu_sum[$s]}" -v a="$before" -v b="$after" 'BEGIN {printf "%.3f", t + b - a}')
  done
done

python3 - "${ops_sum[on]}" "${ops_sum[off]}" "${cpu_sum[on]}" "${cpu_sum[off]}" "$secs" "$rounds" "$clients" <<'PY'
import sys
on, off, con, coff = (float(a) for a in sys.argv[1:5])
secs, rounds, c = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
t = secs * rounds
print(f"kv_put_causal: {rounds} rounds of {secs} s, {c} clients: log on {on / t:.0f} puts/s, "
      f"off {off / t:.0f} puts/s (on = {100 * on / off:.1f} % of off; goal >= 90 %)")
print(f"BENCH kv_put_causal: ours={1e6 * t / on:.1f}us peer(events off, {c} clients)={1e6 * t / off:.1f}us ratio={off / on:.2f}")
print(f"BENCH kv_put_causal_cpu: ours={1e6 * con / on:.0f}us peer(events off, server CPU per put)={1e6 * coff / off:.0f}us ratio={(con / on) / (coff / off):.2f}")
PY

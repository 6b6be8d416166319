#!/usr/bin/env bash
# bench/ckpt_scale.sh: what checkpoints and restarts cost as the replicated
# state grows (issue 17). A 4-replica Void cluster on loopback; voidload puts
# (as bench/kv_put.sh does) at each concurrency level on an empty state, then
# the state is loaded with KEYS distinct keys of VALUE bytes and the levels
# run again. For every run it prints puts/s and, from each node's /metrics,
# the record-log bytes written per stable checkpoint (void_persist_bytes_total
# over void_checkpoints_stable_total during the run: ENTRY records included,
# so compare the two states) and the record log's microseconds per commit.
# Then the restart: node 2 is killed (SIGKILL) and restarted, and the time
# until it answers and has executed as far as node 0 is printed; then the
# whole cluster is stopped and started (scripts/cluster stop, start).
#
# Usage: [KEYS=100000] [VALUE=100] [LEVELS="16 64"] [SECS=5] bash bench/ckpt_scale.sh
#
# Options (environment):
#   KEYS       distinct keys to load (default 100000)
#   VALUE      bytes per value, the load's and the puts' (default 100)
#   LEVELS     concurrency levels, closed-loop clients (default "16 64")
#   SECS       seconds per measurement (default 5)
#   VOID_BIN   directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help this help
#
# Example: KEYS=20000 LEVELS="16 64" SECS=5 VOID_BIN=build/bin bash bench/ckpt_scale.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args ckpt_scale "$@" # -h/--help, no other argument; root and bin
keys=${KEYS:-100000}
value=${VALUE:-100}
levels=${LEVELS:-"16 64"}
secs=${SECS:-5}
max=0; for c in $levels; do [ "$c" -gt "$max" ] && max=$c; done
[ "$max" -lt 64 ] && max=64 # the load runs 64 clients

work=$(mktemp -d /tmp/void-bench-ckpt-XXXXXX)
source "$root/bench/lib/ports.sh"
BENCH_NAME=ckpt_scale
export VOID_BIN=$bin VOID_CLUSTER_DIR=$work/void
cleanup() {
  "$root/scripts/cluster" stop > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
P=$(free_port_base 0 1 2 3 1000 1001 1002 1003)
cl() { "$root/scripts/cluster" "$@" --port "$P"; }
VOID_LOG_LEVEL=warn cl start --n 4 --clients "$max" > /dev/null
void_healthy "$work/void"

# metric I NAME: node i's counter NAME from /metrics.
metric() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((P + 1000 + $1))/metrics" |
    awk -v m="$2" '$1 == m && !done { print $2; done = 1 }' # reads it all: no SIGPIPE for curl
}
status() { # status I FIELD
  curl -fsS --max-time 2 "http://127.0.0.1:$((P + 1000 + $1))/status" |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', ''))"
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

printf '%-10s %8s %8s %10s %10s %16s %14s\n' state keys clients "puts/s" "p50 us" \
  "bytes/ckpt (n1)" "us/commit (n1)"
measure() { # measure LABEL CLIENTS
  local b0 c0 u0 n0 b1 c1 u1 n1 out
  b0=$(metric 1 void_persist_bytes_total); c0=$(metric 1 void_checkpoints_stable_total)
  u0=$(metric 1 void_persist_duration_seconds_sum); n0=$(metric 1 void_persist_duration_seconds_count)
  out=$("$bin/voidload" void "$work/void" --clients "$2" --seconds "$secs" --value "$value")
  b1=$(metric 1 void_persist_bytes_total); c1=$(metric 1 void_checkpoints_stable_total)
  u1=$(metric 1 void_persist_duration_seconds_sum); n1=$(metric 1 void_persist_duration_seconds_count)
  printf '%-10s %8s %8s %10s %10s %16s %14s\n' "$1" "$(status 0 state_keys)" "$2" \
    "$(field ops_per_s "$out")" "$(field p50_us "$out")" \
    "$(awk -v a="$b0" -v b="$b1" -v x="$c0" -v y="$c1" 'BEGIN { if (y > x) printf "%.0f", (b - a) / (y - x); else print "-" }')" \
    "$(awk -v a="$u0" -v b="$u1" -v x="$n0" -v y="$n1" 'BEGIN { if (y > x) printf "%.0f", (b - a) * 1e6 / (y - x); else print "-" }')"
}
for c in $levels; do measure empty "$c"; done

t0=$(date +%s)
while :; do
  "$bin/voidload" void "$work/void" --clients 64 --seconds 10 --distinct --value "$value" > /dev/null
  k=$(status 0 state_keys)
  [ "${k:-0}" -ge "$keys" ] && break
  [ $(( $(date +%s) - t0 )) -lt 3600 ] || bench_fail "only $k keys loaded in an hour" "$work/void/logs/node0.log"
done
echo "loaded $(status 0 state_keys) keys in $(( $(date +%s) - t0 )) s; LMDB file of node 1: $(du -sh "$work/void/data/node1/state" | cut -f1)"
for c in $levels; do measure loaded "$c"; done

caught_up() { # caught_up I: node i answers and executed as far as node 0
  local a b
  a=$(status "$1" last_executed 2>/dev/null || true)
  b=$(status 0 last_executed 2>/dev/null || true)
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -ge "$b" ]
}
cl kill 2 > /dev/null
t0=$(date +%s%N)
cl restart 2 > /dev/null
"$bin/voidctl" put after-kill yes --cluster "$work/void/client.ini" --timeout 10 > /dev/null
until caught_up 2; do sleep 0.05; done
echo "replica 2 killed and restarted at $(status 2 state_keys) keys: back and caught up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
{ grep 'recovery: recovered' "$work/void/logs/node2.log" || true; } | tail -n 1 | sed 's/^/  /'
cl stop > /dev/null
t0=$(date +%s%N)
VOID_LOG_LEVEL=warn cl start > /dev/null
"$bin/voidctl" put after-stop yes --cluster "$work/void/client.ini" --timeout 20 > /dev/null
echo "whole cluster stopped and started: a put commits $(( ($(date +%s%N) - t0) / 1000000 )) ms after start began"

#!/usr/bin/env bash
# bench/clients_10k.sh: 10,000 distinct clients each do a put in one run,
# with at-most-once execution checked for every one (issue 17, "Limits").
# Not in the default suite: a run takes minutes.
#
# Starts a 4-replica cluster (scripts/cluster start --fault-control: the
# replicas name an admin key in [clients] admin_key_file) in a directory of
# its own on free ports, then runs `voidload once`: CLIENTS clients, ids
# FIRST_ID.., each with a fresh key and a certificate signed with the admin
# key (no replica lists them), WAVE at a time, each putting a key of its own
# once and then retransmitting the same request (same client, session and
# request number) to a backup and, after the retry timeout, to every replica.
# Checked, for every client: the answer to the retransmission is the first
# answer byte for byte (a put executed again answers with its new version's
# HLC stamp); and on every replica: the key count, the version count and the
# client table (state_keys, state_versions, state_clients on /status) grew
# by exactly CLIENTS, so each client's key has exactly one version (each
# put executed once, none lost). Progress lines on stderr every PROGRESS
# seconds with each voidd's RSS and the load average.
#
# Prints the figures (time, clients/s, retransmissions, each voidd's RSS and
# peak RSS, state_clients and state_bytes before and after, bytes of state
# per client, the load average) and
#   BENCH clients_10k: clients=<C> secs=<T> double=0 extra_versions=0 state_clients=<N>
#     state_bytes_per_client=<B> rss_mib=<max RSS> load=<1-min load average>
# Exit status 0 when every check held, 1 otherwise, 2 on a usage error.
# On exit, also on a failure or an interrupt, it stops what it started by
# pid (voidload, then the replicas through scripts/cluster stop, which
# reads their pidfiles) and removes its directory unless the run failed or
# KEEP=1. A wave whose clients are not answered within 120 s fails the run.
#
# --mutant: the same check against replicas built with the test-only mutant
# VOID_MUTANT_NO_AT_MOST_ONCE (CMakeLists.txt: a retransmitted request is
# executed again) in MUTANT_TREE (built there when absent; clients come from
# VOID_BIN). The checker must fail it: exit 0 when it reports double
# executions (answers that differ, or more versions than puts), 1 when the
# mutant passed unnoticed. CLIENTS defaults to 50 there (a client of the
# mutant retransmits for long: each retransmission executes anew and
# answers otherwise, so f + 1 matching answers are slow to come).
#
# Usage: [CLIENTS=10000] [WAVE=100] [VOID_BIN=build/bin] bash bench/clients_10k.sh [--mutant]
#
# Options (environment):
#   CLIENTS      distinct clients (default 10000; 50 with --mutant)
#   WAVE         clients at a time, each with 4 connections (default 100)
#   FIRST_ID     id of the first client (default 100000)
#   RETRY_MS     the clients' first retransmission (default 300)
#   PROGRESS     seconds between progress lines (default 30)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   MUTANT_TREE  --mutant: the mutant's build tree (default
#                build/mutant-no-at-most-once)
#   KEEP=1       keep the cluster directory (logs) after the run (it is
#                kept anyway when the run fails)
#   -h, --help   this help
#
# Example: VOID_BIN=build/bin bash bench/clients_10k.sh
#          VOID_BIN=build/bin bash bench/clients_10k.sh --mutant
set -euo pipefail
mutant=0
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    --mutant) mutant=1 ;;
    *) echo "clients_10k: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
root=${VOID_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${VOID_BIN:-$root/build/bin}
clients=${CLIENTS:-$([ "$mutant" = 1 ] && echo 50 || echo 10000)}
wave=${WAVE:-100}
first_id=${FIRST_ID:-100000}
retry_ms=${RETRY_MS:-300}
progress=${PROGRESS:-30}
mutant_tree=${MUTANT_TREE:-$root/build/mutant-no-at-most-once}
for v in clients wave first_id retry_ms progress; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] ||
    { echo "clients_10k: ${v^^} must be a positive whole number, not '${!v}'" >&2; exit 2; }
done
for b in voidd voidctl voidload; do
  [ -x "$bin/$b" ] || { echo "clients_10k: no $bin/$b (set VOID_BIN)" >&2; exit 2; }
done
source "$root/bench/lib/ports.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/void-clients10k-XXXXXX")
dir=$work/cluster
load_pid=""
cluster_bin=$bin
cleanup() {
  local rc=$?
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
  if [ -d "$dir" ]; then
    VOID_BIN=$cluster_bin "$root/scripts/cluster" stop --dir "$dir" > /dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "clients_10k: cluster directory kept: $dir (logs in $dir/logs)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT # the EXIT trap then sees the failure
trap 'exit 143' TERM
die() { echo "clients_10k: $*" >&2; exit 1; }

if [ "$mutant" = 1 ]; then
  # The mutant's replicas, the tested clients: voidctl and voidload from bin.
  if [ ! -x "$mutant_tree/bin/voidd" ]; then
    echo "clients_10k: building VOID_MUTANT_NO_AT_MOST_ONCE in $mutant_tree" >&2
    cmake -S "$root" -B "$mutant_tree" -DCMAKE_BUILD_TYPE=Release \
      -DVOID_MUTANT_NO_AT_MOST_ONCE=ON > /dev/null
    nice cmake --build "$mutant_tree" -j2 --target voidd > /dev/null
  fi
  grep -q 'VOID_MUTANT_NO_AT_MOST_ONCE:BOOL=ON' "$mutant_tree/CMakeCache.txt" ||
    die "$mutant_tree is not a VOID_MUTANT_NO_AT_MOST_ONCE build"
  cluster_bin=$work/bin
  mkdir -p "$cluster_bin"
  ln -s "$mutant_tree/bin/voidd" "$cluster_bin/voidd"
  ln -s "$bin/voidctl" "$cluster_bin/voidctl"
  ln -s "$bin/voidload" "$cluster_bin/voidload"
fi

port=$(free_port_base 0 1 2 3 1000 1001 1002 1003)
VOID_LOG_LEVEL=${VOID_LOG_LEVEL:-warn} VOID_BIN=$cluster_bin "$root/scripts/cluster" start \
  --dir "$dir" --port "$port" --fault-control > /dev/null 2> "$work/start.log" ||
  { cat "$work/start.log" >&2; die "the cluster did not start"; }
pids=$(cat "$dir"/run/node*.pid)
echo "clients_10k: 4 replicas on 127.0.0.1:$port.. (pids $(echo $pids)), $clients clients, $wave at a time$([ "$mutant" = 1 ] && echo ", replicas of the mutant VOID_MUTANT_NO_AT_MOST_ONCE")" >&2

status() { # status I FIELD: a numeric field of node i's /status (no python: on
  # a machine at load 20, starting python3 takes seconds)
  curl -fsS --max-time 5 "http://127.0.0.1:$((port + 1000 + $1))/status" |
    grep -o "\"$2\": *[0-9]*" | grep -o '[0-9]*$'
}
rss() { # "n0/n1/n2/n3" MiB of VmRSS (or the field given: VmHWM)
  local out="" p
  for p in $pids; do
    out+="${out:+/}$(( $(awk -v f="${1:-VmRSS}" '$1 == f":" { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0) / 1024 ))"
  done
  echo "$out"
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
declare -A k0 v0 c0 b0
for i in 0 1 2 3; do
  k0[$i]=$(status "$i" state_keys); v0[$i]=$(status "$i" state_versions)
  c0[$i]=$(status "$i" state_clients); b0[$i]=$(status "$i" state_bytes)
done
echo "before: state_keys=${k0[0]} state_versions=${v0[0]} state_clients=${c0[0]} state_bytes=${b0[0]} RSS MiB $(rss) load $(loadavg)"

t0=$(date +%s.%N)
"$bin/voidload" once "$dir" --admin-key "$dir/keys/admin.secret" --clients "$clients" \
  --wave "$wave" --first-id "$first_id" --retry-ms "$retry_ms" --progress "$progress" \
  > "$work/once.out" 2> "$work/once.log" &
load_pid=$!
shown=0
while kill -0 "$load_pid" 2>/dev/null; do
  sleep 1
  n=$(grep -c '^progress:' "$work/once.log" || true)
  if [ "$n" -gt "$shown" ]; then
    shown=$n
    echo "$(grep '^progress:' "$work/once.log" | tail -n 1)  state_clients(n0)=$(status 0 state_clients) RSS MiB $(rss) load $(loadavg)" >&2
  fi
done
rc=0
wait "$load_pid" || rc=$?
load_pid=""
t1=$(date +%s.%N)
grep -v '^progress:' "$work/once.log" | head -n 40 >&2 || true
out=$(cat "$work/once.out")
echo "$out"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $out"; }
[ -n "$out" ] || die "voidload once printed no result (exit $rc)"
double=$(field double) same=$(field same) failed=$(field failed)

# Every replica: keys, versions and clients grew by exactly CLIENTS. A
# replica may still be executing the last batches: wait until all four
# agree (at most 60 s).
deadline=$(( $(date +%s) + 60 ))
while :; do
  agree=1
  for i in 1 2 3; do
    [ "$(status "$i" state_versions)" = "$(status 0 state_versions)" ] || agree=0
  done
  [ "$agree" = 1 ] && [ "$(( $(status 0 state_versions) - ${v0[0]} ))" -ge "$clients" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 1
done
bad=0 extra=0 # extra: versions beyond one a key (puts executed again)
for i in 0 1 2 3; do
  dk=$(( $(status "$i" state_keys) - ${k0[$i]} ))
  dv=$(( $(status "$i" state_versions) - ${v0[$i]} ))
  dc=$(( $(status "$i" state_clients) - ${c0[$i]} ))
  echo "replica $i: keys +$dk, versions +$dv, clients +$dc (of $clients puts)"
  if [ "$dk" != "$clients" ] || [ "$dv" != "$clients" ] || [ "$dc" != "$clients" ]; then bad=1; fi
  if [ "$((dv - dk))" -gt "$extra" ]; then extra=$((dv - dk)); fi
done
# Spot checks through the ordinary client: the first and last client's key
# holds its value.
run=$(sed -n 's/.* run=\([0-9a-f]*\).*/\1/p' <<<"$out")
for id in "$first_id" $((first_id + clients - 1)); do
  got=$("$bin/voidctl" --cluster "$dir/client.ini" get "once-$run-$id" --timeout 20 2>&1) || got="(error: $got)"
  [ "$got" = "client $id" ] || { echo "key once-$run-$id: '$got', not 'client $id'"; bad=1; }
done

secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
c1=$(status 0 state_clients) bytes1=$(status 0 state_bytes)
per_client=$(( (bytes1 - ${b0[0]}) / clients ))
echo "time ${secs} s ($(awk -v c="$clients" -v s="$secs" 'BEGIN { printf "%.0f", c / s }') clients/s), retransmissions $(field retries) (plus $(field resent) deliberate), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "state (replica 0): state_clients ${c0[0]} -> $c1, state_bytes ${b0[0]} -> $bytes1 ($per_client bytes per client: key, version, client table entry with its cached reply)"
echo "voidd RSS MiB $(rss) (peak $(rss VmHWM)); LMDB files MiB $(du -sm "$dir"/data/node*/state 2>/dev/null | awk '{ printf "%s%s", sep, $1; sep = "/" }')"
maxrss=$(rss VmHWM | tr '/' '\n' | sort -n | tail -n 1)

if [ "$mutant" = 1 ]; then
  if [ "$double" -gt 0 ] || [ "$bad" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "clients_10k: mutant VOID_MUTANT_NO_AT_MOST_ONCE caught: $double of $clients clients answered otherwise on retransmission, $extra versions beyond one a key (voidload exit $rc)"
    exit 0
  fi
  echo "clients_10k: mutant VOID_MUTANT_NO_AT_MOST_ONCE NOT caught: every check passed" >&2
  exit 1
fi
echo "BENCH clients_10k: clients=$clients secs=$secs double=$double extra_versions=$extra state_clients=$c1 state_bytes_per_client=$per_client rss_mib=$maxrss load=$(loadavg)"
[ "$rc" = 0 ] && [ "$double" = 0 ] && [ "$failed" = 0 ] && [ "$same" = "$clients" ] && [ "$bad" = 0 ] ||
  die "at-most-once check failed: voidload exit $rc, same=$same double=$double failed=$failed, $extra versions beyond one a key, replica counts $([ "$bad" = 0 ] && echo right || echo wrong)"
echo "clients_10k: ok: $clients distinct clients, each put executed exactly once"

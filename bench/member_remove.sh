#!/usr/bin/env bash
# bench/member_remove.sh: BENCH member_remove, the time from a SIGKILL of a
# backup under load to the commit of its removal by a certificate of
# suspicions (docs/membership.md, "Automatic removal in voidd"; issue 18's
# goal: at most 1.5 s at the default 200 ms heartbeat). One cluster of N
# voidd processes with [membership] auto_remove = 1 under a steady voidload;
# each round kills the highest-numbered member still in, and measures from
# the kill to the first survivor's log line "member I removed by a
# certificate of suspicions" (the submitter accepted the replies of the
# commit), and to the first survivor's "-> dead" (detection). Removed ids are
# never reused, so the rounds shrink the cluster: N - 4 rounds at most
# (voters_min 4).
#
# Prints one line per kill and
#   BENCH member_remove: p50=<ms> max=<ms> detect_p50=<ms> rounds=<k> n=<N>
#
# Usage: [N=10] [ROUNDS=6] [CLIENTS=4] bash bench/member_remove.sh
#
# Options (environment):
#   N          replicas (default 10)
#   ROUNDS     kills (default 6; at most N - 4)
#   CLIENTS    load clients (default 4; 0: an idle cluster)
#   VOID_BIN   directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help this help
#
# Example: N=7 ROUNDS=3 bash bench/member_remove.sh
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "member_remove: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10}
ROUNDS=${ROUNDS:-6}
CLIENTS=${CLIENTS:-4}
for v in N ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "member_remove: $v must be a positive integer" >&2; exit 2; }
done
[[ $CLIENTS =~ ^[0-9]+$ ]] || { echo "member_remove: CLIENTS must be an integer" >&2; exit 2; }
[ "$ROUNDS" -le $((N - 4)) ] || { echo "member_remove: ROUNDS at most N - 4 (voters_min 4)" >&2; exit 2; }
# member_bench_init, member_cluster_start, ms_now, log_ms (bench/lib/member.sh)
source "$root/bench/lib/member.sh"
member_bench_init member_remove 17950

kill_node() { # SIGKILL at once (`cluster kill` takes a while on a loaded machine)
  kill -KILL "$(cat "$VOID_CLUSTER_DIR/run/node$1.pid")"
  rm -f "$VOID_CLUSTER_DIR/run/node$1.pid"
}

member_cluster_start "$N" "$((CLIENTS > 0 ? CLIENTS : 1))"
# The load runs until the last round is done (the EXIT trap stops it by
# pid): a removal waits for a window of batches after the previous one's
# boundary, so a cluster whose load has ended removes no second member; a
# fixed length once ended before round 2 on the loaded machine.
# CLIENTS=0: no load at all (an idle cluster must remove them too).
load_pid=$$
if [ "$CLIENTS" -gt 0 ]; then
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients "$CLIENTS" --seconds 3600 \
    --value 50 --retry-ms 300 > "$TEST_DIR/load.out" 2>&1 &
  load_pid=$!
  disown "$load_pid" # stopped by the trap: no "Killed" report from bash
  echo "$load_pid" > "$VOID_CLUSTER_DIR/run/voidload.pid"
fi
sleep 3
rm_ms=() det_ms=()
logs_below() { local i; for ((i = 0; i < $1; i++)); do echo "$VOID_CLUSTER_DIR/logs/node$i.log"; done; }
for ((r = 1; r <= ROUNDS; r++)); do
  victim=$((N - r))
  kill -0 "$load_pid" 2> /dev/null || fail "the load ended: $(cat "$TEST_DIR/load.out")"
  t0=$(ms_now)
  kill_node "$victim"
  deadline=$((SECONDS + 30))
  # grep while waiting (ids are never reused, so the line is this kill's):
  # a python3 start takes seconds on the loaded machine; log_ms once after.
  until grep -q "member $victim removed by a certificate" $(logs_below "$victim"); do
    [ $SECONDS -lt $deadline ] || fail "member $victim not removed within 30 s"
    sleep 0.1
  done
  rm=$(($(log_ms "member $victim removed by a certificate" "$victim" "$t0") - t0))
  det=$(($(log_ms "member $victim: .* -> dead" "$victim" "$t0") - t0))
  echo "round $r: n=$((N - r + 1)) killed $victim, dead after $det ms, removal committed after $rm ms"
  rm_ms+=("$rm")
  det_ms+=("$det")
  sleep 4 # the next change waits a window of L batches after this one's boundary
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%d %d", a[int((NR + 1) / 2)], a[NR] }'; }
read -r p50 pmax <<< "$(stats "${rm_ms[@]}")"
read -r d50 _ <<< "$(stats "${det_ms[@]}")"
echo "BENCH member_remove: p50=${p50}ms max=${pmax}ms detect_p50=${d50}ms rounds=$ROUNDS n=$N"

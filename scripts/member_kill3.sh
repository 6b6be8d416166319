#!/usr/bin/env bash
# The seed's scenario with real processes (issue 18; docs/membership.md,
# "Automatic removal in voidd"): ten voidd processes (n = 10, f = 3,
# [membership] auto_remove = 1) under a steady load.
#
# order 1: SIGKILL 7, 8 and 9 (30 %); the seven left keep committing and
#   remove the three by certificates (one change per member: epoch 4,
#   n = 7, f = 2); then SIGKILL 5 and 6 and the five left still commit.
# order 2: SIGKILL 7, 8, 9 and at once 5 and 6, before any removal commits:
#   5 of 10 alive against a quorum of 7. The cluster stops committing
#   cleanly (every survivor runs on, they agree on their state, no commit),
#   still does not with 6 back (6 < 7), and resumes with 7 back, then
#   removes the three dead.
#
# Each order prints the detection time (SIGKILL to the first survivor's
# "dead"), the commit time of each removal (SIGKILL to the submitter's
# "removed by a certificate"), the longest gap between two acknowledged puts
# of the load (voidload --timeline), checks the history of a concurrent
# `voidload lin` run linearizable, and that every put a client saw
# acknowledged is there at the end.
#
# Usage: scripts/member_kill3.sh [--order 1|2|both] [--load-s S]
#
# Options:
#   --order 1|2|both   which order to run (default both)
#   --load-s S         seconds of the steady load (default 40)
#   -h, --help         this help
#   VOID_BIN (environment; default build/bin, a Release build) names voidd,
#   voidctl and voidload. Heavy: ten nodes; run it on Release, not in the
#   test suite.
#
# Example: VOID_BIN=build/bin scripts/member_kill3.sh --order 2
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ORDER=both
LOAD_S=40
while [ $# -gt 0 ]; do
  case $1 in
  --order) ORDER=$2; shift 2 ;;
  --load-s) LOAD_S=$2; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "member_kill3.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $ORDER in 1 | 2 | both) ;; *) echo "member_kill3.sh: --order 1, 2 or both" >&2; exit 2 ;; esac
export VOID_BIN=${VOID_BIN:-$here/build/bin}
export VOID_SOURCE_DIR=$here
[ -x "$VOID_BIN/voidd" ] || { echo "member_kill3.sh: no $VOID_BIN/voidd (build Release first)" >&2; exit 2; }

if [ "$ORDER" = both ]; then
  "$0" --order 1 --load-s "$LOAD_S" && "$0" --order 2 --load-s "$LOAD_S"
  exit $?
fi

source "$here/tests/cluster/lib.sh"
cluster_init "kill3-order$ORDER" "$((17900 + ORDER))"

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
kill_node() { # SIGKILL all at once: builtins only (a spawn takes a second on a loaded machine)
  local i p pids=()
  for i in "$@"; do
    read -r p < "$VOID_CLUSTER_DIR/run/node$i.pid"
    pids+=("$p")
  done
  kill -KILL "${pids[@]}"
  for i in "$@"; do rm -f "$VOID_CLUSTER_DIR/run/node$i.pid"; done
}
members_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/members" 2> /dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['epoch'], d['n'], ','.join(str(i) for i in d['removed']))"
}
# ms since the epoch of the first line matching $2 in the logs $1 (a list)
# logged at or after ms $3 (the kill), empty when none
first_log_ms() {
  grep -h "$2" $1 2> /dev/null | cut -d' ' -f1 | python3 -c "
import sys, datetime
ts = sorted(int(datetime.datetime.strptime(t.strip(), '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) for t in sys.stdin if t.strip())
print(next((t for t in ts if t >= $3), ''))"
}
# acknowledged puts: one sequential client, each key logged once acknowledged
acked_loop() {
  local i=0
  while [ ! -f "$TEST_DIR/stop" ]; do
    if "$VOID_BIN/voidctl" put "ack-$i" "v$i" --cluster "$CLIENT" --timeout 3 > /dev/null 2>&1; then
      echo "ack-$i $(ms_now)" >> "$TEST_DIR/acked"
      i=$((i + 1))
    fi
  done
}
acked_count() { wc -l < "$TEST_DIR/acked" 2> /dev/null || echo 0; }
progress_since() { # puts acknowledged in the next $1 seconds
  local a b
  a=$(acked_count); sleep "$1"; b=$(acked_count); echo $((b - a))
}
alive_pids_ok() { # every node in $@ still runs (no crash loop: same pid)
  local i
  for i in "$@"; do kill -0 "$(cat "$VOID_CLUSTER_DIR/run/node$i.pid")" 2> /dev/null || return 1; done
}
agree() { # the nodes in $@ report the same last_executed and state digest
  local want="" i got
  for i in "$@"; do
    got=$(curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + i))/status" |
      python3 -c "import json,sys; d=json.load(sys.stdin); print(d['last_executed'], d['state_digest'])")
    [ -z "$want" ] && want=$got
    [ "$got" = "$want" ] || return 1
  done
}

cluster start --n 10 --clients 8 --auto-remove > /dev/null
for i in $(seq 0 9); do vctl put "k$i" "v$i" > /dev/null; done
echo "order $ORDER: 10 nodes up, auto_remove = 1, load for $LOAD_S s"

timeout $((LOAD_S + 60)) "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 4 --seconds "$LOAD_S" \
  --value 50 --retry-ms 300 --timeline "$TEST_DIR/timeline" > "$TEST_DIR/load.out" 2>&1 &
load_pid=$!
echo "$load_pid" > "$VOID_CLUSTER_DIR/run/voidload.pid"
timeout $((LOAD_S + 60)) "$VOID_BIN/voidload" lin "$VOID_CLUSTER_DIR" --clients 4 --seconds "$LOAD_S" --keys 4 \
  > "$TEST_DIR/lin.out" 2>&1 &
lin_pid=$!
echo "$lin_pid" > "$VOID_CLUSTER_DIR/run/voidlin.pid"
acked_loop &
acked_pid=$!
echo "$acked_pid" > "$VOID_CLUSTER_DIR/run/acked.pid"
sleep 4

logs_of() { local s="" i; for i in "$@"; do s="$s $VOID_CLUSTER_DIR/logs/node$i.log"; done; echo "$s"; }
report_removals() { # $1: kill time (ms); the survivors' logs
  local t0=$1 id d r
  shift
  for id in 7 8 9; do
    d=$(first_log_ms "$(logs_of "$@")" "member $id: .* -> dead" "$t0")
    r=$(first_log_ms "$(logs_of "$@")" "member $id removed by a certificate" "$t0")
    echo "member $id: detection $((${d:-0} - t0)) ms, removal committed $([ -n "$r" ] && echo $((r - t0)) || echo never) ms after its SIGKILL"
  done
  for e in 2 3 4; do
    d=$(first_log_ms "$(logs_of "$@")" "membership: epoch $e" "$t0")
    echo "epoch $e in effect (first survivor) $((${d:-0} - t0)) ms after the SIGKILL"
  done
}

t_kill=$(ms_now)
if [ "$ORDER" = 1 ]; then
  kill_node 7 8 9
else
  kill_node 7 8 9 5 6 # at once: process spawns take seconds on a loaded machine
fi
if [ "$ORDER" = 1 ]; then
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 7 8 9"
  deadline=$((SECONDS + 60))
  until [ "$(members_at 0)" = "4 7 7,8,9" ]; do
    [ $SECONDS -lt $deadline ] || fail "node 0: /members is '$(members_at 0)', not epoch 4, n = 7 without 7,8,9"
    sleep 0.1
  done
  t_rm=$(ms_now)
  echo "[$((t_rm - t_kill)) ms] epoch 4, n = 7, f = 2 at node 0"
  report_removals "$t_kill" 0 1 2 3 4 5 6
  p=$(progress_since 3)
  echo "puts acknowledged in 3 s after the removals: $p"
  [ "$p" -gt 0 ] || fail "no put committed after the removals"
  t_kill2=$(ms_now)
  kill_node 5 6
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 5 6: 5 of n = 7 alive, quorum 5"
  sleep 2
  p=$(progress_since 4)
  echo "puts acknowledged in 4 s with 5 of 7 alive: $p"
  [ "$p" -gt 0 ] || fail "the five left of seven did not commit"
else
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 7 8 9 5 6: 5 of 10 alive, quorum 7"
  [ "$(members_at 0)" = "1 10 " ] || fail "a removal committed before the second kills: $(members_at 0)"
  sleep 3
  p=$(progress_since 5)
  echo "puts acknowledged in 5 s with 5 of 10 alive: $p"
  [ "$p" -eq 0 ] || fail "5 of 10 committed $p puts: a quorum of 7 is needed"
  alive_pids_ok 0 1 2 3 4 || fail "a survivor exited"
  wait_for 'agree 0 1 2 3 4' 10
  echo "stalled cleanly: the five run on and agree ($(curl -fsS "http://127.0.0.1:$((TEST_PORT + 1000))/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print('last_executed', d['last_executed'])"))"
  cluster restart 5 > /dev/null
  echo "[$(($(ms_now) - t_kill)) ms] node 5 back: 6 of 10"
  p=$(progress_since 5)
  echo "puts acknowledged in 5 s with 6 of 10 alive: $p (6 < quorum 7)"
  [ "$p" -eq 0 ] || fail "6 of 10 committed $p puts"
  t_back=$(ms_now)
  cluster restart 6 > /dev/null
  echo "[$(($(ms_now) - t_kill)) ms] node 6 back: 7 of 10"
  deadline=$((SECONDS + 60))
  a=$(acked_count)
  until [ "$(acked_count)" -gt "$a" ]; do
    [ $SECONDS -lt $deadline ] || fail "no commit within 60 s of the seventh node's return"
    sleep 0.1
  done
  echo "[$(($(ms_now) - t_kill)) ms] commits resumed $(($(ms_now) - t_back)) ms after node 6's restart began"
  deadline=$((SECONDS + 90))
  until [ "$(members_at 0)" = "4 7 7,8,9" ]; do
    [ $SECONDS -lt $deadline ] || fail "node 0: /members is '$(members_at 0)', not epoch 4 without 7,8,9"
    sleep 0.2
  done
  echo "[$(($(ms_now) - t_kill)) ms] epoch 4, n = 7: 7, 8, 9 removed"
  report_removals "$t_kill" 0 1 2 3 4 5 6
fi

touch "$TEST_DIR/stop"
wait "$acked_pid" || true
rm -f "$VOID_CLUSTER_DIR/run/acked.pid"
rc=0; wait "$load_pid" || rc=$?
rm -f "$VOID_CLUSTER_DIR/run/voidload.pid"
cat "$TEST_DIR/load.out"
[ $rc -eq 0 ] || fail "voidload void failed ($rc)"
rc=0; wait "$lin_pid" || rc=$?
rm -f "$VOID_CLUSTER_DIR/run/voidlin.pid"
cat "$TEST_DIR/lin.out"
[ $rc -eq 0 ] && grep -q "linearizable=yes" "$TEST_DIR/lin.out" || fail "voidload lin: not linearizable (or undecided)"
python3 - "$TEST_DIR/timeline" "$t_kill" << 'PY'
import sys
ts = sorted(int(l) // 1000000 for l in open(sys.argv[1]) if l.strip())
kill = int(sys.argv[2])
gaps = [(b - a, a) for a, b in zip(ts, ts[1:])]
g, at = max(gaps)
print(f"longest gap between acknowledged puts: {g} ms (from {at - kill} ms after the first SIGKILL); {len(ts)} puts")
PY
n=$(acked_count)
missing=0
while read -r key _; do
  v=$(vctl get "$key" --timeout 5 2> /dev/null || true)
  [ "$v" = "v${key#ack-}" ] || { missing=$((missing + 1)); echo "missing: $key ($v)"; }
done < "$TEST_DIR/acked"
echo "acknowledged puts checked: $n, missing: $missing"
[ "$missing" -eq 0 ] || fail "$missing acknowledged puts are missing"
for i in $(seq 0 9); do expect_eq "$(vctl get "k$i")" "v$i" "k$i"; done
echo "OK order $ORDER"

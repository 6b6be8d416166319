#!/usr/bin/env bash
# The seed's scenario with real processes (issue 18; docs/membership.md,
# "Automatic removal in voidd"): ten voidd processes (n = 10, f = 3,
# [membership] auto_remove = 1) under a steady load.
#
# order 1: SIGKILL 7, 8 and 9 (30 %); the seven left keep committing and
#   remove the three by certificates (one change carrying the three
#   certificates when they complete together: epoch 2, n = 7, f = 2; a
#   later epoch if they came apart); then SIGKILL 5 and 6 and the five left
#   still commit.
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
# acknowledged is there at the end on every live replica (each read from a
# quorum, then every live replica at the same sequence number and state
# digest), and ends with one line to collect:
#   KILL3 order=O epoch=E detect_ms=D removal_ms=R7,R8,R9 gap_ms=G lin_ops=L ...
#
# Usage: scripts/member_kill3.sh [--order 1|2|both] [--load-s S]
#
# Options:
#   --order 1|2|both   which order to run (default both)
#   --load-s S         seconds of the steady load (default 75; it must outlast
#                      the kills and, in order 2, the commits resuming)
#   -h, --help         this help
#   KEEP_LOGS=DIR (environment) copies the nodes' logs to DIR/order<O>/ on
#   success too (they are kept on failure anyway)
#   VOID_BIN (environment; default build/bin, a Release build) names voidd,
#   voidctl and voidload. Heavy: ten nodes; run it on Release, not in the
#   test suite.
#
# Example: VOID_BIN=build/bin scripts/member_kill3.sh --order 2
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ORDER=both
LOAD_S=75
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

# Only builtins, curl, grep and sed while the scenario runs: with the machine
# loaded a python3 start takes seconds (measured 5.7 s at a load average of
# 27 on two cores), which once pushed the second kill past the load's end.
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
http_at() { # node $1's GET $2, one line without blanks
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))$2" 2> /dev/null | tr -d ' \n'
}
json_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; } # a top-level number of one-line JSON
members_at() { # "epoch n removed,ids" from node $1's /members
  local j
  j=$(http_at "$1" /members) || return 0
  echo "$(json_num epoch <<< "$j") $(json_num n <<< "$j") $(sed -n 's/.*"removed":\[\([0-9,]*\)\].*/\1/p' <<< "$j")"
}
state_at() { # "last_executed digest keys" of node $1
  local j
  j=$(http_at "$1" /status) || return 0
  echo "$(json_num last_executed <<< "$j") $(sed -n 's/.*"state_digest":"\([0-9a-f]*\)".*/\1/p' <<< "$j") $(json_num state_keys <<< "$j")"
}
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
    got=$(state_at "$i")
    [[ $got =~ ^[0-9]+\ [0-9a-f]+\ [0-9]+$ ]] || return 1
    [ -z "$want" ] && want=$got
    [ "$got" = "$want" ] || return 1
  done
}
load_running() { # the steady load still runs: else the scenario outlasted --load-s
  kill -0 "$load_pid" 2> /dev/null || fail "the voidload run ($LOAD_S s) ended before $1: raise --load-s"
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
acked_loop 3 stamp & # acknowledged puts, each with its time (lib.sh)
acked_pid=$!
echo "$acked_pid" > "$VOID_CLUSTER_DIR/run/acked.pid"
sleep 4

t_kill=$(ms_now)
t_kill2=0 t_back=0
if [ "$ORDER" = 1 ]; then
  kill_node 7 8 9
  live="0 1 2 3 4"
else
  kill_node 7 8 9 5 6 # at once: process spawns take seconds on a loaded machine
  live="0 1 2 3 4 5 6"
fi
if [ "$ORDER" = 1 ]; then
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 7 8 9"
  deadline=$((SECONDS + 60))
  until [[ "$(members_at 0)" =~ ^[0-9]+\ 7\ 7,8,9$ ]]; do
    [ $SECONDS -lt $deadline ] || fail "node 0: /members is '$(members_at 0)', not n = 7 without 7,8,9"
    sleep 0.1
  done
  epoch_after=$(members_at 0 | cut -d' ' -f1)
  echo "[$(($(ms_now) - t_kill)) ms] epoch $epoch_after, n = 7, f = 2 at node 0"
  p=$(progress_since 3)
  echo "puts acknowledged in 3 s after the removals: $p"
  [ "$p" -gt 0 ] || fail "no put committed after the removals"
  load_running "the second kill"
  t_kill2=$(ms_now)
  kill_node 5 6
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 5 6: 5 of n = 7 alive, quorum 5"
  sleep 2
  p=$(progress_since 4)
  echo "puts acknowledged in 4 s with 5 of 7 alive: $p"
  [ "$p" -gt 0 ] || fail "the five left of seven did not commit"
  load_running "the end of the scenario"
else
  echo "[$(($(ms_now) - t_kill)) ms] SIGKILL 7 8 9 5 6: 5 of 10 alive, quorum 7"
  [ "$(members_at 0)" = "1 10 " ] || fail "a removal committed before the second kills: $(members_at 0)"
  sleep 3
  p=$(progress_since 5)
  echo "puts acknowledged in 5 s with 5 of 10 alive: $p"
  [ "$p" -eq 0 ] || fail "5 of 10 committed $p puts: a quorum of 7 is needed"
  alive_pids_ok 0 1 2 3 4 || fail "a survivor exited"
  wait_for 'agree 0 1 2 3 4' 20
  echo "stalled cleanly: the five run on and agree (last_executed digest keys: $(state_at 0))"
  cluster restart 5 > /dev/null
  echo "[$(($(ms_now) - t_kill)) ms] node 5 back: 6 of 10"
  p=$(progress_since 5)
  echo "puts acknowledged in 5 s with 6 of 10 alive: $p (6 < quorum 7)"
  [ "$p" -eq 0 ] || fail "6 of 10 committed $p puts"
  alive_pids_ok 0 1 2 3 4 5 || fail "a survivor or node 5 exited"
  load_running "node 6's return"
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
  load_running "the commits resumed"
  deadline=$((SECONDS + 150))
  until [[ "$(members_at 0)" =~ ^[0-9]+\ 7\ 7,8,9$ ]]; do
    [ $SECONDS -lt $deadline ] || fail "node 0: /members is '$(members_at 0)', not n = 7 without 7,8,9"
    sleep 0.2
  done
  epoch_after=$(members_at 0 | cut -d' ' -f1)
  echo "[$(($(ms_now) - t_kill)) ms] epoch $epoch_after, n = 7: 7, 8, 9 removed"
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

# The figures, from the survivors' logs (one python3 run: the scenario is over).
logs=""
for i in $live; do logs="$logs $VOID_CLUSTER_DIR/logs/node$i.log"; done
python3 - "$TEST_DIR/timeline" "$t_kill" "$t_kill2" "$t_back" $logs > "$TEST_DIR/figures" << 'PY'
import datetime, re, sys
timeline, kill, kill2, back = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def ms(stamp):
    t = datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp() * 1000)
first = {}
def seen(key, t):
    if t >= kill and (key not in first or t < first[key]):
        first[key] = t
for path in sys.argv[5:]:
    for line in open(path, errors='replace'):
        stamp = line.split(' ', 1)[0]
        if (m := re.search(r'member (\d+): \w+ -> dead', line)):
            seen(('dead', int(m[1])), ms(stamp))
        elif (m := re.search(r'member (\d+) removed by a certificate', line)):
            seen(('removed', int(m[1])), ms(stamp))
        elif (m := re.search(r'membership: epoch (\d+)', line)):
            seen(('epoch', int(m[1])), ms(stamp))
rel = lambda k: str(first[k] - kill) if k in first else 'never'
for i in (7, 8, 9):
    print(f"member {i}: detection {rel(('dead', i))} ms, removal committed {rel(('removed', i))} ms after its SIGKILL")
for e in (2, 3, 4):
    print(f"epoch {e} in effect (first survivor) {rel(('epoch', e))} ms after the SIGKILL")
ts = sorted(int(l) // 1000000 for l in open(timeline) if l.strip())
g, at = max((b - a, a) for a, b in zip(ts, ts[1:]))
after2 = sum(1 for t in ts if kill2 and t > kill2 + 2000)
print(f"longest gap between acknowledged puts: {g} ms (from {at - kill} ms after the first SIGKILL); {len(ts)} puts" +
      (f", {after2} of them from 2 s after the second SIGKILL" if kill2 else ""))
det = min((first[('dead', i)] - kill for i in (7, 8, 9) if ('dead', i) in first), default=-1)
print(f"KILLFIG detect_ms={det} removal_ms={','.join(rel(('removed', i)) for i in (7, 8, 9))} gap_ms={g} after2={after2}")
PY
grep -v '^KILLFIG' "$TEST_DIR/figures"
figs=$(sed -n 's/^KILLFIG //p' "$TEST_DIR/figures")
if [ "$ORDER" = 1 ]; then
  [[ $figs =~ after2=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] ||
    fail "the steady load acknowledged no put after the second kill"
fi

n=$(acked_count)
missing=0
while read -r key _; do
  v=$(vctl get "$key" --timeout 5 2> /dev/null || true)
  [ "$v" = "v${key#ack-}" ] || { missing=$((missing + 1)); echo "missing: $key ($v)"; }
done < "$TEST_DIR/acked"
for i in $(seq 0 9); do expect_eq "$(vctl get "k$i")" "v$i" "k$i"; done
echo "acknowledged puts checked: $n, missing: $missing"
[ "$missing" -eq 0 ] || fail "$missing acknowledged puts are missing"
# Every live replica holds them: the reads above took each value from a
# quorum, and no put was sent since, so once every live replica has executed
# the same sequence number with the same state digest (the whole key-value
# state, src/core/kvs.c) each of them holds every acknowledged put.
deadline=$((SECONDS + 60))
until agree $live; do
  [ $SECONDS -lt $deadline ] || fail "the live replicas do not agree within 60 s: $(for i in $live; do echo -n "[node $i: $(state_at "$i")] "; done)"
  sleep 0.5
done
alive_pids_ok $live || fail "a live replica exited"
echo "every live replica ($live) at the same state (last_executed digest keys): $(state_at 0)"
lin=$(sed -n 's/.*lin: ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/lin.out" | head -1)
echo "KILL3 order=$ORDER epoch=$epoch_after $figs lin_ops=${lin:-0} linearizable=yes acked=$n missing=0"
if [ -n "${KEEP_LOGS:-}" ]; then
  mkdir -p "$KEEP_LOGS/order$ORDER" && cp "$VOID_CLUSTER_DIR"/logs/*.log "$TEST_DIR/figures" "$KEEP_LOGS/order$ORDER/"
fi
echo "OK order $ORDER"

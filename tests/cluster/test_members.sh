# Membership as the failure detector sees it (docs/membership.md, "The
# detector in voidd"): four voidd processes heartbeat each other every
# 200 ms with signed HEARTBEAT frames.
# 1. `voidctl members` shows all four alive, epoch 1, n=4 f=1 quorum=3, and
#    --json gives the same as an object.
# 2. Under a steady voidload run (8 clients, LOAD_S seconds) no replica
#    suspects anybody: void_suspicions_total stays 0 on every node.
# 3. A backup killed with SIGKILL is suspect at every other node after at
#    most DETECT_MS milliseconds of silence, as each detector measured it
#    (the threshold is 0.8 s, stretched while a node's own timers run late;
#    the bound leaves room for a loaded machine), and alive again after its
#    restart.
# 4. With the cluster idle, the primary is killed; the next put starts a
#    view change at once because the detector holds the primary dead (the
#    log says so; before, the request timer found it 500 ms later).
# 5. `voidctl members` exits 4 when no replica answers.
source "$(dirname "$0")/lib.sh"
cluster_init members 17760

DETECT_MS=${DETECT_MS:-2500}
LOAD_S=${LOAD_S:-20}

members_json() { vctl members --json --timeout 2; }
# state of member $2 as node $1's detector holds it, read from its /members
state_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/members" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(next(m['state'] for m in d['members'] if m['id']==$2))"
}
metric_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/metrics" |
    sed -n "s/^$2 \([0-9]*\)$/\1/p"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

cluster start --n 4 --clients 8 > /dev/null
vctl put k0 v0 > /dev/null

# 1. all alive (heartbeats have been flowing since the start)
wait_for '[ "$(vctl members --timeout 2 | grep -c " alive ")" = 4 ]' 5
vctl members --timeout 2
members_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert (d["epoch"], d["n"], d["f"], d["quorum"]) == (1, 4, 1, 3), d
assert [m["id"] for m in d["members"]] == [0, 1, 2, 3], d
assert all(m["state"] == "alive" and m["role"] == "voter" and m["datacenter"] == "dc1" for m in d["members"]), d
others = [m for m in d["members"] if not m["self"]]
assert len(others) == 3 and all(m["last_heartbeat_ms_ago"] < 1000 for m in others), d
' || fail "voidctl members --json"
for i in 0 1 2 3; do
  [ "$(metric_at "$i" 'void_heartbeats_total{dir="received"}')" -gt 0 ] ||
    fail "node $i received no heartbeat"
done

# 2. no false suspicion under load (counted from here: a node that started
# before a peer's process was up rightly suspected it then)
declare -a before
for i in 0 1 2 3; do before[$i]=$(metric_at "$i" void_suspicions_total); done
load=$("$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 8 --seconds "$LOAD_S" --value 100)
echo "load: $load"
ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$load")
[ "${ops:-0}" -gt 0 ] || fail "voidload committed nothing"
for i in 0 1 2 3; do
  s=$(( $(metric_at "$i" void_suspicions_total) - before[i] ))
  hb=$(metric_at "$i" 'void_heartbeats_total{dir="received"}')
  echo "node $i: $hb heartbeats received, $s suspicions during the load"
  expect_eq "$s" 0 "node $i suspected a live replica under load"
done

# 3. kill a backup: suspect or dead everywhere, then alive after its restart
primary=$(status_field 0 primary)
victim=$(( (primary + 1) % 4 ))
suspect_lines() { grep -c "member $victim: alive -> suspect after" "$VOID_CLUSTER_DIR/logs/node$1.log" || true; }
declare -a seen
for i in 0 1 2 3; do seen[$i]=$(suspect_lines "$i"); done # a startup suspicion is not this one
pid=$(cat "$VOID_CLUSTER_DIR/run/node$victim.pid")
t0=$(now_ms)
kill -KILL "$pid"
# Each node logs the transition with the silence its detector measured
# ("member 1: alive -> suspect after 841 ms without a heartbeat"): that is
# the detection time, whatever polling costs on a loaded machine.
detected() {
  for i in 0 1 2 3; do
    [ "$i" = "$victim" ] && continue
    [ "$(suspect_lines "$i")" -gt "${seen[i]}" ] || return 1
  done
}
wait_for detected 15
echo "backup $victim suspect at every node $(( $(now_ms) - t0 )) ms after SIGKILL (wall time, polling included)"
for i in 0 1 2 3; do
  [ "$i" = "$victim" ] && continue
  ms=$(grep "member $victim: alive -> suspect after" "$VOID_CLUSTER_DIR/logs/node$i.log" | tail -n1 |
    sed -n 's/.* after \([0-9]*\) ms without.*/\1/p')
  echo "node $i: suspect after $ms ms of silence"
  [ "${ms:-99999}" -le "$DETECT_MS" ] || fail "node $i took $ms ms to suspect $victim (bound $DETECT_MS)"
done
vctl members --timeout 2 | grep -E "^$victim " | grep -qE ' (suspect|dead) ' ||
  fail "voidctl members does not show $victim suspect or dead"
vctl put k1 v1 > /dev/null # three of four still commit
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
rm -f "$VOID_CLUSTER_DIR/run/node$victim.pid"
cluster restart "$victim" > /dev/null
t0=$(now_ms)
alive_again() {
  for i in 0 1 2 3; do
    [ "$i" = "$victim" ] && continue
    [ "$(state_at "$i" "$victim")" = alive ] || return 1
  done
}
wait_for alive_again 20
echo "backup $victim alive again at every node $(( $(now_ms) - t0 )) ms after its restart"
wait_for '[ "$(vctl members --timeout 2 | grep -c " alive ")" = 4 ]' 5

# 4. the primary dies while the cluster is idle: the next put's view change
# is started by the detector, not by the request timer
primary=$(status_field 0 primary)
cluster kill "$primary" > /dev/null
backup=$(( (primary + 1) % 4 ))
wait_for '[ "$(state_at '"$backup"' '"$primary"')" = dead ]' 5
t0=$(now_ms)
vctl put k2 v2 --timeout 10 > /dev/null
echo "put after the primary died (detector holds it dead): $(( $(now_ms) - t0 )) ms"
expect_eq "$(vctl get k2)" v2 "write after the primary died"
grep -q "started (failure detector: primary $primary of view" "$VOID_CLUSTER_DIR"/logs/node*.log ||
  fail "no view change started by the failure detector"
n=0
for i in 0 1 2 3; do
  [ "$i" = "$primary" ] && continue
  n=$(( n + $(metric_at "$i" void_primary_suspected_view_changes_total) ))
done
[ "$n" -ge 1 ] || fail "void_primary_suspected_view_changes_total is 0 everywhere"

# 5. unreachable
cluster stop > /dev/null
set +e
vctl members --timeout 1 > /dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" 4 "voidctl members with every replica down"
echo PASS

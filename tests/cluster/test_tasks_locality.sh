# Tasks on a cluster with locations (docs/scheduler.md): 7 nodes (f = 2; a
# cluster has 3f+1) in 2 datacenters x 2 racks,
#   0, 1, 2: dc1/r1   6: dc1/r2   3, 4: dc2/r1   5: dc2/r2
# `put --file --on` stores a file on some replicas only, f+1 = 3 at least
# (no other stores a block of it); a task reading `big` (on rack dc1/r1) and
# `small` (on 3, 5 and 6) runs on dc1/r1 and fetches `small` from node 6,
# its nearest holder (the same datacenter; 3 and 5, lower ids, are across);
# SIGKILL of the node running it: the task is
# placed again on its rack-mate after the deadline and completes once
# (attempt 2, one report, the output readable with get --file); a task past
# its memory limit fails `memory` and its node goes on; a client that is not
# among [tasks] submitters is refused; --on with too few holders is refused.
source "$(dirname "$0")/lib.sh"
cluster_init tasks_locality 17790

cluster start --n 7 --clients 2 --tasks \
  --locations "dc1/r1 dc1/r1 dc1/r1 dc2/r1 dc2/r1 dc2/r2 dc1/r2" > /dev/null
vtask() { "$VOID_BIN/voidctl" --cluster "$CLIENT" task "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))" "$1" "$2"; }
metric() { # node, family{labels}: its value on node's /metrics, 0 if absent
  local v
  v=$(curl -s "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/metrics" | awk -v m="$2" '$1 == m {print $2}')
  echo "${v:-0}"
}
status_json() { vtask status "$1" --json; }

# Placement of data: --on names the holders, f+1 = 3 at least.
head -c 3000000 /dev/urandom > "$TEST_DIR/big"
head -c 200000 /dev/urandom > "$TEST_DIR/small"
out=$(vctl put --file "$TEST_DIR/big" big --on 0,1,2 --json) || fail "put big --on 0,1,2"
[ "$(field "$out" holders)" = "[0, 1, 2]" ] || fail "big's holders: $out"
out=$(vctl put --file "$TEST_DIR/small" small --on 6,3,5 --json) || fail "put small --on 6,3,5"
[ "$(field "$out" holders)" = "[3, 5, 6]" ] || fail "small's holders: $out"
rc=0; err=$(vctl put --file "$TEST_DIR/small" one --on 3,5 2>&1) || rc=$?
[ $rc -eq 2 ] && grep -q "want at least f+1 = 3" <<<"$err" || fail "--on 3,5: exit $rc: $err"
rc=0; err=$(vctl put --file "$TEST_DIR/small" one --on 0,1,9 2>&1) || rc=$?
[ $rc -eq 2 ] && grep -q "'9' is not a replica" <<<"$err" || fail "--on 0,1,9: exit $rc: $err"
stored4=$(metric 4 'void_cas_blocks_total{op="stored"}')
[ "$stored4" = 0 ] || fail "node 4 holds no file, yet stored $stored4 blocks"
echo "ok: big on 0,1,2 and small on 3,5,6 only (node 4 stored $stored4 blocks)"
head -c 1000 /dev/urandom > "$TEST_DIR/other" # blocks of its own: not big's or small's
out=$(vctl put --file "$TEST_DIR/other" spread --copies 3 --json) || fail "put --copies 3"
python3 - "$out" "$VOID_CLUSTER_DIR/client.ini" <<'PY' || fail "--copies 3: $out"
import json, re, sys
holders = json.loads(sys.argv[1])["holders"]
text = open(sys.argv[2]).read()
rack = {int(i): (dc, r) for i, dc, r in re.findall(r"\[replica\.(\d+)\][^[]*?datacenter = (\S+)\nrack = (\S+)", text)}
ids = sorted(rack)
n = len(ids)
# HDFS's rule (voidctl_files.c, choose_copies), for each replica the root
# hash may pick first: the second in another rack, the third beside the
# second, or beside the first when the second is alone in its rack, then
# replica order. Here every choice has two racks but one: first 5 (dc2/r2)
# and second 6 (dc1/r2) are each alone in their rack.
def copies(first):
    chosen = [ids[first]]
    second = next((ids[(first + s) % n] for s in range(1, n) if rack[ids[(first + s) % n]] != rack[ids[first]]), None)
    if second is not None:
        chosen.append(second)
        for r in (second, ids[first]):
            mate = next((ids[(ids.index(r) + s) % n] for s in range(1, n)
                         if ids[(ids.index(r) + s) % n] not in chosen and rack[ids[(ids.index(r) + s) % n]] == rack[r]), None)
            if mate is not None:
                chosen.append(mate)
                break
    for s in range(1, n):
        if len(chosen) >= 3:
            break
        if ids[(first + s) % n] not in chosen:
            chosen.append(ids[(first + s) % n])
    return sorted(chosen)
racks = [rack[h] for h in holders]
assert len(holders) == 3 and sorted(holders) in [copies(f) for f in range(n)], (holders, racks)
assert len(set(racks)) == 2 or sorted(holders) == copies(ids.index(5)), (holders, racks)
PY
echo "ok: --copies 3 chose $(field "$out" holders)"

# Bad input: a client that may not submit tasks.
rc=0; err=$("$VOID_BIN/voidctl" --cluster "$VOID_CLUSTER_DIR/client-101.ini" task submit -- /bin/true 2>&1) || rc=$?
[ $rc -eq 3 ] && grep -q "VOID_EPERM: client 101 may not submit tasks" <<<"$err" ||
  fail "client 101: exit $rc: $err"
echo "ok: client 101 refused: $err"

# Memory limit: 300 MB in a 64 MiB task; the node goes on.
j=$(vtask submit --mem 64M --time-limit 30 --json -- python3 -c 'b = bytearray(300 << 20); print(len(b))')
id=$(field "$j" id)
wait_for '[ "$(field "$(status_json "$id")" state)" = failed ]' 30
j=$(status_json "$id")
mnode=$(field "$j" node)
[ "$(field "$j" outcome)" = memory ] && grep -q "memory limit of 67108864 bytes" <<<"$(field "$j" reason)" ||
  fail "memory task: $j"
[ "$(metric "$mnode" 'void_task_attempts_total{outcome="memory"}')" = 1 ] ||
  fail "node $mnode counted no memory outcome"
kill -0 "$(cat "$VOID_CLUSTER_DIR/run/node$mnode.pid")" || fail "node $mnode died"
echo "ok: task $id on node $mnode: $(field "$j" reason); the node goes on"

# Locality, the fetch from the nearest holder, and SIGKILL of the runner.
# Its first attempt sleeps (the working directory names the attempt:
# DATA_DIR/tasks/<id>-<attempt>/work) so that it still runs when the node is
# killed, however loaded the machine; the submit's answer may come late, so
# the node is found by its log and killed as soon as the task started there.
sum=$(cat "$TEST_DIR/big" "$TEST_DIR/small" | sha256sum | cut -d' ' -f1)
id=2
vtask submit --input big --input small --time-limit 10 --json -- /bin/sh -c \
  'case "$PWD" in */2-1/work) sleep 60 ;; esac; cat big small | sha256sum | cut -d" " -f1 > out/sum' \
  > "$TEST_DIR/submit.json" &
submit_pid=$!
wait_for 'ran=$(grep -l "task $id attempt 1: started" "$VOID_CLUSTER_DIR"/logs/node*.log)' 30
first=${ran##*/node}
first=${first%.log}
cluster kill "$first"
wait $submit_pid || fail "submit $id"
j=$(cat "$TEST_DIR/submit.json")
[ "$(field "$j" id)" = $id ] && [ "$(field "$j" node)" = "$first" ] || fail "submit $id: $j"
[ "$first" -le 2 ] || fail "task $id placed on $first, not on big's rack dc1/r1: $j"
echo "ok: task $id ran on node $first (rack dc1/r1); SIGKILLed it"
# The deadline is start + 10 s + 10 s; another node asks to place it again.
wait_for '[ "$(field "$(status_json "$id")" state)" = done ]' 40
j=$(status_json "$id")
second=$(field "$j" node)
[ "$second" -le 2 ] && [ "$second" != "$first" ] && [ "$(field "$j" attempt)" = 2 ] ||
  fail "task $id after the kill: want another node of dc1/r1, attempt 2: $j"
line=$(grep "task $id attempt 2: inputs fetched" "$VOID_CLUSTER_DIR/logs/node$second.log") ||
  fail "attempt 2 fetched nothing"
[[ $line =~ \ 0\ from\ the\ rack,\ ([0-9]+)\ from\ the\ datacenter,\ 0\ across ]] &&
  [ "${BASH_REMATCH[1]}" -ge 200000 ] ||
  fail "attempt 2 did not fetch small from node 6 (same datacenter): $line"
echo "ok: attempt 2 on node $second${line#*attempt 2:}"
reports=$(cat "$VOID_CLUSTER_DIR"/logs/node*.log | grep -c "task $id: reported" || true)
[ "$reports" = 1 ] || fail "task $id reported $reports times"
# Not started again while this replica had yet to execute its own report.
starts=$(cat "$VOID_CLUSTER_DIR"/logs/node*.log | grep -c "task $id attempt 2: started" || true)
[ "$starts" = 1 ] || fail "task $id attempt 2 started $starts times"
vctl get --file "task-$id" "$TEST_DIR/out" --quiet > /dev/null || fail "get --file task-$id"
expect_eq "$(cat "$TEST_DIR/out/out/sum")" "$sum" "task $id's output"
echo "ok: after SIGKILL of node $first, task $id ran on node $second (attempt 2), reported once, output $sum"

# Metrics (node $second ran attempt 2): bytes by distance class, tasks by state.
dc=$(metric "$second" 'void_task_input_bytes_total{distance="datacenter"}')
across=$(metric "$second" 'void_task_input_bytes_total{distance="across"}')
local_bytes=$(metric "$second" 'void_task_input_bytes_total{distance="local"}')
[ "$dc" -ge 200000 ] && [ "$across" = 0 ] && [ "$local_bytes" -ge 3000000 ] ||
  fail "node $second's input bytes: datacenter $dc, across $across, local $local_bytes"
done_n=$(metric "$second" 'void_tasks{state="done"}')
failed_n=$(metric "$second" 'void_tasks{state="failed"}')
[ "$done_n" = 1 ] && [ "$failed_n" = 1 ] || fail "void_tasks: done $done_n, failed $failed_n"
echo "ok: metrics: node $second read $local_bytes bytes locally, $dc from the datacenter, $across across"

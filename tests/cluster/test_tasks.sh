# Tasks through PBFT on a real cluster (docs/scheduler.md): a task reading
# one input file runs on a member, its status shows exit 0 and its output
# root, `voidctl task logs` prints its stdout and its output is a file
# (`voidctl get --file task-ID`); a task past its time limit is killed and
# fails with that reason; a missing executable fails clearly; an unknown
# input and limits above every member's capacity are refused; cancel; list.
source "$(dirname "$0")/lib.sh"
cluster_init tasks 17720

# The nodes report results under the cluster's client identity (a replica's
# id cannot be a client's), each process in a session of its own: --tasks
# writes [tasks] client_file = client.ini into every node's file.
cluster start --n 4 --tasks > /dev/null
grep -q "^client_file = client.ini" "$VOID_CLUSTER_DIR/node0.ini" || fail "no [tasks] client_file"
# Global options before the command: after `--` they would be the task's.
vtask() { "$VOID_BIN/voidctl" --cluster "$CLIENT" task "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))" "$1" "$2"; }

printf 'alpha\nbeta\ngamma\n' > "$TEST_DIR/words.txt"
vctl put --file "$TEST_DIR/words.txt" words --quiet > /dev/null || fail "put --file words"

out=$(vtask submit --input words --time-limit 20 --json -- /bin/sh -c 'sort -r words; echo made > out/result.txt')
[ "$(field "$out" id)" = 1 ] && [ "$(field "$out" state)" = running ] || fail "submit 1: $out"
vtask submit --time-limit 1 -- /bin/sleep 30 > /dev/null || fail "submit 2"
vtask submit -- /no/such/program > /dev/null || fail "submit 3"
vtask submit --time-limit 60 -- /bin/sleep 60 > /dev/null || fail "submit 4"

# Refusals: unknown input, limits above every member's capacity, no command.
rc=0; err=$(vtask submit --input nosuch -- /bin/cat nosuch 2>&1) || rc=$?
[ $rc -eq 3 ] && grep -q "VOID_ENOTFOUND: no input named 'nosuch'" <<<"$err" ||
  fail "unknown input: exit $rc: $err"
rc=0; err=$(vtask submit --cpu 64 -- /bin/true 2>&1) || rc=$?
[ $rc -eq 3 ] && grep -q "VOID_ERANGE: limits above any member's capacity" <<<"$err" ||
  fail "cpu above capacity: exit $rc: $err"
rc=0; vtask submit 2> /dev/null || rc=$?
[ $rc -eq 2 ] || fail "submit without a command: exit $rc"
echo "ok: unknown input and limits above capacity refused"

vtask cancel 4 > /dev/null || fail "cancel 4"
rc=0; vtask cancel 4 2> /dev/null || rc=$?
[ $rc -eq 3 ] || fail "second cancel: exit $rc"

# Until tasks 1-3 have ended (list: one call for all of them).
deadline=$((SECONDS + 20))
while :; do
  list=$(vtask list --json)
  ended=$(python3 -c "import json,sys; t=json.loads(sys.argv[1])['tasks']; print(sum(x['state'] not in ('waiting','running') for x in t))" "$list")
  [ "$ended" = 4 ] && break
  [ $SECONDS -lt $deadline ] || fail "tasks did not end: $(vtask list)"
  sleep 0.5
done
task() { python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])['tasks'][int(sys.argv[2]) - 1]))" "$list" "$1"; }

j=$(task 1)
[ "$(field "$j" state)" = done ] && [ "$(field "$j" outcome)" = exited ] &&
  [ "$(field "$j" code)" = 0 ] || fail "task 1: $j"
root=$(field "$j" output_root)
[ ${#root} -eq 64 ] || fail "task 1 output root: $j"
expect_eq "$(vtask logs 1)" "$(printf 'gamma\nbeta\nalpha')" "task logs 1"
vctl get --file task-1 "$TEST_DIR/out1" --quiet > /dev/null || fail "get --file task-1"
expect_eq "$(cat "$TEST_DIR/out1/out/result.txt")" made "task 1's output file"
echo "ok: task 1 ran on member $(field "$j" node), exit 0, output $root"

j=$(task 2)
[ "$(field "$j" state)" = failed ] && [ "$(field "$j" outcome)" = timeout ] &&
  grep -q "time limit of 1 s" <<<"$(field "$j" reason)" || fail "task 2, timeout: $j"
echo "ok: task 2 $(field "$j" reason)"
j=$(task 3)
[ "$(field "$j" outcome)" = error ] && grep -q "not found" <<<"$(field "$j" reason)" ||
  fail "task 3, missing executable: $j"
echo "ok: task 3 failed: $(field "$j" reason)"
[ "$(field "$(task 4)" state)" = cancelled ] || fail "task 4: $(task 4)"
echo "ok: task 4 cancelled"

# A done task's output outlives the member that ran it: the member reported
# only once f other members held a copy (f = 1 of 4 voters), so with the
# runner killed its logs and its output file still read back.
runner=$(field "$(task 1)" node)
grep -q "task 1 attempt 1: exited .* on 2 members" "$VOID_CLUSTER_DIR/logs/node$runner.log" ||
  fail "task 1's report does not say its output is on 2 members"
cluster kill "$runner" > /dev/null || fail "kill node $runner"
expect_eq "$(vtask logs 1)" "$(printf 'gamma\nbeta\nalpha')" "task logs 1 with node $runner dead"
vctl get --file task-1 "$TEST_DIR/out1b" --quiet > /dev/null ||
  fail "get --file task-1 with node $runner dead"
expect_eq "$(cat "$TEST_DIR/out1b/out/result.txt")" made "task 1's output file, node $runner dead"
echo "ok: task 1's output read back with its member $runner killed"

# The primary is killed with SIGKILL: the other three elect a new primary
# (view change) and the client's next requests succeed; no acknowledged write
# is lost. Then the old primary is restarted and must rejoin and count.
# The logs say so at INFO, each line dated by the wall clock of the line with
# the HLC beside it (issue 15): the view change (old -> new view, why), the
# restarted node's recovery and its state transfer, start and end.
source "$(dirname "$0")/lib.sh"
cluster_init viewchange 17520

cluster start --n 4 > /dev/null
for i in 1 2 3 4 5; do vctl put "before$i" "v$i" > /dev/null; done
primary=$(status_field 0 primary)
view=$(status_field 0 view)
[ -n "$primary" ] || fail "no primary in status"
killed_at=$(date +%s)
cluster kill "$primary"
start=$SECONDS
vctl put after1 x --timeout 15 > /dev/null || fail "put after the primary died"
echo "first put after killing primary $primary took $((SECONDS - start))s"
for i in 2 3 4 5; do vctl put "after$i" "x" --timeout 10 > /dev/null; done
for i in 1 2 3 4 5; do expect_eq "$(vctl get "before$i")" "v$i" "write before the kill"; done
other=$(( (primary + 1) % 4 ))
newview=$(status_field "$other" view)
[ "$newview" -gt "$view" ] || fail "view did not change ($view -> $newview)"
echo "ok: view $view -> $newview"

log_of() { echo "$VOID_CLUSTER_DIR/logs/node$1.log"; }
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z INFO  node=[0-9]+ hlc=[0-9T:.Z/-]+ '
done_line=$(grep -E "${stamp}view change: view $view -> $newview done, primary $(( newview % 4 )) \(after " "$(log_of "$other")" | head -n 1)
[ -n "$done_line" ] || fail "no 'view change: view $view -> $newview done' line in node $other's log"
grep -Eq "${stamp}view change: view $view -> [0-9]+ started \(" "$(log_of "$other")" ||
  fail "no 'view change: view $view -> ... started (reason)' line in node $other's log"
line_at=$(date -u -d "$(echo "$done_line" | cut -d' ' -f1)" +%s)
[ "$line_at" -ge $((killed_at - 1)) ] && [ "$line_at" -le $(($(date +%s) + 1)) ] ||
  fail "the view change line is not dated by the wall clock ($line_at, killed at $killed_at): $done_line"
echo "ok: $done_line"

# The killed primary comes back: it recovers from its log, rejoins the new
# view and counts in quorums again (with another replica down, the cluster
# needs it to commit).
cluster restart "$primary"
wait_for "grep -Eq '${stamp}recovery: recovered from [0-9]+ records' '$(log_of "$primary")'" 10
wait_for "grep -Eq '${stamp}state transfer: started at executed [0-9]+' '$(log_of "$primary")'" 10
wait_for "grep -Eq '${stamp}state transfer: done in [0-9]+ ms: executed [0-9]+ -> [0-9]+' '$(log_of "$primary")'" 20
wait_for "[ \"\$(status_field $primary view)\" = \"$newview\" ] && [ \"\$(status_field $primary view_changing)\" = False ] && [ \$(status_field $primary last_executed) -ge \$(status_field $other last_executed) ]" 20
victim=$(( (primary + 2) % 4 ))
[ "$victim" = "$(status_field "$other" primary)" ] && victim=$(( (primary + 3) % 4 ))
cluster kill "$victim"
vctl put after-rejoin x --timeout 15 > /dev/null || fail "no commit with the restarted replica in the quorum"
echo "ok: replica $primary rejoined view $newview; commits with replica $victim down"

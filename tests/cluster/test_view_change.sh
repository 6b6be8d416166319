# The primary is killed with SIGKILL: the other three elect a new primary
# (view change) and the client's next requests succeed; no acknowledged write
# is lost. Then the old primary is restarted and must rejoin and count.
source "$(dirname "$0")/lib.sh"
cluster_init viewchange 17520

cluster start --n 4 > /dev/null
for i in 1 2 3 4 5; do vctl put "before$i" "v$i" > /dev/null; done
primary=$(status_field 0 primary)
view=$(status_field 0 view)
[ -n "$primary" ] || fail "no primary in status"
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

# The killed primary comes back: it recovers from its log, rejoins the new
# view and counts in quorums again (with another replica down, the cluster
# needs it to commit).
cluster restart "$primary"
wait_for "[ \"\$(status_field $primary view)\" = \"$newview\" ] && [ \"\$(status_field $primary view_changing)\" = False ] && [ \$(status_field $primary last_executed) -ge \$(status_field $other last_executed) ]" 20
victim=$(( (primary + 2) % 4 ))
[ "$victim" = "$(status_field "$other" primary)" ] && victim=$(( (primary + 3) % 4 ))
cluster kill "$victim"
vctl put after-rejoin x --timeout 15 > /dev/null || fail "no commit with the restarted replica in the quorum"
echo "ok: replica $primary rejoined view $newview; commits with replica $victim down"

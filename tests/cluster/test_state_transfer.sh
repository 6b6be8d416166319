# A node's data directory is wiped while the others move on past several
# checkpoints (so the log it missed is garbage-collected): after a restart,
# state transfer brings it back, and it then counts in quorums (the cluster
# still commits with another node down).
source "$(dirname "$0")/lib.sh"
cluster_init statetransfer 17560

cluster start --n 4 > /dev/null
vctl put early yes > /dev/null
cluster wipe 3
# 80 sequential puts: 80 batches, past the log window (64) and several
# checkpoints (every 16), so what node 3 missed is garbage-collected.
for i in $(seq 1 80); do vctl put "k$i" "v$i" > /dev/null; done
target=$(status_field 0 last_executed)
cluster restart 3
wait_for "[ \$(status_field 3 last_executed) -ge $target ]" 30
echo "node 3 caught up to $(status_field 3 last_executed) (target $target)"
# Node 3 must now be a working member: with node 1 down, quorum needs it.
primary=$(status_field 0 primary)
victim=1; [ "$primary" = 1 ] && victim=2
cluster kill "$victim"
vctl put after-transfer yes --timeout 15 > /dev/null || fail "no commit with the wiped node as part of the quorum"
expect_eq "$(vctl get early --timeout 10)" "yes" "early write"
echo "ok"

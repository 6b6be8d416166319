# The replicated state past the old fixed table (1,024 keys): 16 clients put
# at least 5,000 distinct keys into a 4-node cluster, whose replicas keep the
# state in LMDB (DATA_DIR/state). One replica is then killed with SIGKILL
# and restarted: it puts its store back to its last stable checkpoint,
# catches up, and every replica has
# the same key count and state digest, and a write made after the restart
# is readable.
source "$(dirname "$0")/lib.sh"
cluster_init statescale 17620

cluster start --n 4 --clients 16 > /dev/null
keys=0
for round in $(seq 1 20); do
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 16 --seconds 3 --distinct --value 20 > "$TEST_DIR/load.$round" ||
    fail "voidload round $round failed: $(cat "$TEST_DIR/load.$round")"
  keys=$(status_field 0 state_keys)
  [ "${keys:-0}" -ge 5000 ] && break
done
[ "${keys:-0}" -ge 5000 ] || fail "only $keys keys after 20 rounds of voidload"
[ -f "$VOID_CLUSTER_DIR/data/node2/state/data.mdb" ] || fail "no LMDB store in node 2's data directory"
echo "loaded $keys distinct keys"

cluster kill 2
cluster restart 2
# Idle cluster: every replica at the same sequence number has the same
# state, so the keys and the digest must agree once node 2 has caught up.
# One more write after the restart, so the restarted replica executes too.
vctl put after-restart yes --timeout 10 > /dev/null || fail "no commit after the restart"
wait_for "replicas_agree 5000" 40
echo "replicas agree: $(status_field 2 state_keys) keys, digest $(status_field 2 state_digest | cut -c1-16)"
expect_eq "$(vctl get after-restart --timeout 10)" "yes" "a write after the restart"
echo "ok"

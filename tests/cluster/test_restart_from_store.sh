# A whole-cluster restart (scripts/cluster stop, then start) goes on from
# each replica's LMDB store, not from an export in the record log
# (docs/pbft.md, Recovery): 8 clients put at least 1,500 distinct keys,
# every node stops cleanly and starts again. Each node's log says it
# recovered past its stable checkpoint or at it, and none emptied its store;
# the CHECKPOINT record in the record log is small (no export); the replicas
# agree on the key count and digest; a write after the restart commits.
source "$(dirname "$0")/lib.sh"
cluster_init restartstore 17660

cluster start --n 4 --clients 8 > /dev/null
keys=0
for round in $(seq 1 20); do
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 8 --seconds 2 --distinct --value 200 > "$TEST_DIR/load.$round" ||
    fail "voidload round $round failed: $(cat "$TEST_DIR/load.$round")"
  keys=$(status_field 0 state_keys)
  [ "${keys:-0}" -ge 1500 ] && break
done
[ "${keys:-0}" -ge 1500 ] || fail "only $keys keys after 20 rounds of voidload"
stable=$(status_field 0 stable_checkpoint)
[ "${stable:-0}" -gt 0 ] || fail "no stable checkpoint after $keys keys"
echo "loaded $keys distinct keys, stable checkpoint $stable"

cluster stop > /dev/null
t0=$(date +%s%N)
cluster start > /dev/null
cluster wait > /dev/null
t1=$(date +%s%N)
echo "whole cluster back in $(((t1 - t0) / 1000000)) ms"
for i in 0 1 2 3; do
  line=$(grep 'recovery: recovered from' "$VOID_CLUSTER_DIR/logs/node$i.log" | tail -n 1)
  [ -n "$line" ] || fail "node $i did not recover from its records"
  case "$line" in
    *store_reset=0*) ;;
    *) fail "node $i emptied its store: $line" ;;
  esac
  executed=$(sed -n 's/.* executed=\([0-9]*\).*/\1/p' <<<"$line")
  low=$(sed -n 's/.* stable=\([0-9]*\).*/\1/p' <<<"$line")
  [ "${executed:-0}" -gt 0 ] && [ "$executed" -ge "$low" ] ||
    fail "node $i came back at executed=$executed below its checkpoint $low: $line"
done
# The record log keeps no export: its files stay far below the state
# (1,500 keys of 200 bytes are about 300 KB; an export rewrote all of it
# at every stable checkpoint).
for i in 0 1 2 3; do
  state=$(du -sk "$VOID_CLUSTER_DIR/data/node$i/state" | cut -f1)
  [ -f "$VOID_CLUSTER_DIR/data/node$i/state/data.mdb" ] || fail "no LMDB store for node $i"
  echo "node $i: state ${state} KiB"
done
vctl put after-restart yes --timeout 10 > /dev/null || fail "no commit after the restart"
wait_for "replicas_agree 1500" 40
expect_eq "$(vctl get after-restart --timeout 10)" "yes" "a write after the restart"
echo "ok"

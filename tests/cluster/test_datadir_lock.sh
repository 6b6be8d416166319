# A second voidd started on the data directory of a running node must refuse
# before it touches the directory (issue 15: it used to compact the live record
# log, so the running node went on appending to a file that was no longer its
# log, and came back from a SIGKILL dozens of batches behind). It exits
# non-zero naming the pid that holds the lock; the running node's record-log
# files are unchanged, and after more writes, SIGKILL and a restart the node
# recovers its stable checkpoint from its own log.
source "$(dirname "$0")/lib.sh"
cluster_init datadir_lock 17610

K=1
cluster start --n 4 > /dev/null
for i in $(seq 1 10); do vctl put "before$i" "v$i" > /dev/null; done
data=$VOID_CLUSTER_DIR/data/node$K
pid=$(cat "$VOID_CLUSTER_DIR/run/node$K.pid")

# Names, sizes and contents of the record log (the cluster is idle: nothing
# writes to it while the second voidd runs).
wal_fingerprint() { (cd "$data" && for f in wal-*; do echo "$f $(stat -c %s "$f") $(sha256sum < "$f" | cut -c1-16)"; done); }
before=$(wal_fingerprint)

set +e
out=$(timeout 20 "$VOID_BIN/voidd" --config "$VOID_CLUSTER_DIR/node$K.ini" 2>&1)
rc=$?
set -e
echo "second voidd: rc=$rc: $out"
[ "$rc" -ne 0 ] || fail "a second voidd on node $K's data directory exited 0"
[ "$rc" -ne 124 ] || fail "a second voidd on node $K's data directory kept running"
echo "$out" | grep -q "in use by pid $pid" || fail "the refusal does not name the holder's pid $pid: $out"
kill -0 "$pid" || fail "node $K died"
after=$(wal_fingerprint)
[ "$before" = "$after" ] || fail "the record log changed under the running node:
before:
$before
after:
$after"

# The running node's log is still its log: what it executes from now on is
# durable, and it recovers all of it after a SIGKILL.
for i in $(seq 1 40); do vctl put "after$i" "v$i" > /dev/null; done
wait_for "[ \$(status_field $K last_executed) -ge \$(status_field $(( (K + 1) % 4 )) last_executed) ]" 10
stable=$(status_field $K stable_checkpoint)
[ "$stable" -gt 0 ] || fail "node $K has no stable checkpoint after 50 writes"
cluster kill $K
: > "$VOID_CLUSTER_DIR/logs/node$K.log"
cluster restart $K > /dev/null
wait_for "grep -q 'recovered from' '$VOID_CLUSTER_DIR/logs/node$K.log'" 20
recovered=$(sed -n 's/.*recovered from [0-9]* records: view=[0-9]* executed=\([0-9]*\).*/\1/p' \
  "$VOID_CLUSTER_DIR/logs/node$K.log" | head -n 1)
[ -n "$recovered" ] || fail "no recovery line in node $K's log"
# Recovery restores the stable checkpoint (what comes after it is fetched
# from the peers), so that is what the record log must give back.
echo "node $K: stable checkpoint $stable before SIGKILL, executed=$recovered recovered from its record log"
[ "$recovered" -ge "$stable" ] || fail "node $K lost batches: stable checkpoint $stable, recovered $recovered"
expect_eq "$(vctl get after40 --timeout 10)" "v40" "a write after the refused start"
echo "ok"

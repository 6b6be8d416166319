# Automatic removal in voidd (docs/membership.md, "Automatic removal in
# voidd"): five voidd processes with [membership] auto_remove = 1 under a
# steady voidload.
# 1. Node 4 is killed with SIGKILL. The survivors' detectors declare it
#    dead, sign and gossip suspicions (SUSPICION frames), one of them
#    completes a certificate of 2f + 1 = 3 and submits the certified REMOVE
#    through PBFT: epoch 2 with n = 4 at every survivor, without any admin
#    key in the configuration. The metrics count the suspicions signed and
#    received, the certificate, one applied removal and the detection time
#    (void_member_detection_seconds); puts go on.
# 2. Node 4 started again was removed while it was down: its records bring
#    it back in epoch 1, nobody heartbeats it and its peers drop its
#    frames, so it reads the configuration record through its own client,
#    learns it was removed in epoch 2 and stops with exit 1 and the clear
#    message (before, it ran on in epoch 1 and said nothing).
# 3. (FULL=1) voters_min = 4: node 3 killed next is dead at every survivor
#    but not removed (the log says why: 4 voters, voters_min = 4); the
#    epoch stays 2 and the three left still commit (q = 3 of n = 4).
source "$(dirname "$0")/lib.sh"
cluster_init autoremove 17800

LOAD_S=${LOAD_S:-8}

cluster start --n 5 --clients 2 --auto-remove > /dev/null

members_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/members" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['epoch'], d['n'], ','.join(str(m['id']) for m in d['members']), ','.join(str(i) for i in d['removed']))"
}

for i in $(seq 0 4); do vctl put "k$i" "v$i" > /dev/null; done
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds "$LOAD_S" --value 50 --retry-ms 300 \
  > "$TEST_DIR/load.out" 2>&1 &
echo $! > "$VOID_CLUSTER_DIR/run/voidload.pid"
sleep 3 # a peer is suspected for removal once heard steadily (15 heartbeats)

# 1. kill 4: removed by the survivors' certificate (times from the logs:
# polling /members costs seconds on a loaded machine)
echo "[${SECONDS} s] 1. SIGKILL node 4"
t0=$(date +%s%N)
kill -KILL "$(cat "$VOID_CLUSTER_DIR/run/node4.pid")"
rm -f "$VOID_CLUSTER_DIR/run/node4.pid"
wait_for '[ "$(grep -l "membership: epoch 2, 4 voters" "$VOID_CLUSTER_DIR"/logs/node[0-3].log | wc -l)" = 4 ]' 20
k=$((t0 / 1000000))
log_ms() { # ms after the kill of the first line matching $1 logged after it
  grep -h "$1" "$VOID_CLUSTER_DIR"/logs/node[0-3].log | cut -d' ' -f1 |
    python3 -c "
import sys, datetime
ts = sorted(int(datetime.datetime.strptime(t.strip(), '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) for t in sys.stdin if t.strip())
print(next(t for t in ts if t >= $k))"
}
echo "after node 4's SIGKILL: dead $(($(log_ms "member 4: .*-> dead") - k)) ms, removal committed $(($(log_ms "member 4 removed by a certificate") - k)) ms, epoch 2 $(($(log_ms "membership: epoch 2") - k)) ms"
expect_eq "$(members_at 0)" "2 4 0,1,2,3 4" "node 0's /members"
applied=0 signed=0 received=0
for i in 0 1 2 3; do
  m=$(curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + i))/metrics")
  applied=$((applied + $(sed -n 's/^void_auto_removals_total{result="applied"} \([0-9]*\)$/\1/p' <<< "$m")))
  signed=$((signed + $(sed -n 's/^void_suspicions_signed_total \([0-9]*\)$/\1/p' <<< "$m")))
  received=$((received + $(sed -n 's/^void_suspicions_received_total \([0-9]*\)$/\1/p' <<< "$m")))
  grep -qx 'void_epoch 2' <<< "$m" || fail "void_epoch at node $i is not 2"
  # Node 4's death is in the detection histogram: at least the 1.2 s dead
  # threshold from its last heartbeat heard, +Inf bucket = count.
  dc=$(sed -n 's/^void_member_detection_seconds_count \([0-9]*\)$/\1/p' <<< "$m")
  ds=$(sed -n 's/^void_member_detection_seconds_sum \([0-9.]*\)$/\1/p' <<< "$m")
  di=$(sed -n 's/^void_member_detection_seconds_bucket{le="+Inf"} \([0-9]*\)$/\1/p' <<< "$m")
  [ "${dc:-0}" -ge 1 ] && [ "$di" = "$dc" ] || fail "node $i: detection histogram count '$dc', +Inf '$di'"
  awk -v s="$ds" -v c="$dc" 'BEGIN { exit !(s >= 1.2 * c) }' || fail "node $i: detection sum $ds s for $dc deaths"
done
echo "suspicions signed $signed, received $received, removals applied $applied"
[ "$signed" -ge 3 ] || fail "fewer than 2f + 1 = 3 suspicions signed"
[ "$received" -ge 2 ] || fail "no suspicion was gossiped"
[ "$applied" -ge 1 ] || fail "no certified removal was answered applied"
vctl put after-remove yes > /dev/null

# 2. node 4 comes back: it learns that it was removed while down, and stops
echo "[${SECONDS} s] 2. node 4 started again"
rc=0
timeout 30 "$VOID_BIN/voidd" --config "$VOID_CLUSTER_DIR/node4.ini" > "$TEST_DIR/node4.out" 2>&1 || rc=$?
grep -E "removed|epoch" "$TEST_DIR/node4.out" | tail -n 3
expect_eq "$rc" 1 "node 4 removed while down: exit status"
grep -q "node 4 was removed from the cluster in epoch 2 while it was down" "$TEST_DIR/node4.out" ||
  fail "node 4: no clear message"
vctl put after-return yes > /dev/null

wait "$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")" || fail "voidload failed: $(cat "$TEST_DIR/load.out")"
rm -f "$VOID_CLUSTER_DIR/run/voidload.pid"
cat "$TEST_DIR/load.out"
ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/load.out")
[ "${ops:-0}" -gt 0 ] || fail "the load acknowledged no put"

# 3. voters_min = 4 (FULL=1: 15 s more): node 3 dies, is held dead, and is
# not removed
if [ "${FULL:-0}" = 1 ]; then
  echo "[${SECONDS} s] 3. SIGKILL node 3 (n = 4 = voters_min)"
  cluster kill 3 > /dev/null
  wait_for 'grep -q "member 3 is dead but not removed: 4 voters, voters_min = 4" "$VOID_CLUSTER_DIR"/logs/node[0-2].log' 15
  vctl put after-floor yes --timeout 10 > /dev/null || fail "the three left of four did not commit"
  for i in 0 1 2; do expect_eq "$(members_at "$i" | cut -d' ' -f1,2)" "2 4" "node $i after node 3 died"; done
fi
for i in $(seq 0 4); do expect_eq "$(vctl get "k$i")" "v$i" "k$i"; done
echo "OK auto-remove: 4 removed by certificate (epoch 2), told so on its return"

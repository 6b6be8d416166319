# Membership changes through PBFT with real processes (docs/membership.md,
# "Changes through PBFT" and "voidd follows the epoch"): five voidd
# processes whose configuration names an admin key ([clients]
# admin_key_file) and allows down to two voters ([membership] voters_min),
# under a steady voidload.
# 1. `voidctl member remove 4` (signed by the admin key) answers epoch 2;
#    `voidctl members` then shows epoch 2, n = 4 and 4 removed; node 4
#    stops by itself at the boundary ("removed from the cluster in epoch
#    2"); puts go on committing.
# 2. Removing 4 again, or an id that never existed, is refused: exit 3
#    (refused, not 4: unreachable) with the state machine's reason.
# 3. Removing 3 (once the first change is a window old) gives epoch 3.
# 4. Every remaining node restarted comes back in epoch 3 and every key
#    written before is there; the load's puts were acknowledged throughout.
# 5. Node 4 started again refuses to run: exit 1 and the clear message.
# 6. Node 2 leaves with its own key (epoch 4); the two left still commit.
source "$(dirname "$0")/lib.sh"
cluster_init memchange 17790

LOAD_S=${LOAD_S:-8} # the steady load runs through the two removals

cluster start --n 5 --clients 3 > /dev/null
cluster stop > /dev/null
keys=$VOID_CLUSTER_DIR/keys
"$VOID_BIN/voidctl" keygen "$keys" admin > /dev/null
for f in "$VOID_CLUSTER_DIR"/node*.ini; do
  printf '\n[clients]\nadmin_key_file = keys/admin.public\n\n[membership]\nvoters_min = 2\n' >> "$f"
done
cluster start --n 5 > /dev/null

member() { vctl member "$@" --timeout 10; }
# field of node i's /members object
members_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/members" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['epoch'], d['n'], ','.join(str(m['id']) for m in d['members']), ','.join(str(i) for i in d['removed']))"
}
# True once node i's process has exited (it stops by itself when removed);
# its pidfile goes then, so that the cleanup never signals a reused pid.
node_gone() {
  local f=$VOID_CLUSTER_DIR/run/node$1.pid
  if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then return 1; fi
  rm -f "$f"
}
# Half a second of puts from two clients: sequence numbers advance (a change
# takes effect at the next checkpoint and the next change waits a window).
advance() {
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds 0.5 --value 10 > /dev/null
}
# Waits until node i's /members reads $2, advancing meanwhile.
wait_members() {
  local i=$1 want=$2 deadline=$((SECONDS + 20))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(members_at "$i" 2>/dev/null)" = "$want" ] && return 0
    advance
  done
  [ "$(members_at "$i" 2>/dev/null)" = "$want" ] ||
    fail "node $i: /members is '$(members_at "$i" 2>/dev/null)', not '$want'"
}
# Runs a change until it is not refused as pending (the previous change must
# be a window old first), advancing meanwhile.
change_when_ready() {
  local out rc i
  for i in $(seq 1 30); do
    rc=0
    out=$(member "$@" 2>&1) || rc=$?
    if [ $rc -ne 3 ] || ! grep -q EMEMBER_PENDING <<< "$out"; then
      echo "$out"
      return $rc
    fi
    advance
  done
  fail "voidctl member $* stayed pending"
}

for i in $(seq 0 4); do vctl put "k$i" "v$i" > /dev/null; done

"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds "$LOAD_S" --value 50 --retry-ms 300 \
  > "$TEST_DIR/load.out" 2>&1 &
echo $! > "$VOID_CLUSTER_DIR/run/voidload.pid"
sleep 1

# 1. remove 4
echo "[${SECONDS} s] 1. remove 4"
t0=$SECONDS
out=$(member remove 4 --admin-key "$keys/admin.secret")
echo "$out"
grep -q "member 4 removed: epoch 2" <<< "$out" || fail "remove 4: $out"
wait_members 0 "2 4 0,1,2,3 4"
vctl members --timeout 2 | tee "$TEST_DIR/members.txt"
grep -q "^epoch 2: n=4 f=1 quorum=3" "$TEST_DIR/members.txt" || fail "voidctl members: epoch 2, n=4"
grep -q "removed (never readmitted): 4" "$TEST_DIR/members.txt" || fail "voidctl members: removed 4"
wait_for 'node_gone 4' 10
grep -q "removed from the cluster in epoch 2" "$VOID_CLUSTER_DIR/logs/node4.log" ||
  fail "node 4 did not say it was removed"
vctl put after-remove yes > /dev/null
echo "remove 4: epoch 2 at every node after $((SECONDS - t0)) s"

# 2. refusals: already removed, unknown
echo "[${SECONDS} s] 2. refusals: already removed, unknown"
rc=0; out=$(member remove 4 --admin-key "$keys/admin.secret" 2>&1) || rc=$?
expect_eq "$rc" 3 "remove 4 again: exit status"
grep -q "VOID_EMEMBER_REMOVED" <<< "$out" || fail "remove 4 again: $out"
rc=0; out=$(member remove 9 --admin-key "$keys/admin.secret" 2>&1) || rc=$?
expect_eq "$rc" 3 "remove 9: exit status"
grep -q "VOID_EMEMBER_UNKNOWN" <<< "$out" || fail "remove 9: $out"
echo "refused: $out"
# a wrong key: the admin's signature does not verify
rc=0; out=$(member remove 3 --admin-key "$keys/client100.secret" 2>&1) || rc=$?
expect_eq "$rc" 3 "remove with another key: exit status"
grep -q "VOID_EBAD_SIG" <<< "$out" || fail "remove with another key: $out"

# 3. remove 3
echo "[${SECONDS} s] 3. remove 3"
out=$(change_when_ready remove 3 --admin-key "$keys/admin.secret")
grep -q "member 3 removed: epoch 3" <<< "$out" || fail "remove 3: $out"
for i in 0 1 2; do wait_members $i "3 3 0,1,2 3,4"; done
wait_for 'node_gone 3' 10
vctl put after-remove-3 yes > /dev/null

# 4. the load kept committing; restart every remaining node
echo "[${SECONDS} s] 4. the load kept committing; restart every remaining node"
wait "$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")" || fail "voidload failed: $(cat "$TEST_DIR/load.out")"
rm -f "$VOID_CLUSTER_DIR/run/voidload.pid"
cat "$TEST_DIR/load.out"
ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/load.out")
[ "${ops:-0}" -gt 0 ] || fail "the load acknowledged no put"
cluster stop > /dev/null
for i in 0 1 2; do cluster restart "$i" > /dev/null; done
for i in 0 1 2; do expect_eq "$(members_at $i)" "3 3 0,1,2 3,4" "node $i after its restart"; done
for i in $(seq 0 4); do expect_eq "$(vctl get "k$i")" "v$i" "k$i after the restart"; done
expect_eq "$(vctl get after-remove-3)" "yes" "after-remove-3 after the restart"

# 5. the removed node refuses to start
echo "[${SECONDS} s] 5. the removed node refuses to start"
rc=0
timeout 20 "$VOID_BIN/voidd" --config "$VOID_CLUSTER_DIR/node4.ini" > "$TEST_DIR/node4.out" 2>&1 || rc=$?
cat "$TEST_DIR/node4.out"
expect_eq "$rc" 1 "removed node 4 at start: exit status"
grep -q "removed from the cluster in epoch 2" "$TEST_DIR/node4.out" || fail "node 4: no clear message"

# 6. node 2 leaves with its own key
echo "[${SECONDS} s] 6. node 2 leaves with its own key"
out=$(change_when_ready leave --key "$keys/node2.secret")
grep -q "member 2 left: epoch 4" <<< "$out" || fail "leave: $out"
for i in 0 1; do wait_members $i "4 2 0,1 2,3,4"; done
wait_for 'node_gone 2' 10
vctl put after-leave yes > /dev/null
expect_eq "$(vctl get k4)" "v4" "k4 after the leave"
echo "OK member change: remove 4 (epoch 2), refusals, remove 3 (epoch 3), restart, leave 2 (epoch 4)"

# Several processes under one client identity (issue 17, "Clients without
# limits"). Before sessions, requests of one identity superseded each
# other: a long-running voidload hung for good once a one-shot voidctl had
# used its identity (the replicas dropped its lower-numbered requests
# without a word), and voidctl loops in parallel timed out. Here:
#  1. voidload runs under client 100 while voidctl puts under client 100:
#     voidload finishes its run (each process has a session of its own);
#  2. voidload and voidctl forced onto one session (--session): voidload's
#     superseded put is answered stale, sent again, and the run goes on;
#  3. four voidctl loops in parallel under client 100: no put times out.
source "$(dirname "$0")/lib.sh"
cluster_init clsessions 17740

cluster start --n 4 --clients 1 > /dev/null

# 1. A long-running client and one-shot ones on one identity.
timeout 60 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 6 \
  > "$TEST_DIR/load1.out" 2> "$TEST_DIR/load1.err" &
load=$!
sleep 1
for i in 1 2 3 4 5; do
  vctl put "one-shot-$i" "v$i" --timeout 10 > /dev/null || fail "voidctl put $i beside voidload"
  sleep 0.5
done
wait $load || fail "voidload under the identity voidctl used did not finish: $(cat "$TEST_DIR/load1.err")"
ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/load1.out")
[ "${ops:-0}" -ge 20 ] || fail "voidload acknowledged only ${ops:-0} puts: $(cat "$TEST_DIR/load1.out")"
echo "1. voidload beside voidctl on client 100: $ops puts, finished"

# 2. One session forced on both: the superseded put is answered, not dropped.
timeout 60 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 5 --session 77 \
  > "$TEST_DIR/load2.out" 2> "$TEST_DIR/load2.err" &
load=$!
sleep 1.5
vctl put same-session yes --session 77 --timeout 10 > /dev/null || fail "voidctl put on session 77"
wait $load || fail "voidload on the session voidctl used did not finish: $(cat "$TEST_DIR/load2.err")"
grep -q "superseded" "$TEST_DIR/load2.err" || fail "voidload saw no stale answer: $(cat "$TEST_DIR/load2.err")"
ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/load2.out")
[ "${ops:-0}" -ge 20 ] || fail "voidload acknowledged only ${ops:-0} puts after the stale answer"
echo "2. one session forced on voidload and voidctl: $(cat "$TEST_DIR/load2.err"); $ops puts"

# 3. Four voidctl loops in parallel under one identity.
loop() {
  local k=$1 bad=0 i
  for i in $(seq 1 20); do
    vctl put "par-$k-$i" "v" --timeout 10 > /dev/null 2>> "$TEST_DIR/par-$k.err" || bad=$((bad + 1))
  done
  echo "$bad" > "$TEST_DIR/par-$k.bad"
}
for k in 1 2 3 4; do loop "$k" & done
wait
bad=$(cat "$TEST_DIR"/par-*.bad | awk '{s += $1} END {print s}')
expect_eq "$bad" "0" "voidctl puts that failed out of 80 in 4 parallel loops under one identity"
for k in 1 2 3 4; do
  expect_eq "$(vctl get "par-$k-20" --timeout 10)" "v" "the last put of loop $k"
done
echo "3. 4 x 20 voidctl puts in parallel under client 100: 0 failed"
echo "ok"

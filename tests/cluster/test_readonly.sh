# Read-only gets (docs/pbft.md, Read-only requests) on 4 real nodes:
# `voidctl get` reads a value just written, also with --ordered; a voidload
# run of gets only is answered by quorums of unordered answers, not ordered;
# and a mixed read/write history (voidload lin: put/get/cas/del, its gets
# read-only) across a SIGKILL of the primary is linearizable, as decided by
# the simulator's checker, with read-only gets completed on both sides of the
# kill.
source "$(dirname "$0")/lib.sh"
cluster_init readonly 17660

cluster start --n 4 --clients 4 > /dev/null

vctl put ro-key first > /dev/null
expect_eq "$(vctl get ro-key)" "first" "read-only get after put"
vctl put ro-key second > /dev/null
expect_eq "$(vctl get ro-key)" "second" "read-only get after the second put"
expect_eq "$(vctl get ro-key --ordered)" "second" "ordered get"
if err=$(vctl put ro-key x --ordered 2>&1); then fail "put took --ordered"; fi
[[ "$err" == *"--ordered does not apply"* ]] || fail "unclear --ordered error: $err"

# Gets only, one client, after its puts wrote the keys it reads: every get
# completes on a quorum of matching unordered answers.
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 0.5 > /dev/null
out=$("$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 1 --reads 100)
echo "$out"
quorum=$(sed -n 's/.*read_only_quorum=\([0-9]*\).*/\1/p' <<<"$out")
ordered=$(sed -n 's/.*read_only_ordered=\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$quorum" ] && [ "$quorum" -gt 10 ] || fail "too few read-only gets by a quorum: '$quorum'"
[ "$ordered" -le $((quorum / 10)) ] || fail "$ordered of $quorum read-only gets were ordered"

# Mixed reads and writes across a primary kill, checked for linearizability.
primary=$(status_field 0 primary)
"$VOID_BIN/voidload" lin "$VOID_CLUSTER_DIR" --clients 4 --seconds 5 --keys 3 > "$TEST_DIR/lin.out" 2>&1 &
load=$!
sleep 2
cluster kill "$primary"
echo "killed primary $primary during the run"
rc=0
wait $load || rc=$?
cat "$TEST_DIR/lin.out"
[ $rc -eq 0 ] || fail "history not linearizable (or nothing completed)"
grep -q "linearizable=yes" "$TEST_DIR/lin.out" || fail "no verdict"
lq=$(sed -n 's/^lin: read-only gets: \([0-9]*\) by a quorum.*/\1/p' "$TEST_DIR/lin.out")
[ -n "$lq" ] && [ "$lq" -gt 0 ] || fail "no read-only get completed by a quorum in the lin run"
echo "PASS"

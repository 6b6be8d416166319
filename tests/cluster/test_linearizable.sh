# A history of concurrent client operations (4 clients, put/get/cas/del on
# 3 keys) across a SIGKILL of the primary is linearizable, as decided by the
# simulator's checker (void_check_linearizable); operations cut off by the
# kill count as pending, which may or may not have taken effect.
source "$(dirname "$0")/lib.sh"
cluster_init lin 17620

cluster start --n 4 --clients 4 > /dev/null
primary=$(status_field 0 primary)
"$VOID_BIN/voidload" lin "$VOID_CLUSTER_DIR" --clients 4 --seconds 6 --keys 3 > "$TEST_DIR/lin.out" 2>&1 &
load=$!
sleep 2
cluster kill "$primary"
echo "killed primary $primary during the run"
rc=0
wait $load || rc=$?
cat "$TEST_DIR/lin.out"
[ $rc -eq 0 ] || fail "history not linearizable (or nothing completed)"
grep -q "linearizable=yes" "$TEST_DIR/lin.out" || fail "no verdict"

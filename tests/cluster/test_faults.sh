# Fault injection in the transport, switched at run time through each node's
# POST /fault, signed by the admin key (`voidctl fault`): with 10% loss and
# 20 ms delay on every link the cluster still commits; a node isolated by the
# transport does not stop the others. Then the door stays shut: GET, an
# unsigned POST, a forged or altered signature, a replayed request and a node
# whose config leaves fault control off are all refused (403/405), change
# nothing, and are counted in void_fault_refused_total.
source "$(dirname "$0")/lib.sh"
cluster_init faults 17600

cluster start --n 4 --fault-control > /dev/null
ADMIN=$VOID_CLUSTER_DIR/keys/admin.secret
fault() { vctl fault "$@" --admin-key "$ADMIN" > /dev/null; }
http() { echo "http://127.0.0.1:$((TEST_PORT + 1000 + $1))"; }
metric() { # node, metric line prefix
  curl -fsS "$(http "$1")/metrics" | awk -v p="$2" 'index($0, p) == 1 { print $2 }'
}
fault all --delay-ms 20 --loss-pct 10
for k in $(seq 1 10); do vctl put "lossy$k" v --timeout 20 > /dev/null || fail "no commit under loss"; done
drops=$(metric 0 'void_transport_queue_drops_total{reason="fault_loss"}')
[ "${drops:-0}" -gt 0 ] || fail "no loss counted in /metrics"
echo "ok: commits under 10% loss + 20 ms delay ($drops frames dropped at node 0)"
fault all --clear
fault 2 --isolate
for k in $(seq 1 5); do vctl put "iso$k" v --timeout 10 > /dev/null || fail "no commit with node 2 isolated"; done
fault 2 --clear
expect_eq "$(metric 2 'void_fault_requests_total{result="applied"}')" 4 "requests applied at node 2"
echo "ok"

# Knobs out of range are refused by the node with 400 (exit 3) and change
# nothing, where they used to be cut to 32 bits (4294967297 ms became a 1 ms
# delay); voidctl refuses what is not a 32-bit number itself (exit 2).
for o in "--delay-ms 60001" "--loss-pct 101" "--block 9"; do
  rc=0; vctl fault 0 $o --admin-key "$ADMIN" > /dev/null 2>&1 || rc=$?
  expect_eq "$rc" 3 "voidctl fault 0 $o"
done
for o in "--delay-ms 4294967297" "--delay-ms -1" "--loss-pct x"; do
  rc=0; vctl fault 0 $o --admin-key "$ADMIN" > /dev/null 2>&1 || rc=$?
  expect_eq "$rc" 2 "voidctl fault 0 $o"
done
expect_eq "$(vctl fault 0 --delay-ms 60000 --block 1,3 --admin-key "$ADMIN" --json |
  python3 -c 'import json,sys; a=json.load(sys.stdin)["answer"]; print(a["delay_ms"], a["blocked"])')" "60000 2" "/fault at its limits"
fault 0 --clear
expect_eq "$(metric 0 'void_fault_requests_total{result="bad"}')" 3 "bad requests counted"
echo "ok: bad /fault knobs refused"

# The door: every refusal answered 403 (405 for GET) and counted by reason.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "$(code "$(http 1)/fault?isolate=1")" 405 "GET /fault"
expect_eq "$(code -X POST "$(http 1)/fault?isolate=1")" 403 "unsigned POST /fault"
url=$(vctl fault 1 --isolate --dry-run --admin-key "$ADMIN" | sed 's/^POST //')
expect_eq "$(code -X POST "${url/isolate=1/isolate=0}")" 403 "POST /fault with a knob changed after signing"
expect_eq "$(code -X POST "${url/$(http 1)/$(http 2)}")" 403 "POST /fault signed for node 1, sent to node 2"
voidctl_keygen() { "$VOID_BIN/voidctl" keygen "$@" > /dev/null; }
voidctl_keygen "$TEST_DIR" mallory
rc=0; vctl fault 1 --isolate --admin-key "$TEST_DIR/mallory.secret" > /dev/null 2>&1 || rc=$?
expect_eq "$rc" 3 "voidctl fault signed by a key that is not the admin's"
expect_eq "$(code -X POST "$url")" 200 "the signed request, once"
expect_eq "$(code -X POST "$url")" 403 "the same request replayed"
fault 1 --clear
for r in method unsigned signature replay; do
  expect_eq "$(metric 1 "void_fault_refused_total{reason=\"$r\"}")" \
    "$([ $r = signature ] && echo 2 || echo 1)" "refusals counted ($r)"
done
expect_eq "$(metric 2 'void_fault_refused_total{reason="signature"}')" 1 "node 2 counted the request meant for node 1"
for k in 1 2 3; do vctl put "after$k" v --timeout 10 > /dev/null || fail "no commit after the refused requests"; done
echo "ok: GET, unsigned, altered, misdirected, forged and replayed /fault refused and counted"

# Fault control off in the config: a signed request is refused (403, off).
sed -i 's/^control = 1$/control = 0/' "$VOID_CLUSTER_DIR/node3.ini"
cluster restart 3 > /dev/null
rc=0; vctl fault 3 --isolate --admin-key "$ADMIN" > "$TEST_DIR/off.out" 2>&1 || rc=$?
expect_eq "$rc" 3 "voidctl fault to a node with control = 0"
grep -q "fault control is off" "$TEST_DIR/off.out" || fail "no reason given: $(cat "$TEST_DIR/off.out")"
expect_eq "$(metric 3 'void_fault_refused_total{reason="off"}')" 1 "refusal counted (off)"
echo "ok: fault control off unless the config enables it"

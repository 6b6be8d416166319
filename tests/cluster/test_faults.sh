# Fault injection in the transport, switched at run time through each node's
# /fault endpoint: with 10% loss and 20 ms delay on every link the cluster
# still commits; a node isolated by the transport does not stop the others.
source "$(dirname "$0")/lib.sh"
cluster_init faults 17600

cluster start --n 4 > /dev/null
fault() { curl -fsS "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/fault?$2" > /dev/null; }
for i in 0 1 2 3; do fault "$i" "delay_ms=20&loss_pct=10"; done
for k in $(seq 1 10); do vctl put "lossy$k" v --timeout 20 > /dev/null || fail "no commit under loss"; done
drops=$(curl -fsS "http://127.0.0.1:$((TEST_PORT + 1000))/metrics" | awk '/reason="fault_loss"/ {print $2}')
[ "${drops:-0}" -gt 0 ] || fail "no loss counted in /metrics"
echo "ok: commits under 10% loss + 20 ms delay ($drops frames dropped at node 0)"
for i in 0 1 2 3; do fault "$i" ""; done
fault 2 "isolate=1"
for k in $(seq 1 5); do vctl put "iso$k" v --timeout 10 > /dev/null || fail "no commit with node 2 isolated"; done
fault 2 ""
echo "ok"

# Knobs out of range are refused with 400 and change nothing, where they used
# to be cut to 32 bits (4294967297 ms became a 1 ms delay).
for q in "delay_ms=4294967297" "delay_ms=60001" "loss_pct=101" "block=9" "isolate=2" "delay_ms=-1"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((TEST_PORT + 1000))/fault?$q")
  expect_eq "$code" 400 "/fault?$q"
done
expect_eq "$(curl -fsS "http://127.0.0.1:$((TEST_PORT + 1000))/fault?delay_ms=60000&block=1,3" |
  python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["delay_ms"], a["blocked"])')" "60000 2" "/fault at its limits"
fault 0 ""
echo "ok: bad /fault knobs refused"

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

#!/usr/bin/env bash
# bench/lib/ports.sh and the bench scripts' peer checks: ports always below
# the kernel's ephemeral range (a port inside it can be taken by any
# outgoing connection between the check and the bind), health waits that
# are bounded and fail at once when a peer process dies, and kv_put failing
# loudly, naming the member, when an etcd member does not come up.
set -euo pipefail
src=${VOID_SOURCE_DIR:?}
T=$(mktemp -d /tmp/void-test-bench-ports-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
source "$src/bench/lib/ports.sh"

# 1. free_port_base: every port of kv_put's layout in 20000..32000 and below
# the ephemeral range, on every draw.
read -r eph_lo _ < /proc/sys/net/ipv4/ip_local_port_range
for _ in $(seq 1 8); do
  b=$(free_port_base 0 1 2 3 1000 1001 1002 1003 100 101 102 110 111 112)
  [ "$b" -ge 20000 ] && [ $((b + 1003)) -le 32000 ] && [ $((b + 1003)) -lt "$eph_lo" ] ||
    fail "free_port_base gave base $b: ports up to $((b + 1003)), ephemeral range from $eph_lo"
done
b=$(PORT_CHECK="udp:127.0.0.21 udp:127.0.0.22" free_port_base 1 2 3)
[ "$b" -ge 20000 ] && [ $((b + 3)) -lt "$eph_lo" ] || fail "udp base $b"
# Addresses that cannot be bound (not this machine's): no free port, said so.
rc=0
PORT_CHECK="tcp:192.0.2.1" free_port_base 0 > /dev/null 2> "$T/err" || rc=$?
[ "$rc" != 0 ] && grep -q "no free ports" "$T/err" || fail "unbindable address: rc $rc, $(cat "$T/err")"
# Offsets that cannot fit below the ephemeral range are refused, not wrapped.
rc=0
free_port_base 0 20000 > /dev/null 2> "$T/err" || rc=$?
[ "$rc" != 0 ] && grep -q "no room" "$T/err" || fail "offset 20000: rc $rc, $(cat "$T/err")"

# 2. require_alive: a dead process fails with its name, pid and log.
echo "bind: address already in use" > "$T/peer.log"
sleep 0.1 & dead=$!; wait "$dead" || true
rc=0
(BENCH_NAME=probe require_alive "etcd member e0" "$dead" "$T/peer.log") 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "require_alive of a dead pid: rc $rc"
grep -q "^probe: etcd member e0 (pid $dead) is not running" "$T/err" || fail "message: $(cat "$T/err")"
grep -q "address already in use" "$T/err" || fail "no log lines: $(cat "$T/err")"
sleep 30 & live=$!; pids+=("$live")
(require_alive "x" "$live") || fail "require_alive of a live process failed"

# 3. wait_healthy is bounded: an unhealthy peer fails after its time, a
# peer that dies fails at once, a healthy one passes.
start=$SECONDS rc=0
(wait_healthy "peer" 2 "$live" "$T/peer.log" false) 2> "$T/err" || rc=$?
[ "$rc" = 1 ] && [ $((SECONDS - start)) -le 6 ] || fail "unhealthy: rc $rc after $((SECONDS - start)) s"
grep -q "peer (pid $live) not healthy after 2 s" "$T/err" || fail "message: $(cat "$T/err")"
sleep 1 & short=$!; pids+=("$short")
start=$SECONDS rc=0
(wait_healthy "peer" 60 "$short" "$T/peer.log" false) 2> "$T/err" || rc=$?
[ "$rc" = 1 ] && [ $((SECONDS - start)) -le 6 ] || fail "dying peer: rc $rc after $((SECONDS - start)) s"
grep -q "peer (pid $short) is not running" "$T/err" || fail "message: $(cat "$T/err")"
n=0
probe() { n=$((n + 1)); [ "$n" -ge 3 ]; }
wait_healthy "peer" 10 "$live" "$T/peer.log" probe || fail "healthy after 3 probes"

# 4. kv_put with an etcd that dies at start (its port taken, say): it fails
# within seconds, naming the member, instead of waiting on endpoint health.
mkdir "$T/stubs"
printf '#!/bin/sh\necho "stub etcd: listen tcp: bind: address already in use" >&2\nexit 1\n' \
  > "$T/stubs/etcd"
chmod +x "$T/stubs/etcd"
start=$SECONDS rc=0
PATH=$T/stubs:$PATH LEVELS=1 SECS=1 HEALTH_S=20 timeout -k 5 120 bash "$src/bench/kv_put.sh" \
  > "$T/out" 2> "$T/err" || rc=$?
took=$((SECONDS - start))
[ "$rc" = 1 ] || fail "kv_put with a dead etcd: rc $rc after $took s: $(tail -5 "$T/err")"
[ "$took" -le 60 ] || fail "kv_put with a dead etcd took $took s to fail"
grep -q "kv_put: etcd member e0 (pid [0-9]*) is not running" "$T/err" || fail "kv_put message: $(cat "$T/err")"
grep -q "address already in use" "$T/err" || fail "kv_put did not show the member's log: $(cat "$T/err")"
! grep -q '^BENCH' "$T/out" || fail "kv_put printed a BENCH line"
echo "test_bench_ports: ok"

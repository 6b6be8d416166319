# bench/lib/kv_clusters.sh: sourced by bench/kv_put.sh, kv_get.sh and member_detect.sh
# (not run). Starts, side by side on free loopback ports, a 4-replica Void
# cluster (scripts/cluster, one client key per concurrent client) and a
# 3-member etcd cluster, waits until every node and member is healthy, and
# stops both on exit. Expects root, bin, name (the BENCH name), max (the
# highest concurrency) and work (an empty directory); ETCD_QUOTA, when set,
# is etcd's --quota-backend-bytes. Defines P, endpoints, ectl, etcd_start,
# etcd_pids, all_healthy, void_pids and cpu_of.

# Free loopback ports: Void at P..P+3 (HTTP P+1000..), etcd at P+100.. (another
# worktree may be running a bench or the test suite on this machine).
source "$root/bench/lib/ports.sh"
BENCH_NAME=$name
etcd_pids=()
cleanup() {
  VOID_BIN=$bin VOID_CLUSTER_DIR=$work/void "$root/scripts/cluster" stop > /dev/null 2>&1 || true
  for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# A signal (timeout, Ctrl-C) exits through the cleanup too: the nodes run in
# sessions of their own and would outlive the script.
trap 'exit 143' TERM
trap 'exit 130' INT
P=$(free_port_base 0 1 2 3 1000 1001 1002 1003 100 101 102 110 111 112)

# Void: 4 replicas, warn-level logs, one client key per concurrent client.
VOID_LOG_LEVEL=warn VOID_BIN=$bin VOID_CLUSTER_DIR=$work/void \
  "$root/scripts/cluster" start --n 4 --port "$P" --clients "$max" > /dev/null

# etcd: 3 members, default durability (fsync of the WAL on every commit).
cluster=""
for i in 0 1 2; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((P + 110 + i))"; done
# etcd_start I: starts member eI in the background (again after a kill: its
# data directory makes it rejoin) and sets etcd_pids[I].
etcd_start() {
  local i=$1
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:$((P + 100 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((P + 100 + i))" \
    --listen-peer-urls "http://127.0.0.1:$((P + 110 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((P + 110 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token void-bench --log-level error \
    ${ETCD_QUOTA:+--quota-backend-bytes "$ETCD_QUOTA"} >> "$work/etcd$i.log" 2>&1 &
  etcd_pids[i]=$!
}
for i in 0 1 2; do etcd_start "$i"; done
endpoints="127.0.0.1:$((P + 100)),127.0.0.1:$((P + 101)),127.0.0.1:$((P + 102))"
ectl() { ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=3s "$@"; }
# Each member on its own, each wait bounded: a member that died (or never
# started) fails the bench now, naming it, instead of retrying for minutes.
for i in 0 1 2; do
  wait_healthy "etcd member e$i" "${HEALTH_S:-30}" "${etcd_pids[i]}" "$work/etcd$i.log" \
    ectl --endpoints "127.0.0.1:$((P + 100 + i))" endpoint health
done
void_healthy "$work/void"
# Every Void node and etcd member alive and answering, else fail: a
# measurement of 3 of 4 replicas or 2 of 3 members would compare nothing.
all_healthy() {
  void_healthy "$work/void"
  local i
  for i in 0 1 2; do
    require_alive "etcd member e$i" "${etcd_pids[i]}" "$work/etcd$i.log"
    ectl --endpoints "127.0.0.1:$((P + 100 + i))" endpoint health > /dev/null 2>&1 ||
      bench_fail "etcd member e$i (pid ${etcd_pids[i]}) is not healthy" "$work/etcd$i.log"
  done
}
ectl --endpoints "$endpoints" put warmup 1 > /dev/null

# CPU seconds (user + system) the servers used, from /proc: the cost of a put
# whatever else the machine does (the other sessions' load moves throughput
# and latency, much less the CPU a put costs).
void_pids=$(cat "$work"/void/run/node*.pid)
cpu_of() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.3f", s / hz}'; }
